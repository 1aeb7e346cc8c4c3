/* The value table (names to shapes and small constants), tensor decoding, attributes and the
 * checked arithmetic shared by every operator's inference function. */
#include "model/graph.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool onnx_dtype_is_float(int32_t t)
{
	switch (t) {
	case DT_FLOAT:
	case DT_FLOAT16:
	case DT_DOUBLE:
	case DT_BFLOAT16:
	case DT_COMPLEX64:
	case DT_COMPLEX128:
	case 17: /* the float8 types of newer ONNX versions */
	case 18:
	case 19:
	case 20:
		return true;
	default:
		return false;
	}
}

size_t onnx_dtype_size(int32_t t)
{
	switch (t) {
	case DT_UINT8:
	case DT_INT8:
	case DT_BOOL:
		return 1;
	case DT_UINT16:
	case DT_INT16:
	case DT_FLOAT16:
	case DT_BFLOAT16:
		return 2;
	case DT_FLOAT:
	case DT_INT32:
	case DT_UINT32:
		return 4;
	case DT_INT64:
	case DT_UINT64:
	case DT_DOUBLE:
		return 8;
	default:
		return 0;
	}
}

static uint64_t hash_name(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static int rehash(struct onnx_graph *g, size_t n_slots)
{
	uint32_t *slots = calloc(n_slots, sizeof *slots);
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < g->n_vals; i++) {
		size_t s = hash_name(g->vals[i].name) & (n_slots - 1);
		while (slots[s])
			s = (s + 1) & (n_slots - 1);
		slots[s] = (uint32_t)(i + 1);
	}
	free(g->slots);
	g->slots = slots;
	g->n_slots = n_slots;
	return 0;
}

int onnx_graph_init(struct onnx_graph *g, size_t expected)
{
	memset(g, 0, sizeof *g);
	g->cap_vals = expected > 16 ? expected : 16;
	g->vals = calloc(g->cap_vals, sizeof *g->vals);
	if (!g->vals)
		return -ENOMEM;
	size_t n = 64;
	while (n < g->cap_vals * 2)
		n *= 2;
	return rehash(g, n);
}

void onnx_graph_release(struct onnx_graph *g)
{
	for (size_t i = 0; i < g->n_vals; i++)
		onnx_const_free(g->vals[i].k);
	free(g->vals);
	free(g->slots);
	memset(g, 0, sizeof *g);
}

struct onnx_value *onnx_graph_find(struct onnx_graph *g, const char *name)
{
	size_t s = hash_name(name) & (g->n_slots - 1);
	while (g->slots[s]) {
		struct onnx_value *v = &g->vals[g->slots[s] - 1];
		if (strcmp(v->name, name) == 0)
			return v;
		s = (s + 1) & (g->n_slots - 1);
	}
	return NULL;
}

int onnx_graph_add(struct onnx_graph *g, const char *name, struct onnx_value **out)
{
	struct onnx_value *v = onnx_graph_find(g, name);
	if (v) {
		*out = v;
		return 1;
	}
	if (g->n_vals >= UINT32_MAX - 1)
		return -ENOMEM;
	if (g->n_vals == g->cap_vals) {
		size_t cap = g->cap_vals * 2;
		struct onnx_value *vals = realloc(g->vals, cap * sizeof *vals);
		if (!vals)
			return -ENOMEM;
		g->vals = vals;
		g->cap_vals = cap;
	}
	if ((g->n_vals + 1) * 2 > g->n_slots) {
		int rc = rehash(g, g->n_slots * 2);
		if (rc)
			return rc;
	}
	v = &g->vals[g->n_vals++];
	memset(v, 0, sizeof *v);
	v->name = name;
	v->shape.rank = -1;
	v->producer = -1;
	size_t s = hash_name(name) & (g->n_slots - 1);
	while (g->slots[s])
		s = (s + 1) & (g->n_slots - 1);
	g->slots[s] = (uint32_t)g->n_vals;
	*out = v;
	return 0;
}

struct onnx_const *onnx_const_new(bool is_float, size_t n)
{
	struct onnx_const *k = calloc(1, sizeof *k);
	if (!k)
		return NULL;
	k->is_float = is_float;
	k->n = n;
	if (is_float)
		k->f = calloc(n ? n : 1, sizeof *k->f);
	else
		k->i = calloc(n ? n : 1, sizeof *k->i);
	if ((is_float && !k->f) || (!is_float && !k->i)) {
		free(k);
		return NULL;
	}
	return k;
}

