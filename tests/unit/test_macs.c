/* MAC and parameter counts of small models built here, against figures worked out by hand in
 * each test: convolutions (strided, padded, dilated, depthwise, grouped, transposed), Gemm,
 * MatMul chains with batch dimensions, attention-shaped graphs, and the shape operators. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <string.h>

#include "model/macs.h"
#include "test_onnx_builder.h"

static int count_opts(Onnx__ModelProto *m, const struct gops_macs_options *o, struct gops_macs_result *r,
                      char *err, size_t errlen)
{
	size_t len;
	uint8_t *buf = ob_pack(m, &len);
	int rc = gops_macs_count_buffer(buf, len, "test.onnx", o, r, err, errlen);
	free(buf);
	ob_free(m);
	return rc;
}

/* Counts m (and frees it); a failure stops the test with the library's message. Without
 * options every node is listed, so that shapes of data-movement nodes can be checked. */
static void count(Onnx__ModelProto *m, const struct gops_macs_options *o, struct gops_macs_result *r)
{
	char err[512] = "";
	struct gops_macs_options all;
	gops_macs_options_init(&all);
	all.all_nodes = true;
	int rc = count_opts(m, o ? o : &all, r, err, sizeof err);
	if (rc)
		fail_msg("count failed (%d): %s", rc, err);
}

static const struct gops_macs_layer *layer(const struct gops_macs_result *r, const char *name)
{
	for (size_t i = 0; i < r->n_layers; i++)
		if (strcmp(r->layers[i].name, name) == 0)
			return &r->layers[i];
	fail_msg("no layer '%s'", name);
	return NULL;
}

static void assert_shape(const struct gops_macs_layer *l, int rank, ...)
{
	assert_int_equal(l->rank, rank);
	va_list ap;
	va_start(ap, rank);
	for (int i = 0; i < rank; i++)
		assert_int_equal(l->output_shape[i], va_arg(ap, int64_t));
	va_end(ap);
}

static bool has_warning(const struct gops_macs_result *r, const char *needle)
{
	for (size_t i = 0; i < r->n_warnings; i++)
		if (strstr(r->warnings[i], needle))
			return true;
	return false;
}

static void test_conv_padded_with_bias(void **state)
{
	(void)state;
	Onnx__ModelProto *m = ob_model(17);
	ob_input(m, "x", "1x3x32x32");
	ob_init(m, "w", "16x3x3x3");
	ob_init(m, "b", "16");
	Onnx__NodeProto *n = ob_node(m, "Conv", "conv", "x,w,b", "y");
	ob_attr_ints(n, "pads", 4, 1L, 1L, 1L, 1L);
	ob_output(m, "y");
	struct gops_macs_result r;
	count(m, NULL, &r);
	/* 16 output channels x 32x32 positions x (3 channels x 3x3 kernel) */
	assert_int_equal(r.macs, 16 * 32 * 32 * 3 * 9);
	assert_int_equal(r.params, 16 * 3 * 9 + 16);
	assert_int_equal(r.other_flops, 16 * 32 * 32); /* the bias additions */
	assert_true(r.complete);
	assert_int_equal(r.n_warnings, 0);
	assert_shape(layer(&r, "conv"), 4, 1L, 16L, 32L, 32L);
	assert_true(fabs(r.macs_per_param - 442368.0 / 448.0) < 1e-9);
	gops_macs_result_release(&r);
}

static void test_conv_stride_dilation_asymmetric_pads(void **state)
{
	(void)state;
	Onnx__ModelProto *m = ob_model(17);
	ob_input(m, "x", "1x8x15x15");
	ob_init(m, "w", "4x8x3x3");
	Onnx__NodeProto *n = ob_node(m, "Conv", "dilated", "x,w", "y");
	ob_attr_ints(n, "strides", 2, 2L, 2L);
	ob_attr_ints(n, "pads", 4, 2L, 2L, 2L, 2L);
	ob_attr_ints(n, "dilations", 2, 2L, 2L);
	/* Dilated kernel spans 5: (15 + 4 - 5) / 2 + 1 = 8. */
	ob_input(m, "z", "1x2x10x7");
	ob_init(m, "w2", "5x2x3x2");
	n = ob_node(m, "Conv", "asym", "z,w2", "y2");
	ob_attr_ints(n, "strides", 2, 3L, 1L);
	ob_attr_ints(n, "pads", 4, 1L, 0L, 2L, 1L); /* H: 1 before, 2 after; W: 0 before, 1 after */
	/* H: (10 + 3 - 3) / 3 + 1 = 4; W: (7 + 1 - 2) / 1 + 1 = 7 */
	struct gops_macs_result r;
	count(m, NULL, &r);
	assert_shape(layer(&r, "dilated"), 4, 1L, 4L, 8L, 8L);
	assert_int_equal(layer(&r, "dilated")->macs, 4 * 8 * 8 * 8 * 9);
	assert_shape(layer(&r, "asym"), 4, 1L, 5L, 4L, 7L);
	assert_int_equal(layer(&r, "asym")->macs, 5 * 4 * 7 * 2 * 6);
	assert_int_equal(r.macs, 18432 + 1680);
	assert_int_equal(r.params, 288 + 60);
	assert_int_equal(r.other_flops, 0);
	gops_macs_result_release(&r);
}

