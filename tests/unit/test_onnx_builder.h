/* A tiny builder of ONNX models over the generated protobuf-c structs, for tests, the fuzz
 * corpus and benchmarks: graphs are written in a few lines and packed to memory or a file.
 * Everything is malloc'd so that protobuf_c_message_free_unpacked() frees a whole model. */
#ifndef GOPS_TEST_ONNX_BUILDER_H
#define GOPS_TEST_ONNX_BUILDER_H

#include "onnx/onnx.pb-c.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline void *ob_alloc(size_t n)
{
	void *p = calloc(1, n ? n : 1);
	if (!p)
		abort();
	return p;
}

static inline char *ob_strdup(const char *s)
{
	char *d = ob_alloc(strlen(s) + 1);
	strcpy(d, s);
	return d;
}

#define OB_PUSH(arr, n, item)                                                                                \
	do {                                                                                                 \
		(arr) = realloc((arr), ((n) + 1) * sizeof *(arr));                                           \
		if (!(arr))                                                                                  \
			abort();                                                                             \
		(arr)[(n)++] = (item);                                                                       \
	} while (0)

/* A payload shared by many initializers (large benchmark models): never freed per tensor. */
static const uint8_t *ob_borrowed __attribute__((unused));

static inline Onnx__ModelProto *ob_model(int64_t opset)
{
	Onnx__ModelProto *m = ob_alloc(sizeof *m);
	onnx__model_proto__init(m);
	m->has_ir_version = 1;
	m->ir_version = 8;
	m->producer_name = ob_strdup("greenops-tests");
	m->producer_version = ob_strdup("1");
	Onnx__OperatorSetIdProto *op = ob_alloc(sizeof *op);
	onnx__operator_set_id_proto__init(op);
	op->domain = ob_strdup("");
	op->has_version = 1;
	op->version = opset;
	OB_PUSH(m->opset_import, m->n_opset_import, op);
	m->graph = ob_alloc(sizeof *m->graph);
	onnx__graph_proto__init(m->graph);
	m->graph->name = ob_strdup("test");
	return m;
}

/* "1x3x32x32", or with symbolic dimensions "N,3,H,W" (tokens that are not numbers). */
static inline Onnx__TensorShapeProto *ob_shape(const char *dims)
{
	Onnx__TensorShapeProto *s = ob_alloc(sizeof *s);
	onnx__tensor_shape_proto__init(s);
	char *copy = ob_strdup(dims), *save = NULL;
	for (char *t = strtok_r(copy, "x,", &save); t; t = strtok_r(NULL, "x,", &save)) {
		Onnx__TensorShapeProto__Dimension *d = ob_alloc(sizeof *d);
		onnx__tensor_shape_proto__dimension__init(d);
		if ((t[0] >= '0' && t[0] <= '9') || t[0] == '-') {
			d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
			d->dim_value = strtoll(t, NULL, 10);
		} else {
			d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
			d->dim_param = ob_strdup(t);
		}
		OB_PUSH(s->dim, s->n_dim, d);
	}
	free(copy);
	return s;
}

static inline Onnx__ValueInfoProto *ob_value_info(const char *name, int32_t dtype, const char *dims)
{
	Onnx__ValueInfoProto *v = ob_alloc(sizeof *v);
	onnx__value_info_proto__init(v);
	v->name = ob_strdup(name);
	v->type = ob_alloc(sizeof *v->type);
	onnx__type_proto__init(v->type);
	v->type->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
	v->type->tensor_type = ob_alloc(sizeof *v->type->tensor_type);
	onnx__type_proto__tensor__init(v->type->tensor_type);
	v->type->tensor_type->has_elem_type = 1;
	v->type->tensor_type->elem_type = dtype;
	if (dims)
		v->type->tensor_type->shape = ob_shape(dims);
	return v;
}

static inline void ob_input(Onnx__ModelProto *m, const char *name, const char *dims)
{
	OB_PUSH(m->graph->input, m->graph->n_input, ob_value_info(name, 1, dims));
}

static inline void ob_output(Onnx__ModelProto *m, const char *name)
{
	OB_PUSH(m->graph->output, m->graph->n_output, ob_value_info(name, 1, NULL));
}

static inline void ob_value_shape(Onnx__ModelProto *m, const char *name, const char *dims)
{
	OB_PUSH(m->graph->value_info, m->graph->n_value_info, ob_value_info(name, 1, dims));
}

