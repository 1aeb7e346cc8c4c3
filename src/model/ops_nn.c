/* Shape inference and cost of the operators that carry the arithmetic of neural networks:
 * convolutions, Gemm and MatMul (the MACs), normalisations, pooling, softmax and resizing
 * (other_flops). Bias additions are other_flops too, never MACs. */
#include "model/graph.h"

#include <math.h>
#include <string.h>

struct window {
	int n;
	int64_t k[ONNX_MAX_RANK], s[ONNX_MAX_RANK], d[ONNX_MAX_RANK], pb[ONNX_MAX_RANK], pe[ONNX_MAX_RANK];
};

/* Reads an optional list attribute of n entries (or 2n for pads) with a default. */
static int list_attr(struct onnx_ctx *c, const char *name, int n, int64_t def, int64_t min, int64_t *out)
{
	const int64_t *v;
	size_t cnt = onnx_attr_ints(c, name, &v);
	if (cnt == 0) {
		for (int i = 0; i < n; i++)
			out[i] = def;
		return 0;
	}
	if (cnt != (size_t)n)
		return onnx_skip(c, "attribute '%s' has %zu values for %d", name, cnt, n);
	for (int i = 0; i < n; i++) {
		if (v[i] < min)
			return onnx_skip(c, "attribute '%s' has the value %lld", name, (long long)v[i]);
		out[i] = v[i];
	}
	return 0;
}

/* kernel: the kernel's spatial size from the weight, or NULL to require kernel_shape. */
static int window_attrs(struct onnx_ctx *c, int n, const int64_t *kernel, struct window *w)
{
	int rc;
	w->n = n;
	const int64_t *ks;
	size_t nk = onnx_attr_ints(c, "kernel_shape", &ks);
	if (nk) {
		if ((rc = list_attr(c, "kernel_shape", n, 1, 1, w->k)))
			return rc;
	} else if (kernel) {
		memcpy(w->k, kernel, (size_t)n * sizeof *w->k);
	} else {
		return onnx_skip(c, "attribute 'kernel_shape' is missing");
	}
	if ((rc = list_attr(c, "strides", n, 1, 1, w->s)) || (rc = list_attr(c, "dilations", n, 1, 1, w->d)))
		return rc;
	int64_t pads[2 * ONNX_MAX_RANK];
	if ((rc = list_attr(c, "pads", 2 * n, 0, 0, pads)))
		return rc;
	for (int i = 0; i < n; i++) {
		w->pb[i] = pads[i];
		w->pe[i] = pads[n + i];
	}
	return 0;
}

static int64_t ceil_div(int64_t a, int64_t b)
{
	return a >= 0 ? (a + b - 1) / b : -((-a) / b);
}

/* Output spatial sizes of a convolution or pooling window. */
static int window_out(struct onnx_ctx *c, const struct window *w, const int64_t *in, bool ceil_mode,
                      int64_t *out)
{
	bool same = onnx_attr_str_is(c, "auto_pad", "SAME_UPPER", false) ||
	            onnx_attr_str_is(c, "auto_pad", "SAME_LOWER", false);
	bool valid = onnx_attr_str_is(c, "auto_pad", "VALID", false);
	for (int i = 0; i < w->n; i++) {
		int64_t dk = onnx_add(c, onnx_mul(c, w->k[i] - 1, w->d[i]), 1);
		if (same) {
			out[i] = ceil_div(in[i], w->s[i]);
			continue;
		}
		int64_t span = valid ? in[i] : onnx_add(c, onnx_add(c, in[i], w->pb[i]), w->pe[i]);
		int64_t eff = span - dk;
		if (eff < 0)
			return onnx_skip(c, "kernel %lld (dilated) is larger than the padded input %lld",
			                 (long long)dk, (long long)span);
		out[i] = (ceil_mode ? ceil_div(eff, w->s[i]) : eff / w->s[i]) + 1;
		/* As PyTorch and ONNX Runtime do: the last window must start inside the input. */
		if (ceil_mode && !valid && (out[i] - 1) * w->s[i] >= in[i] + w->pb[i])
			out[i]--;
	}
	return 0;
}

