/* What serve-bench does before a sweep, whatever front end drives it: the endpoint's URL
 * from a server root, the requests to send (a dataset file or synthetic prompts), the one
 * request that proves the setup works, and the connections opened ahead at high rates. */
#ifndef GOPS_LOADGEN_SETUP_H
#define GOPS_LOADGEN_SETUP_H

#include "loadgen/bench.h"
#include "loadgen/client.h"
#include "loadgen/dataset.h"

#include <stddef.h>

/* base_url + path with trailing slashes dropped and a root that already ends in /v1 not
 * doubled ("http://h:8000/v1/" + "/v1/models" is "http://h:8000/v1/models"). NULL on
 * allocation failure; free() it. */
char *lg_url_join(const char *base_url, const char *path);

/* Where the requests of a sweep come from. */
struct lg_requests_spec {
	const char *dataset;                        /* a dataset file, or NULL for synthetic prompts */
	const struct lg_dataset_opts *dataset_opts; /* how to read it; NULL: the defaults */
	size_t num_requests;                        /* counted requests per rate, 0 in duration mode */
	size_t warmup;
	int input_len, output_len;
	double spread;
	unsigned long seed;
};

/* Whether the records of n requests (of output_len tokens) fit the memory this process may
 * still take (available memory, ulimit -v/-d, the cgroup's memory.max): 0, or -ENOMEM with a
 * one-line message saying how much they need and how much there is. */
int lg_requests_fit(size_t n, int output_len, char *err, size_t errlen);

/* Loads or builds the requests of a sweep over rates[0..n_rates): a dataset file, else
 * synthetic prompts (as many as one rate sends, at most 4096, reused in turn); a 'trace'
 * rate needs a file with a timestamp on every line. Returns 0, or -errno with a one-line
 * message naming the input. */
int lg_requests_prepare(struct lg_dataset *ds, const struct lg_requests_spec *s,
                        const struct lg_body_opts *bo, const struct lg_rate *rates, size_t n_rates, char *err,
                        size_t errlen);

/* Sends one request (the dataset's first) and waits for it: a wrong URL, a wrong model or a
 * server that is down is then a setup error, not a benchmark result. Returns 0, -EIO with the
 * request's failure in err, or another -errno when the client could not run. */
int lg_check_server(struct lg_client *c, const struct lg_dataset *ds, const char *url, char *err,
                    size_t errlen);

/* Connections to open before a sweep whose highest finite rate is given: those of 10 ms of it,
 * at most 512, and none below 16 (1,600 requests/s), where the pool is too small to matter. */
size_t lg_prewarm_count(const struct lg_rate *rates, size_t n_rates);

/* Opens lg_prewarm_count() connections by as many concurrent GET /v1/models under base_url
 * (answers ignored: a server without that path still leaves its connections). Returns 0, or
 * -ENOMEM; a server that does not answer in 5 s is not an error. */
int lg_prewarm(struct lg_client *c, const char *base_url, const struct lg_rate *rates, size_t n_rates);

#endif
