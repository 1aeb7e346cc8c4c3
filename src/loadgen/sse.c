/* The event-stream parser and the OpenAI chunk reader used by serve-bench for every event
 * of every response: so both are incremental, allocation-free in the steady state, and
 * validate what they read (a malformed stream is a failed request, never a silent guess). */
#include "loadgen/sse.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lg_buf_init(struct lg_buf *b, size_t max)
{
	b->p = NULL;
	b->len = b->cap = 0;
	b->max = max;
}

int lg_buf_add(struct lg_buf *b, const void *data, size_t n)
{
	if (n > b->max || b->len > b->max - n)
		return -E2BIG;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p)
			return -ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = 0;
	return 0;
}

void lg_buf_reset(struct lg_buf *b)
{
	b->len = 0;
	if (b->p)
		b->p[0] = 0;
}

void lg_buf_release(struct lg_buf *b)
{
	free(b->p);
	lg_buf_init(b, b->max);
}

void lg_sse_init(struct lg_sse *s, size_t max_event, lg_sse_event_fn fn, void *ctx)
{
	memset(s, 0, sizeof *s);
	lg_buf_init(&s->line, max_event);
	lg_buf_init(&s->data, max_event);
	s->fn = fn;
	s->ctx = ctx;
}

void lg_sse_reset(struct lg_sse *s)
{
	lg_buf_reset(&s->line);
	lg_buf_reset(&s->data);
	s->event[0] = 0;
	s->have_data = false;
	s->last_cr = false;
	s->bom_checked = false;
	s->direct = NULL;
}

void lg_sse_release(struct lg_sse *s)
{
	lg_buf_release(&s->line);
	lg_buf_release(&s->data);
}

bool lg_sse_pending(const struct lg_sse *s)
{
	return s->have_data || s->line.len > 0;
}

/* The first data line of an event is not copied while it lies in the piece being fed: most
 * events are one data line followed by the empty line, and those are dispatched straight
 * from the caller's bytes. Anything else (a second data line, the piece ending first) copies
 * it into the data buffer. */
static int flush_direct(struct lg_sse *s)
{
	if (!s->direct)
		return 0;
	int rc = lg_buf_add(&s->data, s->direct, s->direct_len);
	if (rc == 0)
		rc = lg_buf_add(&s->data, "\n", 1);
	s->direct = NULL;
	return rc;
}

static int dispatch(struct lg_sse *s)
{
	int rc = 0;
	if (s->direct) {
		rc = s->fn(s->ctx, s->event, s->direct, s->direct_len);
		s->direct = NULL;
	} else if (s->have_data) {
		/* The data buffer ends with the '\n' appended after the last data line. */
		size_t len = s->data.len - 1;
		s->data.p[len] = 0;
		rc = s->fn(s->ctx, s->event, s->data.p, len);
	}
	lg_buf_reset(&s->data);
	s->event[0] = 0;
	s->have_data = false;
	return rc;
}

/* in_piece: l points into the piece being fed (not into the line buffer), so it stays valid
 * until lg_sse_feed returns. */
static int process_line(struct lg_sse *s, const char *l, size_t n, bool in_piece)
{
	if (n == 0)
		return dispatch(s);
	if (l[0] == ':')
		return 0;
	const char *colon = memchr(l, ':', n);
	size_t flen = colon ? (size_t)(colon - l) : n;
	const char *v = colon ? colon + 1 : l + n;
	size_t vlen = (size_t)(l + n - v);
	if (vlen && *v == ' ')
		v++, vlen--;
	if (flen == 4 && memcmp(l, "data", 4) == 0) {
		if (!s->have_data && in_piece) {
			if (vlen >= s->data.max)
				return -E2BIG;
			s->direct = v;
			s->direct_len = vlen;
			s->have_data = true;
			return 0;
		}
		int rc = flush_direct(s);
		if (rc == 0)
			rc = lg_buf_add(&s->data, v, vlen);
		if (rc == 0)
			rc = lg_buf_add(&s->data, "\n", 1);
		s->have_data = true;
		return rc;
	}
	if (flen == 5 && memcmp(l, "event", 5) == 0) {
		size_t k = vlen < sizeof s->event - 1 ? vlen : sizeof s->event - 1;
		memcpy(s->event, v, k);
		s->event[k] = 0;
	}
	return 0; /* id, retry and unknown fields do not matter here */
}

