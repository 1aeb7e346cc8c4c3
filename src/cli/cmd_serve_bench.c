/* greenops serve-bench: the open-loop load generator for OpenAI-compatible LLM servers.
 * Parses options, wires the energy monitor into the sweep through lg_energy_ops, shows
 * progress, and prints the comparison table; the work itself is in src/loadgen. */
#include "cli/commands.h"
#include "cli/config.h"
#include "cli/csv.h"
#include "cli/serve_bench_db.h"
#include "cli/serve_bench_table.h"
#include "cli/monitor_opts.h"
#include "loadgen/bench.h"
#include "loadgen/dataset.h"
#include "loadgen/setup.h"
#include "meter/result_json.h"
#include "base/util.h"

#include <errno.h>
#include <inttypes.h>
#include <getopt.h>
#include <malloc.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define VERB "serve-bench"

const char usage_serve_bench[] =
    "usage: greenops serve-bench --base-url URL --model NAME --rate R[,R...]\n"
    "                            (--num-requests N | --duration S) [options]\n\n"
    "Sends requests to an OpenAI-compatible server on a schedule fixed in advance (open loop),\n"
    "streams every response, and reports latency, throughput and energy per request and per\n"
    "output token for each rate, plus where the server saturates.\n\n"
    "load:\n"
    "  --base-url URL        server root, e.g. http://127.0.0.1:8000\n"
    "  --model NAME          the model name the server expects\n"
    "  --endpoint E          completions (default) or chat\n"
    "  --rate LIST           requests/s, comma-separated for a sweep; 'inf' sends all at once;\n"
    "                        'trace' replays the dataset's timestamps\n"
    "  --burstiness B        gamma-distributed gaps of shape B (1 = Poisson, the default)\n"
    "  --arrival A           poisson (default), gamma, or constant gaps\n"
    "  --num-requests N      requests per rate, or\n"
    "  --duration S          arrivals during S seconds per rate\n"
    "  --warmup N            N more requests before each rate's counted ones (default 0)\n"
    "  --max-concurrency C   at most C requests in flight; the wait is reported as queueing\n"
    "  --cooldown S          pause between rates (default 2)\n"
    "  --seed S              seed of the schedules and synthetic prompts (default 0)\n"
    "  --timeout S           per-request timeout (default 600)\n"
    "  --http2               HTTP/2 (prior knowledge on http://)\n"
    "  --max-failures N      stop and exit 1 once more than N requests failed (default: never)\n"
    "requests:\n"
    "  --input-len I         synthetic prompt of I words (default 128)\n"
    "  --output-len O        max_tokens (default 128)\n"
    "  --len-spread F        draw both lengths from [L(1-F), L(1+F)] (default 0)\n"
    "  --dataset FILE        prompts (JSONL: \"prompt\" or \"messages\", optional \"output_len\",\n"
    "                        \"timestamp\") or ShareGPT-style conversations (JSONL or one JSON array)\n"
    "  --dataset-format F    auto (default), jsonl or sharegpt\n"
    "  --multi-turn          each conversation is a session: its turns in order, each with the\n"
    "                        history and the server's answers; --num-requests counts sessions\n"
    "  --think-time S        multi-turn: pause between an answer and the next turn (default 0)\n"
    "  --dataset-min-len N   conversations: skip prompts or answers under N estimated tokens (default 4)\n"
    "  --dataset-max-len N   conversations: skip prompt + answer over N estimated tokens (default: none)\n"
    "  --dataset-order O     conversations: shuffle (by --seed, the default) or file\n"
    "  --ignore-eos          ask the server to generate exactly max_tokens (vLLM)\n"
    "                        (OPENAI_API_KEY, when set, is sent as a bearer token)\n"
    "results:\n"
    "  --percentiles LIST    extra percentiles, e.g. 95,99.9\n"
    "  --slo LIST            goodput objectives in ms, e.g. ttft:200,tpot:50,e2el:2000\n"
    "  --json FILE           results as JSON ('-' for standard output)\n"
    "  --requests FILE.csv   one row per request (times, tokens, status, error)\n"
    "  --db PATH | --no-db   results database: the sweep, every rate and every request are stored\n"
    "energy:\n"
    "  --sources LIST        nvml, powercap, perf, hwmon, estimate (default: every sensor found)\n"
    "  --idle MODE           none | stored | measure[:SECONDS] | WATTS\n"
    "  --interval MS         sampling period (default 100)\n"
    "  --cpu-tdp W           CPU TDP for the estimator\n"
    "  --no-energy           measure no energy (a remote server, or a client benchmark)\n"
    "  --prefill-weight W    attribution: the work of a prompt token against a decoded one (default 1)\n";

enum {
	O_BASE_URL = 2000,
	O_MODEL,
	O_ENDPOINT,
	O_RATE,
	O_BURSTINESS,
	O_ARRIVAL,
	O_NUM,
	O_DURATION,
	O_WARMUP,
	O_MAXCONC,
	O_COOLDOWN,
	O_SEED,
	O_TIMEOUT,
	O_HTTP2,
	O_MAXFAIL,
	O_INLEN,
	O_OUTLEN,
	O_SPREAD,
	O_DATASET,
	O_IGNORE_EOS,
	O_PCT,
	O_SLO,
	O_JSON,
	O_REQUESTS,
	O_DB,
	O_NO_DB,
	O_NO_ENERGY,
	O_PARSER,
	O_QUIET,
	O_PREFILL_WEIGHT,
	O_DS_FORMAT,
	O_MULTI_TURN,
	O_THINK,
	O_DS_MIN,
	O_DS_MAX,
	O_DS_ORDER,
};

