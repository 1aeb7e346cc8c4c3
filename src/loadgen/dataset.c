/* Datasets for serve-bench. Bodies are built here, with jansson, before any timing starts:
 * nothing is serialised or tokenised while requests are in flight. */
#include "loadgen/dataset.h"

#include <errno.h>
#include <gsl/gsl_rng.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *lg_endpoint_path(enum lg_endpoint e)
{
	return e == LG_ENDPOINT_CHAT ? "/v1/chat/completions" : "/v1/completions";
}

/* Common English words: with most tokenizers each is one token, so a synthetic prompt of N
 * words is close to N tokens (the server's usage says exactly how many). */
static const char *const words[] = {
    "the",   "of",    "and",   "to",     "in",   "is",   "you",   "that",   "it",    "he",
    "was",   "for",   "on",    "are",    "as",   "with", "his",   "they",   "at",    "be",
    "this",  "have",  "from",  "or",     "one",  "had",  "by",    "word",   "but",   "not",
    "what",  "all",   "were",  "we",     "when", "your", "can",   "said",   "there", "use",
    "an",    "each",  "which", "she",    "do",   "how",  "their", "if",     "will",  "up",
    "other", "about", "out",   "many",   "then", "them", "these", "so",     "some",  "her",
    "would", "make",  "like",  "him",    "into", "time", "has",   "look",   "two",   "more",
    "write", "go",    "see",   "number", "no",   "way",  "could", "people", "my",    "than",
    "first", "water", "been",  "call",   "who",  "oil",  "its",   "now",    "find",  "long",
    "down",  "day",   "did",   "get",    "come", "made", "may",   "part",   "over",  "new",
};
#define N_WORDS (sizeof words / sizeof words[0])

static int set_body(struct lg_item *it, json_t *prompt, json_t *messages, int output_len,
                    const struct lg_body_opts *o)
{
	json_t *b = json_object();
	json_object_set_new(b, "model", json_string(o->model));
	if (messages)
		json_object_set(b, "messages", messages);
	else if (o->endpoint == LG_ENDPOINT_CHAT) {
		json_t *m = json_object();
		json_object_set_new(m, "role", json_string("user"));
		json_object_set(m, "content", prompt);
		json_object_set_new(b, "messages", json_pack("[o]", m));
	} else {
		json_object_set(b, "prompt", prompt);
	}
	if (output_len > 0)
		json_object_set_new(b, "max_tokens", json_integer(output_len));
	json_object_set_new(b, "stream", json_true());
	json_object_set_new(b, "stream_options", json_pack("{s:b}", "include_usage", 1));
	json_object_set_new(b, "temperature", json_real(0.0));
	if (o->ignore_eos)
		json_object_set_new(b, "ignore_eos", json_true());
	it->body = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	if (!it->body)
		return -ENOMEM;
	it->body_len = strlen(it->body);
	it->output_len = output_len;
	return 0;
}

static int grow(struct lg_dataset *d, size_t *cap)
{
	if (d->n < *cap)
		return 0;
	size_t c = *cap ? *cap * 2 : 64;
	struct lg_item *p = realloc(d->items, c * sizeof *p);
	if (!p)
		return -ENOMEM;
	d->items = p;
	*cap = c;
	return 0;
}

static int count_words(const char *s)
{
	int n = 0;
	bool in = false;
	for (; *s; s++) {
		bool sp = *s == ' ' || *s == '\n' || *s == '\t' || *s == '\r';
		if (!sp && !in)
			n++;
		in = !sp;
	}
	return n;
}

static int load_line(struct lg_item *it, const char *line, size_t lineno, const char *path,
                     const struct lg_body_opts *o, char *err, size_t errlen)
{
	json_error_t je;
	json_t *v = json_loads(line, 0, &je);
	int rc = -EINVAL;
	if (!v) {
		snprintf(err, errlen, "'%s' line %zu: not JSON: %s", path, lineno, je.text);
		return rc;
	}
	json_t *prompt = json_object_get(v, "prompt"), *messages = json_object_get(v, "messages");
	json_t *olen = json_object_get(v, "output_len"), *ts = json_object_get(v, "timestamp");
	int output_len = o->output_len;
	if (!json_is_object(v)) {
		snprintf(err, errlen, "'%s' line %zu: not a JSON object", path, lineno);
		goto out;
	}
	if (prompt && !json_is_string(prompt)) {
		snprintf(err, errlen, "'%s' line %zu: 'prompt' must be a string", path, lineno);
		goto out;
	}
	if (messages) {
		bool okm = json_is_array(messages) && json_array_size(messages) > 0;
		for (size_t i = 0; okm && i < json_array_size(messages); i++)
			okm = json_is_object(json_array_get(messages, i));
		if (!okm) {
			snprintf(err, errlen,
			         "'%s' line %zu: 'messages' must be a non-empty array of objects", path,
			         lineno);
			goto out;
		}
		if (o->endpoint != LG_ENDPOINT_CHAT) {
			snprintf(err, errlen, "'%s' line %zu: 'messages' needs --endpoint chat", path,
			         lineno);
			goto out;
		}
	}
	if (!prompt && !messages) {
		snprintf(err, errlen, "'%s' line %zu: needs a 'prompt' or a 'messages' field", path, lineno);
		goto out;
	}
	if (olen) {
		if (!json_is_integer(olen) || json_integer_value(olen) <= 0 ||
		    json_integer_value(olen) > 1000000) {
			snprintf(err, errlen, "'%s' line %zu: 'output_len' must be a positive integer", path,
			         lineno);
			goto out;
		}
		output_len = (int)json_integer_value(olen);
	}
	it->timestamp = NAN;
	if (ts) {
		if (!json_is_number(ts) || !isfinite(json_number_value(ts))) {
			snprintf(err, errlen, "'%s' line %zu: 'timestamp' must be a number of seconds", path,
			         lineno);
			goto out;
		}
		it->timestamp = json_number_value(ts);
	}
	it->input_words = prompt ? count_words(json_string_value(prompt)) : -1;
	rc = set_body(it, prompt, prompt ? NULL : messages, output_len, o);
	if (rc == -ENOMEM)
		snprintf(err, errlen, "out of memory");
out:
	json_decref(v);
	return rc;
}

