/* What serve-bench sends: synthetic prompts of a given length, the prompts of a JSONL file, or
 * the conversations of a ShareGPT-style file (one request each, or multi-turn sessions), each
 * turned once, before the run, into the exact JSON body of its request (a multi-turn session's
 * later turns into the parts their bodies are joined from, with the server's answers). */
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
	int input_words;       /* words of the prompt (synthetic: exact), -1 unknown */
	int output_len;        /* max_tokens asked for, 0 none */
	bool output_estimated; /* output_len estimated from a reference answer's text */
	double timestamp;      /* trace time in seconds, NAN without */
};

/* One turn of a multi-turn conversation: the messages it adds (the user's, and a system
 * message before the first), and what its body ends with. A turn's body is the dataset's
 * head, the history so far (earlier turns' messages, each followed by the server's actual
 * answer as an assistant message), its own messages and its tail. */
struct lg_turn {
	char *msgs; /* message objects joined by ',' */
	size_t msgs_len;
	char *tail; /* the rest: the messages' closing bracket, max_tokens, ... */
	size_t tail_len;
	int output_len; /* max_tokens, 0 none */
	bool output_estimated;
};

struct lg_conv {
	size_t first, n; /* its turns in turns[] */
};

enum lg_ds_format {
	LG_DS_AUTO,     /* a JSON array or entries with "conversations": sharegpt; else jsonl */
	LG_DS_JSONL,    /* "prompt" or "messages", sent as they are */
	LG_DS_SHAREGPT, /* conversations: "conversations" [{from, value}] or "messages" [{role, content}] */
};
/* "auto", "jsonl", "sharegpt" */
const char *lg_ds_format_name(enum lg_ds_format f);

struct lg_dataset_opts {
	enum lg_ds_format format;
	bool multi_turn; /* each conversation is a session of turns (chat only) */
	int output_len;  /* > 0: max_tokens of every conversation's request, instead of its answer's */
	int min_len;     /* single turn: skip prompts and answers of fewer estimated tokens (0: none) */
	int max_len;     /* single turn: skip prompt + answer over this many estimated tokens (0: none) */
	bool shuffle;    /* conversations in an order drawn from seed, not the file's */
	unsigned long seed;
};

struct lg_dataset {
	struct lg_item *items; /* multi-turn: each conversation's first turn */
	size_t n;
	bool has_timestamps;
	enum lg_ds_format format; /* what the file was read as */
	size_t entries;           /* entries (lines, array elements) read */
	size_t skipped_short;     /* conversations of fewer than 2 turns, or without a question */
	size_t skipped_len;       /* conversations outside min_len / max_len */
	bool lengths_estimated;   /* some max_tokens come from estimated answer lengths */
	/* Multi-turn (convs == NULL otherwise): conversation i is items[i] and convs[i]. */
	struct lg_conv *convs;
	struct lg_turn *turns;
	size_t n_turns;
	char *head; /* the body up to the first message: model, then "messages" */
	size_t head_len;
};

/* Tokens of a text as estimated without a tokenizer: one per 4 characters (Unicode code
 * points), rounded up; English text with common tokenizers is close, code and other
 * scripts differ. */
int lg_estimate_tokens(const char *text);

/* Reads a dataset file: JSONL (one object per line; blank lines skipped) or one JSON array
 * of objects. Format jsonl: "prompt" (string) or "messages" (array of objects), optional
 * "output_len" (positive integer) and "timestamp" (seconds, for trace replay; all entries or
 * none). Format sharegpt: see lg_dataset_opts and docs/SERVE_BENCH.md. do may be NULL
 * (auto, single turn, no filter, file order). Returns 0, -errno with a one-line message naming
 * the file and the line or entry in err. */
int lg_dataset_load(struct lg_dataset *d, const char *path, const struct lg_dataset_opts *dopt,
                    const struct lg_body_opts *o, char *err, size_t errlen);
/* n distinct prompts of input_len words and output_len tokens; spread s in [0, 1) draws both
 * lengths uniformly from [L(1-s), L(1+s)]. */
int lg_dataset_synthetic(struct lg_dataset *d, size_t n, int input_len, int output_len, double spread,
                         unsigned long seed, const struct lg_body_opts *o, char *err, size_t errlen);
void lg_dataset_release(struct lg_dataset *d);

#endif