static const struct option longopts[] = {
    {"base-url", required_argument, NULL, O_BASE_URL},
    {"model", required_argument, NULL, O_MODEL},
    {"endpoint", required_argument, NULL, O_ENDPOINT},
    {"rate", required_argument, NULL, O_RATE},
    {"burstiness", required_argument, NULL, O_BURSTINESS},
    {"arrival", required_argument, NULL, O_ARRIVAL},
    {"num-requests", required_argument, NULL, O_NUM},
    {"duration", required_argument, NULL, O_DURATION},
    {"warmup", required_argument, NULL, O_WARMUP},
    {"max-concurrency", required_argument, NULL, O_MAXCONC},
    {"cooldown", required_argument, NULL, O_COOLDOWN},
    {"seed", required_argument, NULL, O_SEED},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"http2", no_argument, NULL, O_HTTP2},
    {"max-failures", required_argument, NULL, O_MAXFAIL},
    {"input-len", required_argument, NULL, O_INLEN},
    {"output-len", required_argument, NULL, O_OUTLEN},
    {"len-spread", required_argument, NULL, O_SPREAD},
    {"dataset", required_argument, NULL, O_DATASET},
    {"ignore-eos", no_argument, NULL, O_IGNORE_EOS},
    {"percentiles", required_argument, NULL, O_PCT},
    {"slo", required_argument, NULL, O_SLO},
    {"json", required_argument, NULL, O_JSON},
    {"requests", required_argument, NULL, O_REQUESTS},
    {"db", required_argument, NULL, O_DB},
    {"no-db", no_argument, NULL, O_NO_DB},
    {"no-energy", no_argument, NULL, O_NO_ENERGY},
    {"json-parser", required_argument, NULL, O_PARSER},
    {"quiet", no_argument, NULL, O_QUIET},
    {"prefill-weight", required_argument, NULL, O_PREFILL_WEIGHT},
    {"dataset-format", required_argument, NULL, O_DS_FORMAT},
    {"multi-turn", no_argument, NULL, O_MULTI_TURN},
    {"think-time", required_argument, NULL, O_THINK},
    {"dataset-min-len", required_argument, NULL, O_DS_MIN},
    {"dataset-max-len", required_argument, NULL, O_DS_MAX},
    {"dataset-order", required_argument, NULL, O_DS_ORDER},
    MONITOR_LONG_OPTIONS,
    {NULL, 0, NULL, 0},
};

struct sb_opts {
	const char *base_url, *model, *dataset, *json_path, *requests_path, *db_path, *rate_arg;
	struct lg_rate *rates; /* parsed --rate, owned */
	size_t n_rates;
	enum lg_endpoint endpoint;
	enum lg_arrival shape;
	double burstiness, duration_s, cooldown_s, timeout_s, spread, prefill_weight, think_s;
	size_t num_requests, warmup, max_failures;
	unsigned max_concurrency;
	unsigned long seed;
	int input_len, output_len;
	bool ignore_eos, http2, no_db, no_energy, use_jansson, quiet, burst_set, arrival_set;
	bool output_len_set, think_set;
	struct lg_dataset_opts ds;
	double pcts[LG_MAX_PCT];
	size_t npct;
	struct lg_slo slo;
	struct gops_options mon;
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static bool parse_size(const char *name, const char *arg, size_t min, size_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] == '-' || v < min) {
		cmd_usage_error(VERB, "invalid value '%s' for --%s (expected a whole number >= %zu)", arg,
		                name, min);
		return false;
	}
	*out = (size_t)v;
	return true;
}

static bool parse_pcts(const char *arg, struct sb_opts *o)
{
	char *copy = gops_xstrdup(arg), *save = NULL;
	bool ok = copy != NULL;
	o->npct = 0;
	for (char *t = ok ? strtok_r(copy, ",", &save) : NULL; t && ok; t = strtok_r(NULL, ",", &save)) {
		char *end;
		double v = strtod(t, &end);
		if (end == t || *end || !(v > 0 && v < 100) || o->npct == LG_MAX_PCT) {
			cmd_usage_error(
			    VERB, "invalid percentile '%s' in --percentiles (at most %d, each in (0, 100))",
			    t, LG_MAX_PCT);
			ok = false;
		} else {
			o->pcts[o->npct++] = v;
		}
	}
	free(copy);
	return ok;
}

static bool parse_slo(const char *arg, struct lg_slo *slo)
{
	char *copy = gops_xstrdup(arg), *save = NULL;
	bool ok = copy != NULL;
	for (char *t = ok ? strtok_r(copy, ",", &save) : NULL; t && ok; t = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(t, ':'), *end = NULL;
		double v = colon ? strtod(colon + 1, &end) : NAN;
		double *dst = NULL;
		if (colon) {
			*colon = 0;
			dst = !strcmp(t, "ttft")   ? &slo->ttft_ms
			      : !strcmp(t, "tpot") ? &slo->tpot_ms
			      : !strcmp(t, "e2el") ? &slo->e2el_ms
			                           : NULL;
		}
		if (!dst || !end || *end || !(v > 0)) {
			cmd_usage_error(VERB, "invalid --slo '%s' (expected ttft:MS,tpot:MS,e2el:MS)", arg);
			ok = false;
		} else {
			*dst = v;
		}
	}
	free(copy);
	return ok;
}

