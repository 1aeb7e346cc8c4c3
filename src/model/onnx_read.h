/* Reading ONNX files: map the file, drop the weight payloads of tensors while walking the
 * protobuf wire format, and unpack the rest with the protobuf-c code generated from Debian's
 * onnx.proto. Only shapes and small constants are ever needed to count MACs and parameters. */
#ifndef GOPS_MODEL_ONNX_READ_H
#define GOPS_MODEL_ONNX_READ_H

#include "onnx/onnx.pb-c.h"

#include <stddef.h>
#include <stdint.h>

/* Payloads of tensors larger than this are dropped before unpacking: constants that shapes
 * depend on (Reshape targets, Slice bounds, Gather indices) are far smaller. */
#define ONNX_STRIP_BYTES 8192
/* Messages nested deeper than this (graphs inside attributes inside graphs...) are refused. */
#define ONNX_MAX_DEPTH 64

#define ONNX_READ_NO_STRIP 0x1 /* unpack everything, weights included (for comparison only) */

struct onnx_file {
	Onnx__ModelProto *model;
	uint64_t file_bytes;
	uint64_t stripped_bytes;  /* weight payload bytes that were skipped, never copied */
	uint64_t stripped_fields; /* how many payload fields were skipped */
};

/* Reads the model at path. Returns 0, or a negative errno with a one-line message naming
 * the file in err. */
int onnx_file_read(struct onnx_file *f, const char *path, unsigned flags, char *err, size_t errlen);
/* The same for a model already in memory; name is used in messages. */
int onnx_file_read_buffer(struct onnx_file *f, const uint8_t *data, size_t len, const char *name,
                          unsigned flags, char *err, size_t errlen);
void onnx_file_release(struct onnx_file *f);

#endif
