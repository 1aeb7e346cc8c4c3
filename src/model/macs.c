/* Counting MACs and parameters of an ONNX model: builds the value table from initializers and
 * graph inputs (with the caller's shapes), runs each node's inference in topological order,
 * and totals per layer and per op type. Nodes that cannot be inferred are warned about and
 * make the totals incomplete; overflow and malformed graphs are errors. */
#include "model/macs.h"

#include "base/util.h"
#include "model/graph.h"
#include "model/onnx_read.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gops_macs_options_init(struct gops_macs_options *o)
{
	memset(o, 0, sizeof *o);
}

/* Failures of one kind, gathered so that a model with 500 such nodes gets one warning. */
struct failure {
	const char *op_type, *domain, *first, *why;
	int64_t count;
	bool unknown_op;
};

struct counter {
	const char *path;
	const Onnx__ModelProto *model;
	const Onnx__GraphProto *graph;
	const struct gops_macs_options *o;
	struct gops_macs_result *r;
	struct onnx_graph g;
	int64_t opset;
	struct failure *fails;
	size_t n_fails;
	int64_t upstream;
	const char *upstream_first;
	char *err;
	size_t errlen;
};

static int fail(struct counter *k, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct counter *k, int rc, const char *fmt, ...)
{
	int off = snprintf(k->err, k->errlen, "'%s': ", k->path);
	va_list ap;
	va_start(ap, fmt);
	if (off >= 0 && (size_t)off < k->errlen)
		vsnprintf(k->err + off, k->errlen - (size_t)off, fmt, ap);
	va_end(ap);
	return rc;
}

#define warn(r, ...) gops_strv_pushf(&(r)->warnings, &(r)->n_warnings, __VA_ARGS__)

static const char *node_name(const Onnx__NodeProto *n, size_t i, char *buf, size_t len)
{
	if (n->name && n->name[0])
		return n->name;
	if (n->n_output && n->output[0] && n->output[0][0])
		return n->output[0];
	snprintf(buf, len, "#%zu", i);
	return buf;
}

static bool default_domain(const char *d)
{
	return !d || !d[0] || strcmp(d, "ai.onnx") == 0;
}

static int read_opsets(struct counter *k)
{
	const Onnx__ModelProto *m = k->model;
	k->opset = 0;
	for (size_t i = 0; i < m->n_opset_import; i++) {
		const Onnx__OperatorSetIdProto *op = m->opset_import[i];
		const char *d = op->domain ? op->domain : "";
		if (!op->has_version || op->version <= 0)
			return fail(k, -EINVAL, "opset version %lld of domain '%s' is not valid",
			            (long long)op->version, d);
		if (default_domain(d))
			k->opset = op->version;
	}
	if (k->opset == 0) {
		k->opset = ONNX_OPSET_KNOWN;
		warn(k->r, "the model imports no default-domain opset; assuming opset %d", ONNX_OPSET_KNOWN);
	} else if (k->opset > ONNX_OPSET_KNOWN) {
		warn(k->r,
		     "opset %lld is newer than the newest known here (%d); operators whose meaning changed "
		     "may be miscounted",
		     (long long)k->opset, ONNX_OPSET_KNOWN);
	}
	k->r->opset = k->opset;
	return 0;
}

static int add_initializer(struct counter *k, const Onnx__TensorProto *t, int64_t *params)
{
	if (!t->name || !t->name[0])
		return fail(k, -EINVAL, "an initializer has no name");
	struct onnx_value *v;
	int rc = onnx_graph_add(&k->g, t->name, &v);
	if (rc < 0)
		return fail(k, rc, "out of memory");
	if (rc == 1)
		return fail(k, -EINVAL, "initializer '%s' is defined twice", t->name);
	rc = onnx_tensor_shape(t, &v->shape);
	if (rc == -EOVERFLOW)
		return fail(k, -EOVERFLOW, "initializer '%s': element count overflows 64 bits", t->name);
	if (rc)
		return fail(k, -EINVAL, "initializer '%s' has a negative dimension or more than %d", t->name,
		            ONNX_MAX_RANK);
	v->dtype = t->data_type;
	v->initializer = true;
	if (onnx_dtype_is_float(t->data_type)) {
		onnx_shape_numel(&v->shape, &v->params);
		if (__builtin_add_overflow(*params, v->params, params))
			return fail(k, -EOVERFLOW, "the parameter count overflows 64 bits");
	}
	v->k = onnx_tensor_values(t, &v->shape);
	return 0;
}

