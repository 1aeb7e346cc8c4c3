/* The sweep behind `greenops serve-bench`: schedules, runs, windows, saturation and JSON.
 * Energy windows are marked through lg_energy_ops only; nothing here knows the monitor. */
#include "loadgen/bench.h"

#include "base/util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A rate keeps up when, inside its steady window, completions are at least this share of
 * the arrivals; energy per request still falls while each rate lowers it by at least
 * ENERGY_STEP relative to the rate before (see docs/SERVE_BENCH.md). */
#define KEEP_UP 0.9
/* ... and when its queueing delay does not grow, over the arrival period, by more than this
 * share of the time (the growth a 90% completion rate gives: 1/0.9 - 1 = 0.11 s per s) and
 * by more than TTFT_NOISE_MS, what a busy client machine's scheduling alone can shift a
 * median by. */
#define TTFT_GROWTH           0.1
#define TTFT_NOISE_MS         50.0
#define ENERGY_STEP           0.02
#define MAX_DURATION_REQUESTS 50000000

int lg_parse_rates(const char *arg, struct lg_rate **out, size_t *n, char *err, size_t errlen)
{
	*out = NULL;
	*n = 0;
	char *copy = gops_xstrdup(arg), *save = NULL;
	size_t cap = 0;
	struct lg_rate *v = NULL;
	int rc = 0;
	if (!copy)
		return -ENOMEM;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		struct lg_rate r = {.kind = LG_ARRIVAL_POISSON};
		char *end;
		if (!strcmp(tok, "inf")) {
			r.kind = LG_ARRIVAL_INF, r.rate = INFINITY;
		} else if (!strcmp(tok, "trace")) {
			r.kind = LG_ARRIVAL_TRACE, r.rate = NAN;
		} else {
			errno = 0;
			r.rate = strtod(tok, &end);
			if (errno || end == tok || *end || !(r.rate > 0) || !isfinite(r.rate)) {
				snprintf(
				    err, errlen,
				    "invalid rate '%s': a positive number of requests/s, 'inf' or 'trace'",
				    tok);
				rc = -EINVAL;
				break;
			}
		}
		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			struct lg_rate *p = realloc(v, cap * sizeof *p);
			if (!p) {
				rc = -ENOMEM;
				break;
			}
			v = p;
		}
		v[(*n)++] = r;
	}
	free(copy);
	if (rc == 0 && *n == 0) {
		snprintf(err, errlen, "--rate needs at least one rate");
		rc = -EINVAL;
	}
	if (rc) {
		free(v);
		*n = 0;
		return rc;
	}
	*out = v;
	return 0;
}

void lg_rate_label(const struct lg_rate *r, char *buf, size_t len)
{
	if (r->kind == LG_ARRIVAL_INF)
		snprintf(buf, len, "inf");
	else if (r->kind == LG_ARRIVAL_TRACE)
		snprintf(buf, len, "trace");
	else
		snprintf(buf, len, "%g", r->rate);
}

/* The schedule of one run: warmup arrivals first, then the counted ones. In duration mode
 * the warmup arrivals come from the same process before the counted span. */