void onnx_const_free(struct onnx_const *k)
{
	if (!k)
		return;
	free(k->i);
	free(k->f);
	free(k);
}

double onnx_const_get_f(const struct onnx_const *k, size_t i)
{
	return k->is_float ? k->f[i] : (double)k->i[i];
}

int64_t onnx_const_get_i(const struct onnx_const *k, size_t i)
{
	if (!k->is_float)
		return k->i[i];
	double d = k->f[i];
	if (!(d > -9.2e18 && d < 9.2e18)) /* NaN, infinities and the unrepresentable */
		return d > 0 ? INT64_MAX : INT64_MIN;
	return (int64_t)d;
}

bool onnx_shape_numel(const struct onnx_shape *s, int64_t *n)
{
	if (s->rank < 0)
		return false;
	int64_t r = 1;
	for (int i = 0; i < s->rank; i++)
		if (s->d[i] < 0 || __builtin_mul_overflow(r, s->d[i], &r))
			return false;
	*n = r;
	return true;
}

const char *onnx_shape_str(const struct onnx_shape *s, char *buf, size_t len)
{
	if (s->rank < 0)
		snprintf(buf, len, "?");
	else if (s->rank == 0)
		snprintf(buf, len, "scalar");
	else {
		size_t off = 0;
		buf[0] = 0;
		for (int i = 0; i < s->rank && off < len; i++)
			off += (size_t)snprintf(buf + off, len - off, "%s%lld", i ? "x" : "",
			                        (long long)s->d[i]);
	}
	return buf;
}

int onnx_tensor_shape(const Onnx__TensorProto *t, struct onnx_shape *s)
{
	if (t->n_dims > ONNX_MAX_RANK)
		return -EINVAL;
	s->rank = (int)t->n_dims;
	int64_t n = 1;
	for (size_t i = 0; i < t->n_dims; i++) {
		if (t->dims[i] < 0)
			return -EINVAL;
		s->d[i] = t->dims[i];
		if (__builtin_mul_overflow(n, t->dims[i], &n))
			return -EOVERFLOW;
	}
	return 0;
}

static double half_to_double(uint16_t h)
{
	int e = (h >> 10) & 0x1f;
	double m = h & 0x3ff;
	double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(m + 1024, e - 25);
	return (h & 0x8000) ? -v : v;
}

