/* A fake libnvidia-ml.so for the tests: GPUs whose power follows a script in time, an energy
 * counter that is the exact integral of that power but published only every update period
 * (like the real one), and NVML's errors on demand. docs/NVML.md describes the model and its
 * environment. Variants built with -DFAKE_NVML_NO_ENERGY, -DFAKE_NVML_NO_FIELD,
 * -DFAKE_NVML_NO_COUNT and -DFAKE_NVML_NO_V2 lack the matching symbols. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* The real library's types, shared with the NVML source so both agree on every layout. */
#include "sources/nvml_types.h"

struct nvmlDevice_st {
	unsigned index;
	int mig; /* a MIG device's position on its GPU; -1 for the GPU itself */
};

#define NVML_ERROR_UNINITIALIZED    1
#define NVML_ERROR_INVALID_ARGUMENT 2
#define NVML_ERROR_UNKNOWN          999

#define MAX_GPUS 64
#define MAX_MIG  7
#define MAX_PROC 32

/* FAKE_NVML_PROCESSES: PID:SM[:GPU[/INSTANCE]], PID a number or @FILE (the pid written in
 * FILE, read at each call; absent while FILE is missing or empty), SM a percent or '-' (no
 * utilisation sample). */
struct fake_proc {
	unsigned pid;
	char file[256];
	int sm; /* -1: no sample */
	unsigned gpu;
	int instance; /* -1: none */
};
#define NS 1000000000LL

enum ev_kind {
	EV_POWER,
	EV_LOST,
	EV_RESET,
	EV_NOTSUP,
	EV_PROCS,
	EV_UTIL,
	/* counter faults: see the "counter faults" block below */
	EV_FREEZE,
	EV_THAW,
	EV_NOPERM,
	EV_ERRORS,
	EV_OK,
	EV_INSTANT, /* aliasing: see the block below */
};

struct event {
	int64_t t; /* CLOCK_REALTIME ns */
	int gpu;   /* -1: every GPU */
	enum ev_kind kind;
	double value;
	size_t line; /* keeps equal times in file order */
};

static struct {
	pthread_mutex_t lock;
	int refs;
	unsigned n_gpus;
	double idle_w, limit_w;
	int64_t period_ns, epoch_ns;
	long energy_cost_us;
	long stall_every, stall_us; /* FAKE_NVML_ENERGY_STALL=N:MS */
	long energy_calls;
	bool energy_notsup, field_notsup;
	unsigned procs, util;
	char script[4096];
	long long script_size; /* size when last parsed; -1 none yet */
	size_t warned_lines;
	struct event *ev;
	size_t n_ev, cap_ev;
	char uuid[MAX_GPUS][96];
	struct nvmlDevice_st dev[MAX_GPUS];
	unsigned n_mig, mig_slices[MAX_MIG]; /* FAKE_NVML_MIG: every GPU alike */
	struct nvmlDevice_st mig[MAX_GPUS][MAX_MIG];
	struct fake_proc proc[MAX_PROC];
	unsigned n_proc;
	bool procs_given, proc_util_notsup;
} F = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

static double env_double(const char *name, double def)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return def;
	char *end;
	double d = strtod(v, &end);
	if (*end) {
		fprintf(stderr, "fake-nvml: %s='%s' is not a number\n", name, v);
		return def;
	}
	return d;
}

/* --- the script --- */

static int cmp_event(const void *a, const void *b)
{
	const struct event *x = a, *y = b;
	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

static void add_event(const struct event *e)
{
	if (F.n_ev == F.cap_ev) {
		size_t cap = F.cap_ev ? F.cap_ev * 2 : 64;
		struct event *v = realloc(F.ev, cap * sizeof *v);
		if (!v)
			abort();
		F.ev = v;
		F.cap_ev = cap;
	}
	F.ev[F.n_ev++] = *e;
}

/* --- counter faults (the fault table test, tests/e2e/faults.sh) ---
 * freeze: the counter stops where it is; thaw: it moves again from there, so what was used
 * while frozen never shows (as a stalled firmware counter would). noperm: the counter call
 * answers NO_PERMISSION; errors: it answers UNKNOWN (an error burst); ok: it answers again.
 * Power readings are untouched by all of them. */
static bool parse_fault_word(const char *word, struct event *e)
{
	static const struct {
		const char *word;
		enum ev_kind kind;
	} faults[] = {{"freeze", EV_FREEZE},
	              {"thaw", EV_THAW},
	              {"noperm", EV_NOPERM},
	              {"errors", EV_ERRORS},
	              {"ok", EV_OK}};
	for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++)
		if (strcmp(word, faults[i].word) == 0) {
			e->kind = faults[i].kind;
			e->value = 0;
			return true;
		}
	return false;
}

static double integral_mj(unsigned gpu, int64_t a, int64_t b);