static inline size_t ob_dims(Onnx__TensorProto *t, const char *dims)
{
	size_t n = 1;
	char *copy = ob_strdup(dims), *save = NULL;
	for (char *s = strtok_r(copy, "x,", &save); s; s = strtok_r(NULL, "x,", &save)) {
		int64_t d = strtoll(s, NULL, 10);
		OB_PUSH(t->dims, t->n_dims, d);
		n *= d > 0 ? (size_t)d : 0;
	}
	free(copy);
	return n;
}

static inline Onnx__TensorProto *ob_tensor(const char *name, int32_t dtype, const char *dims, size_t *numel)
{
	Onnx__TensorProto *t = ob_alloc(sizeof *t);
	onnx__tensor_proto__init(t);
	t->name = ob_strdup(name);
	t->has_data_type = 1;
	t->data_type = dtype;
	*numel = dims && dims[0] ? ob_dims(t, dims) : 1;
	return t;
}

/* A float initializer ("" dims: a scalar) filled with zeros in raw_data. */
static inline Onnx__TensorProto *ob_init(Onnx__ModelProto *m, const char *name, const char *dims)
{
	size_t n;
	Onnx__TensorProto *t = ob_tensor(name, 1, dims, &n);
	t->has_raw_data = 1;
	t->raw_data.len = n * 4;
	t->raw_data.data = ob_alloc(n * 4);
	OB_PUSH(m->graph->initializer, m->graph->n_initializer, t);
	return t;
}

/* A float initializer whose raw_data is ob_borrowed (at least 4 x elements long). */
static inline Onnx__TensorProto *ob_init_borrowed(Onnx__ModelProto *m, const char *name, const char *dims)
{
	size_t n;
	Onnx__TensorProto *t = ob_tensor(name, 1, dims, &n);
	t->has_raw_data = 1;
	t->raw_data.len = n * 4;
	t->raw_data.data = (uint8_t *)ob_borrowed;
	OB_PUSH(m->graph->initializer, m->graph->n_initializer, t);
	return t;
}

/* A float initializer stored in an external file, described but never written. */
static inline Onnx__TensorProto *ob_init_external(Onnx__ModelProto *m, const char *name, const char *dims)
{
	size_t n;
	Onnx__TensorProto *t = ob_tensor(name, 1, dims, &n);
	t->has_data_location = 1;
	t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
	const char *kv[][2] = {{"location", "weights.bin"}, {"offset", "0"}};
	for (size_t i = 0; i < 2; i++) {
		Onnx__StringStringEntryProto *e = ob_alloc(sizeof *e);
		onnx__string_string_entry_proto__init(e);
		e->key = ob_strdup(kv[i][0]);
		e->value = ob_strdup(kv[i][1]);
		OB_PUSH(t->external_data, t->n_external_data, e);
	}
	OB_PUSH(m->graph->initializer, m->graph->n_initializer, t);
	return t;
}

/* A 1-D int64 initializer with n values, in raw_data (raw) or int64_data. */
static inline Onnx__TensorProto *ob_tensor_i64(const char *name, size_t n, const int64_t *v, int raw)
{
	char dims[32];
	snprintf(dims, sizeof dims, "%zu", n);
	size_t cnt;
	Onnx__TensorProto *t = ob_tensor(name, 7, dims, &cnt);
	if (raw) {
		t->has_raw_data = 1;
		t->raw_data.len = n * 8;
		t->raw_data.data = ob_alloc(n * 8);
		memcpy(t->raw_data.data, v, n * 8);
	} else {
		t->n_int64_data = n;
		t->int64_data = ob_alloc(n * 8);
		memcpy(t->int64_data, v, n * 8);
	}
	return t;
}

static inline void ob_init_i64(Onnx__ModelProto *m, const char *name, size_t n, const int64_t *v)
{
	OB_PUSH(m->graph->initializer, m->graph->n_initializer, ob_tensor_i64(name, n, v, 1));
}

/* A node; inputs and outputs are comma-separated ("x,,b" leaves input 1 out). */
static inline Onnx__NodeProto *ob_node(Onnx__ModelProto *m, const char *op, const char *name, const char *in,
                                       const char *out)
{
	Onnx__NodeProto *n = ob_alloc(sizeof *n);
	onnx__node_proto__init(n);
	n->op_type = ob_strdup(op);
	n->name = ob_strdup(name);
	const char *lists[2] = {in, out};
	for (int l = 0; l < 2; l++) {
		const char *p = lists[l];
		while (p && *p) {
			const char *e = strchr(p, ',');
			size_t len = e ? (size_t)(e - p) : strlen(p);
			char *s = ob_alloc(len + 1);
			memcpy(s, p, len);
			if (l == 0)
				OB_PUSH(n->input, n->n_input, s);
			else
				OB_PUSH(n->output, n->n_output, s);
			p = e ? e + 1 : NULL;
		}
	}
	OB_PUSH(m->graph->node, m->graph->n_node, n);
	return n;
}

