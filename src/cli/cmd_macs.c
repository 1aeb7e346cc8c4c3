/* greenops macs: MACs, parameters and MACs per parameter of an ONNX model, as per-layer and
 * per-op-type tables on stdout and as JSON. The counting itself is src/model/macs.c. */
#include "cli/commands.h"
#include "model/macs.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char usage_macs[] =
    "usage: greenops macs MODEL.onnx [--input NAME=DIMS]... [--batch N] [--json FILE]\n"
    "                    [--all-nodes | --summary] [--strict]\n"
    "\n"
    "Counts the multiply-accumulates (MACs) and parameters of an ONNX model and their ratio,\n"
    "MACs per parameter. MACs are those of Conv, ConvTranspose, Gemm and MatMul (groups and\n"
    "batch included); params are the elements of floating-point initializers and Constant\n"
    "tensors; every other operation is counted apart as other_flops. Weights are never read:\n"
    "models with external data need only their .onnx file.\n"
    "\n"
    "  --input NAME=DIMS  shape of graph input NAME, e.g. input=1x3x224x224 (repeatable); needed\n"
    "                     where the model leaves dimensions symbolic (a symbolic dimension 0\n"
    "                     counts as 1 with a warning)\n"
    "  --batch N          dimension 0 of every graph input\n"
    "  --json FILE        write the counts as JSON (- for stdout, which leaves the tables out)\n"
    "  --all-nodes        list every node, not only those with MACs, params or other_flops\n"
    "  --summary          print the per-op-type table and the totals only\n"
    "  --strict           exit with status 3 when a node could not be inferred\n"
    "\n"
    "Exit status: 0 counted (warnings name any node that could not be inferred; the totals\n"
    "then say complete: no), 1 the model cannot be read or counted, 2 bad usage, 3 incomplete\n"
    "counts with --strict.\n";

enum { OPT_INPUT = 3600, OPT_BATCH, OPT_JSON, OPT_ALL_NODES, OPT_SUMMARY, OPT_STRICT };

struct macs_args {
	const char *model, *json_path;
	struct gops_macs_input *inputs;
	size_t n_inputs;
	struct gops_macs_options opts;
	bool summary, strict;
};