/* Energy (mJ) the counter missed up to t: every frozen stretch that began after `from`. */
static __attribute__((unused)) double frozen_mj(unsigned gpu, int64_t from, int64_t t)
{
	double missed = 0;
	int64_t since = -1;
	for (size_t i = 0; i < F.n_ev && F.ev[i].t <= t; i++) {
		const struct event *e = &F.ev[i];
		if (e->gpu >= 0 && e->gpu != (int)gpu)
			continue;
		if (e->kind == EV_FREEZE && since < 0)
			since = e->t > from ? e->t : from;
		else if (e->kind == EV_THAW && since >= 0) {
			missed += integral_mj(gpu, since, e->t);
			since = -1;
		}
	}
	return since >= 0 ? missed + integral_mj(gpu, since, t) : missed;
}

/* What the counter call answers at t besides its value: NO_PERMISSION, UNKNOWN or SUCCESS. */
static __attribute__((unused)) nvmlReturn_t counter_state(unsigned gpu, int64_t t)
{
	nvmlReturn_t rc = NVML_SUCCESS;
	for (size_t i = 0; i < F.n_ev && F.ev[i].t <= t; i++) {
		const struct event *e = &F.ev[i];
		if (e->gpu >= 0 && e->gpu != (int)gpu)
			continue;
		if (e->kind == EV_NOPERM)
			rc = NVML_ERROR_NO_PERMISSION;
		else if (e->kind == EV_ERRORS)
			rc = NVML_ERROR_UNKNOWN;
		else if (e->kind == EV_OK)
			rc = NVML_SUCCESS;
	}
	return rc;
}
/* --- end of counter faults --- */

/* --- aliasing: instant power that misreports the true draw ---
 * `instant W` makes field 186 show W watts from the line's time on, while the counter and the
 * 1 s average keep following the true power; `instant true` ends it. Real instant power
 * samples the draw once per update, so bursts shorter than the period alias like this. */
static bool parse_instant(const char *word, const char *arg, int n, struct event *e)
{
	if (strcmp(word, "instant") != 0)
		return false;
	char *end;
	e->kind = EV_INSTANT;
	e->value = strcmp(arg, "true") == 0 ? -1 : strtod(arg, &end);
	return n == 4 && (e->value == -1 || (!*end && e->value >= 0));
}

/* The power field 186 shows at the boundary b: the truth unless an `instant` line says
 * otherwise. */
static double shown_power(unsigned gpu, int64_t b) __attribute__((unused));

static bool parse_line(char *s, size_t line, struct event *e)
{
	char gpu[16], word[32], extra[32] = "";
	long long t;
	int n = sscanf(s, "%lld %15s %31s %31s", &t, gpu, word, extra);
	if (n < 3)
		return false;
	e->t = t;
	e->line = line;
	if (strcmp(gpu, "*") == 0) {
		e->gpu = -1;
	} else {
		char *end;
		long g = strtol(gpu, &end, 10);
		if (*end || g < 0 || g >= MAX_GPUS)
			return false;
		e->gpu = (int)g;
	}
	if (parse_fault_word(word, e))
		return n == 3;
	static const struct {
		const char *word;
		enum ev_kind kind;
		bool arg;
	} words[] = {{"lost", EV_LOST, false},
	             {"reset", EV_RESET, false},
	             {"notsup", EV_NOTSUP, false},
	             {"procs", EV_PROCS, true},
	             {"util", EV_UTIL, true}};
	if (parse_instant(word, extra, n, e))
		return true;
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
		if (strcmp(word, words[i].word) != 0)
			continue;
		e->kind = words[i].kind;
		if (words[i].arg != (n == 4))
			return false;
		e->value = words[i].arg ? strtod(extra, NULL) : 0;
		return true;
	}
	char *end;
	e->kind = EV_POWER;
	e->value = strtod(word, &end);
	return n == 3 && !*end && e->value >= 0;
}

/* Re-reads the script whenever its size changed; only whole lines count. */
static void refresh(void)
{
	struct stat st;
	if (!F.script[0] || stat(F.script, &st) != 0 || st.st_size == F.script_size)
		return;
	FILE *f = fopen(F.script, "r");
	if (!f)
		return;
	F.n_ev = 0;
	char buf[512];
	size_t line = 0;
	while (fgets(buf, sizeof buf, f)) {
		size_t len = strlen(buf);
		if (len == 0 || buf[len - 1] != '\n')
			break; /* still being written */
		line++;
		char *p = buf + strspn(buf, " \t");
		if (*p == '#' || *p == '\n')
			continue;
		struct event e;
		if (parse_line(p, line, &e))
			add_event(&e);
		else if (line > F.warned_lines)
			fprintf(stderr, "fake-nvml: %s:%zu: cannot parse '%.*s'\n", F.script, line,
			        (int)len - 1, buf);
	}
	F.warned_lines = line > F.warned_lines ? line : F.warned_lines;
	fclose(f);
	F.script_size = st.st_size;
	if (F.n_ev > 1)
		qsort(F.ev, F.n_ev, sizeof *F.ev, cmp_event);
}