static void test_depthwise_and_grouped(void **state)
{
	(void)state;
	Onnx__ModelProto *m = ob_model(17);
	ob_input(m, "x", "1x32x56x56");
	ob_init(m, "dw", "32x1x3x3");
	Onnx__NodeProto *n = ob_node(m, "Conv", "depthwise", "x,dw", "y");
	ob_attr_int(n, "group", 32);
	ob_attr_ints(n, "strides", 2, 2L, 2L);
	ob_attr_ints(n, "pads", 4, 1L, 1L, 1L, 1L);
	ob_input(m, "g", "2x64x14x14");
	ob_init(m, "gw", "128x16x3x3");
	n = ob_node(m, "Conv", "grouped", "g,gw", "gy");
	ob_attr_int(n, "group", 4);
	ob_attr_ints(n, "pads", 4, 1L, 1L, 1L, 1L);
	struct gops_macs_result r;
	count(m, NULL, &r);
	/* depthwise: each of 32 channels x 28x28 outputs reads one channel through 3x3 */
	assert_shape(layer(&r, "depthwise"), 4, 1L, 32L, 28L, 28L);
	assert_int_equal(layer(&r, "depthwise")->macs, 32 * 28 * 28 * 9);
	/* grouped: batch 2 x 128 outputs x 14x14, each reading 64/4 = 16 channels x 3x3 */
	assert_shape(layer(&r, "grouped"), 4, 2L, 128L, 14L, 14L);
	assert_int_equal(layer(&r, "grouped")->macs, 2 * 128 * 196 * 16 * 9);
	assert_int_equal(r.params, 32 * 9 + 128 * 16 * 9);
	gops_macs_result_release(&r);
}

static void test_conv_auto_pad_same(void **state)
{
	(void)state;
	Onnx__ModelProto *m = ob_model(17);
	ob_input(m, "x", "1x3x224x224");
	ob_init(m, "w", "64x3x7x7");
	Onnx__NodeProto *n = ob_node(m, "Conv", "stem", "x,w", "y");
	ob_attr_ints(n, "strides", 2, 2L, 2L);
	ob_attr_str(n, "auto_pad", "SAME_UPPER");
	struct gops_macs_result r;
	count(m, NULL, &r);
	assert_shape(layer(&r, "stem"), 4, 1L, 64L, 112L, 112L);
	assert_int_equal(r.macs, 118013952); /* ResNet's first convolution */
	gops_macs_result_release(&r);
}

static void test_conv_mismatched_channels_is_not_inferred(void **state)
{
	(void)state;
	Onnx__ModelProto *m = ob_model(17);
	ob_input(m, "x", "1x4x8x8");
	ob_init(m, "w", "8x3x3x3");
	ob_node(m, "Conv", "bad", "x,w", "y");
	ob_node(m, "Relu", "after", "y", "z");
	struct gops_macs_result r;
	count(m, NULL, &r);
	assert_false(r.complete);
	assert_int_equal(r.macs, 0);
	assert_true(has_warning(&r, "cannot infer 1 Conv node(s) (first 'bad')"));
	assert_true(
	    has_warning(&r, "1 node(s) not counted because an input's shape is unknown (first 'after')"));
	assert_int_equal(r.params, 8 * 3 * 9); /* parameters are known all the same */
	gops_macs_result_release(&r);
}

static void test_conv_transpose(void **state)
{
	(void)state;
	Onnx__ModelProto *m = ob_model(17);
	ob_input(m, "x", "1x16x8x8");
	ob_init(m, "w", "16x8x4x4");
	ob_init(m, "b", "8");
	Onnx__NodeProto *n = ob_node(m, "ConvTranspose", "up", "x,w,b", "y");
	ob_attr_ints(n, "strides", 2, 2L, 2L);
	ob_attr_ints(n, "pads", 4, 1L, 1L, 1L, 1L);
	/* 2 x (8 - 1) + 4 - 2 = 16 */
	ob_init(m, "gw", "16x4x3x3");
	n = ob_node(m, "ConvTranspose", "grouped", "x,gw", "gy");
	ob_attr_int(n, "group", 2);
	ob_attr_ints(n, "output_padding", 2, 0L, 0L);
	/* 8 - 1 + 3 = 10, output channels 4 x 2 groups */
	ob_init(m, "sw", "16x2x2x2");
	n = ob_node(m, "ConvTranspose", "shaped", "x,sw", "sy");
	ob_attr_ints(n, "strides", 2, 2L, 2L);
	ob_attr_ints(n, "output_shape", 2, 17L, 17L);
	struct gops_macs_result r;
	count(m, NULL, &r);
	assert_shape(layer(&r, "up"), 4, 1L, 8L, 16L, 16L);
	/* every one of 16x8x8 inputs times 8 output channels x 4x4 */
	assert_int_equal(layer(&r, "up")->macs, 16 * 64 * 8 * 16);
	assert_int_equal(layer(&r, "up")->other_flops, 8 * 16 * 16);
	assert_int_equal(layer(&r, "up")->params, 16 * 8 * 16 + 8);
	assert_shape(layer(&r, "grouped"), 4, 1L, 8L, 10L, 10L);
	assert_int_equal(layer(&r, "grouped")->macs, 16 * 64 * 4 * 9);
	assert_shape(layer(&r, "shaped"), 4, 1L, 2L, 17L, 17L);
	assert_int_equal(layer(&r, "shaped")->macs, 16 * 64 * 2 * 4);
	gops_macs_result_release(&r);
}

