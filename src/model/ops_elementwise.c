/* Shape inference and cost of elementwise operators (with numpy broadcasting) and of
 * reductions. Each costs a flat number of other_flops per output element (reductions: per
 * input element); small constant inputs are folded, since shape arithmetic uses them. */
#include "model/graph.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool is(const struct onnx_ctx *c, const char *name)
{
	return strcmp(c->op->name, name) == 0;
}

static bool is_comparison(const struct onnx_ctx *c)
{
	return is(c, "Equal") || is(c, "Less") || is(c, "Greater") || is(c, "LessOrEqual") ||
	       is(c, "GreaterOrEqual") || is(c, "And") || is(c, "Or") || is(c, "Xor") || is(c, "Not") ||
	       is(c, "IsNaN") || is(c, "IsInf");
}

/* One folded integer operation; false when the result is not representable. */
static bool fold_int(const struct onnx_ctx *c, int64_t a, int64_t b, int64_t *r)
{
	if (is(c, "Add"))
		return !__builtin_add_overflow(a, b, r);
	if (is(c, "Sub"))
		return !__builtin_sub_overflow(a, b, r);
	if (is(c, "Mul"))
		return !__builtin_mul_overflow(a, b, r);
	if (is(c, "Div") || is(c, "Mod")) {
		if (b == 0 || (a == INT64_MIN && b == -1))
			return false;
		if (is(c, "Div"))
			*r = a / b;
		else {
			*r = a % b;
			/* Mod without fmod takes the divisor's sign, as Python does. */
			if (!onnx_attr_int(c, "fmod", 0) && *r && ((*r < 0) != (b < 0)))
				*r += b;
		}
		return true;
	}
	if (is(c, "Max") || is(c, "Min")) {
		*r = (a > b) == is(c, "Max") ? a : b;
		return true;
	}
	if (is(c, "Equal"))
		*r = a == b;
	else if (is(c, "Less"))
		*r = a < b;
	else if (is(c, "Greater"))
		*r = a > b;
	else if (is(c, "LessOrEqual"))
		*r = a <= b;
	else if (is(c, "GreaterOrEqual"))
		*r = a >= b;
	else if (is(c, "And"))
		*r = a && b;
	else if (is(c, "Or"))
		*r = a || b;
	else if (is(c, "Xor"))
		*r = !a != !b;
	else
		return false;
	return true;
}

static bool fold_float(const struct onnx_ctx *c, double a, double b, double *r)
{
	if (is(c, "Add"))
		*r = a + b;
	else if (is(c, "Sub"))
		*r = a - b;
	else if (is(c, "Mul"))
		*r = a * b;
	else if (is(c, "Div"))
		*r = a / b;
	else if (is(c, "Pow"))
		*r = pow(a, b);
	else if (is(c, "Max"))
		*r = a > b ? a : b;
	else if (is(c, "Min"))
		*r = a < b ? a : b;
	else if (is(c, "Equal"))
		*r = a == b;
	else if (is(c, "Less"))
		*r = a < b;
	else if (is(c, "Greater"))
		*r = a > b;
	else if (is(c, "LessOrEqual"))
		*r = a <= b;
	else if (is(c, "GreaterOrEqual"))
		*r = a >= b;
	else
		return false;
	return true;
}

static void fold_binary(struct onnx_ctx *c, const struct onnx_value *a, const struct onnx_value *b,
                        const struct onnx_shape *out)
{
	int64_t n;
	if (!a->k || !b->k || !onnx_shape_numel(out, &n) || n > ONNX_CONST_MAX)
		return;
	bool fl = a->k->is_float || b->k->is_float;
	struct onnx_const *k = onnx_const_new(fl && !is_comparison(c), (size_t)n);
	for (size_t i = 0; k && i < (size_t)n; i++) {
		size_t ia = onnx_broadcast_offset(&a->shape, out, i),
		       ib = onnx_broadcast_offset(&b->shape, out, i);
		bool ok;
		if (fl) {
			double r = 0;
			ok = fold_float(c, onnx_const_get_f(a->k, ia), onnx_const_get_f(b->k, ib), &r);
			if (k->is_float)
				k->f[i] = r;
			else
				k->i[i] = r != 0;
		} else {
			ok = fold_int(c, a->k->i[ia], b->k->i[ib], &k->i[i]);
		}
		if (!ok) {
			onnx_const_free(k);
			return;
		}
	}
	onnx_set_const(c, 0, k);
}