static int64_t prod(struct onnx_ctx *c, const int64_t *v, int n)
{
	int64_t p = 1;
	for (int i = 0; i < n; i++)
		p = onnx_mul(c, p, v[i]);
	return p;
}

static int conv_common(struct onnx_ctx *c, size_t xi, size_t wi, size_t bi)
{
	struct onnx_value *x, *w;
	int rc;
	if ((rc = onnx_need(c, xi, &x)) || (rc = onnx_need(c, wi, &w)))
		return rc;
	int r = x->shape.rank, n = r - 2;
	if (r < 3 || w->shape.rank != r)
		return onnx_skip(c, "input rank %d and weight rank %d do not fit a convolution", r,
		                 w->shape.rank);
	int64_t group = onnx_attr_int(c, "group", 1);
	const int64_t *xs = x->shape.d, *ws = w->shape.d;
	if (group < 1 || ws[0] % group || xs[1] != onnx_mul(c, ws[1], group))
		return onnx_skip(c, "weight %lldx%lld does not fit %lld input channels in %lld groups",
		                 (long long)ws[0], (long long)ws[1], (long long)xs[1], (long long)group);
	struct window win;
	struct onnx_shape out = {.rank = r};
	if ((rc = window_attrs(c, n, ws + 2, &win)) || (rc = window_out(c, &win, xs + 2, false, out.d + 2)))
		return rc;
	out.d[0] = xs[0];
	out.d[1] = ws[0];
	if ((rc = onnx_set_out(c, 0, x->dtype, &out)))
		return rc;
	/* Each output element reads C/group input channels through the whole kernel. */
	int64_t per_out = onnx_mul(c, ws[1], prod(c, ws + 2, n));
	int64_t numel = onnx_numel(c, &out);
	c->macs = onnx_mul(c, numel, per_out);
	if (onnx_in(c, bi))
		c->other_flops = numel;
	return 0;
}

static int op_conv(struct onnx_ctx *c)
{
	return conv_common(c, 0, 1, 2);
}

static int op_conv_integer(struct onnx_ctx *c)
{
	return conv_common(c, 0, 1, 99);
}

static int op_qlinear_conv(struct onnx_ctx *c)
{
	return conv_common(c, 0, 3, 8);
}

static int op_conv_transpose(struct onnx_ctx *c)
{
	struct onnx_value *x, *w;
	int rc;
	if ((rc = onnx_need(c, 0, &x)) || (rc = onnx_need(c, 1, &w)))
		return rc;
	int r = x->shape.rank, n = r - 2;
	if (r < 3 || w->shape.rank != r)
		return onnx_skip(c, "input rank %d and weight rank %d do not fit a convolution", r,
		                 w->shape.rank);
	int64_t group = onnx_attr_int(c, "group", 1);
	const int64_t *xs = x->shape.d, *ws = w->shape.d;
	if (group < 1 || xs[1] != ws[0] || ws[0] % group)
		return onnx_skip(c, "weight %lldx%lld does not fit %lld input channels in %lld groups",
		                 (long long)ws[0], (long long)ws[1], (long long)xs[1], (long long)group);
	struct window win;
	if ((rc = window_attrs(c, n, ws + 2, &win)))
		return rc;
	int64_t opad[ONNX_MAX_RANK];
	if ((rc = list_attr(c, "output_padding", n, 0, 0, opad)))
		return rc;
	struct onnx_shape out = {.rank = r};
	out.d[0] = xs[0];
	out.d[1] = onnx_mul(c, ws[1], group);
	const int64_t *os;
	size_t nos = onnx_attr_ints(c, "output_shape", &os);
	bool same = onnx_attr_str_is(c, "auto_pad", "SAME_UPPER", false) ||
	            onnx_attr_str_is(c, "auto_pad", "SAME_LOWER", false);
	bool valid = onnx_attr_str_is(c, "auto_pad", "VALID", false);
	for (int i = 0; i < n; i++) {
		int64_t dk = onnx_add(c, onnx_mul(c, win.k[i] - 1, win.d[i]), 1);
		if (nos >= (size_t)n)
			out.d[2 + i] = os[nos - (size_t)n + (size_t)i];
		else if (same)
			out.d[2 + i] = onnx_mul(c, xs[2 + i], win.s[i]);
		else {
			int64_t full =
			    onnx_add(c, onnx_add(c, onnx_mul(c, win.s[i], xs[2 + i] - 1), opad[i]), dk);
			out.d[2 + i] = valid ? full : full - win.pb[i] - win.pe[i];
		}
	}
	if ((rc = onnx_set_out(c, 0, x->dtype, &out)))
		return rc;
	/* Every input element is multiplied by the kernel of each output channel of its group. */
	int64_t in_numel = onnx_numel(c, &x->shape);
	c->macs = onnx_mul(c, in_numel, onnx_mul(c, ws[1], prod(c, ws + 2, n)));
	if (onnx_in(c, 2))
		c->other_flops = onnx_numel(c, &out);
	return 0;
}

