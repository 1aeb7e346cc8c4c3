/* Datasets for serve-bench. Bodies are built here, with jansson, before any timing starts:
 * nothing is serialised or tokenised while requests are in flight. */
#include "loadgen/dataset.h"

#include "base/util.h"

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

/* What every request asks besides its prompt: the output length, a streamed answer with its
 * usage, greedy decoding, and ignore_eos where asked. */
static void set_sampling(json_t *b, int output_len, const struct lg_body_opts *o)
{
	if (output_len > 0)
		json_object_set_new(b, "max_tokens", json_integer(output_len));
	json_object_set_new(b, "stream", json_true());
	json_object_set_new(b, "stream_options", json_pack("{s:b}", "include_usage", 1));
	json_object_set_new(b, "temperature", json_real(0.0));
	if (o->ignore_eos)
		json_object_set_new(b, "ignore_eos", json_true());
}

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
	set_sampling(b, output_len, o);
	it->body = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	if (!it->body)
		return -ENOMEM;
	it->body_len = strlen(it->body);
	it->output_len = output_len;
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

const char *lg_ds_format_name(enum lg_ds_format f)
{
	return f == LG_DS_JSONL ? "jsonl" : f == LG_DS_SHAREGPT ? "sharegpt" : "auto";
}

int lg_estimate_tokens(const char *text)
{
	size_t cp = 0;
	for (const unsigned char *p = (const unsigned char *)text; *p; p++)
		cp += (*p & 0xc0) != 0x80; /* not a UTF-8 continuation byte */
	size_t t = (cp + 3) / 4;
	return t > 1000000 ? 1000000 : (int)t;
}

/* Where an entry is, for messages: "line 3" (JSONL) or "entry 2 (line 5)" (a JSON array). */
struct where {
	const char *path;
	char at[64];
};

static int jsonl_entry(struct lg_item *it, json_t *v, const struct where *w, const struct lg_body_opts *o,
                       char *err, size_t errlen)
{
	json_t *prompt = json_object_get(v, "prompt"), *messages = json_object_get(v, "messages");
	json_t *olen = json_object_get(v, "output_len"), *ts = json_object_get(v, "timestamp");
	int output_len = o->output_len;
	if (prompt && !json_is_string(prompt)) {
		snprintf(err, errlen, "'%s' %s: 'prompt' must be a string", w->path, w->at);
		return -EINVAL;
	}
	if (messages) {
		bool okm = json_is_array(messages) && json_array_size(messages) > 0;
		for (size_t i = 0; okm && i < json_array_size(messages); i++)
			okm = json_is_object(json_array_get(messages, i));
		if (!okm) {
			snprintf(err, errlen, "'%s' %s: 'messages' must be a non-empty array of objects",
			         w->path, w->at);
			return -EINVAL;
		}
		if (o->endpoint != LG_ENDPOINT_CHAT) {
			snprintf(err, errlen, "'%s' %s: 'messages' needs --endpoint chat", w->path, w->at);
			return -EINVAL;
		}
	}
	if (!prompt && !messages) {
		snprintf(err, errlen, "'%s' %s: needs a 'prompt' or a 'messages' field", w->path, w->at);
		return -EINVAL;
	}
	if (olen) {
		if (!json_is_integer(olen) || json_integer_value(olen) <= 0 ||
		    json_integer_value(olen) > 1000000) {
			snprintf(err, errlen, "'%s' %s: 'output_len' must be a positive integer", w->path,
			         w->at);
			return -EINVAL;
		}
		output_len = (int)json_integer_value(olen);
	}
	it->timestamp = NAN;
	if (ts) {
		if (!json_is_number(ts) || !isfinite(json_number_value(ts))) {
			snprintf(err, errlen, "'%s' %s: 'timestamp' must be a number of seconds", w->path,
			         w->at);
			return -EINVAL;
		}
		it->timestamp = json_number_value(ts);
	}
	it->input_words = prompt ? count_words(json_string_value(prompt)) : -1;
	int rc = set_body(it, prompt, prompt ? NULL : messages, output_len, o);
	if (rc == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	return rc;
}

/* A conversation's messages, each as (role, text); roles as ShareGPT and OpenAI name them. */
enum role { R_SYSTEM, R_USER, R_ASSISTANT };

struct msg {
	enum role role;
	json_t *text; /* borrowed */
};

static int conv_messages(json_t *v, const struct where *w, struct msg **out, size_t *n, char *err,
                         size_t errlen)
{
	json_t *conv = json_object_get(v, "conversations");
	const char *name = "conversations", *rk = "from", *tk = "value";
	if (!conv) {
		conv = json_object_get(v, "messages");
		name = "messages", rk = "role", tk = "content";
	}
	*out = NULL;
	*n = 0;
	if (!conv) {
		snprintf(err, errlen, "'%s' %s: needs a 'conversations' or a 'messages' array", w->path,
		         w->at);
		return -EINVAL;
	}
	if (!json_is_array(conv)) {
		snprintf(err, errlen, "'%s' %s: '%s' must be an array", w->path, w->at, name);
		return -EINVAL;
	}
	if (json_array_size(conv) == 0) {
		snprintf(err, errlen, "'%s' %s: '%s' has no turns", w->path, w->at, name);
		return -EINVAL;
	}
	struct msg *m = calloc(json_array_size(conv), sizeof *m);
	if (!m) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < json_array_size(conv); i++) {
		json_t *t = json_array_get(conv, i);
		json_t *r = json_object_get(t, rk), *x = json_object_get(t, tk);
		if (!json_is_object(t) || !json_is_string(r) || !json_is_string(x)) {
			snprintf(err, errlen, "'%s' %s: turn %zu of '%s' needs '%s' and '%s' strings",
			         w->path, w->at, i + 1, name, rk, tk);
			free(m);
			return -EINVAL;
		}
		const char *role = json_string_value(r);
		if (!strcmp(role, "system"))
			m[i].role = R_SYSTEM;
		else if (!strcmp(role, "human") || !strcmp(role, "user"))
			m[i].role = R_USER;
		else if (!strcmp(role, "gpt") || !strcmp(role, "assistant") || !strcmp(role, "chatgpt") ||
		         !strcmp(role, "bing") || !strcmp(role, "bard") || !strcmp(role, "model"))
			m[i].role = R_ASSISTANT;
		else {
			snprintf(err, errlen,
			         "'%s' %s: turn %zu has the unknown role '%.40s' (system, human/user or "
			         "gpt/assistant)",
			         w->path, w->at, i + 1, role);
			free(m);
			return -EINVAL;
		}
		m[i].text = x;
	}
	*out = m;
	*n = json_array_size(conv);
	return 0;
}