/* TypeProto's kinds share one union: only a tensor type has a shape to read. */
static const Onnx__TypeProto__Tensor *tensor_type(const Onnx__ValueInfoProto *vi)
{
	const Onnx__TypeProto *tp = vi->type;
	return tp && tp->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ? tp->tensor_type : NULL;
}

static const struct gops_macs_input *given_input(const struct gops_macs_options *o, const char *name)
{
	for (size_t i = 0; i < o->n_inputs; i++)
		if (strcmp(o->inputs[i].name, name) == 0)
			return &o->inputs[i];
	return NULL;
}

/* The shape a graph input is counted with: the caller's, else the model's with --batch and
 * symbolic dimensions resolved where that is safe. */
static int input_shape(struct counter *k, const Onnx__ValueInfoProto *vi, struct onnx_value *v)
{
	const struct gops_macs_input *given = given_input(k->o, vi->name);
	const Onnx__TypeProto__Tensor *tt = tensor_type(vi);
	const Onnx__TensorShapeProto *sh = tt ? tt->shape : NULL;
	v->dtype = tt ? tt->elem_type : DT_UNDEFINED;
	if (sh && sh->n_dim > ONNX_MAX_RANK)
		return fail(k, -EINVAL, "input '%s' has rank %zu, more than %d", vi->name, sh->n_dim,
		            ONNX_MAX_RANK);
	if (given) {
		if (sh && (size_t)given->rank != sh->n_dim)
			return fail(k, -EINVAL, "--input %s gives %d dimensions; the model's input has %zu",
			            vi->name, given->rank, sh->n_dim);
		v->shape.rank = given->rank;
		memcpy(v->shape.d, given->dims, (size_t)given->rank * sizeof given->dims[0]);
		return 0;
	}
	if (!sh) {
		warn(k->r, "input '%s' has no shape in the model; give it with --input %s=DIMS", vi->name,
		     vi->name);
		return 0;
	}
	struct onnx_shape s = {.rank = (int)sh->n_dim};
	bool known = true;
	for (size_t i = 0; i < sh->n_dim; i++) {
		const Onnx__TensorShapeProto__Dimension *d = sh->dim[i];
		bool has = d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE &&
		           d->dim_value >= 0;
		const char *sym =
		    d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM && d->dim_param
		        ? d->dim_param
		        : "?";
		if (i == 0 && k->o->batch > 0) {
			s.d[0] = k->o->batch;
		} else if (has) {
			s.d[i] = d->dim_value;
		} else if (i == 0) {
			s.d[0] = 1;
			warn(k->r,
			     "input '%s': dimension 0 ('%s') is symbolic; counted as 1 (set --batch or "
			     "--input)",
			     vi->name, sym);
		} else {
			known = false;
			warn(k->r,
			     "input '%s': dimension %zu ('%s') is symbolic; give its size with --input "
			     "%s=DIMS",
			     vi->name, i, sym, vi->name);
		}
	}
	if (known)
		v->shape = s;
	return 0;
}