/* Add, Mul, Equal, Max, Sum, ...: any number of inputs broadcast together. */
static int op_broadcast(struct onnx_ctx *c)
{
	struct onnx_value *a;
	int rc = onnx_need(c, 0, &a);
	if (rc)
		return rc;
	struct onnx_shape out = a->shape;
	for (size_t i = 1; i < c->node->n_input; i++) {
		struct onnx_value *b;
		struct onnx_shape t;
		if ((rc = onnx_need(c, i, &b)))
			return rc;
		if (!onnx_broadcast(&out, &b->shape, &t)) {
			char s1[64], s2[64];
			return onnx_skip(c, "shapes %s and %s do not broadcast",
			                 onnx_shape_str(&out, s1, sizeof s1),
			                 onnx_shape_str(&b->shape, s2, sizeof s2));
		}
		out = t;
	}
	if ((rc = onnx_set_out(c, 0, is_comparison(c) ? DT_BOOL : a->dtype, &out)))
		return rc;
	int64_t n = onnx_numel(c, &out);
	int64_t ops = c->node->n_input > 1 ? (int64_t)c->node->n_input - 1 : 1;
	c->other_flops = onnx_mul(c, onnx_mul(c, n, ops), c->op->flops);
	if (c->node->n_input == 2)
		fold_binary(c, a, onnx_in(c, 1), &out);
	return 0;
}

static bool fold_unary_value(const struct onnx_ctx *c, bool fl, double x, int64_t xi, double *r, int64_t *ri)
{
	if (is(c, "Neg")) {
		*r = -x;
		return fl || !__builtin_sub_overflow((int64_t)0, xi, ri);
	}
	if (is(c, "Abs")) {
		*r = fabs(x);
		*ri = xi < 0 ? -xi : xi;
		return fl || xi != INT64_MIN;
	}
	if (is(c, "Relu")) {
		*r = x > 0 ? x : 0;
		*ri = xi > 0 ? xi : 0;
		return true;
	}
	if (is(c, "Sign")) {
		*r = (x > 0) - (x < 0);
		*ri = (xi > 0) - (xi < 0);
		return true;
	}
	if (is(c, "Not")) {
		*ri = !xi;
		return !fl;
	}
	*ri = xi;
	if (is(c, "Sqrt"))
		*r = sqrt(x);
	else if (is(c, "Floor"))
		*r = floor(x);
	else if (is(c, "Ceil"))
		*r = ceil(x);
	else if (is(c, "Round"))
		*r = nearbyint(x);
	else if (is(c, "Reciprocal"))
		*r = 1 / x;
	else if (is(c, "Identity") || is(c, "Dropout"))
		*r = x;
	else
		return false;
	return fl || is(c, "Identity") || is(c, "Dropout") || is(c, "Floor") || is(c, "Ceil") ||
	       is(c, "Round");
}

/* Relu, Sigmoid, Sqrt, Identity, Dropout, Clip, ...: output 0 (and a Dropout mask) have the
 * shape of input 0. */