static double bf16_to_double(uint16_t h)
{
	uint32_t u = (uint32_t)h << 16;
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

/* One element of little-endian raw_data. */
static void raw_element(int32_t dt, const uint8_t *p, struct onnx_const *k, size_t i)
{
	union {
		float f;
		double d;
		int8_t i8;
		uint8_t u8;
		int16_t i16;
		uint16_t u16;
		int32_t i32;
		uint32_t u32;
		int64_t i64;
		uint64_t u64;
	} u;
	memcpy(&u, p, onnx_dtype_size(dt));
	switch (dt) {
	case DT_FLOAT:
		k->f[i] = u.f;
		break;
	case DT_DOUBLE:
		k->f[i] = u.d;
		break;
	case DT_FLOAT16:
		k->f[i] = half_to_double(u.u16);
		break;
	case DT_BFLOAT16:
		k->f[i] = bf16_to_double(u.u16);
		break;
	case DT_INT8:
		k->i[i] = u.i8;
		break;
	case DT_UINT8:
	case DT_BOOL:
		k->i[i] = u.u8;
		break;
	case DT_INT16:
		k->i[i] = u.i16;
		break;
	case DT_UINT16:
		k->i[i] = u.u16;
		break;
	case DT_INT32:
		k->i[i] = u.i32;
		break;
	case DT_UINT32:
		k->i[i] = u.u32;
		break;
	case DT_INT64:
		k->i[i] = u.i64;
		break;
	case DT_UINT64:
		k->i[i] = u.u64 > INT64_MAX ? INT64_MAX : (int64_t)u.u64;
		break;
	}
}

static bool typed_element(const Onnx__TensorProto *t, int32_t dt, struct onnx_const *k, size_t i)
{
	switch (dt) {
	case DT_FLOAT:
		if (t->n_float_data != k->n)
			return false;
		k->f[i] = t->float_data[i];
		return true;
	case DT_DOUBLE:
		if (t->n_double_data != k->n)
			return false;
		k->f[i] = t->double_data[i];
		return true;
	case DT_INT64:
		if (t->n_int64_data != k->n)
			return false;
		k->i[i] = t->int64_data[i];
		return true;
	case DT_UINT32:
	case DT_UINT64:
		if (t->n_uint64_data != k->n)
			return false;
		k->i[i] = t->uint64_data[i] > INT64_MAX ? INT64_MAX : (int64_t)t->uint64_data[i];
		return true;
	case DT_FLOAT16:
	case DT_BFLOAT16:
		if (t->n_int32_data != k->n)
			return false;
		k->f[i] = dt == DT_FLOAT16 ? half_to_double((uint16_t)t->int32_data[i])
		                           : bf16_to_double((uint16_t)t->int32_data[i]);
		return true;
	case DT_INT32:
	case DT_INT16:
	case DT_INT8:
	case DT_UINT16:
	case DT_UINT8:
	case DT_BOOL:
		if (t->n_int32_data != k->n)
			return false;
		k->i[i] = t->int32_data[i];
		return true;
	default:
		return false;
	}
}

struct onnx_const *onnx_tensor_values(const Onnx__TensorProto *t, const struct onnx_shape *s)
{
	int64_t n;
	int32_t dt = t->data_type;
	size_t esize = onnx_dtype_size(dt);
	if (!esize || !onnx_shape_numel(s, &n) || n > ONNX_CONST_MAX)
		return NULL;
	if (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
		return NULL;
	struct onnx_const *k = onnx_const_new(onnx_dtype_is_float(dt), (size_t)n);
	if (!k)
		return NULL;
	bool raw = t->has_raw_data;
	if (raw && t->raw_data.len != (size_t)n * esize)
		goto none; /* a dropped payload, or a malformed one */
	for (size_t i = 0; i < (size_t)n; i++) {
		if (raw)
			raw_element(dt, t->raw_data.data + i * esize, k, i);
		else if (!typed_element(t, dt, k, i))
			goto none;
	}
	return k;
none:
	onnx_const_free(k);
	return NULL;
}

struct onnx_value *onnx_in(struct onnx_ctx *c, size_t i)
{
	if (i >= c->node->n_input || !c->node->input[i] || !c->node->input[i][0])
		return NULL;
	return onnx_graph_find(c->g, c->node->input[i]);
}

int onnx_skip(struct onnx_ctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof c->why, fmt, ap);
	va_end(ap);
	return ONNX_SKIP;
}

int onnx_need(struct onnx_ctx *c, size_t i, struct onnx_value **v)
{
	*v = onnx_in(c, i);
	if (!*v)
		return onnx_skip(c, "input %zu is missing", i);
	if ((*v)->shape.rank < 0) {
		c->upstream = true;
		return onnx_skip(c, "input '%s' has an unknown shape", (*v)->name);
	}
	return 0;
}

size_t onnx_n_out(const struct onnx_ctx *c)
{
	return c->node->n_output;
}

static struct onnx_value *out_value(struct onnx_ctx *c, size_t i)
{
	if (i >= c->node->n_output || !c->node->output[i] || !c->node->output[i][0])
		return NULL;
	return onnx_graph_find(c->g, c->node->output[i]);
}

int onnx_set_out(struct onnx_ctx *c, size_t i, int32_t dtype, const struct onnx_shape *s)
{
	struct onnx_value *v = out_value(c, i);
	if (!v)
		return 0;
	if (s->rank < 0 || s->rank > ONNX_MAX_RANK)
		return onnx_skip(c, "output rank %d is not supported", s->rank);
	for (int d = 0; d < s->rank; d++)
		if (s->d[d] < 0)
			return onnx_skip(c, "output dimension %d would be negative (%lld)", d,
			                 (long long)s->d[d]);
	int64_t n;
	if (!onnx_shape_numel(s, &n))
		c->overflow = true;
	v->dtype = dtype;
	v->shape = *s;
	return 0;
}

void onnx_set_const(struct onnx_ctx *c, size_t i, struct onnx_const *k)
{
	struct onnx_value *v = out_value(c, i);
	if (!v || !k) {
		onnx_const_free(k);
		return;
	}
	onnx_const_free(v->k);
	v->k = k;
}

int64_t onnx_mul(struct onnx_ctx *c, int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_mul_overflow(a, b, &r)) {
		c->overflow = true;
		return 0;
	}
	return r;
}