static int build_schedule(const struct lg_bench_opts *o, const struct lg_rate *rate, double *trace,
                          int64_t **offs, size_t *n, char *err, size_t errlen)
{
	struct lg_schedule_spec sp = {
	    .kind = rate->kind == LG_ARRIVAL_POISSON ? o->shape : rate->kind,
	    .rate = rate->rate,
	    .burstiness = o->burstiness,
	    .seed = o->seed,
	    .max_n = MAX_DURATION_REQUESTS,
	};
	if (sp.kind == LG_ARRIVAL_TRACE) {
		for (size_t i = 0; i < o->ds->n; i++)
			trace[i] = o->ds->items[i].timestamp;
		sp.trace_s = trace;
		sp.n_trace = o->ds->n;
	}
	bool by_duration = !o->num_requests && o->duration_s > 0;
	if (!by_duration || sp.kind == LG_ARRIVAL_TRACE) {
		sp.n = o->num_requests ? o->num_requests + o->warmup : 0;
		if (!sp.n && by_duration)
			sp.duration_s = o->duration_s;
		else if (!sp.n && sp.kind == LG_ARRIVAL_TRACE)
			sp.n = o->ds->n;
		if (!sp.n && !by_duration) {
			snprintf(err, errlen, "a run needs --num-requests or --duration");
			return -EINVAL;
		}
		int rc = lg_schedule_build(&sp, offs, n, err, errlen);
		if (rc == 0 && *n <= o->warmup) {
			snprintf(err, errlen, "the schedule has %zu arrivals, not more than --warmup %zu", *n,
			         o->warmup);
			free(*offs);
			*offs = NULL;
			return -EINVAL;
		}
		return rc;
	}
	sp.duration_s = o->duration_s;
	int64_t *main = NULL, *warm = NULL;
	size_t nm = 0, nw = 0;
	int rc = lg_schedule_build(&sp, &main, &nm, err, errlen);
	if (rc)
		return rc;
	if (o->warmup) {
		struct lg_schedule_spec wsp = sp;
		wsp.n = o->warmup + 1;
		wsp.duration_s = 0;
		wsp.seed = o->seed + 1;
		if ((rc = lg_schedule_build(&wsp, &warm, &nw, err, errlen))) {
			free(main);
			return rc;
		}
	}
	int64_t *v = malloc((nm + o->warmup) * sizeof *v);
	if (!v) {
		free(main), free(warm);
		return -ENOMEM;
	}
	int64_t shift = o->warmup ? warm[o->warmup] : 0;
	for (size_t i = 0; i < o->warmup; i++)
		v[i] = warm[i];
	for (size_t i = 0; i < nm; i++)
		v[o->warmup + i] = main[i] + shift;
	free(main), free(warm);
	*offs = v;
	*n = nm + o->warmup;
	return 0;
}

struct mark_ctx {
	const struct lg_bench_opts *o;
	struct lg_bench_run *r;
};

static void on_mark(void *ctx, enum lg_mark m, int64_t t)
{
	struct mark_ctx *mc = ctx;
	const struct lg_energy_ops *e = mc->o->energy;
	if (!e)
		return;
	/* Ends are marked after the run, when the units inside each window are known. */
	if (m == LG_MARK_START)
		e->begin(mc->o->energy_ctx, mc->r->window, t);
	else if (m == LG_MARK_STEADY_BEGIN)
		e->begin(mc->o->energy_ctx, mc->r->steady_window, t);
}

static void name_windows(struct lg_bench *b, struct lg_bench_run *r)
{
	char label[32];
	lg_rate_label(&r->rate, label, sizeof label);
	size_t same = 0;
	for (struct lg_bench_run *p = b->runs; p < r; p++)
		same += p->rate.kind == r->rate.kind &&
		        (p->rate.rate == r->rate.rate || (isnan(p->rate.rate) && isnan(r->rate.rate)));
	if (same)
		snprintf(r->window, sizeof r->window, "rate=%s#%zu", label, same + 1);
	else
		snprintf(r->window, sizeof r->window, "rate=%s", label);
	snprintf(r->steady_window, sizeof r->steady_window, "%s:steady", r->window);
}

static void finish_run(struct lg_bench_run *r)
{
	const struct lg_run *run = &r->run;
	r->steady_arrivals = 0;
	if (run->steady_begin && run->steady_end > run->steady_begin)
		for (size_t i = run->n_warmup; i < run->n; i++)
			r->steady_arrivals += run->rec[i].t_sched >= run->steady_begin &&
			                      run->rec[i].t_sched <= run->steady_end;
	const struct lg_summary *s = &r->sum;
	if (s->steady_valid && r->steady_arrivals >= 5)
		r->keeps_up = s->steady_completed >= KEEP_UP * r->steady_arrivals;
	else
		r->keeps_up = s->failed == 0 && s->not_sent == 0;
	r->queue_grows = !isnan(s->ttft_growth_ms_per_s) && s->ttft_growth_ms_per_s > TTFT_GROWTH * 1000 &&
	                 s->ttft_last_quarter_ms - s->ttft_first_quarter_ms > TTFT_NOISE_MS;
	if (r->queue_grows)
		r->keeps_up = false;
}

