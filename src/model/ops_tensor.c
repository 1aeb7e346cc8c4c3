/* Shape inference of the operators that move data without arithmetic (Reshape, Transpose,
 * Concat, Gather, Slice, ...) and of the constants that shapes are computed from (Shape,
 * Constant, ConstantOfShape, Range). Small integer tensors are folded so that the shape
 * arithmetic that exporters emit (Shape -> Gather -> Concat -> Reshape) resolves. */
#include "model/graph.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static struct onnx_const *const_dup(const struct onnx_const *k)
{
	struct onnx_const *d = onnx_const_new(k->is_float, k->n);
	if (!d)
		return NULL;
	if (k->is_float)
		memcpy(d->f, k->f, k->n * sizeof *k->f);
	else
		memcpy(d->i, k->i, k->n * sizeof *k->i);
	return d;
}

/* Output 0 holds the same values as input x in the same order (Reshape, Squeeze, ...). */
static void fold_copy(struct onnx_ctx *c, const struct onnx_value *x)
{
	if (x->k)
		onnx_set_const(c, 0, const_dup(x->k));
}

static void const_set(struct onnx_const *dst, size_t di, const struct onnx_const *src, size_t si)
{
	if (dst->is_float)
		dst->f[di] = onnx_const_get_f(src, si);
	else
		dst->i[di] = onnx_const_get_i(src, si);
}

static void strides_of(const struct onnx_shape *s, size_t *st)
{
	size_t acc = 1;
	for (int i = s->rank - 1; i >= 0; i--) {
		st[i] = acc;
		acc *= (size_t)s->d[i];
	}
}

static void unravel(size_t idx, const struct onnx_shape *s, size_t *pos)
{
	for (int i = s->rank - 1; i >= 0; i--) {
		size_t d = (size_t)s->d[i];
		pos[i] = d ? idx % d : 0;
		idx = d ? idx / d : 0;
	}
}

static int op_reshape(struct onnx_ctx *c)
{
	struct onnx_value *x;
	int rc = onnx_need(c, 0, &x);
	int64_t sh[ONNX_MAX_RANK];
	size_t n;
	if (rc || (rc = onnx_const_ints(c, 1, sh, ONNX_MAX_RANK, &n)))
		return rc;
	bool allowzero = onnx_attr_int(c, "allowzero", 0) != 0;
	struct onnx_shape out = {.rank = (int)n};
	int infer = -1;
	int64_t known = 1, total = onnx_numel(c, &x->shape);
	for (int i = 0; i < (int)n; i++) {
		int64_t v = sh[i];
		if (v == 0 && !allowzero) {
			if (i >= x->shape.rank)
				return onnx_skip(c, "shape copies dimension %d of a rank-%d input", i,
				                 x->shape.rank);
			v = x->shape.d[i];
		} else if (v == -1) {
			if (infer >= 0)
				return onnx_skip(c, "shape has two -1 entries");
			infer = i;
			continue;
		} else if (v < 0) {
			return onnx_skip(c, "shape has the entry %lld", (long long)v);
		}
		out.d[i] = v;
		known = onnx_mul(c, known, v);
	}
	if (infer >= 0) {
		if (known == 0 || total % known)
			return onnx_skip(c, "cannot reshape %lld elements with -1 and the rest %lld",
			                 (long long)total, (long long)known);
		out.d[infer] = total / known;
	} else if (known != total) {
		return onnx_skip(c, "cannot reshape %lld elements into %lld", (long long)total,
		                 (long long)known);
	}
	if ((rc = onnx_set_out(c, 0, x->dtype, &out)))
		return rc;
	fold_copy(c, x);
	return 0;
}

static int op_flatten(struct onnx_ctx *c)
{
	struct onnx_value *x;
	int rc = onnx_need(c, 0, &x);
	if (rc)
		return rc;
	int64_t axis = onnx_attr_int(c, "axis", 1);
	int r = x->shape.rank;
	if (axis < -r || axis > r)
		return onnx_skip(c, "axis %lld out of range", (long long)axis);
	if (axis < 0)
		axis += r;
	struct onnx_shape out = {.rank = 2, .d = {1, 1}};
	for (int i = 0; i < r; i++)
		out.d[i < axis ? 0 : 1] = onnx_mul(c, out.d[i < axis ? 0 : 1], x->shape.d[i]);
	if ((rc = onnx_set_out(c, 0, x->dtype, &out)))
		return rc;
	fold_copy(c, x);
	return 0;
}