static int parse_args(int argc, char **argv, struct sb_opts *o)
{
	memset(o, 0, sizeof *o);
	o->endpoint = LG_ENDPOINT_COMPLETIONS;
	o->shape = LG_ARRIVAL_POISSON;
	o->burstiness = 1;
	o->cooldown_s = 2;
	o->timeout_s = 600;
	o->input_len = 128;
	o->prefill_weight = 1;
	o->output_len = 128;
	o->max_failures = SIZE_MAX;
	o->slo = (struct lg_slo){NAN, NAN, NAN};
	o->ds.min_len = 4; /* as vLLM's benchmark */
	o->ds.shuffle = true;
	gops_options_init(&o->mon);
	config_monitor_defaults(&o->mon, CONFIG_SOURCES | CONFIG_INTERVAL | CONFIG_IDLE | CONFIG_CPU_TDP);
	optind = 1;
	opterr = 0;
	int c;
	double v;
	size_t z;
	while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		switch (c) {
		case O_BASE_URL:
			o->base_url = optarg;
			break;
		case O_MODEL:
			o->model = optarg;
			break;
		case O_ENDPOINT:
			if (!strcmp(optarg, "completions"))
				o->endpoint = LG_ENDPOINT_COMPLETIONS;
			else if (!strcmp(optarg, "chat"))
				o->endpoint = LG_ENDPOINT_CHAT;
			else
				return cmd_usage_error(VERB, "invalid --endpoint '%s' (completions or chat)",
				                       optarg);
			break;
		case O_RATE:
			o->rate_arg = optarg;
			break;
		case O_BURSTINESS:
			if (!parse_double(VERB, "burstiness", optarg, 1e-3, 1e6, &o->burstiness))
				return 2;
			o->burst_set = true;
			break;
		case O_ARRIVAL:
			if (!strcmp(optarg, "poisson"))
				o->shape = LG_ARRIVAL_POISSON;
			else if (!strcmp(optarg, "gamma"))
				o->shape = LG_ARRIVAL_GAMMA;
			else if (!strcmp(optarg, "constant"))
				o->shape = LG_ARRIVAL_CONSTANT;
			else
				return cmd_usage_error(
				    VERB, "invalid --arrival '%s' (poisson, gamma or constant)", optarg);
			o->arrival_set = true;
			break;
		case O_NUM:
			if (!parse_size("num-requests", optarg, 1, &o->num_requests))
				return 2;
			break;
		case O_DURATION:
			if (!parse_double(VERB, "duration", optarg, 0.001, 30 * 86400, &o->duration_s))
				return 2;
			break;
		case O_WARMUP:
			if (!parse_size("warmup", optarg, 0, &o->warmup))
				return 2;
			break;
		case O_MAXCONC:
			if (!parse_size("max-concurrency", optarg, 1, &z) || z > 1000000)
				return z > 1000000 ? cmd_usage_error(VERB, "--max-concurrency is too large")
				                   : 2;
			o->max_concurrency = (unsigned)z;
			break;
		case O_COOLDOWN:
			if (!parse_double(VERB, "cooldown", optarg, 0, 3600, &o->cooldown_s))
				return 2;
			break;
		case O_SEED:
			if (!parse_size("seed", optarg, 0, &z))
				return 2;
			o->seed = (unsigned long)z;
			break;
		case O_TIMEOUT:
			if (!parse_double(VERB, "timeout", optarg, 0.001, 86400, &o->timeout_s))
				return 2;
			break;
		case O_HTTP2:
			o->http2 = true;
			break;
		case O_MAXFAIL:
			if (!parse_size("max-failures", optarg, 0, &o->max_failures))
				return 2;
			break;
		case O_INLEN:
			if (!parse_double(VERB, "input-len", optarg, 1, 1000000, &v))
				return 2;
			o->input_len = (int)v;
			break;
		case O_OUTLEN:
			if (!parse_double(VERB, "output-len", optarg, 1, 1000000, &v))
				return 2;
			o->output_len = (int)v;
			o->output_len_set = true;
			break;
		case O_SPREAD:
			if (!parse_double(VERB, "len-spread", optarg, 0, 0.99, &o->spread))
				return 2;
			break;
		case O_DATASET:
			o->dataset = optarg;
			break;
		case O_IGNORE_EOS:
			o->ignore_eos = true;
			break;
		case O_PCT:
			if (!parse_pcts(optarg, o))
				return 2;
			break;
		case O_SLO:
			if (!parse_slo(optarg, &o->slo))
				return 2;
			break;
		case O_JSON:
			o->json_path = optarg;
			break;
		case O_REQUESTS:
			o->requests_path = optarg;
			break;
		case O_DB:
			o->db_path = optarg;
			break;
		case O_NO_DB:
			o->no_db = true;
			break;
		case O_NO_ENERGY:
			o->no_energy = true;
			break;
		case O_PARSER:
			if (strcmp(optarg, "fast") && strcmp(optarg, "jansson"))
				return cmd_usage_error(VERB, "invalid --json-parser '%s' (fast or jansson)",
				                       optarg);
			o->use_jansson = !strcmp(optarg, "jansson");
			break;
		case O_QUIET:
			o->quiet = true;
			break;
		case O_PREFILL_WEIGHT:
			if (!parse_double(VERB, "prefill-weight", optarg, 1e-6, 1e6, &o->prefill_weight))
				return 2;
			break;
		case O_DS_FORMAT:
			if (!strcmp(optarg, "auto"))
				o->ds.format = LG_DS_AUTO;
			else if (!strcmp(optarg, "jsonl"))
				o->ds.format = LG_DS_JSONL;
			else if (!strcmp(optarg, "sharegpt"))
				o->ds.format = LG_DS_SHAREGPT;
			else
				return cmd_usage_error(
				    VERB, "invalid --dataset-format '%s' (auto, jsonl or sharegpt)", optarg);
			break;
		case O_MULTI_TURN:
			o->ds.multi_turn = true;
			break;
		case O_THINK:
			if (!parse_double(VERB, "think-time", optarg, 0, 3600, &o->think_s))
				return 2;
			o->think_set = true;
			break;
		case O_DS_MIN:
			if (!parse_size("dataset-min-len", optarg, 0, &z))
				return 2;
			if (z > 1000000)
				return cmd_usage_error(VERB, "--dataset-min-len is too large");
			o->ds.min_len = (int)z;
			break;
		case O_DS_MAX:
			if (!parse_size("dataset-max-len", optarg, 1, &z))
				return 2;
			if (z > 100000000)
				return cmd_usage_error(VERB, "--dataset-max-len is too large");
			o->ds.max_len = (int)z;
			break;
		case O_DS_ORDER:
			if (strcmp(optarg, "shuffle") && strcmp(optarg, "file"))
				return cmd_usage_error(VERB, "invalid --dataset-order '%s' (shuffle or file)",
				                       optarg);
			o->ds.shuffle = !strcmp(optarg, "shuffle");
			break;
		case ':':
			return cmd_usage_error(VERB, "option '%s' needs a value", argv[optind - 1]);
		case '?':
			return cmd_usage_error(VERB, "unknown option '%s'", argv[optind - 1]);
		default: {
			int r = monitor_opt(VERB, c, optarg, &o->mon);
			if (r < 0)
				return 2;
			if (r == 0)
				return cmd_usage_error(VERB, "unknown option '%s'", argv[optind - 1]);
		}
		}
	}
	if (optind < argc)
		return cmd_usage_error(VERB, "unexpected argument '%s'", argv[optind]);
	if (!o->base_url)
		return cmd_usage_error(VERB, "--base-url is required");
	if (strncmp(o->base_url, "http://", 7) && strncmp(o->base_url, "https://", 8))
		return cmd_usage_error(
		    VERB, "invalid --base-url '%s' (expected http://HOST:PORT or https://...)", o->base_url);
	if (!o->model)
		return cmd_usage_error(VERB, "--model is required");
	if (!o->rate_arg)
		return cmd_usage_error(VERB, "--rate is required (requests/s, a list, 'inf' or 'trace')");
	if (o->num_requests && o->duration_s > 0)
		return cmd_usage_error(VERB, "--num-requests and --duration exclude each other");
	if (o->db_path && o->no_db)
		return cmd_usage_error(VERB, "--db and --no-db exclude each other");
	if (o->burst_set && o->arrival_set && o->shape != LG_ARRIVAL_GAMMA && o->burstiness != 1)
		return cmd_usage_error(VERB, "--burstiness applies to gamma arrivals only");
	if (o->burst_set && !o->arrival_set && o->burstiness != 1)
		o->shape = LG_ARRIVAL_GAMMA;
	if (o->ds.multi_turn && !o->dataset)
		return cmd_usage_error(VERB, "--multi-turn needs a --dataset of conversations");
	if (o->ds.multi_turn && o->endpoint != LG_ENDPOINT_CHAT)
		return cmd_usage_error(VERB, "--multi-turn needs --endpoint chat");
	if (o->ds.multi_turn && o->ds.format == LG_DS_JSONL)
		return cmd_usage_error(VERB, "--multi-turn reads conversations, not --dataset-format jsonl");
	if (o->think_set && !o->ds.multi_turn)
		return cmd_usage_error(VERB, "--think-time applies to --multi-turn only");
	o->ds.output_len = o->output_len_set ? o->output_len : 0;
	o->ds.seed = o->seed;
	char err[256];
	if (lg_parse_rates(o->rate_arg, &o->rates, &o->n_rates, err, sizeof err))
		return cmd_usage_error(VERB, "%s", err);
	bool has_trace = false;
	for (size_t i = 0; i < o->n_rates; i++)
		has_trace |= o->rates[i].kind == LG_ARRIVAL_TRACE;
	if (has_trace && o->ds.multi_turn) {
		free(o->rates);
		o->rates = NULL;
		return cmd_usage_error(VERB,
		                       "--rate trace replays single requests, not --multi-turn sessions");
	}
	if (!o->num_requests && !(o->duration_s > 0) && !has_trace) {
		free(o->rates);
		o->rates = NULL;
		return cmd_usage_error(VERB, "--num-requests or --duration is required");
	}
	return 0;
}

