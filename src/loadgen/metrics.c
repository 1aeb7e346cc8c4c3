/* Metrics of one serve-bench run, computed after the run from its records so that nothing
 * but timestamps is taken while requests are in flight. */
#include "loadgen/metrics.h"

#include <errno.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lg_dist_compute(struct lg_dist *d, double *v, size_t n, const double *pcts, size_t npct)
{
	d->n = n;
	if (n == 0) {
		d->mean = d->median = d->p90 = d->p99 = NAN;
		for (size_t i = 0; i < LG_MAX_PCT; i++)
			d->pct[i] = NAN;
		return;
	}
	gsl_sort(v, 1, n);
	d->mean = gsl_stats_mean(v, 1, n);
	d->median = gsl_stats_quantile_from_sorted_data(v, 1, n, 0.5);
	d->p90 = gsl_stats_quantile_from_sorted_data(v, 1, n, 0.9);
	d->p99 = gsl_stats_quantile_from_sorted_data(v, 1, n, 0.99);
	for (size_t i = 0; i < LG_MAX_PCT; i++)
		d->pct[i] = i < npct ? gsl_stats_quantile_from_sorted_data(v, 1, n, pcts[i] / 100) : NAN;
}

static void add_reason(struct lg_summary *s, const struct lg_record *r)
{
	char label[48];
	if (r->err == LG_ERR_HTTP)
		snprintf(label, sizeof label, "http %d", r->http_status);
	else
		snprintf(label, sizeof label, "%s", lg_err_name((enum lg_err)r->err));
	for (size_t i = 0; i < s->n_reasons; i++)
		if (!strcmp(s->reasons[i].label, label)) {
			s->reasons[i].count++;
			return;
		}
	size_t i = s->n_reasons < LG_MAX_REASONS ? s->n_reasons++ : LG_MAX_REASONS - 1;
	struct lg_reason *x = &s->reasons[i];
	if (i == LG_MAX_REASONS - 1 && x->count) {
		snprintf(x->label, sizeof x->label, "other");
		x->count++;
		return;
	}
	x->err = (enum lg_err)r->err;
	snprintf(x->label, sizeof x->label, "%s", label);
	snprintf(x->example, sizeof x->example, "%s", r->error ? r->error : "");
	x->count = 1;
}

#define MS(ns) ((double)(ns) / 1e6)

/* Tokens of one response streamed inside [b, e]: its chunks' times rebuilt from the first
 * token and the gaps, each chunk carrying an equal share of the response's tokens. */
static double tokens_inside(const struct lg_run *run, const struct lg_record *r, int64_t b, int64_t e)
{
	if (r->chunks <= 0 || r->t_first == 0)
		return 0;
	double per = (double)r->output_tokens / r->chunks, sum = 0;
	int64_t t = r->t_first;
	if (t >= b && t <= e)
		sum += per;
	for (uint32_t k = 0; k < r->itl_n; k++) {
		t += (int64_t)run->itl_us[r->itl_off + k] * 1000;
		if (t >= b && t <= e)
			sum += per;
	}
	return sum;
}

/* Median TTFT and median scheduled time (s from t0) of the completed counted requests
 * rec[from, to) in schedule order. */
static void quarter(const struct lg_record *rec, size_t from, size_t to, int64_t t0, double *buf,
                    double *ttft_ms, double *t_s)
{
	size_t n = 0;
	for (size_t i = from; i < to; i++)
		if (rec[i].status == LG_OK)
			buf[n++] = MS(rec[i].t_first - rec[i].t_sched);
	gsl_sort(buf, 1, n);
	*ttft_ms = n ? gsl_stats_median_from_sorted_data(buf, 1, n) : NAN;
	n = 0;
	for (size_t i = from; i < to; i++)
		if (rec[i].status == LG_OK)
			buf[n++] = (double)(rec[i].t_sched - t0) / 1e9;
	*t_s = n ? gsl_stats_median_from_sorted_data(buf, 1, n) : NAN; /* already in order */
}

/* A queue that grows while requests still arrive shows as TTFT growing with the arrival
 * time: compare the first and last quarter of the completed requests. */