static int op_transpose(struct onnx_ctx *c)
{
	struct onnx_value *x;
	int rc = onnx_need(c, 0, &x);
	if (rc)
		return rc;
	int r = x->shape.rank, perm[ONNX_MAX_RANK];
	const int64_t *pv;
	size_t np = onnx_attr_ints(c, "perm", &pv);
	if (np && np != (size_t)r)
		return onnx_skip(c, "perm has %zu entries for rank %d", np, r);
	bool seen[ONNX_MAX_RANK] = {false};
	for (int i = 0; i < r; i++) {
		int p = r - 1 - i;
		if (np && !onnx_axis(pv[i], r, &p))
			return onnx_skip(c, "perm is not a permutation");
		if (seen[p])
			return onnx_skip(c, "perm is not a permutation");
		seen[p] = true;
		perm[i] = p;
	}
	struct onnx_shape out = {.rank = r};
	for (int i = 0; i < r; i++)
		out.d[i] = x->shape.d[perm[i]];
	if ((rc = onnx_set_out(c, 0, x->dtype, &out)))
		return rc;
	if (x->k) {
		struct onnx_const *k = onnx_const_new(x->k->is_float, x->k->n);
		size_t st[ONNX_MAX_RANK], pos[ONNX_MAX_RANK];
		strides_of(&x->shape, st);
		for (size_t j = 0; k && j < k->n; j++) {
			unravel(j, &out, pos);
			size_t off = 0;
			for (int i = 0; i < r; i++)
				off += pos[i] * st[perm[i]];
			const_set(k, j, x->k, off);
		}
		onnx_set_const(c, 0, k);
	}
	return 0;
}

static int op_concat(struct onnx_ctx *c)
{
	struct onnx_value *first;
	int rc = onnx_need(c, 0, &first), axis;
	if (rc)
		return rc;
	struct onnx_shape out = first->shape;
	if (!onnx_axis(onnx_attr_int(c, "axis", 0), out.rank, &axis))
		return onnx_skip(c, "axis out of range");
	bool all_const = true;
	out.d[axis] = 0;
	for (size_t i = 0; i < c->node->n_input; i++) {
		struct onnx_value *v;
		if ((rc = onnx_need(c, i, &v)))
			return rc;
		if (v->shape.rank != out.rank)
			return onnx_skip(c, "inputs have ranks %d and %d", out.rank, v->shape.rank);
		for (int d = 0; d < out.rank; d++)
			if (d != axis && v->shape.d[d] != out.d[d])
				return onnx_skip(c, "inputs differ in dimension %d", d);
		out.d[axis] = onnx_add(c, out.d[axis], v->shape.d[axis]);
		all_const = all_const && v->k;
	}
	if ((rc = onnx_set_out(c, 0, first->dtype, &out)))
		return rc;
	int64_t n = onnx_numel(c, &out);
	if (!all_const || n > ONNX_CONST_MAX)
		return 0;
	struct onnx_const *k = onnx_const_new(first->k->is_float, (size_t)n);
	if (!k)
		return 0;
	size_t outer = 1, inner = 1, j = 0;
	for (int d = 0; d < axis; d++)
		outer *= (size_t)out.d[d];
	for (int d = axis + 1; d < out.rank; d++)
		inner *= (size_t)out.d[d];
	for (size_t o = 0; o < outer; o++)
		for (size_t i = 0; i < c->node->n_input; i++) {
			const struct onnx_value *v = onnx_in(c, i);
			size_t block = (size_t)v->shape.d[axis] * inner;
			for (size_t e = 0; e < block && j < k->n; e++)
				const_set(k, j++, v->k, o * block + e);
		}
	onnx_set_const(c, 0, k);
	return 0;
}

static int op_split(struct onnx_ctx *c)
{
	struct onnx_value *x;
	int rc = onnx_need(c, 0, &x), axis;
	if (rc)
		return rc;
	if (!onnx_axis(onnx_attr_int(c, "axis", 0), x->shape.rank, &axis))
		return onnx_skip(c, "axis out of range");
	size_t nout = onnx_n_out(c);
	int64_t dim = x->shape.d[axis];
	int64_t *sizes = calloc(nout ? nout : 1, sizeof *sizes);
	if (!sizes)
		return onnx_skip(c, "out of memory");
	const int64_t *av;
	size_t na = onnx_attr_ints(c, "split", &av), n = 0;
	if (onnx_in(c, 1)) {
		rc = onnx_const_ints(c, 1, sizes, nout, &n);
	} else if (na) {
		n = na;
		if (na == nout)
			memcpy(sizes, av, na * sizeof *av);
	} else {
		int64_t parts = onnx_attr_int(c, "num_outputs", (int64_t)nout);
		int64_t each = parts > 0 ? (dim + parts - 1) / parts : 0;
		for (size_t i = 0; i < nout; i++) {
			sizes[i] = dim - (int64_t)i * each < each ? dim - (int64_t)i * each : each;
			if (sizes[i] < 0)
				sizes[i] = 0;
		}
		n = nout;
	}
	int64_t sum = 0;
	for (size_t i = 0; !rc && i < n; i++)
		sum = onnx_add(c, sum, sizes[i]);
	if (!rc && (n != nout || sum != dim))
		rc = onnx_skip(c, "split sizes do not add up to dimension %lld", (long long)dim);
	for (size_t i = 0; !rc && i < nout; i++) {
		struct onnx_shape s = x->shape;
		s.d[axis] = sizes[i];
		rc = onnx_set_out(c, i, x->dtype, &s);
	}
	free(sizes);
	return rc;
}

