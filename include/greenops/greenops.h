/* greenops — energy measurement for machine-learning work.
 * Public C API: a monitor samples every energy sensor of the machine, marks named windows
 * inside its span, and returns per-domain and per-window energy as plain structs.
 * Every function returns 0 or a negative errno; gops_monitor_error() says what went wrong. */
#ifndef GREENOPS_H
#define GREENOPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What libgreenops exports: the library is built with -fvisibility=hidden, so the functions
 * declared here, and nothing else, are its ABI. */
#if defined(__GNUC__) || defined(__clang__)
#define GOPS_EXPORT __attribute__((visibility("default")))
#else
#define GOPS_EXPORT
#endif

#define GOPS_VERSION_MAJOR 0
#define GOPS_VERSION_MINOR 1
#define GOPS_VERSION_PATCH 0

GOPS_EXPORT const char *gops_version(void);

typedef struct gops_monitor gops_monitor;

/* How a domain's energy was obtained. */
enum gops_method {
	GOPS_METHOD_NONE = 0,   /* nothing was measured: never reported as 0 J */
	GOPS_METHOD_COUNTER,    /* difference of a hardware energy counter */
	GOPS_METHOD_INTEGRATED, /* trapezoid integral of power samples */
	GOPS_METHOD_ESTIMATED,  /* a model (CPU load x TDP, RAM size): not a measurement */
	GOPS_METHOD_BRIDGED,    /* "counter+integrated": the counter where it was truly read, power
	                           integrated over the stretches it was not (the warnings say which) */
};
GOPS_EXPORT const char *gops_method_name(enum gops_method m);

/* The name of source i as --sources and gops_options.sources take it ("nvml", "powercap",
 * ...), in the order they are opened; NULL past the last. */
GOPS_EXPORT const char *gops_source_name(size_t i);

/* Idle baseline handling (greenops run --idle). */
enum gops_idle_mode {
	GOPS_IDLE_AUTO = 0, /* stored when a baseline exists for every domain, else none */
	GOPS_IDLE_NONE,
	GOPS_IDLE_STORED,
	GOPS_IDLE_MEASURE, /* measure for idle_seconds before the span */
	GOPS_IDLE_WATTS,   /* one figure in watts, applied to the sum of the summed domains */
};

struct gops_idle_value {
	const char *domain; /* domain name, e.g. "gpu0" */
	double watts;
};

/* The sampling period when none is given (gops_options_init, interval_ms 0, the CLI). */
#define GOPS_DEFAULT_INTERVAL_MS 100

struct gops_options {
	unsigned interval_ms;                      /* sampling period; 0 = GOPS_DEFAULT_INTERVAL_MS */
	const char *sources;                       /* comma-separated source names, NULL = default rule */
	enum gops_idle_mode idle;                  /* what to subtract as idle power */
	double idle_seconds;                       /* GOPS_IDLE_MEASURE: how long */
	double idle_watts;                         /* GOPS_IDLE_WATTS */
	const struct gops_idle_value *idle_values; /* GOPS_IDLE_STORED: per-domain baseline */
	size_t n_idle_values;
	double cpu_tdp_w;       /* estimator: CPU TDP in watts, 0 = look it up */
	double anchor_period_s; /* expensive counters: read every this many s, 0 = auto */
};
GOPS_EXPORT void gops_options_init(struct gops_options *o);

struct gops_domain_result {
	char name[32];   /* gpu0, package-0, dram-0, cpu-estimate, ... */
	char source[16]; /* nvml, powercap, perf, hwmon, estimate */
	char kind[16];   /* gpu, package, dram, psys, core, uncore, estimate, other */
	char label[128]; /* device model, UUID, driver: for people */
	enum gops_method method;
	bool summed;             /* counted in the top-level total (overlap rules) */
	double energy_j;         /* NAN when nothing was measured */
	double dynamic_energy_j; /* NAN without a baseline */
	double idle_power_w;     /* NAN without a baseline */
	double avg_power_w;
	double peak_power_w; /* NAN without power samples */
	double uncertainty_j;
	double integrated_energy_j; /* instant power integrated alone, as a cross-check; NAN if none */
	double update_period_s;     /* the counter's measured update period; 0 unknown */
	size_t n_warnings;
	char **warnings;
	/* The first n_sensor_notes warnings describe the sensor itself, as `greenops list` does
	 * ("estimated, not measured: ..."); the rest concern this span. */
	size_t n_sensor_notes;
};