static inline Onnx__AttributeProto *ob_attr(Onnx__NodeProto *n, const char *name,
                                            Onnx__AttributeProto__AttributeType type)
{
	Onnx__AttributeProto *a = ob_alloc(sizeof *a);
	onnx__attribute_proto__init(a);
	a->name = ob_strdup(name);
	a->has_type = 1;
	a->type = type;
	OB_PUSH(n->attribute, n->n_attribute, a);
	return a;
}

static inline void ob_attr_int(Onnx__NodeProto *n, const char *name, int64_t v)
{
	Onnx__AttributeProto *a = ob_attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
	a->has_i = 1;
	a->i = v;
}

static inline void ob_attr_float(Onnx__NodeProto *n, const char *name, float v)
{
	Onnx__AttributeProto *a = ob_attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
	a->has_f = 1;
	a->f = v;
}

/* ob_attr_ints(node, "strides", 2, 2, 2) */
static inline void ob_attr_ints(Onnx__NodeProto *n, const char *name, int count, ...)
{
	Onnx__AttributeProto *a = ob_attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
	va_list ap;
	va_start(ap, count);
	for (int i = 0; i < count; i++) {
		int64_t v = va_arg(ap, int64_t);
		OB_PUSH(a->ints, a->n_ints, v);
	}
	va_end(ap);
}

static inline void ob_attr_floats(Onnx__NodeProto *n, const char *name, int count, const float *v)
{
	Onnx__AttributeProto *a = ob_attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS);
	for (int i = 0; i < count; i++)
		OB_PUSH(a->floats, a->n_floats, v[i]);
}

static inline void ob_attr_str(Onnx__NodeProto *n, const char *name, const char *s)
{
	Onnx__AttributeProto *a = ob_attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
	a->has_s = 1;
	a->s.len = strlen(s);
	a->s.data = (uint8_t *)ob_strdup(s);
}

static inline void ob_attr_tensor(Onnx__NodeProto *n, const char *name, Onnx__TensorProto *t)
{
	Onnx__AttributeProto *a = ob_attr(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR);
	a->t = t;
}

/* A Constant node holding int64 values. */
static inline void ob_const_i64(Onnx__ModelProto *m, const char *out, size_t n, const int64_t *v)
{
	Onnx__NodeProto *c = ob_node(m, "Constant", out, "", out);
	ob_attr_tensor(c, "value", ob_tensor_i64(out, n, v, 0));
}

static inline uint8_t *ob_pack(const Onnx__ModelProto *m, size_t *len)
{
	*len = onnx__model_proto__get_packed_size(m);
	uint8_t *buf = ob_alloc(*len);
	onnx__model_proto__pack(m, buf);
	return buf;
}

struct ob_file_buffer {
	ProtobufCBuffer base;
	FILE *f;
	int failed;
};

static inline void ob_file_append(ProtobufCBuffer *b, size_t len, const uint8_t *data)
{
	struct ob_file_buffer *fb = (struct ob_file_buffer *)b;
	if (fwrite(data, 1, len, fb->f) != len)
		fb->failed = 1;
}

/* Packs straight into a file, so that a 500 MB model never needs a 500 MB buffer. */
static inline int ob_write(const Onnx__ModelProto *m, const char *path)
{
	struct ob_file_buffer fb = {.base = {.append = ob_file_append}, .f = fopen(path, "wb")};
	if (!fb.f)
		return -1;
	protobuf_c_message_pack_to_buffer(&m->base, &fb.base);
	return fclose(fb.f) != 0 || fb.failed ? -1 : 0;
}

static inline void ob_free(Onnx__ModelProto *m)
{
	for (size_t i = 0; i < m->graph->n_initializer; i++)
		if (ob_borrowed && m->graph->initializer[i]->raw_data.data == ob_borrowed)
			m->graph->initializer[i]->raw_data.data = NULL;
	protobuf_c_message_free_unpacked(&m->base, NULL);
}

#endif
