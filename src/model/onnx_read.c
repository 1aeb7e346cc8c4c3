/* Reads an ONNX model without copying its weights: the file is mapped, a walk over the
 * protobuf wire format (driven by the generated descriptors, so no field number is written
 * here) copies everything except large tensor payloads into a small buffer, and protobuf-c
 * unpacks that buffer. Weight pages of the mapping are never touched. */
#include "model/onnx_read.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct outbuf {
	uint8_t *p;
	size_t len, cap;
};

struct walk {
	const uint8_t *base; /* start of the input, for offsets in messages */
	struct outbuf out;
	uint64_t stripped_bytes, stripped_fields;
	const char *name;
	char *err;
	size_t errlen;
};

static int walk_error(struct walk *w, const uint8_t *at, const char *what)
{
	snprintf(w->err, w->errlen, "'%s' is not a valid ONNX model: %s at byte %zu", w->name, what,
	         (size_t)(at - w->base));
	return -EINVAL;
}

static int out_reserve(struct walk *w, size_t more)
{
	struct outbuf *o = &w->out;
	if (o->len + more <= o->cap)
		return 0;
	size_t cap = o->cap ? o->cap : 4096;
	while (cap < o->len + more)
		cap *= 2;
	uint8_t *p = realloc(o->p, cap);
	if (!p) {
		snprintf(w->err, w->errlen, "cannot read '%s': out of memory", w->name);
		return -ENOMEM;
	}
	o->p = p;
	o->cap = cap;
	return 0;
}

static int out_put(struct walk *w, const uint8_t *src, size_t n)
{
	int rc = out_reserve(w, n);
	if (rc)
		return rc;
	memcpy(w->out.p + w->out.len, src, n);
	w->out.len += n;
	return 0;
}

static size_t varint_encode(uint64_t v, uint8_t *buf)
{
	size_t n = 0;
	do {
		buf[n] = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v)
			buf[n] |= 0x80;
		n++;
	} while (v);
	return n;
}

/* Reads a varint; false when it runs past end or past ten bytes. */
static bool varint_decode(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	uint64_t r = 0;
	for (unsigned i = 0; i < 10; i++) {
		if (*p >= end)
			return false;
		uint8_t b = *(*p)++;
		r |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			if (i == 9 && b > 1)
				return false;
			*v = r;
			return true;
		}
	}
	return false;
}

/* A tensor's payload that may be dropped: raw_data and the packed typed arrays. The count
 * of elements comes from dims, so nothing that is counted is lost. */
static bool is_payload(const ProtobufCMessageDescriptor *d, const ProtobufCFieldDescriptor *f)
{
	if (d != &onnx__tensor_proto__descriptor || !f)
		return false;
	if (f->type == PROTOBUF_C_TYPE_BYTES && f->label != PROTOBUF_C_LABEL_REPEATED)
		return true;
	return (f->flags & PROTOBUF_C_FIELD_FLAG_PACKED) != 0;
}

static int walk_message(struct walk *w, const ProtobufCMessageDescriptor *d, const uint8_t *p,
                        const uint8_t *end, int depth);

static int walk_length_delimited(struct walk *w, const ProtobufCMessageDescriptor *d,
                                 const uint8_t *key_start, const uint8_t *body, uint64_t len, uint32_t num,
                                 int depth)
{
	const ProtobufCFieldDescriptor *f = d ? protobuf_c_message_descriptor_get_field(d, num) : NULL;
	size_t key_len = (size_t)(body - key_start);
	int rc;
	if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
		if (depth + 1 > ONNX_MAX_DEPTH)
			return walk_error(w, key_start, "messages nested too deeply");
		/* The body shrinks when payloads inside it are dropped: write it after room for the
		 * longest length prefix, then slide it down behind the real prefix. */
		const size_t room = 10;
		uint8_t key[10];
		if ((rc = out_put(w, key, varint_encode(((uint64_t)num << 3) | 2, key))))
			return rc;
		if ((rc = out_reserve(w, room)))
			return rc;
		size_t prefix_at = w->out.len;
		w->out.len += room;
		if ((rc = walk_message(w, f->descriptor, body, body + len, depth + 1)))
			return rc;
		size_t body_len = w->out.len - prefix_at - room;
		uint8_t pre[10];
		size_t pn = varint_encode(body_len, pre);
		memcpy(w->out.p + prefix_at, pre, pn);
		memmove(w->out.p + prefix_at + pn, w->out.p + prefix_at + room, body_len);
		w->out.len = prefix_at + pn + body_len;
		return 0;
	}
	if (len > ONNX_STRIP_BYTES && (is_payload(d, f) || !f)) {
		w->stripped_bytes += len;
		w->stripped_fields++;
		if (!f)
			return 0; /* an unknown field: dropping it loses nothing we read */
		uint8_t key[11];
		size_t kn = varint_encode(((uint64_t)num << 3) | 2, key);
		key[kn++] = 0; /* present, empty */
		return out_put(w, key, kn);
	}
	return out_put(w, key_start, key_len + (size_t)len);
}