static int add_inputs(struct counter *k)
{
	const Onnx__GraphProto *g = k->graph;
	for (size_t i = 0; i < k->o->n_inputs; i++) {
		bool found = false;
		for (size_t j = 0; j < g->n_input && !found; j++)
			found = g->input[j]->name && strcmp(g->input[j]->name, k->o->inputs[i].name) == 0;
		if (!found) {
			char list[512] = "";
			size_t off = 0;
			for (size_t j = 0; j < g->n_input && off < sizeof list; j++)
				if (g->input[j]->name && !onnx_graph_find(&k->g, g->input[j]->name))
					off += (size_t)snprintf(list + off, sizeof list - off, "%s'%s'",
					                        off ? ", " : "", g->input[j]->name);
			return fail(k, -EINVAL, "the model has no input '%s' (its inputs: %s)",
			            k->o->inputs[i].name, list[0] ? list : "none");
		}
	}
	k->r->inputs = calloc(g->n_input ? g->n_input : 1, sizeof *k->r->inputs);
	if (!k->r->inputs)
		return fail(k, -ENOMEM, "out of memory");
	for (size_t j = 0; j < g->n_input; j++) {
		const Onnx__ValueInfoProto *vi = g->input[j];
		if (!vi->name || !vi->name[0])
			return fail(k, -EINVAL, "a graph input has no name");
		struct onnx_value *v;
		int rc = onnx_graph_add(&k->g, vi->name, &v);
		if (rc < 0)
			return fail(k, rc, "out of memory");
		if (rc == 1) {
			if (v->initializer)
				continue; /* an initializer listed as an input: it keeps its own shape */
			return fail(k, -EINVAL, "input '%s' is listed twice", vi->name);
		}
		if ((rc = input_shape(k, vi, v)))
			return rc;
		struct gops_macs_layer *in = &k->r->inputs[k->r->n_inputs++];
		in->name = gops_xstrdup(vi->name);
		in->op_type = gops_xstrdup("input");
		in->inferred = v->shape.rank >= 0;
		in->rank = v->shape.rank;
		if (v->shape.rank > 0) {
			in->output_shape = calloc((size_t)v->shape.rank, sizeof *in->output_shape);
			if (!in->output_shape)
				abort();
			memcpy(in->output_shape, v->shape.d,
			       (size_t)v->shape.rank * sizeof *in->output_shape);
		}
	}
	return 0;
}

static int add_node_values(struct counter *k)
{
	const Onnx__GraphProto *g = k->graph;
	for (size_t i = 0; i < g->n_node; i++) {
		const Onnx__NodeProto *n = g->node[i];
		for (size_t j = 0; j < n->n_output; j++) {
			if (!n->output[j] || !n->output[j][0])
				continue;
			struct onnx_value *v;
			int rc = onnx_graph_add(&k->g, n->output[j], &v);
			if (rc < 0)
				return fail(k, rc, "out of memory");
			if (rc == 1)
				return fail(k, -EINVAL, "value '%s' is defined twice", n->output[j]);
			v->producer = (int)i;
		}
	}
	for (size_t i = 0; i < g->n_node; i++) {
		const Onnx__NodeProto *n = g->node[i];
		for (size_t j = 0; j < n->n_input; j++) {
			if (!n->input[j] || !n->input[j][0])
				continue;
			struct onnx_value *v;
			int rc = onnx_graph_add(&k->g, n->input[j], &v);
			if (rc < 0)
				return fail(k, rc, "out of memory");
			if (rc == 0) {
				char buf[32];
				warn(k->r, "value '%s' used by node '%s' is defined nowhere", n->input[j],
				     node_name(n, i, buf, sizeof buf));
				k->r->complete = false;
			}
		}
	}
	return 0;
}

/* Node indices in an order where producers come first: the file's own when it is sorted (as
 * ONNX requires), else Kahn's algorithm. A cycle is an error. */