/* ---- the energy seam, backed by the monitor ---- */

static int e_begin(void *ctx, const char *w, int64_t t)
{
	return gops_monitor_begin_window(ctx, w, t);
}

static int e_end(void *ctx, const char *w, int64_t t, double units)
{
	gops_monitor_add_units(ctx, w, units);
	return gops_monitor_end_window(ctx, w, t);
}

static int e_get(void *ctx, const char *w, struct lg_energy_value *out)
{
	const struct gops_result *r = gops_monitor_result(ctx);
	memset(out, 0, sizeof *out);
	for (size_t i = 0; r && i < r->n_windows; i++)
		if (!strcmp(r->windows[i].name, w)) {
			const struct gops_window_result *x = &r->windows[i];
			out->valid = !isnan(x->energy_j);
			out->energy_j = x->energy_j;
			out->dynamic_energy_j = x->dynamic_energy_j;
			out->uncertainty_j = x->uncertainty_j;
			out->duration_s = x->end_s - x->start_s;
			return out->valid ? 0 : -ENODATA;
		}
	return -ENOENT;
}

/* The summed domains' power samples, gathered once from the monitor for the attribution. */
struct power_ctx {
	gops_monitor *mon;
	struct lg_power_series *series;
	char (*names)[32];
	size_t n, *cap;
	bool loaded;
};
static struct power_ctx power_cache;

static int collect_sample(void *ctx, double t_s, const char *domain, double watts, double counter_j)
{
	(void)counter_j;
	struct power_ctx *p = ctx;
	if (isnan(watts))
		return 0;
	for (size_t i = 0; i < p->n; i++) {
		if (strcmp(p->names[i], domain))
			continue;
		struct lg_power_series *s = &p->series[i];
		if (s->n == p->cap[i]) {
			size_t c = p->cap[i] ? p->cap[i] * 2 : 1024;
			int64_t *t = realloc(s->t_ns, c * sizeof *t);
			if (t)
				s->t_ns = t;
			double *w = t ? realloc(s->watts, c * sizeof *w) : NULL;
			if (!w)
				return -ENOMEM;
			s->watts = w;
			p->cap[i] = c;
		}
		s->t_ns[s->n] = gops_monitor_result(p->mon)->start_ns + (int64_t)(t_s * 1e9);
		s->watts[s->n++] = watts;
	}
	return 0;
}

static void power_release(struct power_ctx *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->series[i].t_ns), free(p->series[i].watts);
	free(p->series), free(p->names), free(p->cap);
	memset(p, 0, sizeof *p);
}