/* Single turn, as vLLM's benchmark reads ShareGPT: the first question is the prompt, the
 * first answer after it gives the output length. 1: skipped. */
static int conv_single(struct lg_dataset *d, struct lg_item *it, const struct msg *m, size_t n,
                       const struct lg_dataset_opts *dopt, const struct lg_body_opts *o)
{
	size_t q = 0;
	while (q < n && m[q].role != R_USER)
		q++;
	size_t a = q + 1;
	while (a < n && m[a].role != R_ASSISTANT)
		a++;
	if (n < 2 || q >= n || a >= n) {
		d->skipped_short++;
		return 1;
	}
	int in = lg_estimate_tokens(json_string_value(m[q].text));
	int out = lg_estimate_tokens(json_string_value(m[a].text));
	if (dopt->output_len > 0)
		out = dopt->output_len;
	if ((dopt->min_len > 0 && (in < dopt->min_len || (dopt->output_len <= 0 && out < dopt->min_len))) ||
	    (dopt->max_len > 0 && (long)in + out > dopt->max_len)) {
		d->skipped_len++;
		return 1;
	}
	it->timestamp = NAN;
	it->input_words = count_words(json_string_value(m[q].text));
	int rc = set_body(it, m[q].text, NULL, out, o);
	it->output_estimated = dopt->output_len <= 0;
	d->lengths_estimated |= it->output_estimated;
	return rc;
}

static char *dump_msg(const char *role, json_t *text)
{
	json_t *o = json_pack("{s:s,s:O}", "role", role, "content", text);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return s;
}

static char *joined(char *a, const char *b)
{
	char *r = a ? gops_xasprintf("%s,%s", a, b) : gops_xstrdup(b);
	free(a);
	return r;
}

/* The body after a turn's messages: the closing bracket of the messages, then max_tokens and the rest. */
static char *body_tail(int output_len, const struct lg_body_opts *o)
{
	json_t *b = json_object();
	set_sampling(b, output_len, o);
	char *s = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	char *t = s ? gops_xasprintf("],%s", s + 1) : NULL;
	free(s);
	return t;
}