static int node_order(struct counter *k, size_t **out)
{
	const Onnx__GraphProto *g = k->graph;
	size_t n = g->n_node;
	size_t *order = calloc(n ? n : 1, sizeof *order);
	size_t *indeg = calloc(n ? n : 1, sizeof *indeg);
	size_t *start = calloc(n + 1, sizeof *start);
	size_t *edges = NULL;
	int rc = 0;
	if (!order || !indeg || !start)
		goto oom;
	bool sorted = true;
	size_t n_edges = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < g->node[i]->n_input; j++) {
			const char *name = g->node[i]->input[j];
			struct onnx_value *v = name && name[0] ? onnx_graph_find(&k->g, name) : NULL;
			if (v && v->producer >= 0) {
				sorted = sorted && (size_t)v->producer < i;
				start[v->producer]++;
				indeg[i]++;
				n_edges++;
			}
		}
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	if (sorted)
		goto done;
	/* Consumers of each node, in compressed rows. */
	edges = calloc(n_edges ? n_edges : 1, sizeof *edges);
	if (!edges)
		goto oom;
	size_t acc = 0;
	for (size_t i = 0; i <= n; i++) {
		size_t c = i < n ? start[i] : 0;
		start[i] = acc;
		acc += c;
	}
	size_t *fill = calloc(n ? n : 1, sizeof *fill);
	if (!fill)
		goto oom;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < g->node[i]->n_input; j++) {
			const char *name = g->node[i]->input[j];
			struct onnx_value *v = name && name[0] ? onnx_graph_find(&k->g, name) : NULL;
			if (v && v->producer >= 0)
				edges[start[v->producer] + fill[v->producer]++] = i;
		}
	free(fill);
	size_t head = 0, tail = 0;
	for (size_t i = 0; i < n; i++)
		if (indeg[i] == 0)
			order[tail++] = i;
	while (head < tail) {
		size_t u = order[head++];
		for (size_t e = start[u]; e < start[u + 1]; e++)
			if (--indeg[edges[e]] == 0)
				order[tail++] = edges[e];
	}
	if (tail < n)
		rc = fail(k, -EINVAL, "the graph has a cycle");
	goto done;
oom:
	rc = fail(k, -ENOMEM, "out of memory");
done:
	free(indeg);
	free(start);
	free(edges);
	if (rc)
		free(order);
	else
		*out = order;
	return rc;
}

static const struct onnx_op *find_op(const char *domain, const char *type)
{
	static const struct {
		const struct onnx_op *ops;
		const size_t *n;
	} tables[] = {{onnx_ops_nn, &onnx_n_ops_nn},
	              {onnx_ops_tensor, &onnx_n_ops_tensor},
	              {onnx_ops_elementwise, &onnx_n_ops_elementwise}};
	if (!default_domain(domain) || !type)
		return NULL;
	for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
		for (size_t i = 0; i < *tables[t].n; i++)
			if (strcmp(tables[t].ops[i].name, type) == 0)
				return &tables[t].ops[i];
	return NULL;
}

/* Outputs of a node that could not be inferred: the model's own value_info if it has a static
 * shape for them, else unknown. */
static void fallback_outputs(struct counter *k, const Onnx__NodeProto *n)
{
	const Onnx__GraphProto *g = k->graph;
	for (size_t j = 0; j < n->n_output; j++) {
		struct onnx_value *v =
		    n->output[j] && n->output[j][0] ? onnx_graph_find(&k->g, n->output[j]) : NULL;
		if (!v)
			continue;
		v->shape.rank = -1;
		onnx_const_free(v->k);
		v->k = NULL;
		for (size_t s = 0; s < g->n_value_info + g->n_output; s++) {
			const Onnx__ValueInfoProto *vi =
			    s < g->n_value_info ? g->value_info[s] : g->output[s - g->n_value_info];
			const Onnx__TypeProto__Tensor *tt = tensor_type(vi);
			if (!vi->name || strcmp(vi->name, v->name) != 0 || !tt || !tt->shape ||
			    tt->shape->n_dim > ONNX_MAX_RANK)
				continue;
			const Onnx__TensorShapeProto *sh = tt->shape;
			struct onnx_shape shp = {.rank = (int)sh->n_dim};
			bool ok = true;
			for (size_t d = 0; d < sh->n_dim && ok; d++) {
				ok = sh->dim[d]->value_case ==
				         ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE &&
				     sh->dim[d]->dim_value >= 0;
				shp.d[d] = sh->dim[d]->dim_value;
			}
			int64_t cnt;
			if (ok && onnx_shape_numel(&shp, &cnt)) {
				v->shape = shp;
				v->dtype = tt->elem_type;
			}
			break;
		}
	}
}

static void record_failure(struct counter *k, const Onnx__NodeProto *n, const char *name,
                           const struct onnx_ctx *c, bool unknown_op)
{
	if (!unknown_op && c->upstream) {
		if (!k->upstream++)
			k->upstream_first = name;
		return;
	}
	const char *domain = n->domain ? n->domain : "";
	for (size_t i = 0; i < k->n_fails; i++) {
		struct failure *f = &k->fails[i];
		if (strcmp(f->op_type, n->op_type) == 0 && strcmp(f->domain, domain) == 0) {
			f->count++;
			return;
		}
	}
	struct failure *fs = realloc(k->fails, (k->n_fails + 1) * sizeof *fs);
	if (!fs)
		abort();
	k->fails = fs;
	fs[k->n_fails++] = (struct failure){.op_type = n->op_type,
	                                    .domain = domain,
	                                    .first = name,
	                                    .why = unknown_op ? NULL : gops_xstrdup(c->why),
	                                    .count = 1,
	                                    .unknown_op = unknown_op};
}