/* --- the model --- */

static const struct event *last_event(unsigned gpu, enum ev_kind kind, int64_t t)
{
	const struct event *found = NULL;
	for (size_t i = 0; i < F.n_ev && F.ev[i].t <= t; i++)
		if (F.ev[i].kind == kind && (F.ev[i].gpu < 0 || F.ev[i].gpu == (int)gpu))
			found = &F.ev[i];
	return found;
}

static double power_at(unsigned gpu, int64_t t)
{
	const struct event *e = last_event(gpu, EV_POWER, t);
	return e ? e->value : F.idle_w;
}

/* Energy in mJ used between a and b: power is piecewise constant, so this is exact. */
static double integral_mj(unsigned gpu, int64_t a, int64_t b)
{
	if (b <= a)
		return 0;
	double w = power_at(gpu, a), mj = 0;
	int64_t t = a;
	for (size_t i = 0; i < F.n_ev && F.ev[i].t < b; i++) {
		const struct event *e = &F.ev[i];
		if (e->t <= a || e->kind != EV_POWER || (e->gpu >= 0 && e->gpu != (int)gpu))
			continue;
		mj += w * (double)(e->t - t) / 1e6;
		t = e->t;
		w = e->value;
	}
	return mj + w * (double)(b - t) / 1e6;
}

/* The last update of counter and power at or before t. */
static int64_t boundary(int64_t t)
{
	if (F.period_ns <= 0)
		return t;
	int64_t k = (t - F.epoch_ns) / F.period_ns;
	if ((t - F.epoch_ns) % F.period_ns < 0)
		k--;
	return F.epoch_ns + k * F.period_ns;
}

static __attribute__((unused)) unsigned long long counter_mj(unsigned gpu, int64_t t)
{
	int64_t b = boundary(t);
	const struct event *r = last_event(gpu, EV_RESET, b);
	double start = r ? 0 : 1e9 * (gpu + 1); /* a real card shows a large value */
	int64_t from = r ? r->t : F.epoch_ns;
	return (unsigned long long)floor(start + integral_mj(gpu, from, b) - frozen_mj(gpu, from, b));
}

static __attribute__((unused)) double shown_power(unsigned gpu, int64_t b)
{
	const struct event *e = last_event(gpu, EV_INSTANT, b);
	return e && e->value >= 0 ? e->value : power_at(gpu, b);
}

static bool lost(unsigned gpu, int64_t t)
{
	return last_event(gpu, EV_LOST, t) != NULL;
}

/* Common entry of every device call: takes the lock, refreshes the script, checks the
 * handle. Returns the GPU index, or -1 with *rc set (and the lock released). */
static int enter(nvmlDevice_t dev, int64_t *now, nvmlReturn_t *rc)
{
	pthread_mutex_lock(&F.lock);
	if (F.refs == 0) {
		*rc = NVML_ERROR_UNINITIALIZED;
	} else if (!dev || dev < F.dev || dev >= F.dev + F.n_gpus) {
		*rc = NVML_ERROR_INVALID_ARGUMENT;
	} else {
		refresh();
		*now = now_ns();
		unsigned g = dev->index;
		if (!lost(g, *now))
			return (int)g;
		*rc = NVML_ERROR_GPU_IS_LOST;
	}
	pthread_mutex_unlock(&F.lock);
	return -1;
}

/* As enter, for the calls that also take a MIG device (*mig its position, else -1). */
static int enter_any(nvmlDevice_t dev, int64_t *now, nvmlReturn_t *rc, int *mig)
{
	*mig = -1;
	if (dev && F.n_mig && dev >= &F.mig[0][0] && dev < &F.mig[0][0] + MAX_GPUS * MAX_MIG) {
		pthread_mutex_lock(&F.lock);
		if (F.refs == 0 || dev->index >= F.n_gpus || dev->mig >= (int)F.n_mig) {
			*rc = F.refs == 0 ? NVML_ERROR_UNINITIALIZED : NVML_ERROR_INVALID_ARGUMENT;
			pthread_mutex_unlock(&F.lock);
			return -1;
		}
		refresh();
		*now = now_ns();
		*mig = dev->mig;
		if (!lost(dev->index, *now))
			return (int)dev->index;
		*rc = NVML_ERROR_GPU_IS_LOST;
		pthread_mutex_unlock(&F.lock);
		return -1;
	}
	return enter(dev, now, rc);
}

static nvmlReturn_t leave(nvmlReturn_t rc)
{
	pthread_mutex_unlock(&F.lock);
	return rc;
}