static int add_turn(struct lg_dataset *d, size_t *cap, char *msgs, int output_len, bool estimated,
                    const struct lg_body_opts *o)
{
	if (d->n_turns == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		struct lg_turn *p = realloc(d->turns, c * sizeof *p);
		if (!p) {
			free(msgs);
			return -ENOMEM;
		}
		d->turns = p;
		*cap = c;
	}
	struct lg_turn *t = &d->turns[d->n_turns];
	t->msgs = msgs;
	t->tail = body_tail(output_len, o);
	if (!t->tail) {
		free(msgs);
		return -ENOMEM;
	}
	t->msgs_len = strlen(msgs);
	t->tail_len = strlen(t->tail);
	t->output_len = output_len;
	t->output_estimated = estimated;
	d->lengths_estimated |= estimated;
	d->n_turns++;
	return 0;
}

/* Multi-turn: each question (with the system message and any questions before it) is a
 * turn; the answer that follows gives its output length and is replaced, when sent, by the
 * server's own. Answers before the first question are dropped. 1: skipped. */
static int conv_multi(struct lg_dataset *d, struct lg_item *it, struct lg_conv *cv, size_t *tcap,
                      const struct msg *m, size_t n, const struct lg_dataset_opts *dopt,
                      const struct lg_body_opts *o)
{
	size_t first = d->n_turns;
	char *frag = NULL;
	bool has_user = false;
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (m[i].role == R_ASSISTANT) {
			if (!has_user)
				continue; /* an answer with no question of its own */
			int out = dopt->output_len > 0 ? dopt->output_len
			                               : lg_estimate_tokens(json_string_value(m[i].text));
			rc = add_turn(d, tcap, frag, out, dopt->output_len <= 0, o);
			frag = NULL;
			has_user = false;
			continue;
		}
		char *one = dump_msg(m[i].role == R_SYSTEM ? "system" : "user", m[i].text);
		frag = one ? joined(frag, one) : (free(frag), NULL);
		free(one);
		if (!frag)
			rc = -ENOMEM;
		has_user |= m[i].role == R_USER;
	}
	if (rc == 0 && has_user) /* a last question without an answer */
		rc = add_turn(d, tcap, frag, dopt->output_len > 0 ? dopt->output_len : o->output_len, false,
		              o);
	else
		free(frag);
	if (rc)
		return rc;
	if (n < 2 || d->n_turns == first) {
		for (size_t k = first; k < d->n_turns; k++)
			free(d->turns[k].msgs), free(d->turns[k].tail);
		d->n_turns = first;
		d->skipped_short++;
		return 1;
	}
	cv->first = first;
	cv->n = d->n_turns - first;
	const struct lg_turn *t = &d->turns[first];
	it->body = malloc(d->head_len + t->msgs_len + t->tail_len + 1);
	if (!it->body)
		return -ENOMEM;
	memcpy(it->body, d->head, d->head_len);
	memcpy(it->body + d->head_len, t->msgs, t->msgs_len);
	memcpy(it->body + d->head_len + t->msgs_len, t->tail, t->tail_len + 1);
	it->body_len = d->head_len + t->msgs_len + t->tail_len;
	it->output_len = t->output_len;
	it->output_estimated = t->output_estimated;
	it->input_words = -1;
	it->timestamp = NAN;
	return 0;
}

static int conv_entry(struct lg_dataset *d, json_t *v, const struct where *w, size_t *tcap,
                      const struct lg_dataset_opts *dopt, const struct lg_body_opts *o, char *err,
                      size_t errlen)
{
	struct msg *m;
	size_t n;
	int rc = conv_messages(v, w, &m, &n, err, errlen);
	if (rc)
		return rc;
	struct lg_item *it = &d->items[d->n];
	memset(it, 0, sizeof *it);
	if (dopt->multi_turn)
		rc = conv_multi(d, it, &d->convs[d->n], tcap, m, n, dopt, o);
	else
		rc = conv_single(d, it, m, n, dopt, o);
	free(m);
	if (rc < 0)
		snprintf(err, errlen, "out of memory");
	else if (rc == 0)
		d->n++;
	return rc < 0 ? rc : 0;
}

/* The file, whole: a JSON array is read entry by entry from it, without building the tree of
 * the whole array (the ShareGPT file is hundreds of megabytes). */
static int read_file(const char *path, char **buf, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		int e = errno;
		snprintf(err, errlen, "cannot open '%s': %s", path, strerror(e));
		return -e;
	}
	size_t cap = 1 << 16, n = 0;
	char *b = malloc(cap);
	while (b) {
		if (n + 1 >= cap) {
			char *p = cap < SIZE_MAX / 2 ? realloc(b, cap * 2) : NULL;
			if (!p) {
				free(b);
				b = NULL;
				break;
			}
			b = p, cap *= 2;
		}
		size_t k = fread(b + n, 1, cap - n - 1, f);
		n += k;
		if (k == 0)
			break;
	}
	int rc = 0;
	if (!b) {
		snprintf(err, errlen, "'%s': out of memory", path);
		rc = -ENOMEM;
	} else if (ferror(f)) {
		snprintf(err, errlen, "cannot read '%s': %s", path, strerror(EIO));
		rc = -EIO;
		free(b);
	} else {
		b[n] = 0;
		*buf = b;
		*len = n;
	}
	fclose(f);
	return rc;
}