static int op_unary(struct onnx_ctx *c)
{
	struct onnx_value *x;
	int rc = onnx_need(c, 0, &x);
	if (rc)
		return rc;
	int32_t dt = is_comparison(c) ? DT_BOOL : x->dtype;
	if ((rc = onnx_set_out(c, 0, dt, &x->shape)))
		return rc;
	if (is(c, "Dropout") && (rc = onnx_set_out(c, 1, DT_BOOL, &x->shape)))
		return rc;
	c->other_flops = onnx_mul(c, onnx_numel(c, &x->shape), c->op->flops);
	if (!x->k)
		return 0;
	struct onnx_const *k = onnx_const_new(x->k->is_float, x->k->n);
	for (size_t i = 0; k && i < k->n; i++) {
		double r = 0;
		int64_t ri = 0;
		if (!fold_unary_value(c, x->k->is_float, onnx_const_get_f(x->k, i),
		                      x->k->is_float ? 0 : x->k->i[i], &r, &ri)) {
			onnx_const_free(k);
			return 0;
		}
		if (k->is_float)
			k->f[i] = r;
		else
			k->i[i] = ri;
	}
	onnx_set_const(c, 0, k);
	return 0;
}

static int op_cast(struct onnx_ctx *c)
{
	struct onnx_value *x;
	int rc = onnx_need(c, 0, &x);
	if (rc)
		return rc;
	int32_t to;
	if (is(c, "CastLike")) {
		struct onnx_value *like = onnx_in(c, 1);
		to = like ? like->dtype : DT_UNDEFINED;
	} else {
		to = (int32_t)onnx_attr_int(c, "to", DT_UNDEFINED);
	}
	if ((rc = onnx_set_out(c, 0, to, &x->shape)))
		return rc;
	if (!x->k || to == DT_STRING)
		return 0;
	bool fl = onnx_dtype_is_float(to);
	struct onnx_const *k = onnx_const_new(fl, x->k->n);
	for (size_t i = 0; k && i < k->n; i++) {
		if (fl)
			k->f[i] = onnx_const_get_f(x->k, i);
		else if (to == DT_BOOL)
			k->i[i] = onnx_const_get_f(x->k, i) != 0;
		else
			k->i[i] = onnx_const_get_i(x->k, i);
	}
	onnx_set_const(c, 0, k);
	return 0;
}

static int op_where(struct onnx_ctx *c)
{
	struct onnx_value *v[3];
	int rc;
	struct onnx_shape out = {.rank = 0}, t;
	for (size_t i = 0; i < 3; i++) {
		if ((rc = onnx_need(c, i, &v[i])))
			return rc;
		if (!onnx_broadcast(&out, &v[i]->shape, &t))
			return onnx_skip(c, "inputs do not broadcast");
		out = t;
	}
	if ((rc = onnx_set_out(c, 0, v[1]->dtype, &out)))
		return rc;
	int64_t n = onnx_numel(c, &out);
	c->other_flops = n;
	if (!v[0]->k || !v[1]->k || !v[2]->k || n > ONNX_CONST_MAX)
		return 0;
	struct onnx_const *k = onnx_const_new(v[1]->k->is_float, (size_t)n);
	for (size_t i = 0; k && i < k->n; i++) {
		bool cond = onnx_const_get_f(v[0]->k, onnx_broadcast_offset(&v[0]->shape, &out, i)) != 0;
		const struct onnx_value *src = cond ? v[1] : v[2];
		size_t off = onnx_broadcast_offset(&src->shape, &out, i);
		if (k->is_float)
			k->f[i] = onnx_const_get_f(src->k, off);
		else
			k->i[i] = onnx_const_get_i(src->k, off);
	}
	onnx_set_const(c, 0, k);
	return 0;
}