static int walk_message(struct walk *w, const ProtobufCMessageDescriptor *d, const uint8_t *p,
                        const uint8_t *end, int depth)
{
	while (p < end) {
		const uint8_t *field = p;
		uint64_t key, v;
		if (!varint_decode(&p, end, &key))
			return walk_error(w, field, "truncated field key");
		uint64_t num = key >> 3;
		if (num == 0 || num > 0x1fffffff)
			return walk_error(w, field, "invalid field number");
		int rc;
		switch (key & 7) {
		case 0:
			if (!varint_decode(&p, end, &v))
				return walk_error(w, field, "truncated integer");
			break;
		case 1:
			if (end - p < 8)
				return walk_error(w, field, "truncated 64-bit value");
			p += 8;
			break;
		case 5:
			if (end - p < 4)
				return walk_error(w, field, "truncated 32-bit value");
			p += 4;
			break;
		case 2:
			if (!varint_decode(&p, end, &v))
				return walk_error(w, field, "truncated length");
			if (v > (uint64_t)(end - p))
				return walk_error(w, field,
				                  "field runs past the end of its message (truncated file?)");
			if ((rc = walk_length_delimited(w, d, field, p, v, (uint32_t)num, depth)))
				return rc;
			p += v;
			continue;
		default:
			return walk_error(w, field, "unsupported wire type");
		}
		if ((rc = out_put(w, field, (size_t)(p - field))))
			return rc;
	}
	return 0;
}

static int unpack(struct onnx_file *f, const uint8_t *data, size_t len, const char *name, unsigned flags,
                  char *err, size_t errlen)
{
	struct walk w = {.base = data, .name = name, .err = err, .errlen = errlen};
	const uint8_t *buf = data;
	size_t buflen = len;
	if (!(flags & ONNX_READ_NO_STRIP)) {
		int rc = walk_message(&w, &onnx__model_proto__descriptor, data, data + len, 0);
		if (rc) {
			free(w.out.p);
			return rc;
		}
		buf = w.out.p;
		buflen = w.out.len;
	}
	f->model = onnx__model_proto__unpack(NULL, buflen, buf ? buf : (const uint8_t *)"");
	free(w.out.p);
	if (!f->model) {
		snprintf(err, errlen, "'%s' is not a valid ONNX model: protobuf decoding failed", name);
		return -EINVAL;
	}
	f->stripped_bytes = w.stripped_bytes;
	f->stripped_fields = w.stripped_fields;
	if (!f->model->graph) {
		onnx_file_release(f);
		snprintf(err, errlen, "'%s' is not an ONNX model: it has no graph", name);
		return -EINVAL;
	}
	return 0;
}

int onnx_file_read_buffer(struct onnx_file *f, const uint8_t *data, size_t len, const char *name,
                          unsigned flags, char *err, size_t errlen)
{
	memset(f, 0, sizeof *f);
	f->file_bytes = len;
	if (len == 0) {
		snprintf(err, errlen, "'%s' is not an ONNX model: the file is empty", name);
		return -EINVAL;
	}
	return unpack(f, data, len, name, flags, err, errlen);
}

/* The most one protobuf message can hold: a model beyond it keeps its weights in external
 * data files. */
#define ONNX_MAX_BYTES ((size_t)2 << 30)

/* A pipe is read into memory, up to ONNX_MAX_BYTES (-EFBIG beyond). */
static int read_all(int fd, uint8_t **out, size_t *outlen)
{
	size_t len = 0, cap = 1 << 16;
	uint8_t *p = malloc(cap);
	if (!p)
		return -ENOMEM;
	for (;;) {
		if (len == cap) {
			if (cap >= ONNX_MAX_BYTES) {
				free(p);
				return -EFBIG;
			}
			uint8_t *q = realloc(p, cap * 2);
			if (!q) {
				free(p);
				return -ENOMEM;
			}
			p = q;
			cap *= 2;
		}
		ssize_t r = read(fd, p + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = -errno;
			free(p);
			return e;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	*out = p;
	*outlen = len;
	return 0;
}

int onnx_file_read(struct onnx_file *f, const char *path, unsigned flags, char *err, size_t errlen)
{
	memset(f, 0, sizeof *f);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot read '%s': %s", path, strerror(e));
		return -e;
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int e = errno;
		close(fd);
		snprintf(err, errlen, "cannot read '%s': %s", path, strerror(e));
		return -e;
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		snprintf(err, errlen, "cannot read '%s': %s", path, strerror(EISDIR));
		return -EISDIR;
	}
	if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) {
		/* /dev/zero, /dev/urandom, a terminal: no end, and never a model */
		close(fd);
		snprintf(err, errlen, "cannot read '%s': not a file or a pipe (a device or a socket)", path);
		return -EINVAL;
	}
	int rc;
	if (S_ISREG(st.st_mode)) {
		size_t len = (size_t)st.st_size;
		if (len == 0) {
			close(fd);
			return onnx_file_read_buffer(f, NULL, 0, path, flags, err, errlen);
		}
		void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
		close(fd);
		if (map == MAP_FAILED) {
			int e = errno;
			snprintf(err, errlen, "cannot read '%s': %s", path, strerror(e));
			return -e;
		}
		/* Only headers are read: readahead around them would fault in weights for nothing. */
		if (!(flags & ONNX_READ_NO_STRIP))
			madvise(map, len, MADV_RANDOM);
		rc = onnx_file_read_buffer(f, map, len, path, flags, err, errlen);
		munmap(map, len);
		return rc;
	}
	uint8_t *buf = NULL;
	size_t len = 0;
	rc = read_all(fd, &buf, &len);
	close(fd);
	if (rc == -EFBIG)
		snprintf(err, errlen,
		         "cannot read '%s': more than 2 GiB, the most one protobuf message holds (a larger "
		         "model keeps its weights in external data files)",
		         path);
	else if (rc)
		snprintf(err, errlen, "cannot read '%s': %s", path, strerror(-rc));
	if (rc)
		return rc;
	rc = onnx_file_read_buffer(f, buf, len, path, flags, err, errlen);
	free(buf);
	return rc;
}

void onnx_file_release(struct onnx_file *f)
{
	if (f->model)
		onnx__model_proto__free_unpacked(f->model, NULL);
	f->model = NULL;
}