/* Axes from the attribute (older opsets) or input 1 (newer). */
static int axes_of(struct onnx_ctx *c, size_t input, int64_t *axes, size_t *n)
{
	const int64_t *av;
	size_t na = onnx_attr_ints(c, "axes", &av);
	if (na) {
		if (na > ONNX_MAX_RANK)
			return onnx_skip(c, "too many axes");
		memcpy(axes, av, na * sizeof *av);
		*n = na;
		return 0;
	}
	if (onnx_in(c, input))
		return onnx_const_ints(c, input, axes, ONNX_MAX_RANK, n);
	*n = 0;
	return 0;
}

static int op_squeeze(struct onnx_ctx *c)
{
	struct onnx_value *x;
	int64_t axes[ONNX_MAX_RANK];
	size_t n;
	int rc = onnx_need(c, 0, &x);
	if (rc || (rc = axes_of(c, 1, axes, &n)))
		return rc;
	bool drop[ONNX_MAX_RANK] = {false};
	for (size_t i = 0; i < n; i++) {
		int a;
		if (!onnx_axis(axes[i], x->shape.rank, &a))
			return onnx_skip(c, "axis %lld out of range", (long long)axes[i]);
		if (x->shape.d[a] != 1)
			return onnx_skip(c, "dimension %d is %lld, not 1", a, (long long)x->shape.d[a]);
		drop[a] = true;
	}
	struct onnx_shape out = {.rank = 0};
	for (int i = 0; i < x->shape.rank; i++)
		if (!(n ? drop[i] : x->shape.d[i] == 1))
			out.d[out.rank++] = x->shape.d[i];
	if ((rc = onnx_set_out(c, 0, x->dtype, &out)))
		return rc;
	fold_copy(c, x);
	return 0;
}

static int op_unsqueeze(struct onnx_ctx *c)
{
	struct onnx_value *x;
	int64_t axes[ONNX_MAX_RANK];
	size_t n;
	int rc = onnx_need(c, 0, &x);
	if (rc || (rc = axes_of(c, 1, axes, &n)))
		return rc;
	int r = x->shape.rank + (int)n;
	if (r > ONNX_MAX_RANK)
		return onnx_skip(c, "rank %d is too high", r);
	bool ins[ONNX_MAX_RANK] = {false};
	for (size_t i = 0; i < n; i++) {
		int a;
		if (!onnx_axis(axes[i], r, &a) || ins[a])
			return onnx_skip(c, "axis %lld out of range or repeated", (long long)axes[i]);
		ins[a] = true;
	}
	struct onnx_shape out = {.rank = r};
	for (int i = 0, j = 0; i < r; i++)
		out.d[i] = ins[i] ? 1 : x->shape.d[j++];
	if ((rc = onnx_set_out(c, 0, x->dtype, &out)))
		return rc;
	fold_copy(c, x);
	return 0;
}

