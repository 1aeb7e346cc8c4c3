/* serve-bench's preparations before the first measured arrival: URL, requests, the check
 * request and the connections opened ahead (see docs/SERVE_BENCH.md, "The client"). */
#include "loadgen/setup.h"

#include "base/util.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define MAX_SYNTHETIC 4096

char *lg_url_join(const char *base_url, const char *path)
{
	size_t ulen = strlen(base_url);
	while (ulen && base_url[ulen - 1] == '/')
		ulen--;
	bool has_v1 = ulen >= 3 && !strncmp(base_url + ulen - 3, "/v1", 3);
	if (has_v1 && !strncmp(path, "/v1", 3) && (path[3] == '/' || !path[3]))
		path += 3;
	return gops_xasprintf("%.*s%s", (int)ulen, base_url, path);
}

/* Bytes of memory this process may still take: the least of what the machine has available,
 * the address-space and data limits (ulimit -v, -d) and the cgroup's memory.max. SIZE_MAX
 * where nothing says. */
static size_t memory_allowed(void)
{
	size_t allowed = SIZE_MAX;
	unsigned long long kb;
	char line[256];
	FILE *f = fopen("/proc/meminfo", "r");
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1 && kb < SIZE_MAX / 1024)
			allowed = (size_t)kb * 1024;
	if (f)
		fclose(f);
	int limits[] = {RLIMIT_AS, RLIMIT_DATA};
	for (size_t i = 0; i < 2; i++) {
		struct rlimit rl;
		if (!getrlimit(limits[i], &rl) && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < allowed)
			allowed = (size_t)rl.rlim_cur;
	}
	/* cgroup v2: the line "0::/PATH" of /proc/self/cgroup */
	char dir[300] = "", file[340], *nl;
	if ((f = fopen("/proc/self/cgroup", "r"))) {
		while (fgets(line, sizeof line, f))
			if (!strncmp(line, "0::", 3) && (nl = strchr(line, '\n')))
				*nl = 0, snprintf(dir, sizeof dir, "/sys/fs/cgroup%s", line + 3);
		fclose(f);
	}
	uint64_t max, cur;
	if (dir[0] && (snprintf(file, sizeof file, "%s/memory.max", dir), !gops_read_u64(file, &max)) &&
	    (snprintf(file, sizeof file, "%s/memory.current", dir), !gops_read_u64(file, &cur))) {
		uint64_t left = cur < max ? max - cur : 0;
		if (left < allowed)
			allowed = (size_t)left;
	}
	return allowed;
}

/* What one request keeps until the report: its record, its send time, its share of the
 * metrics' sorted copies, and a gap per output token. */
static size_t request_bytes(int output_len)
{
	return sizeof(struct lg_record) + sizeof(int64_t) + 6 * sizeof(double) +
	       (size_t)(output_len > 0 ? output_len : 0) * sizeof(uint32_t);
}

int lg_requests_fit(size_t n, int output_len, char *err, size_t errlen)
{
	size_t each = request_bytes(output_len), allowed = memory_allowed();
	if (n <= allowed / each)
		return 0;
	snprintf(err, errlen,
	         "%zu requests need about %.3g GiB to keep each one's timings (%zu bytes a request); "
	         "this process may use %.3g GiB: use fewer --num-requests",
	         n, (double)n * (double)each / 1073741824.0, each, (double)allowed / 1073741824.0);
	return -ENOMEM;
}

int lg_requests_prepare(struct lg_dataset *ds, const struct lg_requests_spec *s,
                        const struct lg_body_opts *bo, const struct lg_rate *rates, size_t n_rates, char *err,
                        size_t errlen)
{
	bool has_trace = false;
	for (size_t i = 0; i < n_rates; i++)
		has_trace |= rates[i].kind == LG_ARRIVAL_TRACE;
	memset(ds, 0, sizeof *ds);
	int rc;
	if (s->num_requests &&
	    (rc = lg_requests_fit(s->num_requests + s->warmup, s->output_len, err, errlen)))
		return rc;
	if (s->dataset) {
		rc = lg_dataset_load(ds, s->dataset, s->dataset_opts, bo, err, errlen);
	} else if (has_trace) {
		snprintf(err, errlen, "--rate trace needs a --dataset with timestamps");
		return -EINVAL;
	} else {
		size_t n = s->num_requests ? s->num_requests + s->warmup : MAX_SYNTHETIC;
		rc = lg_dataset_synthetic(ds, n < MAX_SYNTHETIC ? n : MAX_SYNTHETIC, s->input_len,
		                          s->output_len, s->spread, s->seed, bo, err, errlen);
	}
	if (rc)
		return rc;
	if (has_trace && !ds->has_timestamps) {
		lg_dataset_release(ds);
		snprintf(err, errlen, "--rate trace needs a 'timestamp' on every line of '%s'", s->dataset);
		return -EINVAL;
	}
	return 0;
}

int lg_check_server(struct lg_client *c, const struct lg_dataset *ds, const char *url, char *err,
                    size_t errlen)
{
	int64_t zero = 0;
	struct lg_run pre;
	struct lg_run_spec ps = {.offsets = &zero, .n = 1, .ds = ds, .failures_allowed = SIZE_MAX};
	int rc = lg_client_run(c, &ps, &pre, err, errlen);
	if (rc)
		return rc;
	if (pre.rec[0].status != LG_OK) {
		snprintf(err, errlen, "the first request to '%s' failed: %s", url,
		         pre.rec[0].error ? pre.rec[0].error : "unknown error");
		rc = -EIO;
	}
	lg_run_release(&pre);
	return rc;
}

size_t lg_prewarm_count(const struct lg_rate *rates, size_t n_rates)
{
	double top = 0;
	for (size_t i = 0; i < n_rates; i++)
		if (isfinite(rates[i].rate) && rates[i].rate > top)
			top = rates[i].rate;
	size_t n = (size_t)ceil(top * 0.010);
	return n < 16 ? 0 : n > 512 ? 512 : n;
}

int lg_prewarm(struct lg_client *c, const char *base_url, const struct lg_rate *rates, size_t n_rates)
{
	size_t n = lg_prewarm_count(rates, n_rates);
	if (!n)
		return 0;
	char *models = lg_url_join(base_url, "/v1/models");
	if (!models)
		return -ENOMEM;
	int rc = lg_client_prewarm(c, models, n, 5000000000LL);
	free(models);
	return rc == -ENOMEM ? rc : 0;
}
