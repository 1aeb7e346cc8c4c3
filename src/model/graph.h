/* The value table of an ONNX graph during shape inference, and what an operator's inference
 * function may use: its inputs' shapes and small constant values, its attributes, checked
 * 64-bit arithmetic and the place to put its outputs and its cost. */
#ifndef GOPS_MODEL_GRAPH_H
#define GOPS_MODEL_GRAPH_H

#include "onnx/onnx.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ONNX_MAX_RANK 16
/* Constant tensors up to this many elements are kept and folded (shape arithmetic). */
#define ONNX_CONST_MAX 1024
/* The newest default-domain opset whose operator meanings are known here. */
#define ONNX_OPSET_KNOWN 24

/* Returned by an inference function that cannot infer its node (the reason is in ctx->why). */
#define ONNX_SKIP 1

enum onnx_dtype {
	DT_UNDEFINED = 0,
	DT_FLOAT = 1,
	DT_UINT8 = 2,
	DT_INT8 = 3,
	DT_UINT16 = 4,
	DT_INT16 = 5,
	DT_INT32 = 6,
	DT_INT64 = 7,
	DT_STRING = 8,
	DT_BOOL = 9,
	DT_FLOAT16 = 10,
	DT_DOUBLE = 11,
	DT_UINT32 = 12,
	DT_UINT64 = 13,
	DT_COMPLEX64 = 14,
	DT_COMPLEX128 = 15,
	DT_BFLOAT16 = 16,
};
bool onnx_dtype_is_float(int32_t t);
/* Bytes per element of raw_data, 0 for strings and unknown types. */
size_t onnx_dtype_size(int32_t t);

struct onnx_shape {
	int rank; /* -1: unknown */
	int64_t d[ONNX_MAX_RANK];
};

/* The values of a small constant tensor: integers (and bools) as int64, floats as double. */
struct onnx_const {
	bool is_float;
	size_t n;
	int64_t *i;
	double *f;
};

struct onnx_value {
	const char *name; /* owned by the unpacked model */
	int32_t dtype;
	struct onnx_shape shape;
	struct onnx_const *k; /* NULL unless a known small constant */
	int producer;         /* node index; -1 for graph inputs and initializers */
	bool initializer;
	bool params_taken; /* its parameters are counted in a layer already */
	int64_t params;    /* floating-point elements, for initializers */
};

struct onnx_graph {
	struct onnx_value *vals;
	size_t n_vals, cap_vals;
	uint32_t *slots; /* open addressing: value index + 1, 0 = empty */
	size_t n_slots;
};

int onnx_graph_init(struct onnx_graph *g, size_t expected);
void onnx_graph_release(struct onnx_graph *g);
struct onnx_value *onnx_graph_find(struct onnx_graph *g, const char *name);
/* Adds a value (or returns the existing one through *out with 1). 0 added, -ENOMEM. */
int onnx_graph_add(struct onnx_graph *g, const char *name, struct onnx_value **out);

struct onnx_const *onnx_const_new(bool is_float, size_t n);
void onnx_const_free(struct onnx_const *k);
double onnx_const_get_f(const struct onnx_const *k, size_t i);
int64_t onnx_const_get_i(const struct onnx_const *k, size_t i);

/* Element count of a shape; false on overflow (or unknown rank). */
bool onnx_shape_numel(const struct onnx_shape *s, int64_t *n);
/* "1x3x224x224" ("scalar" for rank 0, "?" unknown) into buf. */
const char *onnx_shape_str(const struct onnx_shape *s, char *buf, size_t len);

/* Shape and, when small and stored inline, values of a TensorProto. Returns 0, or -EINVAL
 * for negative dimensions or too high a rank (message in err), -EOVERFLOW. */
int onnx_tensor_shape(const Onnx__TensorProto *t, struct onnx_shape *s);
struct onnx_const *onnx_tensor_values(const Onnx__TensorProto *t, const struct onnx_shape *s);

struct onnx_op;

struct onnx_ctx {
	struct onnx_graph *g;
	const Onnx__NodeProto *node;
	const struct onnx_op *op;
	int64_t opset;
	int64_t macs, other_flops;
	int64_t params; /* floating-point elements a Constant node holds */
	bool overflow;
	bool upstream; /* skipped only because an input's shape was already unknown */
	char why[200];
};

/* An inference function: sets the node's outputs and cost; returns 0, ONNX_SKIP (reason in
 * ctx->why) or a negative errno. Overflow is sticky in ctx->overflow. */
typedef int (*onnx_infer_fn)(struct onnx_ctx *c);

struct onnx_op {
	const char *name;
	onnx_infer_fn fn;
	int flops; /* other_flops per output element, where the function uses a flat rate */
};

/* The i-th input, NULL when absent (beyond the list, or an empty name for a skipped optional). */
struct onnx_value *onnx_in(struct onnx_ctx *c, size_t i);
/* The i-th input with a known shape, or ONNX_SKIP with the reason set. */
int onnx_need(struct onnx_ctx *c, size_t i, struct onnx_value **v);
int onnx_skip(struct onnx_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
size_t onnx_n_out(const struct onnx_ctx *c);
/* Sets the shape of output i (absent outputs are ignored). Negative dimensions skip. */
int onnx_set_out(struct onnx_ctx *c, size_t i, int32_t dtype, const struct onnx_shape *s);
/* Hands a constant's values to output i (taken over, freed on failure). */
void onnx_set_const(struct onnx_ctx *c, size_t i, struct onnx_const *k);

int64_t onnx_mul(struct onnx_ctx *c, int64_t a, int64_t b);
int64_t onnx_add(struct onnx_ctx *c, int64_t a, int64_t b);
int64_t onnx_numel(struct onnx_ctx *c, const struct onnx_shape *s);
/* Normalises a possibly negative axis for a rank; false when out of range. */
bool onnx_axis(int64_t axis, int rank, int *out);

const Onnx__AttributeProto *onnx_attr(const struct onnx_ctx *c, const char *name);
int64_t onnx_attr_int(const struct onnx_ctx *c, const char *name, int64_t def);
float onnx_attr_float(const struct onnx_ctx *c, const char *name, float def);
/* Number of ints of a list attribute (0 when absent); *v points into the model. */
size_t onnx_attr_ints(const struct onnx_ctx *c, const char *name, const int64_t **v);
/* Whether a string attribute equals s (def when the attribute is absent). */
bool onnx_attr_str_is(const struct onnx_ctx *c, const char *name, const char *s, bool def);

/* The values of constant input i as integers; ONNX_SKIP when it is not a known constant or
 * has more than max values. */
int onnx_const_ints(struct onnx_ctx *c, size_t i, int64_t *out, size_t max, size_t *n);

/* Numpy broadcasting of two shapes; false when they do not broadcast. */
bool onnx_broadcast(const struct onnx_shape *a, const struct onnx_shape *b, struct onnx_shape *out);
/* The offset into a tensor of shape `from` (broadcast to `to`) of element `idx` of `to`. */
size_t onnx_broadcast_offset(const struct onnx_shape *from, const struct onnx_shape *to, size_t idx);

/* The operator tables, one per family of operators. */
extern const struct onnx_op onnx_ops_nn[];
extern const size_t onnx_n_ops_nn;
extern const struct onnx_op onnx_ops_tensor[];
extern const size_t onnx_n_ops_tensor;
extern const struct onnx_op onnx_ops_elementwise[];
extern const size_t onnx_n_ops_elementwise;

#endif