static int64_t take_params(struct counter *k, const Onnx__NodeProto *n)
{
	int64_t p = 0;
	for (size_t j = 0; j < n->n_input; j++) {
		struct onnx_value *v =
		    n->input[j] && n->input[j][0] ? onnx_graph_find(&k->g, n->input[j]) : NULL;
		if (v && v->initializer && v->params && !v->params_taken) {
			v->params_taken = true;
			p += v->params; /* bounded by the checked total */
		}
	}
	return p;
}

static int run_node(struct counter *k, size_t idx, struct gops_macs_layer *layer)
{
	const Onnx__NodeProto *n = k->graph->node[idx];
	char buf[32];
	const char *name = node_name(n, idx, buf, sizeof buf);
	if (!n->op_type || !n->op_type[0])
		return fail(k, -EINVAL, "node '%s' has no op_type", name);
	struct onnx_ctx c = {.g = &k->g, .node = n, .opset = k->opset};
	c.op = find_op(n->domain, n->op_type);
	int rc = c.op ? c.op->fn(&c) : ONNX_SKIP;
	if (rc < 0)
		return fail(k, rc, "node '%s' (%s): %s", name, n->op_type, strerror(-rc));
	if (c.overflow)
		return fail(k, -EOVERFLOW, "node '%s' (%s): a dimension or count overflows 64 bits", name,
		            n->op_type);
	layer->name = gops_xstrdup(name);
	layer->op_type = gops_xstrdup(n->op_type);
	layer->params = take_params(k, n) + c.params;
	layer->inferred = rc == 0;
	if (rc == ONNX_SKIP) {
		record_failure(k, n, layer->name, &c, !c.op);
		fallback_outputs(k, n);
	} else {
		layer->macs = c.macs;
		layer->other_flops = c.other_flops;
	}
	struct onnx_value *out =
	    n->n_output && n->output[0] && n->output[0][0] ? onnx_graph_find(&k->g, n->output[0]) : NULL;
	layer->rank = out ? out->shape.rank : -1;
	if (layer->rank > 0) {
		layer->output_shape = calloc((size_t)layer->rank, sizeof *layer->output_shape);
		if (!layer->output_shape)
			abort();
		memcpy(layer->output_shape, out->shape.d, (size_t)layer->rank * sizeof *layer->output_shape);
	}
	return 0;
}

static void failure_warnings(struct counter *k)
{
	for (size_t i = 0; i < k->n_fails; i++) {
		struct failure *f = &k->fails[i];
		if (f->unknown_op)
			warn(k->r, "op '%s'%s%s%s is not known: %lld node(s) not counted (first '%s')",
			     f->op_type, f->domain[0] ? " (domain '" : "", f->domain,
			     f->domain[0] ? "')" : "", (long long)f->count, f->first);
		else
			warn(k->r, "cannot infer %lld %s node(s) (first '%s'): %s", (long long)f->count,
			     f->op_type, f->first, f->why);
		free((char *)f->why);
	}
	if (k->upstream)
		warn(k->r, "%lld node(s) not counted because an input's shape is unknown (first '%s')",
		     (long long)k->upstream, k->upstream_first);
	if (k->n_fails || k->upstream)
		k->r->complete = false;
}

static int cmp_ops(const void *a, const void *b)
{
	const struct gops_macs_op_total *x = a, *y = b;
	if (x->macs != y->macs)
		return x->macs < y->macs ? 1 : -1;
	if (x->other_flops != y->other_flops)
		return x->other_flops < y->other_flops ? 1 : -1;
	return strcmp(x->op_type, y->op_type);
}