static size_t newlines(const char *p, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += p[i] == '\n';
	return k;
}

static int grow_all(struct lg_dataset *d, size_t *cap, bool convs)
{
	if (d->n < *cap)
		return 0;
	size_t c = *cap ? *cap * 2 : 64;
	struct lg_item *p = realloc(d->items, c * sizeof *p);
	if (!p)
		return -ENOMEM;
	d->items = p;
	if (convs) {
		struct lg_conv *q = realloc(d->convs, c * sizeof *q);
		if (!q)
			return -ENOMEM;
		d->convs = q;
	}
	*cap = c;
	return 0;
}

/* One entry, whatever the file's shape. */
static int entry(struct lg_dataset *d, json_t *v, const struct where *w, size_t *cap, size_t *tcap,
                 size_t *with_ts, const struct lg_dataset_opts *dopt, const struct lg_body_opts *o, char *err,
                 size_t errlen)
{
	if (!json_is_object(v)) {
		snprintf(err, errlen, "'%s' %s: not a JSON object", w->path, w->at);
		return -EINVAL;
	}
	if (d->format == LG_DS_AUTO)
		d->format =
		    json_object_get(v, "conversations") || dopt->multi_turn ? LG_DS_SHAREGPT : LG_DS_JSONL;
	d->entries++;
	if (grow_all(d, cap, dopt->multi_turn)) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (d->format == LG_DS_SHAREGPT)
		return conv_entry(d, v, w, tcap, dopt, o, err, errlen);
	struct lg_item *it = &d->items[d->n];
	memset(it, 0, sizeof *it);
	int rc = jsonl_entry(it, v, w, o, err, errlen);
	if (rc)
		return rc;
	d->n++;
	if (!isnan(it->timestamp))
		(*with_ts)++;
	if (*with_ts && *with_ts != d->n) {
		snprintf(err, errlen, "'%s' %s: 'timestamp' must be on every %s or on none", w->path, w->at,
		         strncmp(w->at, "line", 4) ? "entry" : "line");
		return -EINVAL;
	}
	return 0;
}

static void shuffle(struct lg_dataset *d, unsigned long seed)
{
	gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
	if (!r)
		return;
	gsl_rng_set(r, seed ^ 0xd5ULL);
	for (size_t i = d->n; i > 1; i--) {
		size_t j = gsl_rng_uniform_int(r, i);
		struct lg_item t = d->items[i - 1];
		d->items[i - 1] = d->items[j], d->items[j] = t;
		if (d->convs) {
			struct lg_conv c = d->convs[i - 1];
			d->convs[i - 1] = d->convs[j], d->convs[j] = c;
		}
	}
	gsl_rng_free(r);
}

static int chat_head(struct lg_dataset *d, const struct lg_body_opts *o)
{
	json_t *b = json_pack("{s:s}", "model", o->model ? o->model : "");
	char *s = b ? json_dumps(b, JSON_COMPACT) : NULL;
	json_decref(b);
	if (s) {
		s[strlen(s) - 1] = 0; /* the closing brace */
		d->head = gops_xasprintf("%s,\"messages\":[", s);
	}
	free(s);
	if (!d->head)
		return -ENOMEM;
	d->head_len = strlen(d->head);
	return 0;
}