/* A shared GPU's measured energy split between the measured command and the other processes
 * using it: an estimate beside the measurement, never part of any measured total
 * (docs/FLEET.md, "Shared GPUs and MIG"). Only for GPUs that other processes used, or whose
 * MIG instances the command ran on, during a span with a command (gops_monitor_set_command_pid). */
struct gops_process_share {
	unsigned pid; /* 0: further processes of others, summed */
	char name[16];
	bool command;
	int instance; /* MIG instance, -1 none */
	double energy_j;
};

struct gops_instance_share {
	char uuid[96];
	unsigned slices;
	bool command; /* the command ran on it */
	double energy_j;
};

struct gops_attribution {
	char domain[32];   /* the GPU's domain, e.g. gpu0 */
	const char *basis; /* "sm_util" (per-process SM utilisation) or "mig_slices" */
	double energy_j;   /* the domain's measured energy = command + others + unattributed */
	double command_j, others_j, unattributed_j;
	double idle_power_w;      /* the baseline kept out of the split as unattributed; NAN: none */
	double missing_s;         /* seconds shared whose activity could not be read */
	size_t n_other_processes; /* distinct processes outside the command seen on the GPU */
	size_t n_processes;
	struct gops_process_share *processes;
	size_t n_instances; /* MIG: every instance of the GPU */
	struct gops_instance_share *instances;
};

struct gops_tag {
	char *key;
	char *value;
};

struct gops_window_result {
	char *name;
	double start_s; /* seconds from the start of the monitor's span */
	double end_s;
	double units;    /* NAN when none were given */
	double energy_j; /* sum of the summed domains */
	double dynamic_energy_j;
	double energy_per_unit_j;
	double uncertainty_j;
	bool open; /* never ended: closed at the end of the span */
	size_t n_domains;
	struct gops_domain_result *domains;
	size_t n_warnings;
	char **warnings;
};

struct gops_result {
	double duration_s;
	int64_t start_realtime_ns; /* wall clock at the start of the span */
	int64_t start_ns, end_ns;  /* the span on CLOCK_MONOTONIC (gops_now_ns) */
	double energy_j;           /* sum of the summed domains; NAN when none measured */
	double dynamic_energy_j;   /* NAN without a baseline */
	double uncertainty_j;
	double units;             /* NAN when none were given */
	double energy_per_unit_j; /* NAN without units */
	const char *idle_source;  /* "none", "stored", "measured", "given" */
	size_t n_domains;
	struct gops_domain_result *domains;
	size_t n_windows;
	struct gops_window_result *windows;
	size_t n_tags;
	struct gops_tag *tags;
	size_t n_warnings;
	char **warnings;
	size_t malformed_control_lines;
	size_t n_attributions; /* estimated shares of shared GPUs (and MIG instances) */
	struct gops_attribution *attributions;
};

/* Opens every selected source and prepares the sampler; nothing is sampled yet.
 * Notes about sources that were absent are available through gops_monitor_notes(). */
GOPS_EXPORT int gops_monitor_new(gops_monitor **out, const struct gops_options *opts);
/* Message of the last failure (never NULL). */
GOPS_EXPORT const char *gops_monitor_error(const gops_monitor *m);
/* Notes gathered while opening sources (absent libraries, CUDA_VISIBLE_DEVICES, ...). */
GOPS_EXPORT size_t gops_monitor_notes(const gops_monitor *m, const char *const **notes);

/* Takes the first readings (waiting for a fresh counter update where it helps) and starts
 * the sampler thread. The span starts when this returns. */
GOPS_EXPORT int gops_monitor_start(gops_monitor *m);
/* Marks the span's end now, takes the next counter update, stops the sampler and computes
 * the results. */