static int e_power(void *ctx, const struct lg_power_series **out, size_t *n)
{
	struct power_ctx *p = &power_cache;
	if (!p->loaded) {
		const struct gops_result *r = gops_monitor_result(ctx);
		p->mon = ctx;
		p->loaded = true;
		size_t k = 0;
		for (size_t i = 0; r && i < r->n_domains; i++)
			k += r->domains[i].summed;
		p->series = calloc(k + 1, sizeof *p->series);
		p->names = calloc(k + 1, sizeof *p->names);
		p->cap = calloc(k + 1, sizeof *p->cap);
		if (!p->series || !p->names || !p->cap) {
			power_release(p);
			return -ENOMEM;
		}
		for (size_t i = 0; r && i < r->n_domains; i++)
			if (r->domains[i].summed)
				snprintf(p->names[p->n++], sizeof p->names[0], "%s", r->domains[i].name);
		if (gops_monitor_foreach_sample(ctx, collect_sample, p) < 0) {
			power_release(p);
			return -ENOMEM;
		}
	}
	*out = p->series;
	*n = p->n;
	return 0;
}

static const struct lg_energy_ops monitor_ops = {e_begin, e_end, e_get, e_power};

/* ---- progress and tables ---- */

struct ui {
	bool tty, quiet;
	char label[32];
	size_t printed_len;
};

static void on_progress(void *ctx, const struct lg_progress *p)
{
	struct ui *u = ctx;
	if (u->quiet)
		return;
	double rate = p->elapsed_s > 0 ? p->sent / p->elapsed_s : 0;
	if (!u->tty) {
		fprintf(stderr,
		        "serve-bench: rate=%s: %zu/%zu sent, %zu finished, %zu failed, %zu in flight, %.1f "
		        "req/s\n",
		        u->label, p->sent, p->total, p->finished, p->failed, p->in_flight, rate);
		return;
	}
	double frac = p->total ? (double)p->finished / p->total : 0;
	int width = 24, fill = (int)(frac * width + 0.5);
	char bar[32];
	for (int i = 0; i < width; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[width] = 0;
	double eta = p->planned_s - p->elapsed_s;
	char etas[32];
	if (eta > 0)
		snprintf(etas, sizeof etas, "ETA %.0fs", eta);
	else
		snprintf(etas, sizeof etas, "draining");
	char held[32] = "";
	if (p->held)
		snprintf(held, sizeof held, " held %zu", p->held);
	fprintf(stderr,
	        "\r\033[Krate=%s [%s] %3.0f%% sent %zu/%zu done %zu err %zu inflight %zu%s %.1f req/s %s",
	        u->label, bar, frac * 100, p->sent, p->total, p->finished, p->failed, p->in_flight, held,
	        rate, etas);
	fflush(stderr);
	u->printed_len = 1;
}

static void on_run_begin(void *ctx, size_t i, const struct lg_bench_run *r)
{
	struct ui *u = ctx;
	lg_rate_label(&r->rate, u->label, sizeof u->label);
}

static void clear_line(struct ui *u)
{
	if (u->tty && u->printed_len) {
		fprintf(stderr, "\r\033[K");
		u->printed_len = 0;
	}
}

static const char *fmt(char *buf, size_t len, double x, const char *f)
{
	if (isnan(x))
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, f, x);
	return buf;
}

static void on_run_end(void *ctx, size_t i, const struct lg_bench_run *r)
{
	struct ui *u = ctx;
	clear_line(u);
	if (u->quiet)
		return;
	const struct lg_summary *s = &r->sum;
	char sched[24], sent[24], ttft[24], late[24];
	/* 'inf' sends every request at once: its schedule has no rate. */
	if (r->rate.kind == LG_ARRIVAL_INF)
		snprintf(sched, sizeof sched, "all at once");
	else
		fmt(sched, sizeof sched, s->schedule_rate, "%.2f");
	fprintf(stderr,
	        "serve-bench: rate=%s: %zu completed, %zu failed in %.2f s; %.2f req/s (schedule %s, sent "
	        "at %s); TTFT p50 %s ms; lateness p99 %s ms\n",
	        u->label, s->completed, s->failed, s->duration_s, s->request_throughput, sched,
	        fmt(sent, sizeof sent, s->achieved_rate, "%.2f"),
	        fmt(ttft, sizeof ttft, s->ttft.median, "%.1f"),
	        fmt(late, sizeof late, s->lateness.p99, "%.3f"));
	for (size_t k = 0; k < s->n_reasons; k++)
		fprintf(stderr, "  failed: %zu x %s (e.g. %s)\n", s->reasons[k].count, s->reasons[k].label,
		        s->reasons[k].example);
	struct lg_turn_stat *ts;
	size_t nt;
	if (r->run.multi_turn && lg_turn_stats(&r->run, &ts, &nt) == 0 && nt) {
		fprintf(stderr, "  %zu sessions; TTFT mean by turn (ms):", ts[0].sessions);
		for (size_t k = 0; k < nt; k++)
			fprintf(stderr, " %zu: %s%s", k, fmt(ttft, sizeof ttft, ts[k].ttft.mean, "%.1f"),
			        k + 1 < nt ? "," : "\n");
		free(ts);
	}
}

/* The comparison table (shared with `greenops show`), then where the server saturates. */
static void print_table(const struct lg_bench *b, json_t *j)
{
	fputc('\n', stderr);
	serve_bench_table_print(stderr, json_object_get(j, "runs"));
	if (b->n_runs < 2)
		return;
	struct lg_saturation s;
	lg_bench_saturation(b, &s);
	if (!isnan(s.throughput_saturated_at))
		fprintf(stderr,
		        "saturation: completions fall behind arrivals from %g req/s; highest throughput %.2f "
		        "req/s\n",
		        s.throughput_saturated_at, s.max_request_throughput);
	else
		fprintf(stderr, "saturation: every rate kept up; highest throughput %.2f req/s\n",
		        s.max_request_throughput);
	if (!isnan(s.energy_floor_at))
		fprintf(stderr, "energy per request (%s) stops falling at %g req/s; lowest at %g req/s\n",
		        s.energy_from_steady ? "steady state" : "whole run", s.energy_floor_at,
		        s.energy_min_at);
	else if (!isnan(s.energy_min_at))
		fprintf(stderr, "energy per request (%s) falls across the whole sweep; lowest at %g req/s\n",
		        s.energy_from_steady ? "steady state" : "whole run", s.energy_min_at);
}