static int op_gemm(struct onnx_ctx *c)
{
	struct onnx_value *a, *b;
	int rc;
	if ((rc = onnx_need(c, 0, &a)) || (rc = onnx_need(c, 1, &b)))
		return rc;
	if (a->shape.rank != 2 || b->shape.rank != 2)
		return onnx_skip(c, "Gemm needs 2-D inputs, not ranks %d and %d", a->shape.rank,
		                 b->shape.rank);
	bool ta = onnx_attr_int(c, "transA", 0) != 0, tb = onnx_attr_int(c, "transB", 0) != 0;
	int64_t m = a->shape.d[ta ? 1 : 0], k = a->shape.d[ta ? 0 : 1];
	int64_t kb = b->shape.d[tb ? 1 : 0], n = b->shape.d[tb ? 0 : 1];
	if (k != kb)
		return onnx_skip(c, "inner dimensions %lld and %lld differ", (long long)k, (long long)kb);
	struct onnx_shape out = {.rank = 2, .d = {m, n}};
	if ((rc = onnx_set_out(c, 0, a->dtype, &out)))
		return rc;
	c->macs = onnx_mul(c, onnx_mul(c, m, k), n);
	int64_t mn = onnx_mul(c, m, n);
	if (onnx_in(c, 2))
		c->other_flops = onnx_add(c, c->other_flops, mn);
	if (onnx_attr_float(c, "alpha", 1.0f) != 1.0f)
		c->other_flops = onnx_add(c, c->other_flops, mn);
	return 0;
}

static int matmul_common(struct onnx_ctx *c, size_t ai, size_t bi, int32_t out_dtype)
{
	struct onnx_value *a, *b;
	int rc;
	if ((rc = onnx_need(c, ai, &a)) || (rc = onnx_need(c, bi, &b)))
		return rc;
	if (a->shape.rank < 1 || b->shape.rank < 1)
		return onnx_skip(c, "MatMul of a scalar");
	struct onnx_shape as = a->shape, bs = b->shape;
	bool a_vec = as.rank == 1, b_vec = bs.rank == 1;
	if (a_vec) {
		as.rank = 2;
		as.d[1] = as.d[0];
		as.d[0] = 1;
	}
	if (b_vec) {
		bs.rank = 2;
		bs.d[1] = 1;
	}
	int64_t m = as.d[as.rank - 2], k = as.d[as.rank - 1], kb = bs.d[bs.rank - 2], n = bs.d[bs.rank - 1];
	if (k != kb)
		return onnx_skip(c, "inner dimensions %lld and %lld differ", (long long)k, (long long)kb);
	struct onnx_shape ab = {.rank = as.rank - 2}, bb = {.rank = bs.rank - 2}, batch;
	memcpy(ab.d, as.d, (size_t)ab.rank * sizeof ab.d[0]);
	memcpy(bb.d, bs.d, (size_t)bb.rank * sizeof bb.d[0]);
	if (!onnx_broadcast(&ab, &bb, &batch))
		return onnx_skip(c, "batch dimensions do not broadcast");
	struct onnx_shape out = batch;
	if (out.rank + 2 > ONNX_MAX_RANK)
		return onnx_skip(c, "rank too high");
	if (!a_vec)
		out.d[out.rank++] = m;
	if (!b_vec)
		out.d[out.rank++] = n;
	if ((rc = onnx_set_out(c, 0, out_dtype ? out_dtype : a->dtype, &out)))
		return rc;
	c->macs = onnx_mul(c, onnx_numel(c, &batch), onnx_mul(c, onnx_mul(c, m, k), n));
	return 0;
}