static void test_gemm_transposes(void **state)
{
	(void)state;
	Onnx__ModelProto *m = ob_model(17);
	ob_input(m, "x", "4x256");
	ob_init(m, "w", "1000x256");
	ob_init(m, "b", "1000");
	Onnx__NodeProto *n = ob_node(m, "Gemm", "fc", "x,w,b", "y");
	ob_attr_int(n, "transB", 1);
	ob_input(m, "xt", "256x4");
	ob_init(m, "w2", "256x10");
	n = ob_node(m, "Gemm", "fc_ta", "xt,w2", "y2");
	ob_attr_int(n, "transA", 1);
	ob_attr_float(n, "alpha", 0.5f);
	struct gops_macs_result r;
	count(m, NULL, &r);
	assert_shape(layer(&r, "fc"), 2, 4L, 1000L);
	assert_int_equal(layer(&r, "fc")->macs, 4 * 256 * 1000);
	assert_int_equal(layer(&r, "fc")->other_flops, 4000);
	assert_shape(layer(&r, "fc_ta"), 2, 4L, 10L);
	assert_int_equal(layer(&r, "fc_ta")->macs, 4 * 256 * 10);
	assert_int_equal(layer(&r, "fc_ta")->other_flops, 40); /* alpha scaling */
	assert_int_equal(r.params, 256000 + 1000 + 2560);
	gops_macs_result_release(&r);
}

static void test_matmul_batch_broadcast_and_vectors(void **state)
{
	(void)state;
	Onnx__ModelProto *m = ob_model(17);
	ob_input(m, "a", "2x8x16x64");
	ob_input(m, "b", "2x8x64x16");
	ob_node(m, "MatMul", "batched", "a,b", "ab");
	ob_init(m, "c", "1x1x16x32");
	ob_node(m, "MatMul", "broadcast", "ab,c", "abc");
	ob_input(m, "v", "64");
	ob_init(m, "wv", "64x10");
	ob_node(m, "MatMul", "vector", "v,wv", "vy");
	ob_init(m, "wc", "3x10x64");
	ob_node(m, "MatMul", "vector_rhs", "wc,v", "cy");
	struct gops_macs_result r;
	count(m, NULL, &r);
	assert_shape(layer(&r, "batched"), 4, 2L, 8L, 16L, 16L);
	assert_int_equal(layer(&r, "batched")->macs, 16 * 16 * 64 * 16);
	assert_shape(layer(&r, "broadcast"), 4, 2L, 8L, 16L, 32L);
	assert_int_equal(layer(&r, "broadcast")->macs, 16 * 16 * 16 * 32);
	assert_shape(layer(&r, "vector"), 1, 10L);
	assert_int_equal(layer(&r, "vector")->macs, 640);
	assert_shape(layer(&r, "vector_rhs"), 2, 3L, 10L);
	assert_int_equal(layer(&r, "vector_rhs")->macs, 3 * 10 * 64);
	assert_int_equal(r.macs, 262144 + 131072 + 640 + 1920);
	gops_macs_result_release(&r);
}

/* One attention head group as exporters write it: projections, a head split through
 * Shape/Gather/Concat/Reshape, Q.K^T, Softmax, .V and the merge back. */
static void test_attention_chain(void **state)
{
	(void)state;
	Onnx__ModelProto *m = ob_model(17);
	ob_input(m, "x", "1x197x768");
	const char *proj[] = {"q", "k", "v"};
	for (int i = 0; i < 3; i++) {
		char w[8], b[8], mm[16], add[16], in[32], out[16];
		snprintf(w, sizeof w, "W%s", proj[i]);
		snprintf(b, sizeof b, "B%s", proj[i]);
		ob_init(m, w, "768x768");
		ob_init(m, b, "768");
		snprintf(mm, sizeof mm, "%s_mm", proj[i]);
		snprintf(in, sizeof in, "x,%s", w);
		snprintf(out, sizeof out, "%s0", proj[i]);
		ob_node(m, "MatMul", mm, in, out);
		snprintf(add, sizeof add, "%s_add", proj[i]);
		snprintf(in, sizeof in, "%s0,%s", proj[i], b);
		ob_node(m, "Add", add, in, proj[i]);
	}
	ob_node(m, "Shape", "shape", "x", "xs");
	int64_t zero = 0, heads[] = {-1, 12, 64};
	ob_const_i64(m, "idx0", 1, &zero);
	ob_node(m, "Gather", "batch", "xs,idx0", "n");
	ob_const_i64(m, "heads", 3, heads);
	ob_node(m, "Concat", "split_shape", "n,heads", "hs");
	Onnx__NodeProto *n = m->graph->node[m->graph->n_node - 1];
	ob_attr_int(n, "axis", 0);
	for (int i = 0; i < 3; i++) {
		char in[32], out[16], name[16];
		snprintf(in, sizeof in, "%s,hs", proj[i]);
		snprintf(out, sizeof out, "%s_r", proj[i]);
		snprintf(name, sizeof name, "%s_reshape", proj[i]);
		ob_node(m, "Reshape", name, in, out);
		snprintf(in, sizeof in, "%s_r", proj[i]);
		snprintf(out, sizeof out, "%s_t", proj[i]);
		snprintf(name, sizeof name, "%s_transpose", proj[i]);
		n = ob_node(m, "Transpose", name, in, out);
		if (i == 1)
			ob_attr_ints(n, "perm", 4, 0L, 2L, 3L, 1L);
		else
			ob_attr_ints(n, "perm", 4, 0L, 2L, 1L, 3L);
	}
	ob_node(m, "MatMul", "scores", "q_t,k_t", "s");
	n = ob_node(m, "Softmax", "softmax", "s", "p");
	ob_attr_int(n, "axis", -1);
	ob_node(m, "MatMul", "context", "p,v_t", "ctx");
	n = ob_node(m, "Transpose", "merge_t", "ctx", "ctx_t");
	ob_attr_ints(n, "perm", 4, 0L, 2L, 1L, 3L);
	int64_t merged[] = {0, 0, 768};
	ob_init_i64(m, "merged", 3, merged);
	ob_node(m, "Reshape", "merge", "ctx_t,merged", "o");
	struct gops_macs_result r;
	count(m, NULL, &r);
	assert_true(r.complete);
	assert_shape(layer(&r, "scores"), 4, 1L, 12L, 197L, 197L);
	assert_int_equal(layer(&r, "scores")->macs, 12 * 197 * 64 * 197);
	assert_int_equal(layer(&r, "context")->macs, 12 * 197 * 197 * 64);
	assert_shape(layer(&r, "merge"), 3, 1L, 197L, 768L);
	assert_int_equal(r.macs, 3LL * 197 * 768 * 768 + 2LL * 12 * 197 * 197 * 64);
	assert_int_equal(r.params, 3 * (768 * 768 + 768));
	/* Adds: 3 x 197x768; softmax: 3 per element of 12x197x197 */
	assert_int_equal(r.other_flops, 3 * 197 * 768 + 3 * 12 * 197 * 197);
	gops_macs_result_release(&r);
}