/* --- processes and MIG --- */

/* FAKE_NVML_MIG=S1,S2,...: every GPU in MIG mode with instances of S1, S2, ... slices. */
static void parse_mig(const char *v)
{
	F.n_mig = 0;
	while (v && *v && F.n_mig < MAX_MIG) {
		char *end;
		long n = strtol(v, &end, 10);
		if (end == v || n <= 0 || n > 7 || (*end && *end != ',')) {
			fprintf(stderr, "fake-nvml: FAKE_NVML_MIG: '%s' is not a slice count\n", v);
			F.n_mig = 0;
			return;
		}
		F.mig_slices[F.n_mig++] = (unsigned)n;
		v = *end ? end + 1 : end;
	}
}

static void parse_procs(const char *v)
{
	F.n_proc = 0;
	F.procs_given = v && *v;
	while (v && *v && F.n_proc < MAX_PROC) {
		size_t len = strcspn(v, ",");
		char entry[256];
		snprintf(entry, sizeof entry, "%.*s", (int)len, v);
		v += len + (v[len] == ',');
		struct fake_proc *p = &F.proc[F.n_proc];
		memset(p, 0, sizeof *p);
		p->instance = -1;
		char *sm, *where;
		/* PID:SM or PID:SM:GPU[/INSTANCE]: the pid may be a path holding ':' only after '@' */
		char *first = strchr(entry[0] == '@' ? entry + 1 : entry, ':');
		if (!first) {
			fprintf(stderr,
			        "fake-nvml: FAKE_NVML_PROCESSES: '%s' is not PID:SM[:GPU[/INSTANCE]]\n",
			        entry);
			continue;
		}
		*first = 0;
		sm = first + 1;
		where = strchr(sm, ':');
		if (where)
			*where++ = 0;
		if (entry[0] == '@')
			snprintf(p->file, sizeof p->file, "%s", entry + 1);
		else
			p->pid = (unsigned)strtoul(entry, NULL, 10);
		p->sm = strcmp(sm, "-") == 0 ? -1 : atoi(sm);
		if (where) {
			p->gpu = (unsigned)strtoul(where, &where, 10);
			if (*where == '/')
				p->instance = atoi(where + 1);
		}
		F.n_proc++;
	}
}

/* The pid of an entry now: 0 while its file is missing or empty. */
static unsigned proc_pid(const struct fake_proc *p)
{
	if (!p->file[0])
		return p->pid;
	FILE *f = fopen(p->file, "r");
	unsigned pid = 0;
	if (f) {
		if (fscanf(f, "%u", &pid) != 1)
			pid = 0;
		fclose(f);
	}
	return pid;
}

/* --- the API --- */

static nvmlReturn_t setup(void)
{
	const char *rc = getenv("FAKE_NVML_INIT_RC");
	if (rc && *rc && atoi(rc) != 0)
		return atoi(rc);
	double n = env_double("FAKE_NVML_GPUS", 1);
	F.n_gpus = n < 0 ? 0 : n > MAX_GPUS ? MAX_GPUS : (unsigned)n;
	F.idle_w = env_double("FAKE_NVML_IDLE_W", 60);
	F.limit_w = env_double("FAKE_NVML_LIMIT_W", 700);
	F.period_ns = (int64_t)(env_double("FAKE_NVML_PERIOD_MS", 100) * 1e6);
	/* An integer: a double would round nanoseconds since 1970. */
	const char *epoch = getenv("FAKE_NVML_EPOCH_NS");
	F.epoch_ns = epoch && *epoch ? strtoll(epoch, NULL, 10) : 0;
	if (F.epoch_ns <= 0)
		F.epoch_ns = now_ns();
	F.energy_cost_us = (long)env_double("FAKE_NVML_ENERGY_COST_US", 0);
	const char *stall = getenv("FAKE_NVML_ENERGY_STALL");
	double stall_ms = 0;
	if (stall && sscanf(stall, "%ld:%lf", &F.stall_every, &stall_ms) == 2 && F.stall_every > 0)
		F.stall_us = (long)(stall_ms * 1000);
	const char *e = getenv("FAKE_NVML_ENERGY");
	F.energy_notsup = e && strcmp(e, "notsup") == 0;
	e = getenv("FAKE_NVML_FIELD");
	F.field_notsup = e && strcmp(e, "notsup") == 0;
	F.procs = (unsigned)env_double("FAKE_NVML_PROCS", 0);
	F.util = (unsigned)env_double("FAKE_NVML_UTIL", 0);
	e = getenv("FAKE_NVML_SCRIPT");
	snprintf(F.script, sizeof F.script, "%s", e ? e : "");
	F.script_size = -1;
	F.warned_lines = 0;
	F.n_ev = 0;
	const char *uuids = getenv("FAKE_NVML_UUIDS");
	parse_mig(getenv("FAKE_NVML_MIG"));
	parse_procs(getenv("FAKE_NVML_PROCESSES"));
	e = getenv("FAKE_NVML_PROCESS_UTIL");
	F.proc_util_notsup = e && strcmp(e, "notsup") == 0;
	for (unsigned i = 0; i < MAX_GPUS; i++) {
		F.dev[i].mig = -1;
		for (unsigned k = 0; k < MAX_MIG; k++)
			F.mig[i][k] = (struct nvmlDevice_st){i, (int)k};
		F.dev[i].index = i;
		snprintf(F.uuid[i], sizeof F.uuid[i], "GPU-fa4e0000-0000-4000-8000-%012x", i);
	}
	for (unsigned i = 0; uuids && *uuids && i < MAX_GPUS; i++) {
		size_t len = strcspn(uuids, ",");
		snprintf(F.uuid[i], sizeof F.uuid[i], "%.*s", (int)len, uuids);
		uuids += len + (uuids[len] == ',');
	}
	return NVML_SUCCESS;
}