static int op_gather(struct onnx_ctx *c)
{
	struct onnx_value *x, *idx;
	int rc, axis;
	if ((rc = onnx_need(c, 0, &x)) || (rc = onnx_need(c, 1, &idx)))
		return rc;
	if (!onnx_axis(onnx_attr_int(c, "axis", 0), x->shape.rank, &axis))
		return onnx_skip(c, "axis out of range");
	struct onnx_shape out = {.rank = x->shape.rank - 1 + idx->shape.rank};
	if (out.rank > ONNX_MAX_RANK)
		return onnx_skip(c, "rank %d is too high", out.rank);
	int j = 0;
	for (int i = 0; i < axis; i++)
		out.d[j++] = x->shape.d[i];
	for (int i = 0; i < idx->shape.rank; i++)
		out.d[j++] = idx->shape.d[i];
	for (int i = axis + 1; i < x->shape.rank; i++)
		out.d[j++] = x->shape.d[i];
	if ((rc = onnx_set_out(c, 0, x->dtype, &out)))
		return rc;
	int64_t n = onnx_numel(c, &out);
	if (!x->k || !idx->k || n > ONNX_CONST_MAX)
		return 0;
	size_t outer = 1, inner = 1, dim = (size_t)x->shape.d[axis], ni = idx->k->n;
	for (int i = 0; i < axis; i++)
		outer *= (size_t)x->shape.d[i];
	for (int i = axis + 1; i < x->shape.rank; i++)
		inner *= (size_t)x->shape.d[i];
	struct onnx_const *k = onnx_const_new(x->k->is_float, (size_t)n);
	for (size_t o = 0; k && o < outer; o++)
		for (size_t q = 0; q < ni; q++) {
			int64_t p = onnx_const_get_i(idx->k, q);
			if (p < 0)
				p += (int64_t)dim;
			if (p < 0 || p >= (int64_t)dim) {
				onnx_const_free(k);
				return 0; /* out of range: the shape stands, the values are unknown */
			}
			for (size_t e = 0; e < inner; e++)
				const_set(k, (o * ni + q) * inner + e, x->k,
				          (o * dim + (size_t)p) * inner + e);
		}
	onnx_set_const(c, 0, k);
	return 0;
}

static int op_gather_elements(struct onnx_ctx *c)
{
	struct onnx_value *x, *idx;
	int rc;
	if ((rc = onnx_need(c, 0, &x)) || (rc = onnx_need(c, 1, &idx)))
		return rc;
	return onnx_set_out(c, 0, x->dtype, &idx->shape);
}

static int op_gather_nd(struct onnx_ctx *c)
{
	struct onnx_value *x, *idx;
	int rc;
	if ((rc = onnx_need(c, 0, &x)) || (rc = onnx_need(c, 1, &idx)))
		return rc;
	int64_t b = onnx_attr_int(c, "batch_dims", 0);
	int q = idx->shape.rank;
	if (q < 1)
		return onnx_skip(c, "indices must have rank >= 1");
	int64_t last = idx->shape.d[q - 1];
	if (b < 0 || b + last > x->shape.rank)
		return onnx_skip(c, "indices address %lld dimensions of a rank-%d input", (long long)last,
		                 x->shape.rank);
	struct onnx_shape out = {.rank = q - 1 + x->shape.rank - (int)(b + last)};
	if (out.rank > ONNX_MAX_RANK)
		return onnx_skip(c, "rank too high");
	int j = 0;
	for (int i = 0; i < q - 1; i++)
		out.d[j++] = idx->shape.d[i];
	for (int i = (int)(b + last); i < x->shape.rank; i++)
		out.d[j++] = x->shape.d[i];
	return onnx_set_out(c, 0, x->dtype, &out);
}