static void fold_reduce(struct onnx_ctx *c, const struct onnx_value *x, const bool *red,
                        const struct onnx_shape *kept)
{
	int64_t n;
	if (!x->k || !onnx_shape_numel(kept, &n) || n > ONNX_CONST_MAX)
		return;
	bool sum = is(c, "ReduceSum") || is(c, "ReduceMean"), prod = is(c, "ReduceProd");
	if (!sum && !prod && !is(c, "ReduceMax") && !is(c, "ReduceMin"))
		return;
	bool fl = x->k->is_float || is(c, "ReduceMean");
	struct onnx_const *k = onnx_const_new(fl, (size_t)n);
	if (!k)
		return;
	double *acc = k->f;
	int64_t *iacc = k->i;
	size_t *seen = calloc((size_t)n ? (size_t)n : 1, sizeof *seen);
	if (!seen) {
		onnx_const_free(k);
		return;
	}
	for (size_t i = 0; i < x->k->n; i++) {
		/* The output element of input element i: its index with the reduced axes at 0. */
		size_t idx = i, off = 0, stride = 1;
		for (int d = x->shape.rank - 1; d >= 0; d--) {
			size_t dim = (size_t)x->shape.d[d], pos = dim ? idx % dim : 0;
			idx = dim ? idx / dim : 0;
			if (!red[d]) {
				off += pos * stride;
				stride *= dim;
			}
		}
		double v = onnx_const_get_f(x->k, i);
		int64_t vi = fl ? 0 : x->k->i[i];
		if (fl) {
			if (!seen[off])
				acc[off] = v;
			else if (sum)
				acc[off] += v;
			else if (prod)
				acc[off] *= v;
			else
				acc[off] = (v > acc[off]) == is(c, "ReduceMax") ? v : acc[off];
		} else if (!seen[off]) {
			iacc[off] = vi;
		} else if ((sum && __builtin_add_overflow(iacc[off], vi, &iacc[off])) ||
		           (prod && __builtin_mul_overflow(iacc[off], vi, &iacc[off]))) {
			free(seen);
			onnx_const_free(k);
			return;
		} else if (!sum && !prod) {
			iacc[off] = (vi > iacc[off]) == is(c, "ReduceMax") ? vi : iacc[off];
		}
		seen[off]++;
	}
	for (size_t o = 0; o < (size_t)n; o++) {
		if (!seen[o] && (sum || prod)) {
			if (fl)
				acc[o] = prod ? 1 : 0;
			else
				iacc[o] = prod ? 1 : 0;
		}
		if (is(c, "ReduceMean") && seen[o])
			acc[o] /= (double)seen[o];
	}
	free(seen);
	onnx_set_const(c, 0, k);
}

static int op_reduce(struct onnx_ctx *c)
{
	struct onnx_value *x;
	int rc = onnx_need(c, 0, &x);
	if (rc)
		return rc;
	int r = x->shape.rank;
	int64_t axes[ONNX_MAX_RANK];
	size_t n = 0;
	bool arg = is(c, "ArgMax") || is(c, "ArgMin");
	if (arg) {
		axes[0] = onnx_attr_int(c, "axis", 0);
		n = 1;
	} else {
		const int64_t *av;
		size_t na = onnx_attr_ints(c, "axes", &av);
		if (na > ONNX_MAX_RANK)
			return onnx_skip(c, "too many axes");
		if (na) {
			memcpy(axes, av, na * sizeof *av);
			n = na;
		} else if (onnx_in(c, 1) && (rc = onnx_const_ints(c, 1, axes, ONNX_MAX_RANK, &n))) {
			return rc;
		}
	}
	bool red[ONNX_MAX_RANK] = {false};
	if (n == 0 && onnx_attr_int(c, "noop_with_empty_axes", 0)) {
		/* nothing reduced */
	} else if (n == 0) {
		for (int i = 0; i < r; i++)
			red[i] = true;
	}
	for (size_t i = 0; i < n; i++) {
		int a;
		if (!onnx_axis(axes[i], r, &a))
			return onnx_skip(c, "axis %lld out of range", (long long)axes[i]);
		red[a] = true;
	}
	bool keep = onnx_attr_int(c, "keepdims", 1) != 0;
	struct onnx_shape out = {.rank = 0}, kept = {.rank = 0};
	for (int i = 0; i < r; i++) {
		if (!red[i])
			out.d[out.rank++] = x->shape.d[i];
		else if (keep)
			out.d[out.rank++] = 1;
		if (!red[i])
			kept.d[kept.rank++] = x->shape.d[i];
	}
	if ((rc = onnx_set_out(c, 0, arg ? DT_INT64 : x->dtype, &out)))
		return rc;
	c->other_flops = onnx_mul(c, onnx_numel(c, &x->shape), c->op->flops);
	fold_reduce(c, x, red, &kept);
	return 0;
}