int lg_bench_run(struct lg_bench *b, const struct lg_bench_opts *o, char *err, size_t errlen)
{
	memset(b, 0, sizeof *b);
	if (errlen)
		err[0] = 0;
	b->runs = calloc(o->n_rates, sizeof *b->runs);
	double *trace = calloc(o->ds->n + 1, sizeof *trace);
	if (!b->runs || !trace) {
		free(trace);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	int rc = 0;
	b->prefill_weight = o->prefill_weight > 0 ? o->prefill_weight : 1;
	for (size_t i = 0; i < o->n_rates; i++) {
		if (i && o->cooldown_s > 0) {
			int64_t until = gops_now_ns() + (int64_t)(o->cooldown_s * 1e9);
			while (gops_now_ns() < until && !(o->stop && *o->stop)) {
				int64_t step = gops_now_ns() + 100000000;
				gops_sleep_until(step < until ? step : until);
			}
		}
		if (o->stop && *o->stop) {
			b->stopped = true;
			break;
		}
		struct lg_bench_run *r = &b->runs[b->n_runs];
		r->rate = o->rates[i];
		name_windows(b, r);
		int64_t *offs = NULL;
		size_t n = 0;
		if ((rc = build_schedule(o, &r->rate, trace, &offs, &n, err, errlen)))
			break;
		struct mark_ctx mc = {.o = o, .r = r};
		struct lg_run_spec spec = {
		    .offsets = offs,
		    .n = n,
		    .n_warmup = o->warmup,
		    .ds = o->ds,
		    .progress = o->progress,
		    .progress_ctx = o->progress_ctx,
		    .progress_every_ns = o->progress_every_ns,
		    .mark = on_mark,
		    .mark_ctx = &mc,
		    .stop = o->stop,
		    .multi_turn = o->multi_turn,
		    .think_ns = (int64_t)(o->think_s * 1e9),
		    .failures_allowed =
		        o->max_failures == SIZE_MAX ? SIZE_MAX : o->max_failures - b->failures,
		};
		if (o->run_begin)
			o->run_begin(o->run_ctx, i, r);
		rc = lg_client_run(o->client, &spec, &r->run, err, errlen);
		free(offs);
		if (rc)
			break;
		b->n_runs++;
		if ((rc = lg_summarize(&r->run, o->pcts, o->npct, &o->slo, &r->sum))) {
			snprintf(err, errlen, "out of memory");
			break;
		}
		finish_run(r);
		const struct lg_run *run = &r->run;
		int64_t end = run->rec[run->n_warmup].t_sched + (int64_t)(r->sum.duration_s * 1e9);
		if (o->energy && run->n) {
			if (r->sum.steady_valid)
				o->energy->end(o->energy_ctx, r->steady_window, run->steady_end,
				               (double)r->sum.steady_completed);
			if (run->rec[run->n_warmup].t_start)
				o->energy->end(o->energy_ctx, r->window, isnan(r->sum.duration_s) ? 0 : end,
				               (double)r->sum.completed);
		}
		if (!isnan(r->sum.duration_s) && end > b->t_end)
			b->t_end = end;
		b->failures += r->sum.failed;
		if (o->run_end)
			o->run_end(o->run_ctx, i, r);
		if (run->client_behind) {
			b->client_behind = true;
			break;
		}
		if (run->too_many_failures) {
			b->too_many_failures = true;
			break;
		}
		if (run->stopped) {
			b->stopped = true;
			break;
		}
	}
	free(trace);
	if (b->n_runs && !b->t_end)
		b->t_end = gops_now_ns();
	if (rc && errlen && !err[0]) { /* an allocation deep in the client or the schedule */
		char label[32];
		lg_rate_label(&b->runs[b->n_runs].rate, label, sizeof label);
		snprintf(err, errlen, "cannot keep the requests of rate %s: %s", label, strerror(-rc));
	}
	return rc;
}

void lg_bench_fill_energy(struct lg_bench *b, const struct lg_energy_ops *ops, void *ctx, const char *note)
{
	snprintf(b->energy_note, sizeof b->energy_note, "%s", note ? note : "");
	b->energy_filled = ops != NULL;
	for (size_t i = 0; i < b->n_runs && ops; i++) {
		struct lg_bench_run *r = &b->runs[i];
		if (ops->get(ctx, r->window, &r->energy))
			r->energy.valid = false;
		if (!r->sum.steady_valid || ops->get(ctx, r->steady_window, &r->steady_energy))
			r->steady_energy.valid = false;
	}
	const struct lg_power_series *power = NULL;
	size_t n_power = 0;
	if (ops && ops->power && ops->power(ctx, &power, &n_power))
		power = NULL, n_power = 0;
	for (size_t i = 0; i < b->n_runs && ops; i++) {
		struct lg_bench_run *r = &b->runs[i];
		const struct lg_run *run = &r->run;
		if (!r->energy.valid || !run->n || isnan(r->sum.duration_s))
			continue;
		int64_t t0 = run->rec[run->n_warmup].t_sched;
		struct lg_attrib_spec as = {
		    .t0 = t0,
		    .t1 = t0 + (int64_t)(r->sum.duration_s * 1e9),
		    .energy_j = r->energy.energy_j,
		    .dynamic_energy_j = r->energy.dynamic_energy_j,
		    .power = power,
		    .n_power = n_power,
		    .prefill_weight = b->prefill_weight,
		};
		lg_attribute(run, &r->sum, &as, &r->attrib); /* invalid when it cannot be done */
	}
}

static double per(double x, double n)
{
	return n > 0 && !isnan(x) ? x / n : NAN;
}

double lg_run_energy_per_request(const struct lg_bench_run *r, bool steady, bool dynamic)
{
	const struct lg_energy_value *e = steady ? &r->steady_energy : &r->energy;
	if (!e->valid)
		return NAN;
	double n = steady ? (double)r->sum.steady_completed : (double)r->sum.completed;
	return per(dynamic ? e->dynamic_energy_j : e->energy_j, n);
}

double lg_run_energy_per_token(const struct lg_bench_run *r, bool steady, bool dynamic)
{
	const struct lg_energy_value *e = steady ? &r->steady_energy : &r->energy;
	if (!e->valid)
		return NAN;
	double n = steady ? r->sum.steady_output_tokens : (double)r->sum.total_output_tokens;
	return per(dynamic ? e->dynamic_energy_j : e->energy_j, n);
}

void lg_bench_saturation(const struct lg_bench *b, struct lg_saturation *s)
{
	s->throughput_saturated_at = s->max_request_throughput = s->max_throughput_rate = NAN;
	s->energy_floor_at = s->energy_min_at = NAN;
	/* Finite rates in increasing order (a sweep may list them in any order). */
	const struct lg_bench_run *v[256];
	size_t n = 0;
	for (size_t i = 0; i < b->n_runs && n < 256; i++)
		if (b->runs[i].rate.kind == LG_ARRIVAL_POISSON)
			v[n++] = &b->runs[i];
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && v[j - 1]->rate.rate > v[j]->rate.rate; j--) {
			const struct lg_bench_run *t = v[j];
			v[j] = v[j - 1], v[j - 1] = t;
		}
	for (size_t i = 0; i < b->n_runs; i++) {
		double x = b->runs[i].sum.request_throughput;
		if (!isnan(x) && (isnan(s->max_request_throughput) || x > s->max_request_throughput)) {
			s->max_request_throughput = x;
			s->max_throughput_rate = b->runs[i].rate.rate;
		}
	}
	for (size_t i = 0; i < n; i++)
		if (!v[i]->keeps_up) {
			s->throughput_saturated_at = v[i]->rate.rate;
			break;
		}
	bool steady = n > 0;
	for (size_t i = 0; i < n; i++)
		steady = steady && !isnan(lg_run_energy_per_request(v[i], true, false));
	s->energy_from_steady = steady;
	double prev = NAN, best = NAN;
	for (size_t i = 0; i < n; i++) {
		double e = lg_run_energy_per_request(v[i], steady, false);
		if (isnan(e))
			continue;
		if (isnan(best) || e < best)
			best = e, s->energy_min_at = v[i]->rate.rate;
		if (!isnan(prev) && isnan(s->energy_floor_at) && e > prev * (1 - ENERGY_STEP))
			s->energy_floor_at = v[i]->rate.rate;
		prev = e;
	}
}