static int op_slice(struct onnx_ctx *c)
{
	struct onnx_value *x;
	int rc = onnx_need(c, 0, &x);
	if (rc)
		return rc;
	int r = x->shape.rank;
	int64_t starts[ONNX_MAX_RANK], ends[ONNX_MAX_RANK], axes[ONNX_MAX_RANK], steps[ONNX_MAX_RANK];
	size_t ns, ne, na = 0, nst = 0;
	const int64_t *v;
	if (onnx_in(c, 1) || onnx_in(c, 2)) {
		if ((rc = onnx_const_ints(c, 1, starts, ONNX_MAX_RANK, &ns)) ||
		    (rc = onnx_const_ints(c, 2, ends, ONNX_MAX_RANK, &ne)))
			return rc;
		if (onnx_in(c, 3) && (rc = onnx_const_ints(c, 3, axes, ONNX_MAX_RANK, &na)))
			return rc;
		if (onnx_in(c, 4) && (rc = onnx_const_ints(c, 4, steps, ONNX_MAX_RANK, &nst)))
			return rc;
	} else {
		ns = onnx_attr_ints(c, "starts", &v);
		if (ns > ONNX_MAX_RANK)
			return onnx_skip(c, "too many starts");
		memcpy(starts, v, ns * sizeof *v);
		ne = onnx_attr_ints(c, "ends", &v);
		if (ne > ONNX_MAX_RANK)
			return onnx_skip(c, "too many ends");
		memcpy(ends, v, ne * sizeof *v);
		na = onnx_attr_ints(c, "axes", &v);
		if (na > ONNX_MAX_RANK)
			return onnx_skip(c, "too many axes");
		memcpy(axes, v, na * sizeof *v);
	}
	if (ns != ne || (na && na != ns) || (nst && nst != ns) || ns > (size_t)r)
		return onnx_skip(c, "starts, ends, axes and steps differ in length");
	int64_t first[ONNX_MAX_RANK], step[ONNX_MAX_RANK];
	struct onnx_shape out = x->shape;
	bool used[ONNX_MAX_RANK] = {false};
	for (int i = 0; i < r; i++) {
		first[i] = 0;
		step[i] = 1;
	}
	for (size_t i = 0; i < ns; i++) {
		int a = (int)i;
		if (na && !onnx_axis(axes[i], r, &a))
			return onnx_skip(c, "axis %lld out of range", (long long)axes[i]);
		if (used[a])
			return onnx_skip(c, "axis %d repeated", a);
		used[a] = true;
		int64_t dim = x->shape.d[a], s = nst ? steps[i] : 1, b = starts[i], e = ends[i];
		if (s == 0 || s == INT64_MIN)
			return onnx_skip(c, "step %lld", (long long)s);
		if (b < 0)
			b = b + dim;
		if (e < 0)
			e = e + dim;
		int64_t cnt;
		if (s > 0) {
			b = b < 0 ? 0 : b > dim ? dim : b;
			e = e < 0 ? 0 : e > dim ? dim : e;
			cnt = e > b ? (e - b - 1) / s + 1 : 0;
		} else {
			b = b < 0 ? -1 : b > dim - 1 ? dim - 1 : b;
			e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
			cnt = b > e ? (b - e - 1) / (-s) + 1 : 0;
		}
		out.d[a] = cnt;
		first[a] = b;
		step[a] = s;
	}
	if ((rc = onnx_set_out(c, 0, x->dtype, &out)))
		return rc;
	int64_t n = onnx_numel(c, &out);
	if (!x->k || n > ONNX_CONST_MAX)
		return 0;
	struct onnx_const *k = onnx_const_new(x->k->is_float, (size_t)n);
	size_t st[ONNX_MAX_RANK], pos[ONNX_MAX_RANK];
	strides_of(&x->shape, st);
	for (size_t j = 0; k && j < k->n; j++) {
		unravel(j, &out, pos);
		size_t off = 0;
		for (int i = 0; i < r; i++)
			off += (size_t)(first[i] + (int64_t)pos[i] * step[i]) * st[i];
		const_set(k, j, x->k, off);
	}
	onnx_set_const(c, 0, k);
	return 0;
}

static int op_shape(struct onnx_ctx *c)
{
	struct onnx_value *x;
	int rc = onnx_need(c, 0, &x);
	if (rc)
		return rc;
	int64_t r = x->shape.rank, b = onnx_attr_int(c, "start", 0), e = onnx_attr_int(c, "end", r);
	b = b < 0 ? b + r : b;
	e = e < 0 ? e + r : e;
	b = b < 0 ? 0 : b > r ? r : b;
	e = e < 0 ? 0 : e > r ? r : e;
	int64_t n = e > b ? e - b : 0;
	struct onnx_shape out = {.rank = 1, .d = {n}};
	if ((rc = onnx_set_out(c, 0, DT_INT64, &out)))
		return rc;
	struct onnx_const *k = onnx_const_new(false, (size_t)n);
	for (int64_t i = 0; k && i < n; i++)
		k->i[i] = x->shape.d[b + i];
	onnx_set_const(c, 0, k);
	return 0;
}

static int op_size(struct onnx_ctx *c)
{
	struct onnx_value *x;
	int rc = onnx_need(c, 0, &x);
	if (rc)
		return rc;
	struct onnx_shape out = {.rank = 0};
	if ((rc = onnx_set_out(c, 0, DT_INT64, &out)))
		return rc;
	struct onnx_const *k = onnx_const_new(false, 1);
	if (k)
		k->i[0] = onnx_numel(c, &x->shape);
	onnx_set_const(c, 0, k);
	return 0;
}

