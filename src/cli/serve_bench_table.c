/* The serve-bench comparison table (see serve_bench_table.h). */
#include "cli/serve_bench_table.h"
#include "base/fmt.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

static double num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_number(v) ? json_number_value(v) : NAN;
}

static double dist(json_t *o, const char *key, const char *stat)
{
	return num(json_object_get(o, key), stat);
}

static const char *fixed(char *buf, size_t len, double v, int decimals)
{
	if (!isfinite(v))
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.*f", decimals, v);
	return buf;
}

/* Printf width for S right-aligned in W columns: multi-byte characters (µ) take one column. */
static int width_for(const char *s, int w)
{
	for (; *s; s++)
		w += ((unsigned char)*s & 0xC0) == 0x80;
	return w;
}

static const char *rate_label(char *buf, size_t len, json_t *rate)
{
	if (json_is_string(rate))
		snprintf(buf, len, "%s", json_string_value(rate));
	else if (json_is_number(rate))
		snprintf(buf, len, "%g", json_number_value(rate));
	else
		snprintf(buf, len, "?");
	return buf;
}

void serve_bench_table_print(FILE *f, json_t *runs)
{
	bool goodput = false;
	size_t i;
	json_t *r;
	json_array_foreach(runs, i, r) goodput |= json_object_get(r, "goodput") != NULL;
	fprintf(f, "%-8s %9s %9s %6s %5s %9s %9s", "rate", "schedule", "achieved", "done", "fail", "req/s",
	        "tok/s");
	if (goodput)
		fprintf(f, " %9s %6s", "goodput", "in SLO");
	fprintf(f, " %9s %9s %9s %11s %11s %13s\n", "TTFT p50", "TPOT p50", "E2EL p99", "energy/req",
	        "energy/tok", "steady/req");
	json_array_foreach(runs, i, r)
	{
		char c[16][GOPS_FMT_LEN];
		/* An 'inf' rate has no schedule rate of its own: every request is sent at once. */
		fprintf(f, "%-8s %9s %9s %6.0f %5.0f %9s %9s",
		        rate_label(c[0], sizeof c[0], json_object_get(r, "rate")),
		        fixed(c[1], sizeof c[1], num(r, "schedule_rate"), 2),
		        fixed(c[2], sizeof c[2], num(r, "achieved_rate"), 2), num(r, "completed"),
		        num(r, "failed"), fixed(c[3], sizeof c[3], num(r, "request_throughput"), 2),
		        fixed(c[4], sizeof c[4], num(r, "output_token_throughput"), 1));
		if (goodput) {
			double att = num(r, "slo_attainment");
			fprintf(f, " %9s %5s%%", fixed(c[5], sizeof c[5], num(r, "goodput"), 2),
			        fixed(c[6], sizeof c[6], att * 100, 0));
		}
		json_t *st = json_object_get(r, "steady_state");
		gops_fmt_si(c[10], sizeof c[10], num(r, "energy_per_request_j"), "J", 4);
		gops_fmt_si(c[11], sizeof c[11], num(r, "energy_per_output_token_j"), "J", 4);
		gops_fmt_si(c[12], sizeof c[12], num(st, "energy_per_request_j"), "J", 4);
		fprintf(f, " %9s %9s %9s %*s %*s %*s\n",
		        fixed(c[7], sizeof c[7], dist(r, "ttft_ms", "median"), 1),
		        fixed(c[8], sizeof c[8], dist(r, "tpot_ms", "median"), 2),
		        fixed(c[9], sizeof c[9], dist(r, "e2el_ms", "p99"), 1), width_for(c[10], 11), c[10],
		        width_for(c[11], 11), c[11], width_for(c[12], 13), c[12]);
	}
	fprintf(f, "(latencies in ms from each request's scheduled arrival%s)\n",
	        goodput ? "; goodput: requests/s that met every --slo objective" : "");
}