static int op_matmul(struct onnx_ctx *c)
{
	return matmul_common(c, 0, 1, 0);
}

static int op_matmul_integer(struct onnx_ctx *c)
{
	return matmul_common(c, 0, 1, DT_INT32);
}

static int op_qlinear_matmul(struct onnx_ctx *c)
{
	return matmul_common(c, 0, 3, 0);
}

/* Output 0 has the input's shape; flat cost per element. */
static int same_shape(struct onnx_ctx *c, struct onnx_value **x)
{
	int rc = onnx_need(c, 0, x);
	if (rc || (rc = onnx_set_out(c, 0, (*x)->dtype, &(*x)->shape)))
		return rc;
	c->other_flops = onnx_mul(c, onnx_numel(c, &(*x)->shape), c->op->flops);
	return 0;
}

static int op_same(struct onnx_ctx *c)
{
	struct onnx_value *x;
	return same_shape(c, &x);
}

static int op_batchnorm(struct onnx_ctx *c)
{
	struct onnx_value *x;
	int rc = same_shape(c, &x);
	if (rc)
		return rc;
	if (x->shape.rank >= 2) {
		struct onnx_shape ch = {.rank = 1, .d = {x->shape.d[1]}};
		for (size_t i = 1; i < onnx_n_out(c) && i < 5; i++)
			if ((rc = onnx_set_out(c, i, x->dtype, &ch)))
				return rc;
	}
	return 0;
}

static int op_layernorm(struct onnx_ctx *c)
{
	struct onnx_value *x;
	int rc = same_shape(c, &x), axis;
	if (rc)
		return rc;
	if (!onnx_axis(onnx_attr_int(c, "axis", -1), x->shape.rank, &axis))
		return onnx_skip(c, "axis out of range");
	struct onnx_shape stat = x->shape;
	for (int i = axis; i < stat.rank; i++)
		stat.d[i] = 1;
	for (size_t i = 1; i < onnx_n_out(c) && i < 3; i++)
		if ((rc = onnx_set_out(c, i, DT_FLOAT, &stat)))
			return rc;
	return 0;
}

static int op_pool(struct onnx_ctx *c)
{
	struct onnx_value *x;
	int rc = onnx_need(c, 0, &x);
	if (rc)
		return rc;
	int r = x->shape.rank, n = r - 2;
	if (r < 3)
		return onnx_skip(c, "input rank %d is too low for pooling", r);
	struct window win;
	struct onnx_shape out = {.rank = r, .d = {x->shape.d[0], x->shape.d[1]}};
	bool ceil_mode = onnx_attr_int(c, "ceil_mode", 0) != 0;
	if ((rc = window_attrs(c, n, NULL, &win)) ||
	    (rc = window_out(c, &win, x->shape.d + 2, ceil_mode, out.d + 2)))
		return rc;
	if ((rc = onnx_set_out(c, 0, x->dtype, &out)) || (rc = onnx_set_out(c, 1, DT_INT64, &out)))
		return rc;
	c->other_flops = onnx_mul(c, onnx_numel(c, &out), prod(c, win.k, n));
	return 0;
}

static int op_global_pool(struct onnx_ctx *c)
{
	struct onnx_value *x;
	int rc = onnx_need(c, 0, &x);
	if (rc)
		return rc;
	if (x->shape.rank < 2)
		return onnx_skip(c, "input rank %d is too low for pooling", x->shape.rank);
	struct onnx_shape out = x->shape;
	for (int i = 2; i < out.rank; i++)
		out.d[i] = 1;
	if ((rc = onnx_set_out(c, 0, x->dtype, &out)))
		return rc;
	c->other_flops = onnx_numel(c, &x->shape);
	return 0;
}

/* Resize (X, roi, scales, sizes) from opset 11, (X, scales) in opset 10; Upsample (X, scales)
 * or a scales attribute. */