static double rel_s(int64_t t, int64_t origin)
{
	return t ? (double)(t - origin) / 1e9 : NAN;
}

/* One row per request. The first columns are those of `greenops export-csv requests`, in its
 * order and with its values (ids empty when the sweep is not stored: --no-db); then what only
 * the client knows: warmup, status, error kind, admission and start times, whether the token
 * count came from usage, chunks, and each request's attributed energy. */
static int write_requests(const char *path, const struct lg_bench *b, long long run_id,
                          const int64_t *bench_ids)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return cmd_error(VERB, "cannot write '%s': %s", path, strerror(errno));
	fprintf(f, "run_id,bench_run_id,rate,request,scheduled_s,sent_s,first_token_s,end_s,ttft_s,e2el_s,"
	           "tokens_in,tokens_out,http_status,ok,error,warmup,status,error_kind,admit_s,start_s,"
	           "usage,chunks,energy_j,prefill_energy_j,decode_energy_j,dynamic_energy_j,session,turn\n");
	for (size_t i = 0; i < b->n_runs; i++) {
		const struct lg_run *run = &b->runs[i].run;
		/* The database keeps a trace replay's rate as -1 and inf as Inf. */
		double rate = isnan(b->runs[i].rate.rate) ? -1 : b->runs[i].rate.rate;
		int64_t o = run->n > run->n_warmup ? run->rec[run->n_warmup].t_sched : 0;
		const struct lg_attribution *a = &b->runs[i].attrib;
		for (size_t k = 0; k < run->n; k++) {
			const struct lg_record *r = &run->rec[k];
			bool ok = r->status == LG_OK;
			double sched = rel_s(r->t_sched, o);
			csv_int(f, run_id, 1);
			fputc(',', f);
			csv_int(f, bench_ids ? bench_ids[i] : 0, 1);
			fputc(',', f);
			csv_real(f, rate);
			fprintf(f, ",%zu,", k);
			csv_real(f, sched);
			fputc(',', f);
			csv_real(f, rel_s(r->t_sent, o));
			fputc(',', f);
			csv_real(f, rel_s(r->t_first, o));
			fputc(',', f);
			csv_real(f, rel_s(r->t_end, o));
			fputc(',', f);
			csv_real(f, rel_s(r->t_first, o) - sched);
			fputc(',', f);
			csv_real(f, rel_s(r->t_end, o) - sched);
			fputc(',', f);
			csv_int(f, r->prompt_tokens, 0);
			fputc(',', f);
			csv_int(f, ok ? r->output_tokens : -1, 0);
			fprintf(f, ",%d,%d,", r->http_status, ok);
			csv_text(f, ok                        ? NULL
			            : r->error                ? r->error
			            : r->status == LG_PENDING ? "not sent"
			                                      : "failed");
			fprintf(f, ",%d,%s,%s,", r->warmup,
			        ok                       ? "ok"
			        : r->status == LG_FAILED ? "failed"
			                                 : "not_sent",
			        r->status == LG_FAILED ? lg_err_name((enum lg_err)r->err) : "");
			csv_real(f, rel_s(r->t_admit, o));
			fputc(',', f);
			csv_real(f, rel_s(r->t_start, o));
			fprintf(f, ",%d,%d,", r->usage, r->chunks);
			/* Attributed energy: empty, never 0, where there is none. */
			if (a->valid) {
				csv_real(f, a->energy_j[k]);
				fputc(',', f);
				csv_real(f, a->prefill_j[k]);
				fputc(',', f);
				csv_real(f, a->decode_j[k]);
				fputc(',', f);
				csv_real(f, a->dynamic_j[k]);
			} else {
				fputs(",,,", f);
			}
			/* Multi-turn: the session (its arrival in the run) and the turn in it. */
			if (run->multi_turn)
				fprintf(f, ",%" PRIu32 ",%" PRIu32 "\n", r->session, r->turn);
			else
				fputs(",,\n", f);
		}
	}
	if (fclose(f) != 0)
		return cmd_error(VERB, "cannot write '%s': %s", path, strerror(errno));
	return 0;
}

static int write_json(const char *path, json_t *j)
{
	char *text = json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
	if (!text)
		return cmd_error(VERB, "cannot encode the results as JSON");
	bool out = path[0] == '-' && !path[1];
	FILE *f = out ? stdout : fopen(path, "w");
	int rc = 0;
	if (!f || fputs(text, f) < 0 || fputc('\n', f) < 0)
		rc = -1;
	if (f && !out && fclose(f) != 0)
		rc = -1;
	free(text);
	if (rc)
		return cmd_error(VERB, "cannot write '%s': %s", path, strerror(errno));
	return 0;
}

static void prepare_process(void)
{
	/* An open-loop client at high rates holds many connections at once. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	/* libcurl allocates and frees a receive buffer per transfer at the top of the heap, and
	 * glibc gives the top back to the system once 128 KiB of it is free, so that the next
	 * transfers fault its pages in again (about 100 page faults a second at 10,000 req/s,
	 * with the client's own stores already touched before the run). Freed memory is kept. */
	mallopt(M_TRIM_THRESHOLD, 512 << 20);
	mallopt(M_TOP_PAD, 8 << 20);
}