static int load_buf(struct lg_dataset *d, char *buf, size_t len, const char *path,
                    const struct lg_dataset_opts *dopt, const struct lg_body_opts *o, char *err,
                    size_t errlen)
{
	size_t cap = 0, tcap = 0, with_ts = 0, line = 1, pos = 0;
	struct where w = {.path = path};
	int rc = 0;
	while (pos < len && strchr(" \t\r\n", buf[pos]))
		line += buf[pos++] == '\n';
	if (pos < len && buf[pos] == '[') { /* one JSON array */
		pos++;
		for (size_t k = 1;; k++) {
			while (pos < len && strchr(" \t\r\n", buf[pos]))
				line += buf[pos++] == '\n';
			if (k == 1 && pos < len && buf[pos] == ']')
				break;
			snprintf(w.at, sizeof w.at, "entry %zu (line %zu)", k, line);
			json_error_t je;
			json_t *v =
			    json_loadb(buf + pos, len - pos, JSON_DISABLE_EOF_CHECK | JSON_DECODE_ANY, &je);
			if (!v) {
				snprintf(err, errlen, "'%s' %s: not JSON (line %zu): %s", path, w.at,
				         line + (je.line > 0 ? (size_t)je.line - 1 : 0), je.text);
				return -EINVAL;
			}
			size_t used = je.position > 0 ? (size_t)je.position : 0;
			line += newlines(buf + pos, used < len - pos ? used : len - pos);
			pos += used < len - pos ? used : len - pos;
			rc = entry(d, v, &w, &cap, &tcap, &with_ts, dopt, o, err, errlen);
			json_decref(v);
			if (rc)
				return rc;
			while (pos < len && strchr(" \t\r\n", buf[pos]))
				line += buf[pos++] == '\n';
			if (pos < len && buf[pos] == ',') {
				pos++;
				continue;
			}
			if (pos < len && buf[pos] == ']')
				break;
			snprintf(err, errlen, "'%s' line %zu: expected ',' or ']' after entry %zu", path,
			         line, k);
			return -EINVAL;
		}
		pos++;
		while (pos < len && strchr(" \t\r\n", buf[pos]))
			line += buf[pos++] == '\n';
		if (pos < len) {
			snprintf(err, errlen, "'%s' line %zu: text after the closing ']'", path, line);
			return -EINVAL;
		}
	} else { /* JSONL */
		pos = 0;
		for (size_t lineno = 1; pos < len; lineno++) {
			char *nl = memchr(buf + pos, '\n', len - pos);
			size_t end = nl ? (size_t)(nl - buf) : len, e = end;
			while (e > pos && (buf[e - 1] == '\r' || buf[e - 1] == ' ' || buf[e - 1] == '\t'))
				e--;
			char *text = buf + pos;
			size_t n = e - pos;
			pos = end + 1;
			if (n == 0)
				continue;
			snprintf(w.at, sizeof w.at, "line %zu", lineno);
			json_error_t je;
			json_t *v = json_loadb(text, n, JSON_DECODE_ANY, &je);
			if (!v) {
				snprintf(err, errlen, "'%s' %s: not JSON: %s", path, w.at, je.text);
				return -EINVAL;
			}
			rc = entry(d, v, &w, &cap, &tcap, &with_ts, dopt, o, err, errlen);
			json_decref(v);
			if (rc)
				return rc;
		}
	}
	if (d->n == 0) {
		if (d->entries)
			snprintf(err, errlen,
			         "'%s' holds no request: all %zu conversations were skipped (%zu with fewer "
			         "than 2 turns or no question and answer, %zu outside the length limits)",
			         path, d->entries, d->skipped_short, d->skipped_len);
		else
			snprintf(err, errlen, "'%s' holds no request", path);
		return -EINVAL;
	}
	d->has_timestamps = d->format == LG_DS_JSONL && with_ts == d->n;
	return 0;
}

int lg_dataset_load(struct lg_dataset *d, const char *path, const struct lg_dataset_opts *dopt,
                    const struct lg_body_opts *o, char *err, size_t errlen)
{
	static const struct lg_dataset_opts defaults = {0};
	memset(d, 0, sizeof *d);
	if (!dopt)
		dopt = &defaults;
	if (dopt->multi_turn && (o->endpoint != LG_ENDPOINT_CHAT || dopt->format == LG_DS_JSONL)) {
		snprintf(err, errlen,
		         "'%s': multi-turn sessions need conversations (not jsonl) and "
		         "--endpoint chat",
		         path);
		return -EINVAL;
	}
	d->format = dopt->format;
	char *buf = NULL;
	size_t len = 0;
	int rc = read_file(path, &buf, &len, err, errlen);
	if (rc)
		return rc;
	if (dopt->multi_turn && chat_head(d, o)) {
		free(buf);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	rc = load_buf(d, buf, len, path, dopt, o, err, errlen);
	free(buf);
	if (rc) {
		/* jansson quotes the text near an error, line breaks and all: one line. */
		for (char *p = err; errlen && *p; p++)
			if ((unsigned char)*p < 0x20)
				*p = ' ';
		lg_dataset_release(d);
		return rc;
	}
	if (dopt->shuffle && d->format == LG_DS_SHAREGPT)
		shuffle(d, dopt->seed);
	return 0;
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
	for (size_t i = 0; i < d->n_turns; i++)
		free(d->turns[i].msgs), free(d->turns[i].tail);
	free(d->turns);
	free(d->convs);
	free(d->head);
	memset(d, 0, sizeof *d);
}