static json_t *num(double x)
{
	return isnan(x) || isinf(x) ? json_null() : json_real(x);
}

static json_t *dist_json(const struct lg_dist *d, const struct lg_bench_opts *o)
{
	json_t *j = json_pack("{s:o,s:o,s:o,s:o,s:I}", "mean", num(d->mean), "median", num(d->median), "p90",
	                      num(d->p90), "p99", num(d->p99), "n", (json_int_t)d->n);
	for (size_t i = 0; i < o->npct && i < LG_MAX_PCT; i++) {
		char key[32];
		snprintf(key, sizeof key, "p%g", o->pcts[i]);
		json_object_set_new(j, key, num(d->pct[i]));
	}
	return j;
}

static json_t *rate_json(const struct lg_rate *r)
{
	if (r->kind == LG_ARRIVAL_INF)
		return json_string("inf");
	if (r->kind == LG_ARRIVAL_TRACE)
		return json_string("trace");
	return json_real(r->rate);
}

static json_t *energy_json(const struct lg_bench_run *r, bool steady, json_t *into)
{
	const struct lg_energy_value *e = steady ? &r->steady_energy : &r->energy;
	json_object_set_new(into, "energy_j", e->valid ? num(e->energy_j) : json_null());
	json_object_set_new(into, "dynamic_energy_j", e->valid ? num(e->dynamic_energy_j) : json_null());
	json_object_set_new(into, "energy_uncertainty_j", e->valid ? num(e->uncertainty_j) : json_null());
	json_object_set_new(into, "energy_per_request_j", num(lg_run_energy_per_request(r, steady, false)));
	json_object_set_new(into, "energy_per_output_token_j",
	                    num(lg_run_energy_per_token(r, steady, false)));
	json_object_set_new(into, "dynamic_energy_per_request_j",
	                    num(lg_run_energy_per_request(r, steady, true)));
	json_object_set_new(into, "dynamic_energy_per_output_token_j",
	                    num(lg_run_energy_per_token(r, steady, true)));
	return into;
}