static void ttft_trend(const struct lg_record *rec, size_t n, size_t completed, struct lg_summary *s)
{
	s->ttft_first_quarter_ms = s->ttft_last_quarter_ms = s->ttft_growth_ms_per_s = NAN;
	double *buf = completed >= LG_TREND_MIN ? malloc(completed * sizeof *buf) : NULL;
	if (!buf)
		return;
	/* The indices where the first quarter of completed requests ends and the last begins. */
	size_t q = completed / 4, seen = 0, end_first = 0, begin_last = n;
	for (size_t i = 0; i < n; i++)
		if (rec[i].status == LG_OK) {
			seen++;
			if (seen == q)
				end_first = i + 1;
			if (seen == completed - q + 1)
				begin_last = i;
		}
	double t_a, t_b;
	quarter(rec, 0, end_first, rec[0].t_sched, buf, &s->ttft_first_quarter_ms, &t_a);
	quarter(rec, begin_last, n, rec[0].t_sched, buf, &s->ttft_last_quarter_ms, &t_b);
	if (t_b > t_a)
		s->ttft_growth_ms_per_s = (s->ttft_last_quarter_ms - s->ttft_first_quarter_ms) / (t_b - t_a);
	free(buf);
}

int lg_summarize(const struct lg_run *run, const double *pcts, size_t npct, const struct lg_slo *slo,
                 struct lg_summary *s)
{
	memset(s, 0, sizeof *s);
	size_t n = run->n - run->n_warmup;
	const struct lg_record *rec = run->rec + run->n_warmup;
	double *ttft = malloc((n + 1) * sizeof *ttft), *tpot = malloc((n + 1) * sizeof *tpot);
	double *e2el = malloc((n + 1) * sizeof *e2el), *queue = malloc((n + 1) * sizeof *queue);
	double *late = malloc((n + 1) * sizeof *late), *itl = malloc((run->n_itl + 1) * sizeof *itl);
	if (!ttft || !tpot || !e2el || !queue || !late || !itl) {
		free(ttft), free(tpot), free(e2el), free(queue), free(late), free(itl);
		return -ENOMEM;
	}
	size_t nt = 0, np = 0, nq = 0, ni = 0, n_arrived = 0, n_sched = 0;
	int64_t sched_last = 0;
	for (size_t i = 0; i < n; i++)
		if (rec[i].turn == 0)
			n_sched++, sched_last = rec[i].t_sched;
	int64_t t_first_sched = rec[0].t_sched, t_last_end = 0, sent_min = INT64_MAX, sent_max = 0;
	bool any_usage_missing = false, all_prompt = true;
	s->num_requests = n;
	s->total_input_tokens = 0;
	bool slo_on = slo && (!isnan(slo->ttft_ms) || !isnan(slo->tpot_ms) || !isnan(slo->e2el_ms));
	s->slo_set = slo_on;
	for (size_t i = 0; i < n; i++) {
		const struct lg_record *r = &rec[i];
		if (r->t_start == 0) {
			s->not_sent++;
			continue;
		}
		s->sent++;
		s->connections_opened += r->new_connection;
		/* Arrivals only: a multi-turn session's later turns follow its answers, not the
		 * schedule. */
		if (r->turn == 0) {
			n_arrived++;
			if (r->t_start < sent_min)
				sent_min = r->t_start;
			if (r->t_start > sent_max)
				sent_max = r->t_start;
		}
		/* Queueing is the --max-concurrency hold; lateness is the loop's own delay. */
		queue[nq] = MS(r->t_admit - r->t_sched);
		late[nq++] = MS(r->t_start - r->t_admit);
		if (r->t_end > t_last_end)
			t_last_end = r->t_end;
		if (r->status != LG_OK) {
			s->failed++;
			add_reason(s, r);
			continue;
		}
		s->completed++;
		s->reads_per_response += r->reads;
		double t1 = MS(r->t_first - r->t_sched), te = MS(r->t_end - r->t_sched), tp = NAN;
		ttft[nt] = t1;
		e2el[nt++] = te;
		if (r->output_tokens > 1)
			tpot[np++] = tp = (te - t1) / (r->output_tokens - 1);
		for (uint32_t k = 0; k < r->itl_n; k++)
			itl[ni++] = run->itl_us[r->itl_off + k] / 1000.0;
		s->total_output_tokens += r->output_tokens;
		if (!r->usage)
			any_usage_missing = true;
		if (r->prompt_tokens >= 0)
			s->total_input_tokens += r->prompt_tokens;
		else
			all_prompt = false;
		if (slo_on) {
			bool good = (isnan(slo->ttft_ms) || t1 <= slo->ttft_ms) &&
			            (isnan(slo->e2el_ms) || te <= slo->e2el_ms) &&
			            (isnan(slo->tpot_ms) || isnan(tp) || tp <= slo->tpot_ms);
			s->good += good;
		}
	}
	if (!all_prompt || s->completed == 0)
		s->total_input_tokens = -1;
	s->output_tokens_approximate = any_usage_missing;
	s->schedule_rate = NAN;
	if (n_sched >= 2 && sched_last > rec[0].t_sched)
		s->schedule_rate = (double)(n_sched - 1) / ((double)(sched_last - rec[0].t_sched) / 1e9);
	s->achieved_rate = n_arrived >= 2 && sent_max > sent_min
	                       ? (double)(n_arrived - 1) / ((double)(sent_max - sent_min) / 1e9)
	                       : NAN;
	s->duration_s = t_last_end > t_first_sched ? (double)(t_last_end - t_first_sched) / 1e9 : NAN;
	s->request_throughput = s->duration_s > 0 ? s->completed / s->duration_s : NAN;
	s->output_token_throughput = s->duration_s > 0 ? s->total_output_tokens / s->duration_s : NAN;
	s->goodput = slo_on && s->duration_s > 0 ? s->good / s->duration_s : NAN;
	s->slo_attainment = slo_on && s->sent ? (double)s->good / s->sent : NAN;
	ttft_trend(rec, n, s->completed, s);
	lg_dist_compute(&s->ttft, ttft, nt, pcts, npct);
	lg_dist_compute(&s->tpot, tpot, np, pcts, npct);
	lg_dist_compute(&s->e2el, e2el, nt, pcts, npct);
	lg_dist_compute(&s->itl, itl, ni, pcts, npct);
	lg_dist_compute(&s->queue, queue, nq, pcts, npct);
	lg_dist_compute(&s->lateness, late, nq, pcts, npct);
	s->steady_valid = run->steady_begin && run->steady_end > run->steady_begin;
	if (s->steady_valid) {
		s->steady_begin_s = (double)(run->steady_begin - t_first_sched) / 1e9;
		s->steady_end_s = (double)(run->steady_end - t_first_sched) / 1e9;
		for (size_t i = 0; i < run->n; i++) {
			const struct lg_record *r = &run->rec[i];
			if (r->status != LG_OK)
				continue;
			if (!r->warmup && r->t_end >= run->steady_begin && r->t_end <= run->steady_end)
				s->steady_completed++;
			s->steady_output_tokens += tokens_inside(run, r, run->steady_begin, run->steady_end);
		}
	}
	s->reads_per_response = s->completed ? s->reads_per_response / s->completed : NAN;
	s->cpu_s = run->cpu_s;
	s->spin_s = run->spin_s;
	double handed = (double)(s->sent + run->n_warmup);
	s->cpu_us_per_request = s->sent ? run->cpu_s * 1e6 / handed : NAN;
	s->busy_us_per_request = s->sent ? (run->cpu_s - run->spin_s) * 1e6 / handed : NAN;
	free(ttft), free(tpot), free(e2el), free(queue), free(late), free(itl);
	return 0;
}