/* The first CR or LF: memchr twice (vectorised in libc) rather than a loop over bytes. */
static const char *find_eol(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	const char *lim = nl ? nl : end;
	const char *cr = memchr(p, '\r', (size_t)(lim - p));
	return cr ? cr : nl;
}

static int feed(struct lg_sse *s, const char *p, size_t n)
{
	const char *end = p + n;
	if (!s->bom_checked && n > 0) {
		if (n >= 3 && (unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB &&
		    (unsigned char)p[2] == 0xBF)
			p += 3;
		s->bom_checked = true;
	}
	if (s->last_cr && p < end) {
		if (*p == '\n')
			p++;
		s->last_cr = false;
	}
	while (p < end) {
		const char *eol = find_eol(p, end);
		if (!eol)
			return lg_buf_add(&s->line, p, (size_t)(end - p));
		int rc;
		if (s->line.len) {
			rc = lg_buf_add(&s->line, p, (size_t)(eol - p));
			if (rc == 0)
				rc = process_line(s, s->line.p, s->line.len, false);
			lg_buf_reset(&s->line);
		} else {
			rc = process_line(s, p, (size_t)(eol - p), true);
		}
		if (rc)
			return rc;
		p = eol + 1;
		if (*eol == '\r') {
			if (p < end && *p == '\n')
				p++;
			else if (p == end)
				s->last_cr = true;
		}
	}
	return 0;
}

int lg_sse_feed(struct lg_sse *s, const char *p, size_t n)
{
	int rc = feed(s, p, n);
	/* The caller's bytes are gone after this call: keep what an unfinished event needs. */
	int rc2 = flush_direct(s);
	return rc ? rc : rc2;
}

/* ---- the chunk reader ---- */

enum jpath {
	JP_NONE,
	JP_ROOT,
	JP_CHOICES,
	JP_CHOICE0,
	JP_DELTA,
	JP_TEXT,    /* reasoning: counted, not kept */
	JP_CONTENT, /* choices[0].text or delta.content: counted, and kept when asked */
	JP_FINISH,
	JP_USAGE,
	JP_PROMPT_TOK,
	JP_COMPL_TOK,
	JP_ERROR,
	JP_ERRMSG,
	JP_OBJECT,
	JP_ROOT_MSG,
};

struct jr {
	const char *p, *end;
	int depth;
	struct lg_chunk *c;
	char root_msg[160];
	struct lg_buf *content; /* where the answer's text goes (escaped), NULL: nowhere */
	int content_rc;         /* lg_buf_add's failure */
};

#define KEY(k, lit) ((k).n == sizeof(lit) - 1 && memcmp((k).s, lit, sizeof(lit) - 1) == 0)

struct span {
	const char *s;
	size_t n;
};

static inline void ws(struct jr *j)
{
	/* Compact JSON has no whitespace: one comparison settles the usual case. */
	while (j->p < j->end && (unsigned char)*j->p <= ' ' &&
	       (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
		j->p++;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Where a string's plain run ends: the first '"', '\\' or control byte, by table, four bytes
 * a pass. Returns end when none. (Testing eight bytes a word at a time instead was no faster
 * on these short keys and tokens: bench/sse_bench 3.8-5.1 us per response against 3.7-4.8.) */
static const char *string_stop(const char *p, const char *end)
{
	/* 1 for the bytes that end a plain run: '"', '\\' and controls. */
	static const unsigned char stop[256] = {1, 1, 1, 1, 1, 1, 1, 1, 1,         1,         1, 1,
	                                        1, 1, 1, 1, 1, 1, 1, 1, 1,         1,         1, 1,
	                                        1, 1, 1, 1, 1, 1, 1, 1, ['"'] = 1, ['\\'] = 1};
	while (end - p >= 4) {
		if (stop[(unsigned char)p[0]])
			return p;
		if (stop[(unsigned char)p[1]])
			return p + 1;
		if (stop[(unsigned char)p[2]])
			return p + 2;
		if (stop[(unsigned char)p[3]])
			return p + 3;
		p += 4;
	}
	for (; p < end; p++)
		if (stop[(unsigned char)*p])
			return p;
	return end;
}

/* A string's raw (escaped) span, validated. j->p is at the opening quote. */
static int jstring(struct jr *j, struct span *out)
{
	const char *p = ++j->p;
	for (;;) {
		p = string_stop(p, j->end);
		if (p >= j->end)
			return -EINVAL;
		unsigned char ch = (unsigned char)*p;
		if (ch == '"') {
			out->s = j->p;
			out->n = (size_t)(p - j->p);
			j->p = p + 1;
			return 0;
		}
		if (ch < 0x20)
			return -EINVAL;
		/* a backslash */
		if (++p >= j->end)
			return -EINVAL;
		switch (*p) {
		case '"':
		case '\\':
		case '/':
		case 'b':
		case 'f':
		case 'n':
		case 'r':
		case 't':
			break;
		case 'u':
			if (j->end - p < 5)
				return -EINVAL;
			for (int i = 1; i <= 4; i++)
				if (hexval(p[i]) < 0)
					return -EINVAL;
			p += 4;
			break;
		default:
			return -EINVAL;
		}
		p++;
	}
}

static int jnumber(struct jr *j, int64_t *ival, bool *is_int)
{
	const char *p = j->p, *e = j->end;
	bool neg = false, integral = true;
	int64_t v = 0;
	if (p < e && *p == '-')
		neg = true, p++;
	if (p >= e || *p < '0' || *p > '9')
		return -EINVAL;
	if (*p == '0') {
		p++;
	} else {
		while (p < e && *p >= '0' && *p <= '9') {
			/* Beyond int64 the value is not kept at all: a count cut short would be wrong. */
			if (v > (INT64_MAX - (*p - '0')) / 10)
				integral = false;
			else
				v = v * 10 + (*p - '0');
			p++;
		}
	}
	if (p < e && *p == '.') {
		integral = false;
		if (++p >= e || *p < '0' || *p > '9')
			return -EINVAL;
		while (p < e && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < e && (*p == 'e' || *p == 'E')) {
		integral = false;
		p++;
		if (p < e && (*p == '+' || *p == '-'))
			p++;
		if (p >= e || *p < '0' || *p > '9')
			return -EINVAL;
		while (p < e && *p >= '0' && *p <= '9')
			p++;
	}
	j->p = p;
	*ival = neg ? -v : v;
	*is_int = integral;
	return 0;
}

static int jliteral(struct jr *j, const char *lit, size_t n)
{
	if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0)
		return -EINVAL;
	j->p += n;
	return 0;
}

static void copy_msg(char *dst, size_t cap, struct span s)
{
	size_t k = s.n < cap - 1 ? s.n : cap - 1;
	memcpy(dst, s.s, k);
	dst[k] = 0;
}

static enum jpath child_path(enum jpath parent, struct span k)
{
	switch (parent) {
	case JP_ROOT:
		if (KEY(k, "choices"))
			return JP_CHOICES;
		if (KEY(k, "usage"))
			return JP_USAGE;
		if (KEY(k, "error"))
			return JP_ERROR;
		if (KEY(k, "object"))
			return JP_OBJECT;
		if (KEY(k, "message"))
			return JP_ROOT_MSG;
		return JP_NONE;
	case JP_CHOICE0:
		if (KEY(k, "text"))
			return JP_CONTENT;
		if (KEY(k, "delta"))
			return JP_DELTA;
		if (KEY(k, "finish_reason"))
			return JP_FINISH;
		return JP_NONE;
	case JP_DELTA:
		if (KEY(k, "content"))
			return JP_CONTENT;
		if (KEY(k, "reasoning_content") || KEY(k, "reasoning"))
			return JP_TEXT;
		return JP_NONE;
	case JP_USAGE:
		if (KEY(k, "prompt_tokens"))
			return JP_PROMPT_TOK;
		if (KEY(k, "completion_tokens"))
			return JP_COMPL_TOK;
		return JP_NONE;
	case JP_ERROR:
		return KEY(k, "message") ? JP_ERRMSG : JP_NONE;
	default:
		return JP_NONE;
	}
}

static int jvalue(struct jr *j, enum jpath path);

/* After a member or element: 1 when a ',' says another follows, 0 at the closing bracket,
 * -EINVAL for anything else. Consumes what it read. */
static int jnext(struct jr *j, char close)
{
	ws(j);
	if (j->p >= j->end)
		return -EINVAL;
	if (*j->p == ',' || *j->p == close)
		return *j->p++ == ',';
	return -EINVAL;
}

static int jobject(struct jr *j, enum jpath path)
{
	j->p++;
	ws(j);
	if (j->p < j->end && *j->p == '}') {
		j->p++;
		return 0;
	}
	for (;;) {
		struct span k;
		ws(j);
		if (j->p >= j->end || *j->p != '"' || jstring(j, &k))
			return -EINVAL;
		ws(j);
		if (j->p >= j->end || *j->p != ':')
			return -EINVAL;
		j->p++;
		if (jvalue(j, child_path(path, k)))
			return -EINVAL;
		int more = jnext(j, '}');
		if (more <= 0)
			return more;
	}
}

static int jarray(struct jr *j, enum jpath path)
{
	j->p++;
	ws(j);
	if (j->p < j->end && *j->p == ']') {
		j->p++;
		return 0;
	}
	for (size_t i = 0;; i++) {
		enum jpath child = (path == JP_CHOICES && i == 0) ? JP_CHOICE0 : JP_NONE;
		if (path == JP_CHOICES)
			j->c->has_choices = true;
		if (jvalue(j, child))
			return -EINVAL;
		int more = jnext(j, ']');
		if (more <= 0)
			return more;
	}
}

static int jvalue(struct jr *j, enum jpath path)
{
	ws(j);
	if (j->p >= j->end)
		return -EINVAL;
	struct lg_chunk *c = j->c;
	int rc;
	switch (*j->p) {
	case '{':
		if (++j->depth > 64)
			return -EINVAL;
		if (path == JP_USAGE)
			c->has_usage = true;
		if (path == JP_ERROR)
			c->is_error = true;
		rc = jobject(j, path);
		j->depth--;
		return rc;
	case '[':
		if (++j->depth > 64)
			return -EINVAL;
		if (path == JP_ERROR)
			c->is_error = true;
		rc = jarray(j, path);
		j->depth--;
		return rc;
	case '"': {
		struct span s;
		if (jstring(j, &s))
			return -EINVAL;
		if (path == JP_TEXT || path == JP_CONTENT)
			c->text_len += s.n;
		if (path == JP_CONTENT && j->content && s.n && !j->content_rc)
			j->content_rc = lg_buf_add(j->content, s.s, s.n);
		else if (path == JP_FINISH)
			c->finished = true;
		else if (path == JP_ERROR || path == JP_ERRMSG)
			c->is_error = true, copy_msg(c->err_msg, sizeof c->err_msg, s);
		else if (path == JP_OBJECT && KEY(s, "error"))
			c->is_error = true;
		else if (path == JP_ROOT_MSG)
			copy_msg(j->root_msg, sizeof j->root_msg, s);
		return 0;
	}
	case 't':
		if (path == JP_ERROR)
			c->is_error = true;
		return jliteral(j, "true", 4);
	case 'f':
		if (path == JP_ERROR)
			c->is_error = true;
		return jliteral(j, "false", 5);
	case 'n':
		return jliteral(j, "null", 4);
	default: {
		int64_t v;
		bool is_int;
		if (jnumber(j, &v, &is_int))
			return -EINVAL;
		if (path == JP_ERROR)
			c->is_error = true;
		if (is_int && path == JP_PROMPT_TOK)
			c->prompt_tokens = v;
		else if (is_int && path == JP_COMPL_TOK)
			c->completion_tokens = v;
		return 0;
	}
	}
}

static void chunk_init(struct lg_chunk *c)
{
	c->has_choices = false;
	c->text_len = 0;
	c->finished = false;
	c->has_usage = false;
	c->prompt_tokens = -1;
	c->completion_tokens = -1;
	c->is_error = false;
	c->err_msg[0] = 0;
}

int lg_chunk_parse(const char *s, size_t n, struct lg_chunk *out)
{
	return lg_chunk_parse_text(s, n, out, NULL);
}

int lg_chunk_parse_text(const char *s, size_t n, struct lg_chunk *out, struct lg_buf *content)
{
	struct jr j = {.p = s, .end = s + n, .depth = 1, .c = out, .content = content};
	j.root_msg[0] = 0;
	chunk_init(out);
	ws(&j);
	if (j.p >= j.end || *j.p != '{')
		return -EINVAL;
	if (jobject(&j, JP_ROOT))
		return -EINVAL;
	ws(&j);
	if (j.p != j.end)
		return -EINVAL;
	if (out->is_error && !out->err_msg[0] && j.root_msg[0])
		memcpy(out->err_msg, j.root_msg, sizeof out->err_msg);
	return j.content_rc;
}

static size_t text_of(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_length(v) : 0;
}

/* The escaped form of a string member, as the fast reader keeps it. */
static int add_escaped(struct lg_buf *b, json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	if (!b || !json_is_string(v) || json_string_length(v) == 0)
		return 0;
	char *q = json_dumps(v, JSON_ENCODE_ANY);
	if (!q)
		return -ENOMEM;
	int rc = lg_buf_add(b, q + 1, strlen(q) - 2); /* without the quotes */
	free(q);
	return rc;
}

int lg_chunk_parse_jansson(const char *s, size_t n, struct lg_chunk *out)
{
	return lg_chunk_parse_jansson_text(s, n, out, NULL);
}

int lg_chunk_parse_jansson_text(const char *s, size_t n, struct lg_chunk *out, struct lg_buf *content)
{
	int rc = 0;
	chunk_init(out);
	json_error_t e;
	json_t *root = json_loadb(s, n, 0, &e);
	if (!root || !json_is_object(root)) {
		json_decref(root);
		return -EINVAL;
	}
	json_t *choices = json_object_get(root, "choices");
	if (json_is_array(choices) && json_array_size(choices) > 0) {
		out->has_choices = true;
		json_t *c0 = json_array_get(choices, 0);
		if (json_is_object(c0)) {
			out->text_len += text_of(c0, "text");
			rc = add_escaped(content, c0, "text");
			json_t *delta = json_object_get(c0, "delta");
			if (json_is_object(delta) && !rc)
				rc = add_escaped(content, delta, "content");
			if (json_is_object(delta))
				out->text_len += text_of(delta, "content") +
				                 text_of(delta, "reasoning_content") +
				                 text_of(delta, "reasoning");
			out->finished = json_is_string(json_object_get(c0, "finish_reason"));
		}
	}
	json_t *usage = json_object_get(root, "usage");
	if (json_is_object(usage)) {
		out->has_usage = true;
		json_t *pt = json_object_get(usage, "prompt_tokens");
		json_t *ct = json_object_get(usage, "completion_tokens");
		if (json_is_integer(pt))
			out->prompt_tokens = json_integer_value(pt);
		if (json_is_integer(ct))
			out->completion_tokens = json_integer_value(ct);
	}
	json_t *err = json_object_get(root, "error");
	json_t *obj = json_object_get(root, "object");
	const char *msg = NULL;
	if (err && !json_is_null(err)) {
		out->is_error = true;
		if (json_is_string(err))
			msg = json_string_value(err);
		else if (json_is_string(json_object_get(err, "message")))
			msg = json_string_value(json_object_get(err, "message"));
	} else if (json_is_string(obj) && strcmp(json_string_value(obj), "error") == 0) {
		out->is_error = true;
	}
	if (out->is_error && !msg && json_is_string(json_object_get(root, "message")))
		msg = json_string_value(json_object_get(root, "message"));
	if (msg)
		snprintf(out->err_msg, sizeof out->err_msg, "%s", msg);
	json_decref(root);
	return rc;
}