static int op_constant(struct onnx_ctx *c)
{
	const Onnx__AttributeProto *a = NULL;
	for (size_t i = 0; i < c->node->n_attribute && !a; i++)
		if (c->node->attribute[i]->name && strncmp(c->node->attribute[i]->name, "value", 5) == 0)
			a = c->node->attribute[i];
	if (!a)
		return onnx_skip(c, "Constant without a value");
	struct onnx_shape s = {.rank = 0};
	int32_t dt = DT_FLOAT;
	struct onnx_const *k = NULL;
	const char *n = a->name;
	if (!strcmp(n, "value") && a->t) {
		if (onnx_tensor_shape(a->t, &s))
			return onnx_skip(c, "its tensor has an invalid shape");
		dt = a->t->data_type;
		k = onnx_tensor_values(a->t, &s);
	} else if (!strcmp(n, "sparse_value") && a->sparse_tensor) {
		const Onnx__SparseTensorProto *sp = a->sparse_tensor;
		if (sp->n_dims > ONNX_MAX_RANK)
			return onnx_skip(c, "its tensor has too high a rank");
		s.rank = (int)sp->n_dims;
		for (size_t i = 0; i < sp->n_dims; i++)
			s.d[i] = sp->dims[i];
		dt = sp->values ? sp->values->data_type : DT_FLOAT;
	} else if (!strcmp(n, "value_float")) {
		if ((k = onnx_const_new(true, 1)))
			k->f[0] = a->f;
	} else if (!strcmp(n, "value_int")) {
		dt = DT_INT64;
		if ((k = onnx_const_new(false, 1)))
			k->i[0] = a->i;
	} else if (!strcmp(n, "value_floats")) {
		s = (struct onnx_shape){.rank = 1, .d = {(int64_t)a->n_floats}};
		if (a->n_floats <= ONNX_CONST_MAX && (k = onnx_const_new(true, a->n_floats)))
			for (size_t i = 0; i < a->n_floats; i++)
				k->f[i] = a->floats[i];
	} else if (!strcmp(n, "value_ints")) {
		dt = DT_INT64;
		s = (struct onnx_shape){.rank = 1, .d = {(int64_t)a->n_ints}};
		if (a->n_ints <= ONNX_CONST_MAX && (k = onnx_const_new(false, a->n_ints)))
			memcpy(k->i, a->ints, a->n_ints * sizeof *a->ints);
	} else if (!strcmp(n, "value_string")) {
		dt = DT_STRING;
	} else if (!strcmp(n, "value_strings")) {
		dt = DT_STRING;
		s = (struct onnx_shape){.rank = 1, .d = {(int64_t)a->n_strings}};
	} else {
		return onnx_skip(c, "Constant attribute '%s' is not known", n);
	}
	int rc = onnx_set_out(c, 0, dt, &s);
	if (rc) {
		onnx_const_free(k);
		return rc;
	}
	onnx_set_const(c, 0, k);
	if (onnx_dtype_is_float(dt))
		c->params = onnx_numel(c, &s);
	return 0;
}

static int op_constant_of_shape(struct onnx_ctx *c)
{
	int64_t sh[ONNX_MAX_RANK];
	size_t n;
	int rc = onnx_const_ints(c, 0, sh, ONNX_MAX_RANK, &n);
	if (rc)
		return rc;
	struct onnx_shape out = {.rank = (int)n};
	memcpy(out.d, sh, n * sizeof *sh);
	const Onnx__AttributeProto *a = onnx_attr(c, "value");
	int32_t dt = a && a->t ? a->t->data_type : DT_FLOAT;
	if ((rc = onnx_set_out(c, 0, dt, &out)))
		return rc;
	int64_t cnt = onnx_numel(c, &out);
	struct onnx_const *val = NULL;
	if (a && a->t) {
		struct onnx_shape vs;
		if (onnx_tensor_shape(a->t, &vs) == 0)
			val = onnx_tensor_values(a->t, &vs);
		if (!val || val->n != 1) {
			onnx_const_free(val);
			return 0;
		}
	}
	if (cnt <= ONNX_CONST_MAX) {
		struct onnx_const *k = onnx_const_new(onnx_dtype_is_float(dt), (size_t)cnt);
		for (size_t i = 0; k && val && i < k->n; i++)
			const_set(k, i, val, 0);
		onnx_set_const(c, 0, k);
	}
	onnx_const_free(val);
	return 0;
}

static int op_expand(struct onnx_ctx *c)
{
	struct onnx_value *x;
	int64_t sh[ONNX_MAX_RANK];
	size_t n;
	int rc = onnx_need(c, 0, &x);
	if (rc || (rc = onnx_const_ints(c, 1, sh, ONNX_MAX_RANK, &n)))
		return rc;
	struct onnx_shape target = {.rank = (int)n}, out;
	memcpy(target.d, sh, n * sizeof *sh);
	if (!onnx_broadcast(&x->shape, &target, &out))
		return onnx_skip(c, "shape does not broadcast with the input");
	if ((rc = onnx_set_out(c, 0, x->dtype, &out)))
		return rc;
	int64_t cnt = onnx_numel(c, &out);
	if (x->k && cnt <= ONNX_CONST_MAX) {
		struct onnx_const *k = onnx_const_new(x->k->is_float, (size_t)cnt);
		for (size_t i = 0; k && i < k->n; i++)
			const_set(k, i, x->k, onnx_broadcast_offset(&x->shape, &out, i));
		onnx_set_const(c, 0, k);
	}
	return 0;
}