int lg_turn_stats(const struct lg_run *run, struct lg_turn_stat **out, size_t *n_out)
{
	*out = NULL;
	*n_out = 0;
	size_t nt = 0;
	for (size_t i = run->n_warmup; i < run->n; i++)
		if (run->rec[i].turn + 1 > nt)
			nt = run->rec[i].turn + 1;
	if (nt == 0)
		return 0;
	struct lg_turn_stat *ts = calloc(nt, sizeof *ts);
	size_t m = run->n - run->n_warmup;
	double *ttft = malloc((m + 1) * sizeof *ttft), *e2el = malloc((m + 1) * sizeof *e2el);
	if (!ts || !ttft || !e2el) {
		free(ts), free(ttft), free(e2el);
		return -ENOMEM;
	}
	for (size_t k = 0; k < nt; k++) {
		size_t c = 0, with_prompt = 0;
		double prompt = 0;
		for (size_t i = run->n_warmup; i < run->n; i++) {
			const struct lg_record *r = &run->rec[i];
			if (r->turn != k)
				continue;
			ts[k].sessions++;
			if (r->t_start == 0)
				continue;
			ts[k].sent++;
			if (r->status != LG_OK) {
				ts[k].failed++;
				continue;
			}
			ts[k].completed++;
			ttft[c] = MS(r->t_first - r->t_sched);
			e2el[c++] = MS(r->t_end - r->t_sched);
			if (r->prompt_tokens >= 0)
				prompt += (double)r->prompt_tokens, with_prompt++;
		}
		lg_dist_compute(&ts[k].ttft, ttft, c, NULL, 0);
		lg_dist_compute(&ts[k].e2el, e2el, c, NULL, 0);
		ts[k].prompt_tokens_mean = with_prompt && with_prompt == c ? prompt / (double)c : NAN;
	}
	free(ttft), free(e2el);
	*out = ts;
	*n_out = nt;
	return 0;
}