GOPS_EXPORT int gops_monitor_stop(gops_monitor *m);
/* As stop, with the span's end given in CLOCK_MONOTONIC nanoseconds (e.g. the child's exit). */
GOPS_EXPORT int gops_monitor_stop_at(gops_monitor *m, int64_t end_ns);
/* Moves the span's start to t_ns (CLOCK_MONOTONIC), e.g. the moment a child was released. */
GOPS_EXPORT int gops_monitor_set_start(gops_monitor *m, int64_t t_ns);

/* The measured command: GPU processes outside the tree of pid (and of the calling process,
 * whose orphans a subreaper inherits) make a GPU shared, and its energy is then split
 * between them as an estimate (struct gops_attribution). Call again for each new process of
 * the command (repetitions); 0 stops the split. Thread-safe. */
GOPS_EXPORT int gops_monitor_set_command_pid(gops_monitor *m, int pid);

/* Windows: t_ns is CLOCK_MONOTONIC in nanoseconds, 0 for now. Thread-safe. Once started, a
 * t_ns before the span's start or later than now is refused with -ERANGE. */
GOPS_EXPORT int gops_monitor_begin_window(gops_monitor *m, const char *name, int64_t t_ns);
GOPS_EXPORT int gops_monitor_end_window(gops_monitor *m, const char *name, int64_t t_ns);
/* Adds units to the named open window (NULL: the innermost open window, or the run). */
GOPS_EXPORT int gops_monitor_add_units(gops_monitor *m, const char *window, double n);
GOPS_EXPORT int gops_monitor_tag(gops_monitor *m, const char *key, const char *value);
GOPS_EXPORT void gops_monitor_count_malformed(gops_monitor *m);

/* Available after stop. Owned by the monitor. */
GOPS_EXPORT const struct gops_result *gops_monitor_result(const gops_monitor *m);

/* One ended window's figures while the monitor runs, the ones gops_monitor_stop will give: the
 * window `name` ended at end_ns (the t_ns given to gops_monitor_end_window; 0: the last window
 * of that name to end). A window's energy is final once every domain has been read past its
 * end, so this waits for that: for a counter updated every 100 ms (NVML), the reading after
 * the next update when the window's end had counter readings of its own (end_window asks for
 * them, within a budget of 2% of a core; 0.1 to 0.2 s against the fake NVML), else one
 * sampling interval; never longer than four updates or a second.
 * *final (may be NULL) is then true. It is false when a domain was not read past the end in
 * that time, or when its counter is read next only at its periodic reading (a window among
 * many short ones spread by instant power, which is not waited for): the figures then take
 * the energy after the last counter reading from instant power, and the result after stop has
 * the final ones. A window of the span that ended, after stop: its figures from the result.
 * *out is the caller's, freed with gops_window_result_free. Not to be called concurrently with
 * stop or free. -ENOENT: no such ended window; -EINVAL: not started, or no name. */
GOPS_EXPORT int gops_monitor_window_result(gops_monitor *m, const char *name, int64_t end_ns,
                                           struct gops_window_result **out, bool *final);
GOPS_EXPORT void gops_window_result_free(struct gops_window_result *w);

/* One power sample for timelines: time from the span start, domain, watts, counter joules
 * (NAN where the sample had none). Calls fn for every sample in time order. */
typedef int (*gops_sample_fn)(void *ctx, double t_s, const char *domain, double watts, double counter_j);
GOPS_EXPORT int gops_monitor_foreach_sample(const gops_monitor *m, gops_sample_fn fn, void *ctx);

/* Live view for exporters: the latest power and the energy since start per domain. */
struct gops_live {
	const char *domain;
	const char *source;
	double power_w;
	double energy_j;
	double age_s;
	bool up;
};
GOPS_EXPORT int gops_monitor_live(gops_monitor *m, struct gops_live *out, size_t cap, size_t *n);

GOPS_EXPORT void gops_monitor_free(gops_monitor *m);

/* The result as one JSON object (the shape of docs/CONTRACTS.md); caller frees. NULL on failure. */
GOPS_EXPORT char *gops_result_to_json(const struct gops_result *r, int exit_status, int signal);

/* Monotonic clock in nanoseconds, the one every timestamp of the API uses. */
GOPS_EXPORT int64_t gops_now_ns(void);

#ifdef __cplusplus
}
#endif
#endif