static int parse_args(struct macs_args *a, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"input", required_argument, NULL, OPT_INPUT},
	    {"batch", required_argument, NULL, OPT_BATCH},
	    {"json", required_argument, NULL, OPT_JSON},
	    {"all-nodes", no_argument, NULL, OPT_ALL_NODES},
	    {"summary", no_argument, NULL, OPT_SUMMARY},
	    {"strict", no_argument, NULL, OPT_STRICT},
	    {0},
	};
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "-:", opts, NULL)) != -1) {
		char err[512], *end;
		switch (c) {
		case 1:
			if (a->model)
				return cmd_usage_error("macs", "unexpected argument '%s'", optarg);
			a->model = optarg;
			break;
		case OPT_INPUT: {
			struct gops_macs_input *in = realloc(a->inputs, (a->n_inputs + 1) * sizeof *in);
			if (!in)
				return cmd_error("macs", "out of memory");
			a->inputs = in;
			if (gops_macs_parse_input(optarg, &in[a->n_inputs], err, sizeof err))
				return cmd_usage_error("macs", "--input %s", err);
			for (size_t i = 0; i < a->n_inputs; i++)
				if (!strcmp(in[i].name, in[a->n_inputs].name))
					return cmd_usage_error("macs", "--input %s is given twice",
					                       in[i].name);
			a->n_inputs++;
			break;
		}
		case OPT_BATCH:
			errno = 0;
			a->opts.batch = strtoll(optarg, &end, 10);
			if (errno || *end || end == optarg || a->opts.batch < 1)
				return cmd_usage_error("macs", "--batch '%s' is not a positive integer",
				                       optarg);
			break;
		case OPT_JSON:
			a->json_path = optarg;
			break;
		case OPT_ALL_NODES:
			a->opts.all_nodes = true;
			break;
		case OPT_SUMMARY:
			a->summary = true;
			break;
		case OPT_STRICT:
			a->strict = true;
			break;
		case ':':
			return cmd_usage_error("macs", "option '%s' needs a value", argv[optind - 1]);
		default:
			return cmd_usage_error("macs", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (!a->model)
		return cmd_usage_error("macs", "which model? give MODEL.onnx");
	if (a->summary && a->opts.all_nodes)
		return cmd_usage_error("macs", "--summary and --all-nodes exclude each other");
	a->opts.inputs = a->inputs;
	a->opts.n_inputs = a->n_inputs;
	return 0;
}

/* 1234567 -> "1,234,567" */
static const char *grouped(int64_t v, char *buf, size_t len)
{
	char digits[32];
	snprintf(digits, sizeof digits, "%lld", (long long)(v < 0 ? -v : v));
	size_t n = strlen(digits), o = 0;
	if (v < 0 && o + 1 < len)
		buf[o++] = '-';
	for (size_t i = 0; i < n && o + 2 < len; i++) {
		buf[o++] = digits[i];
		if ((n - i - 1) % 3 == 0 && i + 1 < n)
			buf[o++] = ',';
	}
	buf[o] = 0;
	return buf;
}

/* 1814073344 -> "1.81 G" */
static const char *human(int64_t v, char *buf, size_t len)
{
	static const char *units[] = {"", " k", " M", " G", " T", " P", " E"};
	double d = (double)v;
	size_t u = 0;
	while (d >= 1000 && u + 1 < sizeof units / sizeof units[0]) {
		d /= 1000;
		u++;
	}
	snprintf(buf, len, u ? "%.2f%s" : "%.0f%s", d, units[u]);
	return buf;
}

static const char *shape_str(const struct gops_macs_layer *l, char *buf, size_t len)
{
	if (l->rank < 0)
		return snprintf(buf, len, "?"), buf;
	if (l->rank == 0)
		return snprintf(buf, len, "scalar"), buf;
	size_t o = 0;
	buf[0] = 0;
	for (int i = 0; i < l->rank && o < len; i++)
		o +=
		    (size_t)snprintf(buf + o, len - o, "%s%lld", i ? "x" : "", (long long)l->output_shape[i]);
	return buf;
}

/* Long ONNX names keep their informative tail: "..layer4.1/conv2/Conv". */
static const char *fit(const char *s, int width, char *buf, size_t len)
{
	size_t n = strlen(s);
	if ((int)n <= width)
		return s;
	snprintf(buf, len, "..%s", s + n - (size_t)(width - 2));
	return buf;
}

static void print_layers(const struct gops_macs_result *r)
{
	int w = 5;
	for (size_t i = 0; i < r->n_layers; i++) {
		int n = (int)strlen(r->layers[i].name);
		w = n > w ? n : w;
	}
	w = w > 48 ? 48 : w;
	printf("%-*s  %-18s %18s %16s %14s %14s\n", w, "layer", "op_type", "output", "MACs", "params",
	       "other_flops");
	for (size_t i = 0; i < r->n_layers; i++) {
		const struct gops_macs_layer *l = &r->layers[i];
		char nb[64], sb[96], m[32], p[32], o[32];
		if (!l->inferred) {
			printf("%-*s  %-18s %18s %16s %14s %14s\n", w, fit(l->name, w, nb, sizeof nb),
			       l->op_type, shape_str(l, sb, sizeof sb), "?", grouped(l->params, p, sizeof p),
			       "?");
			continue;
		}
		printf("%-*s  %-18s %18s %16s %14s %14s\n", w, fit(l->name, w, nb, sizeof nb), l->op_type,
		       shape_str(l, sb, sizeof sb), grouped(l->macs, m, sizeof m),
		       grouped(l->params, p, sizeof p), grouped(l->other_flops, o, sizeof o));
	}
	printf("\n");
}

static void print_tables(const char *path, const struct gops_macs_result *r, bool summary)
{
	char a[32], b[32], c[32];
	printf("model        %s (IR %lld, opset %lld%s%s)\n", path, (long long)r->ir_version,
	       (long long)r->opset, r->producer[0] ? ", " : "", r->producer);
	for (size_t i = 0; i < r->n_inputs; i++) {
		char sb[96];
		printf("input        %s %s\n", r->inputs[i].name, shape_str(&r->inputs[i], sb, sizeof sb));
	}
	printf("\n");
	if (!summary)
		print_layers(r);
	printf("%-24s %6s %18s %16s %16s\n", "op_type", "nodes", "MACs", "params", "other_flops");
	for (size_t i = 0; i < r->n_op_types; i++) {
		const struct gops_macs_op_total *t = &r->op_types[i];
		printf("%-24s %6lld %18s %16s %16s\n", t->op_type, (long long)t->nodes,
		       grouped(t->macs, a, sizeof a), grouped(t->params, b, sizeof b),
		       grouped(t->other_flops, c, sizeof c));
	}
	printf("\n");
	printf("params       %18s  (%s)\n", grouped(r->params, a, sizeof a), human(r->params, b, sizeof b));
	printf("MACs         %18s  (%s)\n", grouped(r->macs, a, sizeof a), human(r->macs, b, sizeof b));
	if (isnan(r->macs_per_param))
		printf("MACs/param   %18s\n", "-");
	else
		printf("MACs/param   %18.2f\n", r->macs_per_param);
	printf("other_flops  %18s  (%s)\n", grouped(r->other_flops, a, sizeof a),
	       human(r->other_flops, b, sizeof b));
	if (!r->complete)
		printf("complete     no: the totals leave out nodes that could not be inferred (see the "
		       "warnings)\n");
}

static json_t *shape_json(const struct gops_macs_layer *l)
{
	if (l->rank < 0)
		return json_null();
	json_t *s = json_array();
	for (int i = 0; i < l->rank; i++)
		json_array_append_new(s, json_integer(l->output_shape[i]));
	return s;
}

static json_t *result_json(const char *path, const struct macs_args *a, const struct gops_macs_result *r)
{
	json_t *o = json_object();
	json_object_set_new(o, "model", json_string(path));
	json_object_set_new(o, "ir_version", json_integer(r->ir_version));
	json_object_set_new(o, "opset", json_integer(r->opset));
	json_object_set_new(o, "producer", json_string(r->producer));
	json_object_set_new(o, "batch", a->opts.batch ? json_integer(a->opts.batch) : json_null());
	json_t *ins = json_array();
	for (size_t i = 0; i < r->n_inputs; i++)
		json_array_append_new(ins, json_pack("{s:s, s:o}", "name", r->inputs[i].name, "shape",
		                                     shape_json(&r->inputs[i])));
	json_object_set_new(o, "inputs", ins);
	json_object_set_new(o, "params", json_integer(r->params));
	json_object_set_new(o, "constant_params", json_integer(r->constant_params));
	json_object_set_new(o, "macs", json_integer(r->macs));
	json_object_set_new(o, "macs_per_param",
	                    isnan(r->macs_per_param) ? json_null() : json_real(r->macs_per_param));
	json_object_set_new(o, "other_flops", json_integer(r->other_flops));
	json_object_set_new(o, "complete", json_boolean(r->complete));
	json_t *w = json_array();
	for (size_t i = 0; i < r->n_warnings; i++)
		json_array_append_new(w, json_string(r->warnings[i]));
	json_object_set_new(o, "warnings", w);
	json_object_set_new(o, "nodes", json_integer(r->nodes));
	json_t *layers = json_array();
	for (size_t i = 0; i < r->n_layers; i++) {
		const struct gops_macs_layer *l = &r->layers[i];
		json_t *j = json_pack("{s:s, s:s, s:I, s:I, s:I, s:o, s:b}", "name", l->name, "op_type",
		                      l->op_type, "macs", (json_int_t)l->macs, "params",
		                      (json_int_t)l->params, "other_flops", (json_int_t)l->other_flops,
		                      "output_shape", shape_json(l), "inferred", l->inferred);
		if (!l->inferred) {
			json_object_set_new(j, "macs", json_null());
			json_object_set_new(j, "other_flops", json_null());
		}
		json_array_append_new(layers, j);
	}
	json_object_set_new(o, "layers", layers);
	json_t *ops = json_array();
	for (size_t i = 0; i < r->n_op_types; i++) {
		const struct gops_macs_op_total *t = &r->op_types[i];
		json_array_append_new(ops, json_pack("{s:s, s:I, s:I, s:I, s:I}", "op_type", t->op_type,
		                                     "nodes", (json_int_t)t->nodes, "macs",
		                                     (json_int_t)t->macs, "params", (json_int_t)t->params,
		                                     "other_flops", (json_int_t)t->other_flops));
	}
	json_object_set_new(o, "by_op_type", ops);
	return o;
}

static int write_json(const char *path, json_t *o)
{
	char *s = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
	if (!s)
		return cmd_error("macs", "cannot encode the counts as JSON");
	FILE *f = strcmp(path, "-") ? fopen(path, "w") : stdout;
	if (!f) {
		int e = errno;
		free(s);
		return cmd_error("macs", "cannot write '%s': %s", path, strerror(e));
	}
	fprintf(f, "%s\n", s);
	free(s);
	if (f == stdout ? fflush(f) : fclose(f))
		return cmd_error("macs", "cannot write '%s': %s", path, strerror(errno));
	return 0;
}

int cmd_macs(int argc, char **argv)
{
	struct macs_args a = {0};
	gops_macs_options_init(&a.opts);
	int status = parse_args(&a, argc, argv);
	if (status) {
		free(a.inputs);
		return status;
	}
	struct gops_macs_result r;
	char err[1024];
	if (gops_macs_count(a.model, &a.opts, &r, err, sizeof err)) {
		gops_macs_result_release(&r);
		free(a.inputs);
		return cmd_error("macs", "%s", err);
	}
	for (size_t i = 0; i < r.n_warnings; i++)
		fprintf(stderr, "greenops macs: warning: %s\n", r.warnings[i]);
	/* The JSON file first: when it cannot be written, nothing is printed as if all went well. */
	if (a.json_path) {
		json_t *o = result_json(a.model, &a, &r);
		status = write_json(a.json_path, o);
		json_decref(o);
	}
	if (!status && !(a.json_path && !strcmp(a.json_path, "-")))
		print_tables(a.model, &r, a.summary);
	if (!status && a.strict && !r.complete)
		status = 3;
	gops_macs_result_release(&r);
	free(a.inputs);
	return status;
}