/* Calls through an older name where a newer one exists: the tests check that greenops
 * prefers the newest (read with dlsym, it is not part of NVML). */
static unsigned long older_calls;

unsigned long fake_nvml_older_calls(void)
{
	return older_calls;
}

static nvmlReturn_t init(void)
{
	pthread_mutex_lock(&F.lock);
	nvmlReturn_t rc = NVML_SUCCESS;
	if (F.refs == 0)
		rc = setup();
	if (rc == NVML_SUCCESS)
		F.refs++;
	pthread_mutex_unlock(&F.lock);
	return rc;
}

nvmlReturn_t nvmlShutdown(void)
{
	pthread_mutex_lock(&F.lock);
	nvmlReturn_t rc = F.refs > 0 ? NVML_SUCCESS : NVML_ERROR_UNINITIALIZED;
	if (F.refs > 0 && --F.refs == 0) {
		free(F.ev);
		F.ev = NULL;
		F.n_ev = F.cap_ev = 0;
	}
	pthread_mutex_unlock(&F.lock);
	return rc;
}

const char *nvmlErrorString(nvmlReturn_t rc)
{
	switch (rc) {
	case NVML_SUCCESS:
		return "Success";
	case NVML_ERROR_UNINITIALIZED:
		return "Uninitialized";
	case NVML_ERROR_INVALID_ARGUMENT:
		return "Invalid Argument";
	case NVML_ERROR_NOT_SUPPORTED:
		return "Not Supported";
	case 4:
		return "Insufficient Permissions";
	case NVML_ERROR_INSUFFICIENT_SIZE:
		return "Insufficient Size";
	case 9:
		return "Driver Not Loaded";
	case NVML_ERROR_GPU_IS_LOST:
		return "GPU is lost";
	default:
		return "Unknown Error";
	}
}

static __attribute__((unused)) nvmlReturn_t get_count(unsigned int *count)
{
	pthread_mutex_lock(&F.lock);
	nvmlReturn_t rc = F.refs == 0 ? NVML_ERROR_UNINITIALIZED : !count ? NVML_ERROR_INVALID_ARGUMENT : 0;
	if (rc == NVML_SUCCESS)
		*count = F.n_gpus;
	pthread_mutex_unlock(&F.lock);
	return rc;
}

static nvmlReturn_t get_handle(unsigned int index, nvmlDevice_t *dev)
{
	pthread_mutex_lock(&F.lock);
	nvmlReturn_t rc = NVML_SUCCESS;
	if (F.refs == 0)
		rc = NVML_ERROR_UNINITIALIZED;
	else if (index >= F.n_gpus || !dev)
		rc = NVML_ERROR_INVALID_ARGUMENT;
	else {
		refresh();
		if (lost(index, now_ns()))
			rc = NVML_ERROR_GPU_IS_LOST;
		else
			*dev = &F.dev[index];
	}
	pthread_mutex_unlock(&F.lock);
	return rc;
}

#ifdef FAKE_NVML_NO_V2
#define OLDER() (void)0
#else
#define OLDER() (void)__atomic_add_fetch(&older_calls, 1, __ATOMIC_RELAXED)

nvmlReturn_t nvmlInit_v2(void)
{
	return init();
}

#ifndef FAKE_NVML_NO_COUNT
nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count)
{
	return get_count(count);
}
#endif

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *dev)
{
	return get_handle(index, dev);
}
#endif

nvmlReturn_t nvmlInit(void)
{
	OLDER();
	return init();
}

#ifndef FAKE_NVML_NO_COUNT
nvmlReturn_t nvmlDeviceGetCount(unsigned int *count)
{
	OLDER();
	return get_count(count);
}
#endif

nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int index, nvmlDevice_t *dev)
{
	OLDER();
	return get_handle(index, dev);
}