/* A small CNN: Conv, BatchNormalization, Relu, MaxPool, GlobalAveragePool, Flatten, Gemm. */
static Onnx__ModelProto *small_cnn(void)
{
	Onnx__ModelProto *m = ob_model(13);
	ob_input(m, "x", "1x3x32x32");
	ob_init(m, "w", "8x3x3x3");
	Onnx__NodeProto *n = ob_node(m, "Conv", "conv", "x,w", "c");
	ob_attr_ints(n, "pads", 4, 1L, 1L, 1L, 1L);
	const char *bn[] = {"scale", "bias", "mean", "var"};
	for (int i = 0; i < 4; i++)
		ob_init(m, bn[i], "8");
	ob_node(m, "BatchNormalization", "bn", "c,scale,bias,mean,var", "b");
	ob_node(m, "Relu", "relu", "b", "r");
	n = ob_node(m, "MaxPool", "pool", "r", "p");
	ob_attr_ints(n, "kernel_shape", 2, 2L, 2L);
	ob_attr_ints(n, "strides", 2, 2L, 2L);
	ob_node(m, "GlobalAveragePool", "gap", "p", "g");
	ob_node(m, "Flatten", "flatten", "g", "f");
	ob_init(m, "fw", "10x8");
	ob_init(m, "fb", "10");
	n = ob_node(m, "Gemm", "fc", "f,fw,fb", "y");
	ob_attr_int(n, "transB", 1);
	return m;
}

static void test_small_cnn_totals(void **state)
{
	(void)state;
	struct gops_macs_result r;
	count(small_cnn(), NULL, &r);
	assert_true(r.complete);
	int64_t conv = 8 * 32 * 32 * 27, fc = 8 * 10;
	assert_int_equal(r.macs, conv + fc);
	assert_int_equal(r.params, 216 + 4 * 8 + 80 + 10);
	int64_t act = 8 * 32 * 32;
	/* BN 2 per element, Relu 1, MaxPool 4 reads per output, GAP reads its input, Gemm bias */
	assert_int_equal(r.other_flops, 2 * act + act + (act / 4) * 4 + act / 4 + 10);
	assert_shape(layer(&r, "flatten"), 2, 1L, 8L);
	assert_shape(layer(&r, "gap"), 4, 1L, 8L, 1L, 1L);
	assert_int_equal(r.n_layers, 7);
	assert_string_equal(r.op_types[0].op_type, "Conv");
	assert_int_equal(r.op_types[0].macs, conv);
	assert_string_equal(r.op_types[1].op_type, "Gemm");
	assert_int_equal(r.op_types[1].macs, fc);
	assert_int_equal(r.op_types[1].params, 90);
	gops_macs_result_release(&r);

	/* Flatten holds nothing and computes nothing: listed only when every node is asked for. */
	struct gops_macs_options o;
	gops_macs_options_init(&o);
	count(small_cnn(), &o, &r);
	assert_int_equal(r.n_layers, 6);
	for (size_t i = 0; i < r.n_layers; i++)
		assert_string_not_equal(r.layers[i].op_type, "Flatten");
	gops_macs_result_release(&r);
}

