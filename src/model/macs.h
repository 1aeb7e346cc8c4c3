/* MACs, parameters and MACs per parameter of an ONNX model (greenops macs, and the tags of
 * `greenops run --model`). MACs are the multiply-accumulates of Conv, ConvTranspose, Gemm and
 * MatMul (their quantized forms too), groups and batch included; params are the elements of
 * floating-point initializers and Constant tensors; everything else is other_flops. */
#ifndef GOPS_MODEL_MACS_H
#define GOPS_MODEL_MACS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GOPS_MACS_MAX_RANK 16

/* One --input NAME=DIMS: the whole shape of a graph input. */
struct gops_macs_input {
	char name[256];
	int rank;
	int64_t dims[GOPS_MACS_MAX_RANK];
};

struct gops_macs_options {
	const struct gops_macs_input *inputs; /* shapes that replace the model's own */
	size_t n_inputs;
	int64_t batch;  /* > 0: dimension 0 of every graph input; 0: as in the model */
	bool all_nodes; /* layers lists every node, not only those with MACs, params or flops */
};
void gops_macs_options_init(struct gops_macs_options *o);

struct gops_macs_layer {
	char *name; /* the node's name, else its first output's */
	char *op_type;
	int64_t macs, params, other_flops;
	bool inferred;         /* false: its cost and output shape are unknown */
	int rank;              /* of output 0; -1 unknown */
	int64_t *output_shape; /* rank entries */
};

struct gops_macs_op_total {
	char *op_type;
	int64_t nodes, macs, params, other_flops;
};

struct gops_macs_result {
	int64_t params;          /* floating-point elements of initializers and Constant nodes */
	int64_t constant_params; /* the part of params held by Constant nodes */
	int64_t macs;
	double macs_per_param; /* NAN without params */
	int64_t other_flops;
	bool complete; /* every node was inferred: the totals are not lower bounds */
	int64_t ir_version, opset;
	char *producer; /* "pytorch 2.5.0", or "" */
	size_t n_inputs;
	struct gops_macs_layer *inputs; /* the graph inputs as counted (name, rank, shape) */
	size_t n_layers;
	struct gops_macs_layer *layers;
	size_t n_op_types;
	struct gops_macs_op_total *op_types; /* most MACs first */
	size_t n_warnings;
	char **warnings;
	int64_t nodes;
	uint64_t file_bytes, stripped_bytes; /* weight bytes skipped without being read */
};

/* Counts the model at path. Returns 0 (warnings, if any, in r), or a negative errno with a
 * one-line message naming the file in err; r needs gops_macs_result_release() either way. */
int gops_macs_count(const char *path, const struct gops_macs_options *o, struct gops_macs_result *r,
                    char *err, size_t errlen);
/* The same for a model in memory; name appears in messages. */
int gops_macs_count_buffer(const void *data, size_t len, const char *name, const struct gops_macs_options *o,
                           struct gops_macs_result *r, char *err, size_t errlen);
void gops_macs_result_release(struct gops_macs_result *r);

/* Parses "NAME=1x3x224x224" (a dimension may be written 0 only if the model means it).
 * Returns 0 or -EINVAL with a message. */
int gops_macs_parse_input(const char *spec, struct gops_macs_input *in, char *err, size_t errlen);

#endif