static nvmlReturn_t copy_string(char *dst, unsigned int len, const char *src)
{
	if (!dst || strlen(src) >= len)
		return NVML_ERROR_INSUFFICIENT_SIZE;
	memcpy(dst, src, strlen(src) + 1);
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t dev, char *name, unsigned int len)
{
	int64_t now;
	nvmlReturn_t rc;
	if (enter(dev, &now, &rc) < 0)
		return rc;
	return leave(copy_string(name, len, "Fake GPU"));
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t dev, char *uuid, unsigned int len)
{
	int64_t now;
	nvmlReturn_t rc;
	int mig;
	int g = enter_any(dev, &now, &rc, &mig);
	if (g < 0)
		return rc;
	if (mig >= 0) {
		char buf[96];
		snprintf(buf, sizeof buf, "MIG-fa4e0000-0000-4000-9%03x-%012x", (unsigned)g, (unsigned)mig);
		return leave(copy_string(uuid, len, buf));
	}
	return leave(copy_string(uuid, len, F.uuid[g]));
}

#ifndef FAKE_NVML_NO_ENERGY
/* The real call burns CPU (about 3.9 ms on an H100): FAKE_NVML_ENERGY_COST_US mimics it (and
 * FAKE_NVML_ENERGY_STALL=N:MS a caller held up), in CPU time so that a busy machine does not make it cheaper.
 */
static void burn(long us)
{
	struct timespec a, b;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
	do
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
	while ((b.tv_sec - a.tv_sec) * 1000000L + (b.tv_nsec - a.tv_nsec) / 1000 < us);
}

/* A preempted caller: FAKE_NVML_ENERGY_STALL=N:MS makes every Nth call last MS ms longer,
 * the value taken at its start one time and at its end the next, as a thread held up by a
 * busy machine before or after the driver answered. */
static void stall(bool before)
{
	if (F.stall_us <= 0)
		return;
	long k = __atomic_add_fetch(&F.energy_calls, before ? 1 : 0, __ATOMIC_RELAXED);
	if (k % F.stall_every == 0 && ((k / F.stall_every) % 2 == 0) == before) {
		struct timespec ts = {F.stall_us / 1000000, (F.stall_us % 1000000) * 1000};
		nanosleep(&ts, NULL);
	}
}

nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t dev, unsigned long long *mj)
{
	int64_t now;
	nvmlReturn_t rc;
	if (F.energy_cost_us > 0)
		burn(F.energy_cost_us);
	stall(true);
	int g = enter(dev, &now, &rc);
	if (g < 0)
		return rc;
	if (!mj)
		return leave(NVML_ERROR_INVALID_ARGUMENT);
	if (F.energy_notsup || last_event((unsigned)g, EV_NOTSUP, now))
		return leave(NVML_ERROR_NOT_SUPPORTED);
	if ((rc = counter_state((unsigned)g, now)) != NVML_SUCCESS)
		return leave(rc);
	*mj = counter_mj((unsigned)g, now);
	nvmlReturn_t out = leave(NVML_SUCCESS);
	stall(false);
	return out;
}
#endif

static unsigned int to_mw(double w)
{
	return (unsigned int)llround(w * 1000);
}

#ifndef FAKE_NVML_NO_FIELD
nvmlReturn_t nvmlDeviceGetFieldValues(nvmlDevice_t dev, int count, nvmlFieldValue_t *values)
{
	int64_t now;
	nvmlReturn_t rc;
	int g = enter(dev, &now, &rc);
	if (g < 0) {
		for (int i = 0; rc == NVML_ERROR_GPU_IS_LOST && values && i < count; i++)
			values[i].nvmlReturn = rc;
		return rc;
	}
	if (count < 0 || (count > 0 && !values))
		return leave(NVML_ERROR_INVALID_ARGUMENT);
	int64_t b = boundary(now);
	for (int i = 0; i < count; i++) {
		nvmlFieldValue_t *v = &values[i];
		v->timestamp = b / 1000;
		v->latencyUsec = 0;
		if (v->fieldId != NVML_FI_DEV_POWER_INSTANT || v->scopeId != 0 || F.field_notsup) {
			v->nvmlReturn = NVML_ERROR_NOT_SUPPORTED;
			continue;
		}
		v->valueType = NVML_VALUE_TYPE_UNSIGNED_INT;
		v->value.uiVal = to_mw(shown_power((unsigned)g, b));
		v->nvmlReturn = NVML_SUCCESS;
	}
	return leave(NVML_SUCCESS);
}
#endif

/* Ampere and newer average power over the last second. */
nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t dev, unsigned int *mw)
{
	int64_t now;
	nvmlReturn_t rc;
	int g = enter(dev, &now, &rc);
	if (g < 0)
		return rc;
	if (!mw)
		return leave(NVML_ERROR_INVALID_ARGUMENT);
	int64_t b = boundary(now);
	*mw = to_mw(integral_mj((unsigned)g, b - NS, b) / 1000.0);
	return leave(NVML_SUCCESS);
}