/* Totals, per-op-type sums, and the layer list trimmed to what computes or holds parameters. */
static int totals(struct counter *k, struct gops_macs_layer *layers, size_t n, int64_t init_params)
{
	struct gops_macs_result *r = k->r;
	int64_t macs = 0, other = 0, cparams = 0;
	r->layers = layers; /* owned by the result from here on, even on failure */
	r->n_layers = n;
	r->op_types = calloc(n ? n : 1, sizeof *r->op_types);
	if (!r->op_types)
		abort();
	for (size_t i = 0; i < n; i++) {
		const struct gops_macs_layer *l = &layers[i];
		if (__builtin_add_overflow(macs, l->macs, &macs) ||
		    __builtin_add_overflow(other, l->other_flops, &other))
			return fail(k, -EOVERFLOW, "the total count overflows 64 bits");
		if (strcmp(l->op_type, "Constant") == 0 &&
		    __builtin_add_overflow(cparams, l->params, &cparams))
			return fail(k, -EOVERFLOW, "the parameter count overflows 64 bits");
		struct gops_macs_op_total *t = NULL;
		for (size_t j = 0; j < r->n_op_types && !t; j++)
			if (strcmp(r->op_types[j].op_type, l->op_type) == 0)
				t = &r->op_types[j];
		if (!t) {
			t = &r->op_types[r->n_op_types++];
			t->op_type = gops_xstrdup(l->op_type);
		}
		t->nodes++;
		t->macs += l->macs; /* bounded by the checked totals */
		t->params += l->params;
		t->other_flops += l->other_flops;
	}
	qsort(r->op_types, r->n_op_types, sizeof *r->op_types, cmp_ops);
	r->macs = macs;
	r->other_flops = other;
	r->constant_params = cparams;
	if (__builtin_add_overflow(init_params, cparams, &r->params))
		return fail(k, -EOVERFLOW, "the parameter count overflows 64 bits");
	r->macs_per_param = r->params ? (double)r->macs / (double)r->params : NAN;
	size_t kept = 0;
	for (size_t i = 0; i < n; i++) {
		struct gops_macs_layer *l = &layers[i];
		if (k->o->all_nodes || l->macs || l->params || l->other_flops || !l->inferred)
			layers[kept++] = *l;
		else {
			free(l->name);
			free(l->op_type);
			free(l->output_shape);
		}
	}
	r->n_layers = kept;
	return 0;
}

static int count(struct counter *k)
{
	const Onnx__ModelProto *m = k->model;
	const Onnx__GraphProto *g = m->graph;
	struct gops_macs_result *r = k->r;
	if (!m->has_ir_version || m->ir_version <= 0)
		return fail(k, -EINVAL, "not an ONNX model (no IR version)");
	r->ir_version = m->ir_version;
	r->producer = gops_xasprintf("%s%s%s", m->producer_name ? m->producer_name : "",
	                             m->producer_version && m->producer_version[0] ? " " : "",
	                             m->producer_version ? m->producer_version : "");
	r->complete = true;
	r->nodes = (int64_t)g->n_node;
	int rc = read_opsets(k);
	if (rc)
		return rc;
	size_t expected = g->n_initializer + g->n_input + 2 * g->n_node + 16;
	if (onnx_graph_init(&k->g, expected))
		return fail(k, -ENOMEM, "out of memory");
	int64_t init_params = 0;
	for (size_t i = 0; i < g->n_initializer; i++)
		if ((rc = add_initializer(k, g->initializer[i], &init_params)))
			return rc;
	for (size_t i = 0; i < g->n_sparse_initializer; i++) {
		const Onnx__SparseTensorProto *sp = g->sparse_initializer[i];
		if (sp->values && (rc = add_initializer(k, sp->values, &init_params)))
			return rc;
	}
	if ((rc = add_inputs(k)) || (rc = add_node_values(k)))
		return rc;
	size_t *order;
	if ((rc = node_order(k, &order)))
		return rc;
	struct gops_macs_layer *layers = calloc(g->n_node ? g->n_node : 1, sizeof *layers);
	if (!layers)
		abort();
	for (size_t i = 0; i < g->n_node && !rc; i++)
		rc = run_node(k, order[i], &layers[i]);
	free(order);
	failure_warnings(k);
	if (!rc)
		return totals(k, layers, g->n_node, init_params);
	for (size_t i = 0; i < g->n_node; i++) {
		free(layers[i].name);
		free(layers[i].op_type);
		free(layers[i].output_shape);
	}
	free(layers);
	return rc;
}