static void test_pool_ceil_mode_and_average(void **state)
{
	(void)state;
	Onnx__ModelProto *m = ob_model(17);
	ob_input(m, "x", "1x1x6x6");
	Onnx__NodeProto *n = ob_node(m, "MaxPool", "ceil", "x", "a");
	ob_attr_ints(n, "kernel_shape", 2, 3L, 3L);
	ob_attr_ints(n, "strides", 2, 2L, 2L);
	ob_attr_int(n, "ceil_mode", 1);
	n = ob_node(m, "MaxPool", "floor", "x", "b");
	ob_attr_ints(n, "kernel_shape", 2, 3L, 3L);
	ob_attr_ints(n, "strides", 2, 2L, 2L);
	ob_input(m, "z", "1x1x5x5");
	n = ob_node(m, "AveragePool", "ceil_clipped", "z", "c");
	ob_attr_ints(n, "kernel_shape", 2, 2L, 2L);
	ob_attr_ints(n, "strides", 2, 2L, 2L);
	ob_attr_int(n, "ceil_mode", 1);
	struct gops_macs_result r;
	count(m, NULL, &r);
	assert_shape(layer(&r, "ceil"), 4, 1L, 1L, 3L, 3L);
	assert_shape(layer(&r, "floor"), 4, 1L, 1L, 2L, 2L);
	assert_shape(layer(&r, "ceil_clipped"), 4, 1L, 1L, 3L, 3L);
	assert_int_equal(layer(&r, "ceil")->other_flops, 9 * 9);
	assert_int_equal(r.macs, 0);
	gops_macs_result_release(&r);
}

static void test_shape_ops(void **state)
{
	(void)state;
	Onnx__ModelProto *m = ob_model(13);
	ob_input(m, "x", "2x3x4x5");
	int64_t flat[] = {0, -1};
	ob_init_i64(m, "flat", 2, flat);
	ob_node(m, "Reshape", "reshape", "x,flat", "r"); /* 2x60 */
	int64_t ax[] = {1};
	ob_init_i64(m, "ax1", 1, ax);
	ob_node(m, "Unsqueeze", "unsqueeze", "r,ax1", "u"); /* 2x1x60 */
	ob_node(m, "Squeeze", "squeeze", "u,ax1", "s");     /* 2x60 */
	int64_t st[] = {10}, en[] = {-10}, axes[] = {1}, steps[] = {3};
	ob_init_i64(m, "st", 1, st);
	ob_init_i64(m, "en", 1, en);
	ob_init_i64(m, "axes", 1, axes);
	ob_init_i64(m, "steps", 1, steps);
	ob_node(m, "Slice", "slice", "s,st,en,axes,steps", "sl"); /* 10..49 step 3: 14 */
	Onnx__NodeProto *n = ob_node(m, "Concat", "concat", "sl,sl", "cc");
	ob_attr_int(n, "axis", 0); /* 4x14 */
	n = ob_node(m, "Flatten", "flatten", "x", "fl");
	ob_attr_int(n, "axis", 2); /* 6x20 */
	int64_t pads[] = {0, 1, 0, 2};
	ob_init_i64(m, "pads", 4, pads);
	ob_node(m, "Pad", "pad", "fl,pads", "pd"); /* 6x23 */
	int64_t split[] = {2, 4};
	ob_init_i64(m, "split", 2, split);
	ob_node(m, "Split", "split", "pd,split", "sp0,sp1");
	ob_node(m, "Transpose", "transpose", "sp1", "tr"); /* reversed: 23x4 */
	n = ob_node(m, "Gather", "gather", "x,ax1", "ga"); /* axis 1 with 1 index: 2x1x4x5 */
	ob_attr_int(n, "axis", 1);
	float scales_v[] = {1, 1, 2, 2};
	n = ob_node(m, "Upsample", "upsample", "x", "up"); /* opset 7 form */
	ob_attr_floats(n, "scales", 4, scales_v);
	ob_node(m, "Relu", "relu", "tr", "out");
	struct gops_macs_result r;
	struct gops_macs_options o;
	gops_macs_options_init(&o);
	o.all_nodes = true;
	count(m, &o, &r);
	assert_true(r.complete);
	assert_shape(layer(&r, "reshape"), 2, 2L, 60L);
	assert_shape(layer(&r, "unsqueeze"), 3, 2L, 1L, 60L);
	assert_shape(layer(&r, "squeeze"), 2, 2L, 60L);
	assert_shape(layer(&r, "slice"), 2, 2L, 14L);
	assert_shape(layer(&r, "concat"), 2, 4L, 14L);
	assert_shape(layer(&r, "flatten"), 2, 6L, 20L);
	assert_shape(layer(&r, "pad"), 2, 6L, 23L);
	assert_shape(layer(&r, "split"), 2, 2L, 23L);
	assert_shape(layer(&r, "transpose"), 2, 23L, 4L);
	assert_shape(layer(&r, "gather"), 4, 2L, 1L, 4L, 5L);
	assert_shape(layer(&r, "upsample"), 4, 2L, 3L, 8L, 10L);
	assert_int_equal(layer(&r, "relu")->other_flops, 92);
	assert_int_equal(r.n_layers, 12);
	gops_macs_result_release(&r);
}

static void test_resize_scales_and_sizes(void **state)
{
	(void)state;
	Onnx__ModelProto *m = ob_model(13);
	ob_input(m, "x", "1x8x7x9");
	Onnx__TensorProto *sc = ob_init(m, "scales", "4");
	float s[] = {1, 1, 2, 1.5f};
	memcpy(sc->raw_data.data, s, sizeof s);
	ob_node(m, "Resize", "by_scale", "x,,scales", "a"); /* roi left out */
	int64_t sz[] = {1, 8, 20, 30};
	ob_init_i64(m, "sizes", 4, sz);
	ob_node(m, "Resize", "by_size", "x,,,sizes", "b");
	struct gops_macs_result r;
	count(m, NULL, &r);
	assert_shape(layer(&r, "by_scale"), 4, 1L, 8L, 14L, 13L); /* floor(9 x 1.5) */
	assert_shape(layer(&r, "by_size"), 4, 1L, 8L, 20L, 30L);
	assert_int_equal(r.params, 4); /* the float scales are an initializer too */
	gops_macs_result_release(&r);
}