static json_t *config_json(const struct sb_opts *o, const char *url, const struct lg_dataset *ds)
{
	json_t *c = json_pack("{s:s,s:s,s:s,s:s,s:f,s:I,s:I,s:b,s:I}", "base_url", o->base_url, "url", url,
	                      "model", o->model, "endpoint",
	                      o->endpoint == LG_ENDPOINT_CHAT ? "chat" : "completions", "burstiness",
	                      o->burstiness, "seed", (json_int_t)o->seed, "warmup", (json_int_t)o->warmup,
	                      "ignore_eos", o->ignore_eos, "max_concurrency", (json_int_t)o->max_concurrency);
	json_object_set_new(c, "rates", json_string(o->rate_arg));
	json_object_set_new(c, "num_requests",
	                    o->num_requests ? json_integer((json_int_t)o->num_requests) : json_null());
	json_object_set_new(c, "duration_s", o->duration_s > 0 ? json_real(o->duration_s) : json_null());
	json_object_set_new(c, "dataset", o->dataset ? json_string(o->dataset) : json_null());
	json_object_set_new(c, "input_len", o->dataset ? json_null() : json_integer(o->input_len));
	json_object_set_new(c, "output_len", json_integer(o->output_len));
	json_object_set_new(c, "len_spread", json_real(o->spread));
	json_object_set_new(c, "dataset_items", json_integer((json_int_t)ds->n));
	if (o->dataset) {
		json_t *d = json_object();
		json_object_set_new(d, "format", json_string(lg_ds_format_name(ds->format)));
		json_object_set_new(d, "entries", json_integer((json_int_t)ds->entries));
		json_object_set_new(d, "requests", json_integer((json_int_t)ds->n));
		json_object_set_new(d, "turns", json_integer((json_int_t)(ds->convs ? ds->n_turns : ds->n)));
		json_object_set_new(d, "skipped_short", json_integer((json_int_t)ds->skipped_short));
		json_object_set_new(d, "skipped_length", json_integer((json_int_t)ds->skipped_len));
		json_object_set_new(
		    d, "order",
		    json_string(ds->format == LG_DS_SHAREGPT && o->ds.shuffle ? "shuffled" : "file"));
		/* Where max_tokens came from: estimated lengths are labelled as such. */
		json_object_set_new(d, "output_len",
		                    json_string(ds->lengths_estimated ? "estimated: 4 characters per token"
		                                : ds->format == LG_DS_SHAREGPT ? "--output-len"
		                                                               : "file or --output-len"));
		json_object_set_new(d, "min_len", json_integer(o->ds.min_len));
		json_object_set_new(d, "max_len", o->ds.max_len ? json_integer(o->ds.max_len) : json_null());
		json_object_set_new(c, "dataset_info", d);
	}
	json_object_set_new(c, "multi_turn", json_boolean(o->ds.multi_turn));
	json_object_set_new(c, "think_time_s", o->ds.multi_turn ? json_real(o->think_s) : json_null());
	json_object_set_new(c, "http", json_string(o->http2 ? "2" : "1.1"));
	json_object_set_new(c, "cooldown_s", json_real(o->cooldown_s));
	return c;
}

/* The monitor of `greenops run`, started before the sweep; NULL (with the reason in note)
 * when nothing is to be or can be measured. */
static gops_monitor *start_monitor(struct sb_opts *o, char *note, size_t len)
{
	gops_monitor *mon = NULL;
	int rc;
	if (o->no_energy) {
		snprintf(note, len, "--no-energy");
		return NULL;
	}
	if ((rc = gops_monitor_new(&mon, &o->mon)) < 0)
		snprintf(note, len, "%s", mon ? gops_monitor_error(mon) : strerror(-rc));
	else if (gops_monitor_start(mon) < 0)
		snprintf(note, len, "%s", gops_monitor_error(mon));
	else
		return mon;
	gops_monitor_free(mon);
	fprintf(stderr, "greenops %s: warning: energy not measured (%s); energy fields are null\n", VERB,
	        note);
	return NULL;
}

/* Stops the monitor at the end of the last response and hands each run its windows' energy;
 * energy that was not measured stays null with a warning, never 0 J. */
static void collect_energy(gops_monitor *mon, struct lg_bench *bench, char *note, size_t len)
{
	if (!mon) {
		lg_bench_fill_energy(bench, NULL, NULL, note);
		return;
	}
	if (gops_monitor_stop_at(mon, bench->t_end ? bench->t_end : gops_now_ns()) < 0) {
		snprintf(note, len, "%s", gops_monitor_error(mon));
	} else if (isnan(gops_monitor_result(mon)->energy_j)) {
		const char *const *notes = NULL;
		size_t nn = gops_monitor_notes(mon, &notes);
		snprintf(note, len, "%s", nn ? notes[nn - 1] : "no energy domain was measured");
	} else {
		lg_bench_fill_energy(bench, &monitor_ops, mon, NULL);
		return;
	}
	fprintf(stderr, "greenops %s: warning: energy not measured (%s); energy fields are null\n", VERB,
	        note);
	lg_bench_fill_energy(bench, NULL, NULL, note);
}

/* Why the sweep stopped early, as the exit status says it. */
static int stop_status(const struct lg_bench *bench, const struct sb_opts *o, const char *label)
{
	if (bench->client_behind) {
		cmd_error(VERB,
		          "the client fell more than %.0f s behind its schedule at rate %s; it cannot "
		          "produce that rate on this machine (see 'client_cpu_us_per_request'); the sweep "
		          "was stopped",
		          LG_MAX_BEHIND_NS / 1e9, label);
		return 1;
	}
	if (bench->too_many_failures) {
		cmd_error(VERB, "more than %zu requests failed (%zu); the sweep was stopped", o->max_failures,
		          bench->failures);
		return 1;
	}
	if (bench->stopped) {
		fprintf(stderr, "greenops %s: interrupted; partial results written\n", VERB);
		return 130;
	}
	return 0;
}