/* The attribution's figures (null without energy): labelled "attributed", never measured. */
static void attrib_json(const struct lg_bench_run *r, const struct lg_bench_opts *o, json_t *j)
{
	const struct lg_attribution *a = &r->attrib;
	struct lg_bench_opts plain = *o;
	plain.npct = 0;
	bool ok = a->valid;
	json_object_set_new(j, "attributed_energy_j", ok ? dist_json(&a->dist, &plain) : json_null());
	json_object_set_new(j, "prefill_energy_j", ok ? num(a->prefill_total_j) : json_null());
	json_object_set_new(j, "decode_energy_j", ok ? num(a->decode_total_j) : json_null());
	json_object_set_new(j, "unattributed_energy_j", ok ? num(a->unattributed_j) : json_null());
	if (!ok) {
		json_object_set_new(j, "attribution", json_null());
		return;
	}
	bool dyn = !isnan(a->idle_j);
	json_t *x = json_object();
	json_object_set_new(x, "label", json_string("attributed"));
	json_object_set_new(x, "power", json_string(a->power_shape ? "timeline" : "constant"));
	json_object_set_new(x, "prefill_weight", num(o->prefill_weight > 0 ? o->prefill_weight : 1));
	json_object_set_new(x, "prefill_step_s", num(a->step_s));
	json_object_set_new(x, "warmup_energy_j", num(a->warmup_j));
	json_object_set_new(x, "prefill_energy_per_input_token_j", num(a->prefill_per_input_token_j));
	json_object_set_new(x, "decode_energy_per_output_token_j", num(a->decode_per_output_token_j));
	json_object_set_new(x, "idle_energy_j", dyn ? num(a->idle_j) : json_null());
	json_object_set_new(x, "attributed_dynamic_energy_j",
	                    dyn ? dist_json(&a->dynamic_dist, &plain) : json_null());
	json_object_set_new(x, "prefill_dynamic_energy_j", dyn ? num(a->dynamic_prefill_j) : json_null());
	json_object_set_new(x, "decode_dynamic_energy_j", dyn ? num(a->dynamic_decode_j) : json_null());
	json_object_set_new(x, "unattributed_dynamic_energy_j",
	                    dyn ? num(a->dynamic_unattributed_j) : json_null());
	json_object_set_new(j, "attribution", x);
}