/* The flops column: other_flops per output element (reductions: per input element). */
const struct onnx_op onnx_ops_elementwise[] = {
    {"Add", op_broadcast, 1},
    {"Sub", op_broadcast, 1},
    {"Mul", op_broadcast, 1},
    {"Div", op_broadcast, 1},
    {"Pow", op_broadcast, 1},
    {"Mod", op_broadcast, 1},
    {"Max", op_broadcast, 1},
    {"Min", op_broadcast, 1},
    {"Sum", op_broadcast, 1},
    {"Mean", op_broadcast, 1},
    {"PRelu", op_broadcast, 1},
    {"BitShift", op_broadcast, 1},
    {"BitwiseAnd", op_broadcast, 1},
    {"BitwiseOr", op_broadcast, 1},
    {"BitwiseXor", op_broadcast, 1},
    {"Equal", op_broadcast, 1},
    {"Less", op_broadcast, 1},
    {"Greater", op_broadcast, 1},
    {"LessOrEqual", op_broadcast, 1},
    {"GreaterOrEqual", op_broadcast, 1},
    {"And", op_broadcast, 1},
    {"Or", op_broadcast, 1},
    {"Xor", op_broadcast, 1},
    {"Where", op_where, 1},
    {"Relu", op_unary, 1},
    {"LeakyRelu", op_unary, 1},
    {"Elu", op_unary, 1},
    {"Selu", op_unary, 1},
    {"Celu", op_unary, 1},
    {"ThresholdedRelu", op_unary, 1},
    {"Sigmoid", op_unary, 1},
    {"HardSigmoid", op_unary, 1},
    {"HardSwish", op_unary, 1},
    {"Swish", op_unary, 1},
    {"Mish", op_unary, 1},
    {"Softplus", op_unary, 1},
    {"Softsign", op_unary, 1},
    {"Tanh", op_unary, 1},
    {"Gelu", op_unary, 1},
    {"Erf", op_unary, 1},
    {"Exp", op_unary, 1},
    {"Log", op_unary, 1},
    {"Sqrt", op_unary, 1},
    {"Reciprocal", op_unary, 1},
    {"Neg", op_unary, 1},
    {"Abs", op_unary, 1},
    {"Sign", op_unary, 1},
    {"Floor", op_unary, 1},
    {"Ceil", op_unary, 1},
    {"Round", op_unary, 1},
    {"Sin", op_unary, 1},
    {"Cos", op_unary, 1},
    {"Tan", op_unary, 1},
    {"Asin", op_unary, 1},
    {"Acos", op_unary, 1},
    {"Atan", op_unary, 1},
    {"Sinh", op_unary, 1},
    {"Cosh", op_unary, 1},
    {"Asinh", op_unary, 1},
    {"Acosh", op_unary, 1},
    {"Atanh", op_unary, 1},
    {"Not", op_unary, 1},
    {"BitwiseNot", op_unary, 1},
    {"IsNaN", op_unary, 1},
    {"IsInf", op_unary, 1},
    {"Clip", op_unary, 1},
    {"CumSum", op_unary, 1},
    {"Shrink", op_unary, 1},
    {"Identity", op_unary, 0},
    {"Dropout", op_unary, 0},
    {"Cast", op_cast, 0},
    {"CastLike", op_cast, 0},
    {"ReduceMean", op_reduce, 1},
    {"ReduceSum", op_reduce, 1},
    {"ReduceMax", op_reduce, 1},
    {"ReduceMin", op_reduce, 1},
    {"ReduceProd", op_reduce, 1},
    {"ReduceL1", op_reduce, 2},
    {"ReduceL2", op_reduce, 2},
    {"ReduceLogSum", op_reduce, 1},
    {"ReduceLogSumExp", op_reduce, 2},
    {"ReduceSumSquare", op_reduce, 2},
    {"ArgMax", op_reduce, 1},
    {"ArgMin", op_reduce, 1},
};
const size_t onnx_n_ops_elementwise = sizeof onnx_ops_elementwise / sizeof onnx_ops_elementwise[0];