static int op_tile(struct onnx_ctx *c)
{
	struct onnx_value *x;
	int64_t rep[ONNX_MAX_RANK];
	size_t n;
	int rc = onnx_need(c, 0, &x);
	if (rc || (rc = onnx_const_ints(c, 1, rep, ONNX_MAX_RANK, &n)))
		return rc;
	if (n != (size_t)x->shape.rank)
		return onnx_skip(c, "repeats has %zu values for rank %d", n, x->shape.rank);
	struct onnx_shape out = x->shape;
	for (size_t i = 0; i < n; i++)
		out.d[i] = onnx_mul(c, out.d[i], rep[i]);
	return onnx_set_out(c, 0, x->dtype, &out);
}

static int op_range(struct onnx_ctx *c)
{
	struct onnx_value *v[3];
	for (size_t i = 0; i < 3; i++) {
		v[i] = onnx_in(c, i);
		if (!v[i] || !v[i]->k || v[i]->k->n != 1)
			return onnx_skip(c, "start, limit and delta are not constant scalars");
	}
	double start = onnx_const_get_f(v[0]->k, 0), limit = onnx_const_get_f(v[1]->k, 0),
	       delta = onnx_const_get_f(v[2]->k, 0);
	if (delta == 0)
		return onnx_skip(c, "delta is 0");
	double cnt = ceil((limit - start) / delta);
	if (!(cnt < 9e18))
		return onnx_skip(c, "range too long");
	struct onnx_shape out = {.rank = 1, .d = {cnt > 0 ? (int64_t)cnt : 0}};
	int rc = onnx_set_out(c, 0, v[0]->dtype, &out);
	if (rc || out.d[0] > ONNX_CONST_MAX)
		return rc;
	bool fl = v[0]->k->is_float;
	struct onnx_const *k = onnx_const_new(fl, (size_t)out.d[0]);
	for (size_t i = 0; k && i < k->n; i++) {
		if (fl)
			k->f[i] = start + (double)i * delta;
		else
			k->i[i] = onnx_const_get_i(v[0]->k, 0) + (int64_t)i * onnx_const_get_i(v[2]->k, 0);
	}
	onnx_set_const(c, 0, k);
	return 0;
}

static int op_pad(struct onnx_ctx *c)
{
	struct onnx_value *x;
	int rc = onnx_need(c, 0, &x);
	if (rc)
		return rc;
	int r = x->shape.rank;
	int64_t pads[2 * ONNX_MAX_RANK], axes[ONNX_MAX_RANK];
	size_t np = 0, na = 0;
	const int64_t *v;
	if (onnx_in(c, 1)) {
		if ((rc = onnx_const_ints(c, 1, pads, 2 * ONNX_MAX_RANK, &np)))
			return rc;
	} else {
		np = onnx_attr_ints(c, "pads", &v);
		if (!np)
			np = onnx_attr_ints(c, "paddings", &v);
		if (np > 2 * ONNX_MAX_RANK)
			return onnx_skip(c, "too many pads");
		memcpy(pads, v, np * sizeof *v);
	}
	if (onnx_in(c, 3) && (rc = onnx_const_ints(c, 3, axes, ONNX_MAX_RANK, &na)))
		return rc;
	if (!na) {
		na = (size_t)r;
		for (int i = 0; i < r; i++)
			axes[i] = i;
	}
	if (np != 2 * na)
		return onnx_skip(c, "pads has %zu values for %zu axes", np, na);
	struct onnx_shape out = x->shape;
	for (size_t i = 0; i < na; i++) {
		int a;
		if (!onnx_axis(axes[i], r, &a))
			return onnx_skip(c, "axis out of range");
		out.d[a] = onnx_add(c, onnx_add(c, out.d[a], pads[i]), pads[na + i]);
	}
	return onnx_set_out(c, 0, x->dtype, &out);
}

static int op_depth_space(struct onnx_ctx *c)
{
	struct onnx_value *x;
	int rc = onnx_need(c, 0, &x);
	if (rc)
		return rc;
	int64_t b = onnx_attr_int(c, "blocksize", 0);
	if (x->shape.rank != 4 || b < 1)
		return onnx_skip(c, "needs a 4-D input and a blocksize");
	struct onnx_shape out = x->shape;
	int64_t bb = onnx_mul(c, b, b);
	if (strcmp(c->op->name, "DepthToSpace") == 0) {
		if (out.d[1] % bb)
			return onnx_skip(c, "channels not divisible by blocksize^2");
		out.d[1] /= bb;
		out.d[2] = onnx_mul(c, out.d[2], b);
		out.d[3] = onnx_mul(c, out.d[3], b);
	} else {
		if (out.d[2] % b || out.d[3] % b)
			return onnx_skip(c, "spatial size not divisible by blocksize");
		out.d[1] = onnx_mul(c, out.d[1], bb);
		out.d[2] /= b;
		out.d[3] /= b;
	}
	return onnx_set_out(c, 0, x->dtype, &out);
}