/* Multi-turn: the sessions, and latency by turn index. */
static void turns_json(const struct lg_bench_run *r, json_t *j)
{
	struct lg_turn_stat *ts;
	size_t n;
	json_t *a = json_array();
	if (lg_turn_stats(&r->run, &ts, &n) == 0) {
		json_object_set_new(j, "sessions", json_integer(n ? (json_int_t)ts[0].sessions : 0));
		for (size_t k = 0; k < n; k++)
			json_array_append_new(
			    a,
			    json_pack("{s:I,s:I,s:I,s:I,s:I,s:o,s:o,s:o,s:o,s:o}", "turn", (json_int_t)k,
			              "sessions", (json_int_t)ts[k].sessions, "sent", (json_int_t)ts[k].sent,
			              "completed", (json_int_t)ts[k].completed, "failed",
			              (json_int_t)ts[k].failed, "ttft_ms_mean", num(ts[k].ttft.mean),
			              "ttft_ms_median", num(ts[k].ttft.median), "e2el_ms_mean",
			              num(ts[k].e2el.mean), "e2el_ms_median", num(ts[k].e2el.median),
			              "prompt_tokens_mean", num(ts[k].prompt_tokens_mean)));
		free(ts);
	}
	json_object_set_new(j, "turns", a);
}

static json_t *run_json(const struct lg_bench_run *r, const struct lg_bench_opts *o)
{
	const struct lg_summary *s = &r->sum;
	json_t *j = json_object();
	json_object_set_new(j, "rate", rate_json(&r->rate));
	json_object_set_new(j, "window", json_string(r->window));
	json_object_set_new(
	    j, "arrival",
	    json_string(lg_arrival_name(r->rate.kind == LG_ARRIVAL_POISSON ? o->shape : r->rate.kind)));
	json_object_set_new(j, "num_requests", json_integer((json_int_t)s->num_requests));
	json_object_set_new(j, "warmup", json_integer((json_int_t)r->run.n_warmup));
	json_object_set_new(j, "completed", json_integer((json_int_t)s->completed));
	json_object_set_new(j, "failed", json_integer((json_int_t)s->failed));
	json_object_set_new(j, "not_sent", json_integer((json_int_t)s->not_sent));
	json_t *errs = json_object(), *examples = json_object();
	for (size_t i = 0; i < s->n_reasons; i++) {
		json_object_set_new(errs, s->reasons[i].label, json_integer((json_int_t)s->reasons[i].count));
		json_object_set_new(examples, s->reasons[i].label, json_string(s->reasons[i].example));
	}
	json_object_set_new(j, "errors", errs);
	json_object_set_new(j, "error_examples", examples);
	json_object_set_new(j, "duration_s", num(s->duration_s));
	json_object_set_new(j, "target_rate",
	                    r->rate.kind == LG_ARRIVAL_POISSON ? json_real(r->rate.rate) : json_null());
	json_object_set_new(j, "schedule_rate", num(s->schedule_rate));
	json_object_set_new(j, "achieved_rate", num(s->achieved_rate));
	json_object_set_new(j, "request_throughput", num(s->request_throughput));
	json_object_set_new(j, "output_token_throughput", num(s->output_token_throughput));
	json_object_set_new(j, "total_input_tokens",
	                    s->total_input_tokens >= 0 ? json_integer(s->total_input_tokens) : json_null());
	json_object_set_new(j, "total_output_tokens", json_integer(s->total_output_tokens));
	json_object_set_new(j, "output_tokens_approximate", json_boolean(s->output_tokens_approximate));
	json_object_set_new(j, "ttft_ms", dist_json(&s->ttft, o));
	json_object_set_new(j, "tpot_ms", dist_json(&s->tpot, o));
	json_object_set_new(j, "itl_ms", dist_json(&s->itl, o));
	json_object_set_new(j, "e2el_ms", dist_json(&s->e2el, o));
	json_object_set_new(j, "queue_ms", dist_json(&s->queue, o));
	json_object_set_new(j, "lateness_ms", dist_json(&s->lateness, o));
	if (s->slo_set) {
		json_object_set_new(j, "good_requests", json_integer((json_int_t)s->good));
		json_object_set_new(j, "goodput", num(s->goodput));
		json_object_set_new(j, "slo_attainment", num(s->slo_attainment));
	}
	json_object_set_new(j, "keeps_up", json_boolean(r->keeps_up));
	json_object_set_new(j, "queueing",
	                    json_pack("{s:o,s:o,s:o,s:b}", "ttft_first_quarter_ms",
	                              num(s->ttft_first_quarter_ms), "ttft_last_quarter_ms",
	                              num(s->ttft_last_quarter_ms), "ttft_growth_ms_per_s",
	                              num(s->ttft_growth_ms_per_s), "grows", r->queue_grows));
	json_object_set_new(j, "client_fell_behind", json_boolean(r->run.client_behind));
	json_object_set_new(j, "reads_per_response", num(s->reads_per_response));
	json_object_set_new(j, "connections_opened", json_integer((json_int_t)s->connections_opened));
	json_object_set_new(j, "client_cpu_s", num(s->cpu_s));
	json_object_set_new(j, "client_cpu_us_per_request", num(s->cpu_us_per_request));
	json_object_set_new(j, "client_spin_s", num(s->spin_s));
	json_object_set_new(j, "client_busy_us_per_request", num(s->busy_us_per_request));
	if (r->run.multi_turn)
		turns_json(r, j);
	energy_json(r, false, j);
	attrib_json(r, o, j);
	if (s->steady_valid) {
		json_t *st = json_object();
		json_object_set_new(st, "window", json_string(r->steady_window));
		json_object_set_new(st, "start_s", num(s->steady_begin_s));
		json_object_set_new(st, "end_s", num(s->steady_end_s));
		json_object_set_new(st, "duration_s", num(s->steady_end_s - s->steady_begin_s));
		json_object_set_new(st, "arrivals", json_integer((json_int_t)r->steady_arrivals));
		json_object_set_new(st, "completed", json_integer((json_int_t)s->steady_completed));
		json_object_set_new(
		    st, "completion_ratio",
		    num(r->steady_arrivals ? (double)s->steady_completed / r->steady_arrivals : NAN));
		json_object_set_new(st, "output_tokens", num(s->steady_output_tokens));
		energy_json(r, true, st);
		json_object_set_new(j, "steady_state", st);
	} else {
		json_object_set_new(j, "steady_state", json_null());
	}
	return j;
}