int lg_dataset_load(struct lg_dataset *d, const char *path, const struct lg_body_opts *o, char *err,
                    size_t errlen)
{
	memset(d, 0, sizeof *d);
	FILE *f = fopen(path, "r");
	if (!f) {
		int e = errno;
		snprintf(err, errlen, "cannot open '%s': %s", path, strerror(e));
		return -e;
	}
	char *line = NULL;
	size_t lcap = 0, cap = 0, lineno = 0, with_ts = 0;
	ssize_t len;
	int rc = 0;
	while ((len = getline(&line, &lcap, f)) >= 0) {
		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' '))
			line[--len] = 0;
		if (len == 0)
			continue;
		if ((rc = grow(d, &cap))) {
			snprintf(err, errlen, "out of memory");
			break;
		}
		struct lg_item *it = &d->items[d->n];
		if ((rc = load_line(it, line, lineno, path, o, err, errlen)))
			break;
		d->n++;
		if (!isnan(it->timestamp))
			with_ts++;
		if (with_ts && with_ts != d->n) {
			snprintf(err, errlen, "'%s' line %zu: 'timestamp' must be on every line or on none",
			         path, lineno);
			rc = -EINVAL;
			break;
		}
	}
	if (rc == 0 && ferror(f)) {
		rc = -EIO;
		snprintf(err, errlen, "cannot read '%s': %s", path, strerror(EIO));
	}
	if (rc == 0 && d->n == 0) {
		rc = -EINVAL;
		snprintf(err, errlen, "'%s' holds no request", path);
	}
	free(line);
	fclose(f);
	d->has_timestamps = rc == 0 && with_ts == d->n;
	if (rc)
		lg_dataset_release(d);
	return rc;
}

static int spread_len(gsl_rng *r, int len, double spread)
{
	if (spread <= 0)
		return len;
	int lo = (int)floor(len * (1 - spread)), hi = (int)ceil(len * (1 + spread));
	if (lo < 1)
		lo = 1;
	return lo + (int)gsl_rng_uniform_int(r, (unsigned long)(hi - lo + 1));
}

int lg_dataset_synthetic(struct lg_dataset *d, size_t n, int input_len, int output_len, double spread,
                         unsigned long seed, const struct lg_body_opts *o, char *err, size_t errlen)
{
	memset(d, 0, sizeof *d);
	if (input_len < 1 || output_len < 1 || !(spread >= 0 && spread < 1)) {
		snprintf(err, errlen, "synthetic lengths must be positive and the spread in [0, 1)");
		return -EINVAL;
	}
	gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
	d->items = calloc(n, sizeof *d->items);
	char *buf = malloc((size_t)input_len * 2 * 8 + 64);
	if (!r || !d->items || !buf) {
		gsl_rng_free(r);
		free(buf);
		free(d->items);
		d->items = NULL;
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	gsl_rng_set(r, seed ^ 0x5eedULL);
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		int in = spread_len(r, input_len, spread), out = spread_len(r, output_len, spread);
		size_t off = 0;
		for (int w = 0; w < in; w++) {
			const char *word = words[gsl_rng_uniform_int(r, N_WORDS)];
			size_t k = strlen(word);
			if (w)
				buf[off++] = ' ';
			memcpy(buf + off, word, k);
			off += k;
		}
		buf[off] = 0;
		json_t *p = json_string(buf);
		struct lg_item *it = &d->items[i];
		it->timestamp = NAN;
		it->input_words = in;
		rc = set_body(it, p, NULL, out, o);
		json_decref(p);
		if (rc == 0)
			d->n++;
	}
	free(buf);
	gsl_rng_free(r);
	if (rc) {
		snprintf(err, errlen, "out of memory");
		lg_dataset_release(d);
	}
	return rc;
}

void lg_dataset_release(struct lg_dataset *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->items[i].body);
	free(d->items);
	memset(d, 0, sizeof *d);
}