static Onnx__ModelProto *symbolic_model(const char *dims)
{
	Onnx__ModelProto *m = ob_model(17);
	ob_input(m, "x", dims);
	ob_init(m, "w", "4x3x1x1");
	ob_node(m, "Conv", "conv", "x,w", "y");
	return m;
}

static void test_symbolic_batch_and_inputs(void **state)
{
	(void)state;
	struct gops_macs_result r;
	struct gops_macs_options o;
	gops_macs_options_init(&o);
	count(symbolic_model("N,3,8,8"), &o, &r);
	assert_int_equal(r.macs, 4 * 64 * 3);
	assert_true(r.complete);
	assert_true(has_warning(&r, "dimension 0 ('N') is symbolic; counted as 1"));
	gops_macs_result_release(&r);

	o.batch = 5;
	count(symbolic_model("N,3,8,8"), &o, &r);
	assert_int_equal(r.macs, 5 * 4 * 64 * 3);
	assert_int_equal(r.n_warnings, 0);
	assert_int_equal(r.inputs[0].output_shape[0], 5);
	gops_macs_result_release(&r);

	o.batch = 0;
	count(symbolic_model("1,3,H,W"), &o, &r);
	assert_false(r.complete);
	assert_int_equal(r.macs, 0);
	assert_true(has_warning(&r, "dimension 2 ('H') is symbolic; give its size with --input x=DIMS"));
	gops_macs_result_release(&r);

	struct gops_macs_input in;
	char err[256];
	assert_int_equal(gops_macs_parse_input("x=2x3x16x16", &in, err, sizeof err), 0);
	o.inputs = &in;
	o.n_inputs = 1;
	count(symbolic_model("1,3,H,W"), &o, &r);
	assert_true(r.complete);
	assert_int_equal(r.macs, 2 * 4 * 256 * 3);
	gops_macs_result_release(&r);

	assert_int_equal(gops_macs_parse_input("nope=1x3", &in, err, sizeof err), 0);
	assert_int_equal(count_opts(symbolic_model("1,3,8,8"), &o, &r, err, sizeof err), -EINVAL);
	assert_string_equal(err, "'test.onnx': the model has no input 'nope' (its inputs: 'x')");
	gops_macs_result_release(&r);

	assert_int_equal(gops_macs_parse_input("x=1x3", &in, err, sizeof err), 0);
	assert_int_equal(count_opts(symbolic_model("1,3,8,8"), &o, &r, err, sizeof err), -EINVAL);
	assert_string_equal(err, "'test.onnx': --input x gives 2 dimensions; the model's input has 4");
	gops_macs_result_release(&r);
}