json_t *lg_bench_json(const struct lg_bench *b, const struct lg_bench_opts *o)
{
	json_t *runs = json_array();
	for (size_t i = 0; i < b->n_runs; i++)
		json_array_append_new(runs, run_json(&b->runs[i], o));
	struct lg_saturation s;
	lg_bench_saturation(b, &s);
	json_t *sat = json_object();
	json_object_set_new(sat, "throughput_saturated_at_rate", num(s.throughput_saturated_at));
	json_object_set_new(sat, "max_request_throughput", num(s.max_request_throughput));
	json_object_set_new(sat, "max_request_throughput_at_rate", num(s.max_throughput_rate));
	json_object_set_new(sat, "energy_per_request_stops_falling_at_rate", num(s.energy_floor_at));
	json_object_set_new(sat, "energy_per_request_lowest_at_rate", num(s.energy_min_at));
	json_object_set_new(sat, "energy_basis", json_string(s.energy_from_steady ? "steady_state" : "run"));
	json_t *j = json_object();
	json_object_set_new(j, "runs", runs);
	json_object_set_new(j, "saturation", sat);
	json_object_set_new(j, "failures", json_integer((json_int_t)b->failures));
	json_object_set_new(j, "max_failures_exceeded", json_boolean(b->too_many_failures));
	json_object_set_new(j, "client_fell_behind", json_boolean(b->client_behind));
	json_object_set_new(j, "interrupted", json_boolean(b->stopped));
	json_object_set_new(j, "energy_note", b->energy_note[0] ? json_string(b->energy_note) : json_null());
	return j;
}

void lg_bench_release(struct lg_bench *b)
{
	for (size_t i = 0; i < b->n_runs; i++) {
		lg_run_release(&b->runs[i].run);
		lg_attribution_release(&b->runs[i].attrib);
	}
	free(b->runs);
	memset(b, 0, sizeof *b);
}