int cmd_serve_bench(int argc, char **argv)
{
	struct sb_opts o;
	int rc = parse_args(argc, argv, &o);
	if (rc)
		return rc;
	char err[512] = "";
	struct lg_body_opts bo = {
	    .endpoint = o.endpoint, .model = o.model, .output_len = o.output_len, .ignore_eos = o.ignore_eos};
	struct lg_requests_spec rs = {
	    .dataset = o.dataset,
	    .dataset_opts = &o.ds,
	    .num_requests = o.num_requests,
	    .warmup = o.warmup,
	    .input_len = o.input_len,
	    .output_len = o.output_len,
	    .spread = o.spread,
	    .seed = o.seed,
	};
	struct lg_dataset ds;
	if (lg_requests_prepare(&ds, &rs, &bo, o.rates, o.n_rates, err, sizeof err)) {
		free(o.rates);
		return cmd_error(VERB, "%s", err);
	}
	if (o.dataset && ds.format == LG_DS_SHAREGPT && !o.quiet) {
		fprintf(stderr, "greenops %s: '%s': %zu of %zu conversations kept", VERB, o.dataset, ds.n,
		        ds.entries);
		if (ds.skipped_short || ds.skipped_len)
			fprintf(stderr,
			        " (%zu with fewer than 2 turns or no question and answer, %zu outside the "
			        "length limits)",
			        ds.skipped_short, ds.skipped_len);
		if (ds.convs)
			fprintf(stderr, "; %zu turns", ds.n_turns);
		fprintf(stderr, "%s\n",
		        ds.lengths_estimated
		            ? "; output lengths estimated from the answers (4 characters per token)"
		            : "");
	}
	char *url = lg_url_join(o.base_url, lg_endpoint_path(o.endpoint));
	prepare_process();
	struct lg_client_opts co = {
	    .url = url,
	    .api_key = getenv("OPENAI_API_KEY"),
	    .http_version = o.http2 ? 2 : 1,
	    .max_concurrency = o.max_concurrency,
	    .timeout_ms = (long)(o.timeout_s * 1000),
	    .use_jansson = o.use_jansson,
	};
	struct lg_client *client = NULL;
	gops_monitor *mon = NULL;
	struct gops_idle_value *idle_vals = NULL;
	char **idle_names = NULL;
	size_t n_idle = 0;
	struct lg_bench bench = {0};
	struct serve_bench_db sdb = {0};
	json_t *j = NULL;
	int status = 0;
	if (lg_client_new(&client, &co, err, sizeof err)) {
		status = cmd_error(VERB, "%s", err);
		goto out;
	}
	/* A wrong URL or model is a usage problem, not a benchmark result. */
	if (lg_check_server(client, &ds, url, err, sizeof err) ||
	    lg_prewarm(client, o.base_url, o.rates, o.n_rates)) {
		status = cmd_error(VERB, "%s", err[0] ? err : "out of memory");
		goto out;
	}
	char note[300] = "";
	if (!o.no_db &&
	    (serve_bench_db_begin(&sdb, o.db_path, argc, argv) < 0 ||
	     (!o.no_energy && serve_bench_load_idle(sdb.db, &o.mon, &idle_vals, &idle_names, &n_idle) < 0))) {
		status = 1;
		goto out;
	}
	mon = start_monitor(&o, note, sizeof note);
	struct ui ui = {.tty = isatty(2), .quiet = o.quiet};
	struct lg_bench_opts bopts = {
	    .rates = o.rates,
	    .n_rates = o.n_rates,
	    .shape = o.shape,
	    .burstiness = o.burstiness,
	    .num_requests = o.num_requests,
	    .duration_s = o.duration_s,
	    .warmup = o.warmup,
	    .seed = o.seed,
	    .cooldown_s = o.cooldown_s,
	    .pcts = o.pcts,
	    .npct = o.npct,
	    .slo = o.slo,
	    .max_failures = o.max_failures,
	    .ds = &ds,
	    .multi_turn = o.ds.multi_turn,
	    .think_s = o.think_s,
	    .client = client,
	    .energy = mon ? &monitor_ops : NULL,
	    .energy_ctx = mon,
	    .progress = on_progress,
	    .progress_ctx = &ui,
	    .progress_every_ns = ui.tty ? 200000000LL : 10000000000LL,
	    .run_begin = on_run_begin,
	    .run_end = on_run_end,
	    .run_ctx = &ui,
	    .stop = &stop_flag,
	    .prefill_weight = o.prefill_weight,
	};
	struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	rc = lg_bench_run(&bench, &bopts, err, sizeof err);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	clear_line(&ui);
	if (rc)
		status = cmd_error(VERB, "%s", err);
	collect_energy(mon, &bench, note, sizeof note);
	j = lg_bench_json(&bench, &bopts);
	json_object_set_new(j, "config", config_json(&o, url, &ds));
	if (bench.n_runs && !o.quiet)
		print_table(&bench, j);
	json_t *m =
	    mon && gops_monitor_result(mon) ? gops_result_json_object(gops_monitor_result(mon), 0, 0) : NULL;
	if (m)
		json_object_set_new(j, "measurement", m);
	if (o.json_path && write_json(o.json_path, j))
		status = status ? status : 1;
	/* Stored first, so that --requests can carry the ids the database gave. */
	long long run_id = 0;
	int64_t *bench_ids = bench.n_runs ? calloc(bench.n_runs, sizeof *bench_ids) : NULL;
	if (sdb.db) {
		run_id = serve_bench_db_finish(&sdb, &bench, j, mon, status, bench_ids);
		if (run_id < 0)
			status = status ? status : 1;
		else if (bench.n_runs && !o.quiet)
			fprintf(stderr,
			        "greenops %s: stored as run %lld ('greenops show %lld', 'greenops export-csv "
			        "requests --run %lld')\n",
			        VERB, run_id, run_id, run_id);
	}
	if (o.requests_path && write_requests(o.requests_path, &bench, run_id, run_id > 0 ? bench_ids : NULL))
		status = status ? status : 1;
	free(bench_ids);
	int stop = stop_status(&bench, &o, ui.label);
	status = status ? status : stop;
out:
	if (sdb.db) /* stopped before the sweep began */
		serve_bench_db_finish(&sdb, &bench, NULL, NULL, status, NULL);
	json_decref(j);
	power_release(&power_cache);
	serve_bench_idle_release(idle_vals, idle_names, n_idle);
	lg_bench_release(&bench);
	gops_monitor_free(mon);
	lg_client_free(client);
	lg_dataset_release(&ds);
	free(url);
	free(o.rates);
	return status;
}