int64_t onnx_add(struct onnx_ctx *c, int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_add_overflow(a, b, &r)) {
		c->overflow = true;
		return 0;
	}
	return r;
}

int64_t onnx_numel(struct onnx_ctx *c, const struct onnx_shape *s)
{
	int64_t n = 0;
	if (!onnx_shape_numel(s, &n))
		c->overflow = true;
	return n;
}

bool onnx_axis(int64_t axis, int rank, int *out)
{
	if (axis < -(int64_t)rank || axis >= rank)
		return false;
	*out = (int)(axis < 0 ? axis + rank : axis);
	return true;
}

const Onnx__AttributeProto *onnx_attr(const struct onnx_ctx *c, const char *name)
{
	for (size_t i = 0; i < c->node->n_attribute; i++) {
		const Onnx__AttributeProto *a = c->node->attribute[i];
		if (a->name && strcmp(a->name, name) == 0)
			return a;
	}
	return NULL;
}

int64_t onnx_attr_int(const struct onnx_ctx *c, const char *name, int64_t def)
{
	const Onnx__AttributeProto *a = onnx_attr(c, name);
	return a && a->has_i ? a->i : def;
}

float onnx_attr_float(const struct onnx_ctx *c, const char *name, float def)
{
	const Onnx__AttributeProto *a = onnx_attr(c, name);
	return a && a->has_f ? a->f : def;
}

size_t onnx_attr_ints(const struct onnx_ctx *c, const char *name, const int64_t **v)
{
	const Onnx__AttributeProto *a = onnx_attr(c, name);
	*v = a ? a->ints : NULL;
	return a ? a->n_ints : 0;
}

bool onnx_attr_str_is(const struct onnx_ctx *c, const char *name, const char *s, bool def)
{
	const Onnx__AttributeProto *a = onnx_attr(c, name);
	if (!a || !a->has_s)
		return def;
	size_t n = strlen(s);
	return a->s.len == n && (n == 0 || memcmp(a->s.data, s, n) == 0);
}

bool onnx_broadcast(const struct onnx_shape *a, const struct onnx_shape *b, struct onnx_shape *out)
{
	int r = a->rank > b->rank ? a->rank : b->rank;
	out->rank = r;
	for (int i = 0; i < r; i++) {
		int ia = a->rank - r + i, ib = b->rank - r + i;
		int64_t da = ia >= 0 ? a->d[ia] : 1, db = ib >= 0 ? b->d[ib] : 1;
		if (da == db || db == 1)
			out->d[i] = da;
		else if (da == 1)
			out->d[i] = db;
		else
			return false;
	}
	return true;
}

size_t onnx_broadcast_offset(const struct onnx_shape *from, const struct onnx_shape *to, size_t idx)
{
	size_t off = 0, stride = 1;
	for (int i = to->rank - 1; i >= 0; i--) {
		size_t dim = (size_t)to->d[i];
		size_t pos = dim ? idx % dim : 0;
		idx = dim ? idx / dim : 0;
		int j = from->rank - to->rank + i;
		if (j < 0)
			continue;
		if (from->d[j] != 1)
			off += pos * stride;
		stride *= (size_t)from->d[j];
	}
	return off;
}

int onnx_const_ints(struct onnx_ctx *c, size_t i, int64_t *out, size_t max, size_t *n)
{
	struct onnx_value *v = onnx_in(c, i);
	if (!v)
		return onnx_skip(c, "input %zu is missing", i);
	if (!v->k)
		return onnx_skip(c, "input '%s' is not a constant", v->name);
	if (v->k->n > max)
		return onnx_skip(c, "input '%s' has too many values (%zu)", v->name, v->k->n);
	for (size_t j = 0; j < v->k->n; j++)
		out[j] = onnx_const_get_i(v->k, j);
	*n = v->k->n;
	return 0;
}