static void test_parse_input(void **state)
{
	(void)state;
	struct gops_macs_input in;
	char err[256];
	assert_int_equal(gops_macs_parse_input("input.1=1x3x224x224", &in, err, sizeof err), 0);
	assert_string_equal(in.name, "input.1");
	assert_int_equal(in.rank, 4);
	assert_int_equal(in.dims[3], 224);
	assert_int_equal(gops_macs_parse_input("ids=8,128", &in, err, sizeof err), 0);
	assert_int_equal(in.rank, 2);
	assert_int_equal(gops_macs_parse_input("t=scalar", &in, err, sizeof err), 0);
	assert_int_equal(in.rank, 0);
	const char *bad[] = {"x", "=1x2", "x=", "x=1xx2", "x=-1", "x=1x", "x=ax2", "x=99999999999999999999"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (gops_macs_parse_input(bad[i], &in, err, sizeof err) != -EINVAL)
			fail_msg("'%s' was accepted", bad[i]);
}

static void test_unknown_op_and_value_info_fallback(void **state)
{
	(void)state;
	Onnx__ModelProto *m = ob_model(17);
	ob_input(m, "x", "1x16");
	Onnx__NodeProto *n = ob_node(m, "FancyOp", "fancy", "x", "f");
	n->domain = ob_strdup("com.example");
	ob_node(m, "FancyOp", "fancy2", "f", "f2");
	m->graph->node[1]->domain = ob_strdup("com.example");
	ob_init(m, "w", "16x4");
	ob_node(m, "MatMul", "mm", "f2,w", "y");
	struct gops_macs_result r;
	count(m, NULL, &r);
	assert_false(r.complete);
	assert_true(has_warning(
	    &r, "op 'FancyOp' (domain 'com.example') is not known: 2 node(s) not counted (first 'fancy')"));
	assert_int_equal(r.macs, 0);
	gops_macs_result_release(&r);

	/* The same model with value_info for the unknown node's output: counting goes on after it. */
	m = ob_model(17);
	ob_input(m, "x", "1x16");
	n = ob_node(m, "FancyOp", "fancy", "x", "f");
	n->domain = ob_strdup("com.example");
	ob_value_shape(m, "f", "1x16");
	ob_init(m, "w", "16x4");
	ob_node(m, "MatMul", "mm", "f,w", "y");
	count(m, NULL, &r);
	assert_false(r.complete);
	assert_int_equal(r.macs, 64);
	gops_macs_result_release(&r);
}

static void test_external_data_and_constants(void **state)
{
	(void)state;
	Onnx__ModelProto *m = ob_model(17);
	ob_input(m, "x", "1x512");
	ob_init_external(m, "w", "512x1000");
	ob_node(m, "MatMul", "fc", "x,w", "y");
	Onnx__NodeProto *c = ob_node(m, "Constant", "table", "", "t");
	size_t numel;
	Onnx__TensorProto *t = ob_tensor("t", 1, "10x10", &numel);
	t->n_float_data = numel;
	t->float_data = ob_alloc(numel * sizeof(float));
	ob_attr_tensor(c, "value", t);
	ob_node(m, "Add", "add", "y,y", "z");
	struct gops_macs_result r;
	count(m, NULL, &r);
	assert_int_equal(r.macs, 512000);
	assert_int_equal(r.params, 512000 + 100);
	assert_int_equal(r.constant_params, 100);
	assert_int_equal(layer(&r, "table")->params, 100);
	gops_macs_result_release(&r);
}

static void test_float16_and_integer_initializers(void **state)
{
	(void)state;
	Onnx__ModelProto *m = ob_model(17);
	ob_input(m, "x", "1x8");
	size_t n;
	Onnx__TensorProto *t = ob_tensor("h", 10, "8x8", &n);
	t->has_raw_data = 1;
	t->raw_data.len = n * 2;
	t->raw_data.data = ob_alloc(n * 2);
	OB_PUSH(m->graph->initializer, m->graph->n_initializer, t);
	int64_t idx[] = {1, 2, 3};
	ob_init_i64(m, "idx", 3, idx);
	ob_node(m, "MatMul", "mm", "x,h", "y");
	struct gops_macs_result r;
	count(m, NULL, &r);
	assert_int_equal(r.params, 64); /* the int64 indices are not parameters */
	gops_macs_result_release(&r);
}

static void test_overflow_is_an_error(void **state)
{
	(void)state;
	Onnx__ModelProto *m = ob_model(17);
	ob_input(m, "x", "1099511627776x1099511627776");
	ob_input(m, "w", "1099511627776x4");
	ob_node(m, "MatMul", "huge", "x,w", "y");
	struct gops_macs_result r;
	char err[256];
	assert_int_equal(count_opts(m, NULL, &r, err, sizeof err), -EOVERFLOW);
	assert_string_equal(err, "'test.onnx': node 'huge' (MatMul): a dimension or count overflows 64 bits");
	gops_macs_result_release(&r);

	/* Large but representable: 2^30 x 4 x 2^30 MACs fit in 64 bits. */
	m = ob_model(17);
	ob_input(m, "x", "1073741824x4");
	ob_input(m, "w", "4x1073741824");
	ob_node(m, "MatMul", "big", "x,w", "y");
	count(m, NULL, &r);
	assert_int_equal(r.macs, (int64_t)1 << 62);
	gops_macs_result_release(&r);

	/* Two such layers: each fits, their sum does not. */
	m = ob_model(17);
	ob_input(m, "x", "1073741824x4");
	ob_input(m, "w", "4x1073741824");
	ob_node(m, "MatMul", "big", "x,w", "y");
	ob_node(m, "MatMul", "big2", "x,w", "y2");
	assert_int_equal(count_opts(m, NULL, &r, err, sizeof err), -EOVERFLOW);
	assert_string_equal(err, "'test.onnx': the total count overflows 64 bits");
	gops_macs_result_release(&r);
}

static void test_malformed_graphs(void **state)
{
	(void)state;
	struct gops_macs_result r;
	char err[256];

	Onnx__ModelProto *m = ob_model(17);
	ob_input(m, "x", "1x4");
	ob_node(m, "Relu", "a", "x", "y");
	ob_node(m, "Relu", "b", "x", "y");
	assert_int_equal(count_opts(m, NULL, &r, err, sizeof err), -EINVAL);
	assert_string_equal(err, "'test.onnx': value 'y' is defined twice");
	gops_macs_result_release(&r);

	m = ob_model(17);
	ob_input(m, "x", "1x4");
	ob_node(m, "Add", "a", "x,q", "p");
	ob_node(m, "Relu", "b", "p", "q");
	assert_int_equal(count_opts(m, NULL, &r, err, sizeof err), -EINVAL);
	assert_string_equal(err, "'test.onnx': the graph has a cycle");
	gops_macs_result_release(&r);

	m = ob_model(17);
	m->opset_import[0]->version = 0;
	assert_int_equal(count_opts(m, NULL, &r, err, sizeof err), -EINVAL);
	assert_string_equal(err, "'test.onnx': opset version 0 of domain '' is not valid");
	gops_macs_result_release(&r);

	m = ob_model(17);
	ob_init(m, "w", "4");
	m->graph->initializer[0]->dims[0] = -4;
	assert_int_equal(count_opts(m, NULL, &r, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "initializer 'w' has a negative dimension"));
	gops_macs_result_release(&r);

	m = ob_model(17);
	m->has_ir_version = 0;
	assert_int_equal(count_opts(m, NULL, &r, err, sizeof err), -EINVAL);
	assert_string_equal(err, "'test.onnx': not an ONNX model (no IR version)");
	gops_macs_result_release(&r);
}

static void test_out_of_order_nodes_and_newer_opset(void **state)
{
	(void)state;
	Onnx__ModelProto *m = ob_model(99);
	ob_input(m, "x", "1x8");
	ob_init(m, "w", "8x8");
	ob_node(m, "MatMul", "second", "h,w", "y");
	ob_node(m, "MatMul", "first", "x,w", "h");
	struct gops_macs_result r;
	count(m, NULL, &r);
	assert_true(r.complete);
	assert_int_equal(r.macs, 128);
	assert_true(has_warning(&r, "opset 99 is newer than the newest known here"));
	assert_string_equal(r.layers[0].name, "first");
	assert_int_equal(r.layers[0].params, 64); /* a shared weight is counted once */
	assert_int_equal(r.layers[1].params, 0);
	gops_macs_result_release(&r);
}

static void test_dynamic_reshape_folding(void **state)
{
	(void)state;
	/* x.view(x.size(0), -1) with the sizes taken at run time, as torch exports dynamic shapes. */
	Onnx__ModelProto *m = ob_model(17);
	ob_input(m, "x", "N,64,7,7");
	ob_node(m, "Shape", "shape", "x", "s");
	int64_t zero = 0, minus1[] = {-1};
	ob_const_i64(m, "zero", 1, &zero);
	ob_node(m, "Gather", "gather", "s,zero", "n");
	ob_const_i64(m, "m1", 1, minus1);
	ob_node(m, "Concat", "cat", "n,m1", "target");
	ob_attr_int(m->graph->node[m->graph->n_node - 1], "axis", 0);
	ob_node(m, "Reshape", "view", "x,target", "flat");
	ob_init(m, "w", "3136x10");
	ob_node(m, "MatMul", "fc", "flat,w", "y");
	/* And a ConstantOfShape/Equal/Where/Expand chain, as in torch's expand exports. */
	int64_t two = 2;
	ob_const_i64(m, "two", 1, &two);
	Onnx__NodeProto *n = ob_node(m, "ConstantOfShape", "cos", "two", "ones");
	ob_attr_tensor(n, "value", ob_tensor_i64("one", 1, &(int64_t){1}, 1));
	ob_node(m, "Equal", "eq", "target,m1", "isneg");
	ob_node(m, "Where", "where", "isneg,ones,target", "fixed"); /* [N, 1] */
	ob_init(m, "e", "1x1");
	ob_node(m, "Expand", "expand", "e,fixed", "ex");
	ob_node(m, "Relu", "relu", "ex", "rx");
	struct gops_macs_options o;
	gops_macs_options_init(&o);
	o.batch = 3;
	struct gops_macs_result r;
	count(m, &o, &r);
	assert_true(r.complete);
	assert_int_equal(r.macs, 3 * 3136 * 10);
	assert_shape(layer(&r, "fc"), 2, 3L, 10L);
	assert_shape(layer(&r, "relu"), 2, 3L, 1L);
	gops_macs_result_release(&r);
}

static void test_layernorm_gelu_and_reductions(void **state)
{
	(void)state;
	Onnx__ModelProto *m = ob_model(17);
	ob_input(m, "x", "2x10x32");
	ob_init(m, "g", "32");
	ob_init(m, "b", "32");
	ob_node(m, "LayerNormalization", "ln", "x,g,b", "l");
	ob_node(m, "Erf", "erf", "l", "e");
	Onnx__NodeProto *n = ob_node(m, "ReduceMean", "mean", "e", "rm");
	ob_attr_ints(n, "axes", 1, -1L);
	int64_t axes[] = {1};
	ob_init_i64(m, "axes", 1, axes);
	n = ob_node(m, "ReduceSum", "sum", "e,axes", "rs");
	ob_attr_int(n, "keepdims", 0);
	struct gops_macs_result r;
	count(m, NULL, &r);
	assert_true(r.complete);
	assert_shape(layer(&r, "ln"), 3, 2L, 10L, 32L);
	assert_shape(layer(&r, "mean"), 3, 2L, 10L, 1L);
	assert_shape(layer(&r, "sum"), 2, 2L, 32L);
	assert_int_equal(layer(&r, "ln")->other_flops, 5 * 640);
	assert_int_equal(r.params, 64);
	gops_macs_result_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_conv_padded_with_bias),
	    cmocka_unit_test(test_conv_stride_dilation_asymmetric_pads),
	    cmocka_unit_test(test_depthwise_and_grouped),
	    cmocka_unit_test(test_conv_auto_pad_same),
	    cmocka_unit_test(test_conv_mismatched_channels_is_not_inferred),
	    cmocka_unit_test(test_conv_transpose),
	    cmocka_unit_test(test_gemm_transposes),
	    cmocka_unit_test(test_matmul_batch_broadcast_and_vectors),
	    cmocka_unit_test(test_attention_chain),
	    cmocka_unit_test(test_small_cnn_totals),
	    cmocka_unit_test(test_pool_ceil_mode_and_average),
	    cmocka_unit_test(test_shape_ops),
	    cmocka_unit_test(test_resize_scales_and_sizes),
	    cmocka_unit_test(test_symbolic_batch_and_inputs),
	    cmocka_unit_test(test_parse_input),
	    cmocka_unit_test(test_unknown_op_and_value_info_fallback),
	    cmocka_unit_test(test_external_data_and_constants),
	    cmocka_unit_test(test_float16_and_integer_initializers),
	    cmocka_unit_test(test_overflow_is_an_error),
	    cmocka_unit_test(test_malformed_graphs),
	    cmocka_unit_test(test_out_of_order_nodes_and_newer_opset),
	    cmocka_unit_test(test_dynamic_reshape_folding),
	    cmocka_unit_test(test_layernorm_gelu_and_reductions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