static int count_file(struct onnx_file *f, const char *name, const struct gops_macs_options *o,
                      struct gops_macs_result *r, char *err, size_t errlen)
{
	struct gops_macs_options defaults;
	if (!o) {
		gops_macs_options_init(&defaults);
		o = &defaults;
	}
	struct counter k = {.path = name,
	                    .model = f->model,
	                    .graph = f->model->graph,
	                    .o = o,
	                    .r = r,
	                    .err = err,
	                    .errlen = errlen};
	r->file_bytes = f->file_bytes;
	r->stripped_bytes = f->stripped_bytes;
	int rc = count(&k);
	onnx_graph_release(&k.g);
	free(k.fails);
	return rc;
}

int gops_macs_count(const char *path, const struct gops_macs_options *o, struct gops_macs_result *r,
                    char *err, size_t errlen)
{
	memset(r, 0, sizeof *r);
	r->macs_per_param = NAN;
	struct onnx_file f;
	int rc = onnx_file_read(&f, path, 0, err, errlen);
	if (rc)
		return rc;
	rc = count_file(&f, path, o, r, err, errlen);
	onnx_file_release(&f);
	return rc;
}

int gops_macs_count_buffer(const void *data, size_t len, const char *name, const struct gops_macs_options *o,
                           struct gops_macs_result *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof *r);
	r->macs_per_param = NAN;
	struct onnx_file f;
	int rc = onnx_file_read_buffer(&f, data, len, name, 0, err, errlen);
	if (rc)
		return rc;
	rc = count_file(&f, name, o, r, err, errlen);
	onnx_file_release(&f);
	return rc;
}

static void release_layers(struct gops_macs_layer *l, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(l[i].name);
		free(l[i].op_type);
		free(l[i].output_shape);
	}
	free(l);
}

void gops_macs_result_release(struct gops_macs_result *r)
{
	release_layers(r->layers, r->n_layers);
	release_layers(r->inputs, r->n_inputs);
	for (size_t i = 0; i < r->n_op_types; i++)
		free(r->op_types[i].op_type);
	free(r->op_types);
	for (size_t i = 0; i < r->n_warnings; i++)
		free(r->warnings[i]);
	free(r->warnings);
	free(r->producer);
	memset(r, 0, sizeof *r);
	r->macs_per_param = NAN;
}

int gops_macs_parse_input(const char *spec, struct gops_macs_input *in, char *err, size_t errlen)
{
	memset(in, 0, sizeof *in);
	const char *eq = strrchr(spec, '=');
	if (!eq || eq == spec || (size_t)(eq - spec) >= sizeof in->name) {
		snprintf(err, errlen, "'%s' is not NAME=DIMS (for example input=1x3x224x224)", spec);
		return -EINVAL;
	}
	memcpy(in->name, spec, (size_t)(eq - spec));
	const char *p = eq + 1;
	if (!strcmp(p, "scalar"))
		return 0;
	while (*p) {
		if (in->rank == GOPS_MACS_MAX_RANK) {
			snprintf(err, errlen, "'%s' has more than %d dimensions", spec, GOPS_MACS_MAX_RANK);
			return -EINVAL;
		}
		char *end;
		errno = 0;
		long long v = *p >= '0' && *p <= '9' ? strtoll(p, &end, 10) : -1;
		if (v < 0 || errno || (*end && *end != 'x' && *end != 'X' && *end != ',') ||
		    (*end && !end[1])) {
			snprintf(err, errlen,
			         "'%s': dimensions must be non-negative integers separated by 'x'", spec);
			return -EINVAL;
		}
		in->dims[in->rank++] = v;
		p = *end ? end + 1 : end;
	}
	if (in->rank == 0) {
		snprintf(err, errlen, "'%s' gives no dimensions", spec);
		return -EINVAL;
	}
	return 0;
}