static int op_topk(struct onnx_ctx *c)
{
	struct onnx_value *x;
	int rc = onnx_need(c, 0, &x), axis;
	if (rc)
		return rc;
	int64_t k;
	size_t n;
	if (onnx_in(c, 1)) {
		if ((rc = onnx_const_ints(c, 1, &k, 1, &n)))
			return rc;
		if (n != 1)
			return onnx_skip(c, "k is not a scalar");
	} else {
		k = onnx_attr_int(c, "k", -1);
	}
	if (!onnx_axis(onnx_attr_int(c, "axis", -1), x->shape.rank, &axis) || k < 0 || k > x->shape.d[axis])
		return onnx_skip(c, "axis or k out of range");
	struct onnx_shape out = x->shape;
	out.d[axis] = k;
	if ((rc = onnx_set_out(c, 0, x->dtype, &out)) || (rc = onnx_set_out(c, 1, DT_INT64, &out)))
		return rc;
	c->other_flops = onnx_numel(c, &x->shape);
	return 0;
}

static int op_one_hot(struct onnx_ctx *c)
{
	struct onnx_value *idx, *vals = onnx_in(c, 2);
	int64_t depth;
	size_t n;
	int rc = onnx_need(c, 0, &idx);
	if (rc || (rc = onnx_const_ints(c, 1, &depth, 1, &n)))
		return rc;
	int r = idx->shape.rank + 1, axis;
	if (r > ONNX_MAX_RANK || !onnx_axis(onnx_attr_int(c, "axis", -1), r, &axis) || depth < 0)
		return onnx_skip(c, "axis or depth out of range");
	struct onnx_shape out = {.rank = r};
	for (int i = 0, j = 0; i < r; i++)
		out.d[i] = i == axis ? depth : idx->shape.d[j++];
	return onnx_set_out(c, 0, vals ? vals->dtype : DT_FLOAT, &out);
}

static int op_same_shape(struct onnx_ctx *c)
{
	struct onnx_value *x;
	int rc = onnx_need(c, 0, &x);
	return rc ? rc : onnx_set_out(c, 0, x->dtype, &x->shape);
}

static int op_data_dependent(struct onnx_ctx *c)
{
	return onnx_skip(c, "its output shape depends on the values of its inputs");
}

static int op_not_counted(struct onnx_ctx *c)
{
	return onnx_skip(c, "%s is not counted yet", c->op->name);
}

const struct onnx_op onnx_ops_tensor[] = {
    {"Reshape", op_reshape, 0},
    {"Flatten", op_flatten, 0},
    {"Transpose", op_transpose, 0},
    {"Concat", op_concat, 0},
    {"Split", op_split, 0},
    {"Squeeze", op_squeeze, 0},
    {"Unsqueeze", op_unsqueeze, 0},
    {"Gather", op_gather, 0},
    {"GatherElements", op_gather_elements, 0},
    {"GatherND", op_gather_nd, 0},
    {"Slice", op_slice, 0},
    {"Shape", op_shape, 0},
    {"Size", op_size, 0},
    {"Constant", op_constant, 0},
    {"ConstantOfShape", op_constant_of_shape, 0},
    {"Expand", op_expand, 0},
    {"Tile", op_tile, 0},
    {"Range", op_range, 0},
    {"Pad", op_pad, 0},
    {"DepthToSpace", op_depth_space, 0},
    {"SpaceToDepth", op_depth_space, 0},
    {"TopK", op_topk, 0},
    {"OneHot", op_one_hot, 0},
    {"EyeLike", op_same_shape, 0},
    {"Trilu", op_same_shape, 0},
    {"ScatterND", op_same_shape, 0},
    {"ScatterElements", op_same_shape, 0},
    {"Scatter", op_same_shape, 0},
    {"ReverseSequence", op_same_shape, 0},
    {"NonZero", op_data_dependent, 0},
    {"NonMaxSuppression", op_data_dependent, 0},
    {"Unique", op_data_dependent, 0},
    {"Compress", op_data_dependent, 0},
    {"If", op_data_dependent, 0},
    {"Loop", op_data_dependent, 0},
    {"Scan", op_not_counted, 0},
    {"Einsum", op_not_counted, 0},
    {"LSTM", op_not_counted, 0},
    {"GRU", op_not_counted, 0},
    {"RNN", op_not_counted, 0},
    {"Attention", op_not_counted, 0},
};
const size_t onnx_n_ops_tensor = sizeof onnx_ops_tensor / sizeof onnx_ops_tensor[0];
