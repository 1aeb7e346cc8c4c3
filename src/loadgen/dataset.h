/* What serve-bench sends: synthetic prompts of a given length, or the prompts of a JSONL file,
 * each turned once, before the run, into the exact JSON body of its request. */
#ifndef GOPS_LOADGEN_DATASET_H
#define GOPS_LOADGEN_DATASET_H

#include <stdbool.h>
#include <stddef.h>

enum lg_endpoint {
	LG_ENDPOINT_COMPLETIONS, /* /v1/completions, "prompt" */
	LG_ENDPOINT_CHAT,        /* /v1/chat/completions, "messages" */
};
const char *lg_endpoint_path(enum lg_endpoint e);

struct lg_body_opts {
	enum lg_endpoint endpoint;
	const char *model;
	int output_len;  /* max_tokens when an item has none; 0: leave it to the server */
	bool ignore_eos; /* vLLM's extension: generate exactly max_tokens */
};

struct lg_item {
	char *body; /* the request body, ready to send */
	size_t body_len;
	int input_words;  /* words of the prompt (synthetic: exact), -1 unknown */
	int output_len;   /* max_tokens asked for, 0 none */
	double timestamp; /* trace time in seconds, NAN without */
};

struct lg_dataset {
	struct lg_item *items;
	size_t n;
	bool has_timestamps;
};

/* JSONL: one object per line with "prompt" (string) or "messages" (array of objects),
 * optional "output_len" (positive integer) and "timestamp" (seconds, for trace replay;
 * all lines or none). Blank lines are skipped. Returns 0, -errno with a message naming the
 * file and line in err. */
int lg_dataset_load(struct lg_dataset *d, const char *path, const struct lg_body_opts *o, char *err,
                    size_t errlen);
/* n distinct prompts of input_len words and output_len tokens; spread s in [0, 1) draws both
 * lengths uniformly from [L(1-s), L(1+s)]. */
int lg_dataset_synthetic(struct lg_dataset *d, size_t n, int input_len, int output_len, double spread,
                         unsigned long seed, const struct lg_body_opts *o, char *err, size_t errlen);
void lg_dataset_release(struct lg_dataset *d);

#endif