static nvmlReturn_t limit(nvmlDevice_t dev, unsigned int *mw)
{
	int64_t now;
	nvmlReturn_t rc;
	if (enter(dev, &now, &rc) < 0)
		return rc;
	if (!mw)
		return leave(NVML_ERROR_INVALID_ARGUMENT);
	*mw = to_mw(F.limit_w);
	return leave(NVML_SUCCESS);
}

nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t dev, unsigned int *mw)
{
	return limit(dev, mw);
}

nvmlReturn_t nvmlDeviceGetPowerManagementLimit(nvmlDevice_t dev, unsigned int *mw)
{
	return limit(dev, mw);
}

static nvmlReturn_t processes(nvmlDevice_t dev, unsigned int *count, void *infos, bool v1, bool graphics)
{
	int64_t now;
	nvmlReturn_t rc;
	int mig;
	int g = enter_any(dev, &now, &rc, &mig);
	if (g < 0)
		return rc;
	if (!count || (*count > 0 && !infos))
		return leave(NVML_ERROR_INVALID_ARGUMENT);
	unsigned pids[MAX_PROC], inst[MAX_PROC], n = 0;
	if (F.procs_given) { /* FAKE_NVML_PROCESSES: compute processes only */
		for (unsigned i = 0; !graphics && i < F.n_proc; i++) {
			const struct fake_proc *p = &F.proc[i];
			unsigned pid = proc_pid(p);
			if (pid && p->gpu == (unsigned)g && (mig < 0 || p->instance == mig)) {
				inst[n] = p->instance < 0 ? 0xFFFFFFFFu : (unsigned)p->instance;
				pids[n++] = pid;
			}
		}
	} else if (!graphics && mig < 0) {
		const struct event *e = last_event((unsigned)g, EV_PROCS, now);
		for (n = 0; n < (e ? (unsigned)e->value : F.procs) && n < MAX_PROC; n++)
			pids[n] = 1000 + n, inst[n] = 0xFFFFFFFFu;
		if (e ? e->value > MAX_PROC : F.procs > MAX_PROC)
			n = e ? (unsigned)e->value : F.procs; /* counted only: the size query */
	}
	if (*count < n) {
		*count = n;
		return leave(NVML_ERROR_INSUFFICIENT_SIZE);
	}
	for (unsigned i = 0; i < n; i++) {
		unsigned pid = i < MAX_PROC ? pids[i] : 1000 + i, gi = i < MAX_PROC ? inst[i] : 0xFFFFFFFFu;
		if (v1) {
			nvmlProcessInfo_v1_t *p = (nvmlProcessInfo_v1_t *)infos + i;
			p->pid = pid;
			p->usedGpuMemory = 1ULL << 30;
		} else {
			nvmlProcessInfo_t *p = (nvmlProcessInfo_t *)infos + i;
			p->pid = pid;
			p->usedGpuMemory = 1ULL << 30;
			p->gpuInstanceId = gi;
			p->computeInstanceId = gi == 0xFFFFFFFFu ? gi : 0;
		}
	}
	*count = n;
	return leave(NVML_SUCCESS);
}

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses(nvmlDevice_t dev, unsigned int *count,
                                                  nvmlProcessInfo_v1_t *p)
{
	__atomic_add_fetch(&older_calls, 1, __ATOMIC_RELAXED);
	return processes(dev, count, p, true, false);
}

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t dev, unsigned int *count,
                                                     nvmlProcessInfo_t *p)
{
	__atomic_add_fetch(&older_calls, 1, __ATOMIC_RELAXED);
	return processes(dev, count, p, false, false);
}

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t dev, unsigned int *count,
                                                     nvmlProcessInfo_t *p)
{
	return processes(dev, count, p, false, false);
}

nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t dev, nvmlUtilization_t *u)
{
	int64_t now;
	nvmlReturn_t rc;
	int g = enter(dev, &now, &rc);
	if (g < 0)
		return rc;
	if (!u)
		return leave(NVML_ERROR_INVALID_ARGUMENT);
	const struct event *e = last_event((unsigned)g, EV_UTIL, now);
	u->gpu = e ? (unsigned)e->value : F.util;
	u->memory = u->gpu / 2;
	return leave(NVML_SUCCESS);
}

nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses(nvmlDevice_t dev, unsigned int *count,
                                                   nvmlProcessInfo_v1_t *p)
{
	__atomic_add_fetch(&older_calls, 1, __ATOMIC_RELAXED);
	return processes(dev, count, p, true, true);
}

nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v2(nvmlDevice_t dev, unsigned int *count,
                                                      nvmlProcessInfo_t *p)
{
	__atomic_add_fetch(&older_calls, 1, __ATOMIC_RELAXED);
	return processes(dev, count, p, false, true);
}

nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v3(nvmlDevice_t dev, unsigned int *count,
                                                      nvmlProcessInfo_t *p)
{
	return processes(dev, count, p, false, true);
}

/* One sample per process of FAKE_NVML_PROCESSES on the GPU (those with an SM figure), dated
 * now; none in MIG mode, as on real GPUs. */
nvmlReturn_t nvmlDeviceGetProcessUtilization(nvmlDevice_t dev, nvmlProcessUtilizationSample_t *v,
                                             unsigned int *count, unsigned long long since_us)
{
	int64_t now;
	nvmlReturn_t rc;
	int g = enter(dev, &now, &rc);
	if (g < 0)
		return rc;
	if (!count)
		return leave(NVML_ERROR_INVALID_ARGUMENT);
	if (F.n_mig || F.proc_util_notsup)
		return leave(NVML_ERROR_NOT_SUPPORTED);
	unsigned long long now_us = (unsigned long long)(now / 1000);
	unsigned n = 0, pids[MAX_PROC];
	int sm[MAX_PROC];
	for (unsigned i = 0; i < F.n_proc; i++) {
		unsigned pid = proc_pid(&F.proc[i]);
		if (pid && F.proc[i].gpu == (unsigned)g && F.proc[i].sm >= 0)
			pids[n] = pid, sm[n++] = F.proc[i].sm;
	}
	if (n == 0 || since_us >= now_us)
		return leave(NVML_ERROR_NOT_FOUND);
	if (!v || *count < n) {
		*count = n;
		return leave(NVML_ERROR_INSUFFICIENT_SIZE);
	}
	for (unsigned i = 0; i < n; i++)
		v[i] = (nvmlProcessUtilizationSample_t){
		    .pid = pids[i], .timeStamp = now_us, .smUtil = (unsigned)sm[i]};
	*count = n;
	return leave(NVML_SUCCESS);
}

nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t dev, unsigned int *current, unsigned int *pending)
{
	int64_t now;
	nvmlReturn_t rc;
	int g = enter(dev, &now, &rc);
	if (g < 0)
		return rc;
	if (!current || !pending)
		return leave(NVML_ERROR_INVALID_ARGUMENT);
	*current = *pending = F.n_mig ? NVML_DEVICE_MIG_ENABLE : 0;
	return leave(NVML_SUCCESS);
}

nvmlReturn_t nvmlDeviceGetMaxMigDeviceCount(nvmlDevice_t dev, unsigned int *count)
{
	int64_t now;
	nvmlReturn_t rc;
	int g = enter(dev, &now, &rc);
	if (g < 0)
		return rc;
	if (!count)
		return leave(NVML_ERROR_INVALID_ARGUMENT);
	*count = MAX_MIG;
	return leave(NVML_SUCCESS);
}

nvmlReturn_t nvmlDeviceGetMigDeviceHandleByIndex(nvmlDevice_t dev, unsigned int index, nvmlDevice_t *mig)
{
	int64_t now;
	nvmlReturn_t rc;
	int g = enter(dev, &now, &rc);
	if (g < 0)
		return rc;
	if (!mig || index >= MAX_MIG)
		return leave(NVML_ERROR_INVALID_ARGUMENT);
	if (!F.n_mig)
		return leave(NVML_ERROR_NOT_SUPPORTED);
	if (index >= F.n_mig)
		return leave(NVML_ERROR_NOT_FOUND);
	*mig = &F.mig[g][index];
	return leave(NVML_SUCCESS);
}

static nvmlReturn_t attributes(nvmlDevice_t dev, nvmlDeviceAttributes_t *a)
{
	int64_t now;
	nvmlReturn_t rc;
	int mig;
	int g = enter_any(dev, &now, &rc, &mig);
	if (g < 0)
		return rc;
	if (!a)
		return leave(NVML_ERROR_INVALID_ARGUMENT);
	unsigned slices = mig >= 0 ? F.mig_slices[mig] : 7;
	memset(a, 0, sizeof *a);
	a->multiprocessorCount = slices * 16;
	a->gpuInstanceSliceCount = a->computeInstanceSliceCount = slices;
	a->memorySizeMB = slices * 10240ULL;
	return leave(NVML_SUCCESS);
}

nvmlReturn_t nvmlDeviceGetAttributes(nvmlDevice_t dev, nvmlDeviceAttributes_t *a)
{
	__atomic_add_fetch(&older_calls, 1, __ATOMIC_RELAXED);
	return attributes(dev, a);
}

nvmlReturn_t nvmlDeviceGetAttributes_v2(nvmlDevice_t dev, nvmlDeviceAttributes_t *a)
{
	return attributes(dev, a);
}