static int op_resize(struct onnx_ctx *c)
{
	struct onnx_value *x;
	int rc = onnx_need(c, 0, &x);
	if (rc)
		return rc;
	bool upsample = strcmp(c->op->name, "Upsample") == 0;
	size_t si = (upsample || c->opset < 11) ? 1 : 2;
	struct onnx_value *scales = onnx_in(c, si), *sizes = upsample || c->opset < 11 ? NULL : onnx_in(c, 3);
	int r = x->shape.rank;
	int axes[ONNX_MAX_RANK], na = r;
	const int64_t *av;
	size_t nav = onnx_attr_ints(c, "axes", &av);
	if (nav) {
		na = (int)nav;
		if (na > r)
			return onnx_skip(c, "too many axes");
		for (int i = 0; i < na; i++)
			if (!onnx_axis(av[i], r, &axes[i]))
				return onnx_skip(c, "axis out of range");
	} else {
		for (int i = 0; i < r; i++)
			axes[i] = i;
	}
	struct onnx_shape out = x->shape;
	const float *sattr = NULL;
	size_t nsattr = 0;
	const Onnx__AttributeProto *sa = onnx_attr(c, "scales");
	if (sa) {
		sattr = sa->floats;
		nsattr = sa->n_floats;
	}
	if (sizes && sizes->k && sizes->k->n > 0) {
		if (sizes->k->n != (size_t)na)
			return onnx_skip(c, "sizes has %zu values for %d axes", sizes->k->n, na);
		for (int i = 0; i < na; i++)
			out.d[axes[i]] = onnx_const_get_i(sizes->k, (size_t)i);
	} else if (scales && scales->k && scales->k->n > 0) {
		if (scales->k->n != (size_t)na)
			return onnx_skip(c, "scales has %zu values for %d axes", scales->k->n, na);
		for (int i = 0; i < na; i++) {
			double d =
			    floor((double)x->shape.d[axes[i]] * onnx_const_get_f(scales->k, (size_t)i));
			if (!(d >= 0 && d < 9e18))
				return onnx_skip(c, "scale gives a size out of range");
			out.d[axes[i]] = (int64_t)d;
		}
	} else if (nsattr == (size_t)r) {
		for (int i = 0; i < r; i++) {
			double d = floor((double)x->shape.d[i] * sattr[i]);
			if (!(d >= 0 && d < 9e18))
				return onnx_skip(c, "scale gives a size out of range");
			out.d[i] = (int64_t)d;
		}
	} else {
		return onnx_skip(c, "scales and sizes are not constants");
	}
	if ((rc = onnx_set_out(c, 0, x->dtype, &out)))
		return rc;
	c->other_flops = onnx_mul(c, onnx_numel(c, &out), c->op->flops);
	return 0;
}

/* The flops column: other_flops per output element for op_same, per the documented table. */
const struct onnx_op onnx_ops_nn[] = {
    {"Conv", op_conv, 0},
    {"ConvInteger", op_conv_integer, 0},
    {"QLinearConv", op_qlinear_conv, 0},
    {"ConvTranspose", op_conv_transpose, 0},
    {"Gemm", op_gemm, 0},
    {"MatMul", op_matmul, 0},
    {"MatMulInteger", op_matmul_integer, 0},
    {"QLinearMatMul", op_qlinear_matmul, 0},
    {"BatchNormalization", op_batchnorm, 2},
    {"InstanceNormalization", op_same, 5},
    {"GroupNormalization", op_same, 5},
    {"LayerNormalization", op_layernorm, 5},
    {"RMSNormalization", op_layernorm, 4},
    {"MeanVarianceNormalization", op_same, 5},
    {"LpNormalization", op_same, 3},
    {"LRN", op_same, 5},
    {"Softmax", op_same, 3},
    {"LogSoftmax", op_same, 4},
    {"Hardmax", op_same, 1},
    {"MaxPool", op_pool, 0},
    {"AveragePool", op_pool, 0},
    {"LpPool", op_pool, 0},
    {"GlobalAveragePool", op_global_pool, 0},
    {"GlobalMaxPool", op_global_pool, 0},
    {"GlobalLpPool", op_global_pool, 0},
    {"Resize", op_resize, 1},
    {"Upsample", op_resize, 1},
};
const size_t onnx_n_ops_nn = sizeof onnx_ops_nn / sizeof onnx_ops_nn[0];
