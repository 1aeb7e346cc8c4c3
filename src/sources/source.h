/* The interface every energy source implements (one file per source behind a const ops
 * table) and the domain list the sources fill. Sources hand out energy already unwrapped
 * and in joules: nothing above this interface sees a raw counter. */
#ifndef GOPS_SOURCE_H
#define GOPS_SOURCE_H

#include <stdbool.h>
#include <stddef.h>

enum gops_kind {
	GOPS_KIND_GPU,
	GOPS_KIND_PACKAGE,
	GOPS_KIND_DRAM,
	GOPS_KIND_PSYS,
	GOPS_KIND_CORE,
	GOPS_KIND_UNCORE,
	GOPS_KIND_ESTIMATE,
	GOPS_KIND_OTHER,
};
const char *gops_kind_name(enum gops_kind k);

/* What a domain can be read for. */
#define GOPS_CAP_ENERGY 0x1 /* a cumulative energy counter */
#define GOPS_CAP_POWER  0x2 /* an instant (or short-average) power reading */

/* Results of read_energy/read_power besides 0 and negative errno. */
#define GOPS_READ_DISCONTINUITY 1 /* the counter went backwards: value continues, flag it */
#define GOPS_READ_TOO_FAST      2 /* rose faster than max power allows (wraps missed): flag it */

/* Errno values with a fixed meaning at this interface. */
#define GOPS_ENOTSUP (-95) /* -EOPNOTSUPP: this metric is not measured here */
#define GOPS_ELOST   (-19) /* -ENODEV: the device is gone; its span ends here */

struct gops_domain {
	char name[32];   /* gpu0, package-0, dram-0, core-0, uncore-0, psys, ... */
	char label[128]; /* for people: device model, UUID, driver, sysfs path */
	enum gops_kind kind;
	unsigned caps;          /* GOPS_CAP_* */
	bool energy_expensive;  /* reading the counter costs real CPU: edges and anchors only */
	bool estimated;         /* a model, not a sensor */
	double update_period_s; /* the counter's (or power's) update period; 0 unknown */
	double max_power_w;     /* the stated power limit, 0 when none is stated (never guessed) */
	double range_j;         /* counter range before wrap-around, 0 = does not wrap */
	char parent[32];        /* name of a domain that contains this one ("" none) */
	int source;             /* index into the monitor's open sources (set by the monitor) */
	int index;              /* the source's own index for this domain */
	size_t n_notes;
	char notes[4][160]; /* warnings to show beside this domain's result */
};

struct gops_domain_list {
	struct gops_domain *v;
	size_t n, cap;
};
/* Appends a copy of d; returns its position or a negative errno. */
int gops_domain_list_add(struct gops_domain_list *l, const struct gops_domain *d);
void gops_domain_list_release(struct gops_domain_list *l);
void gops_domain_note(struct gops_domain *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Messages a source leaves while opening: absent hardware, permissions, choices made. */
struct gops_notes {
	char **v; /* grown by gops_strv_pushf */
	size_t n;
};
void gops_notes_add(struct gops_notes *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void gops_notes_release(struct gops_notes *n);

struct gops_source; /* each implementation defines its own */

/* A process using a GPU, as the device lists it. */
struct gops_gpu_proc {
	unsigned pid;
	int instance;  /* the MIG instance it runs in (position among the GPU's MIG devices), -1 none */
	double sm_pct; /* process_sm_util: mean SM utilisation over the samples since the time asked */
};

/* A MIG instance of a GPU: its share of the GPU is its slice count. */
struct gops_mig_instance {
	char uuid[96];
	unsigned slices; /* GPU instance slices (of 7 on A100 and H100); 0 unknown */
	bool named;      /* CUDA_VISIBLE_DEVICES names it: the measured command may use it */
};

/* What the caller tells a source when opening it. NULL means every default. Options travel
 * here, never through the environment. */
struct gops_source_args {
	double cpu_tdp_w; /* estimator: full-load CPU power in watts; 0 = look it up */
};

struct gops_source_ops {
	const char *name; /* "nvml", "powercap", "perf", "hwmon", "estimate" */
	/* Opens the source and appends its domains to dl (domain.index = the source's own
	 * index). Returns 0, -ENOENT when the hardware or library is absent (not an error
	 * unless the user named this source), or another negative errno with err filled. */
	int (*open)(struct gops_source **out, const struct gops_source_args *args,
	            struct gops_domain_list *dl, struct gops_notes *notes, char *err, size_t errlen);
	/* Energy in joules since open, unwrapped (monotonic); GOPS_READ_DISCONTINUITY when
	 * the hardware counter went backwards, GOPS_READ_TOO_FAST when it rose more than the
	 * domain's max power allows (the value still continues in both cases). */
	int (*read_energy)(struct gops_source *s, int index, double *joules);
	/* Power in watts, instant where the hardware has it. */
	int (*read_power)(struct gops_source *s, int index, double *watts);
	/* Text for the last failure of this source. */
	const char *(*error)(struct gops_source *s);
	void (*close)(struct gops_source *s);

	/* Per-device extras, NULL where a source has none. */
	/* Number of processes holding a compute context on the device (the quiet checks of
	 * `greenops idle`). GOPS_ENOTSUP where the device cannot tell, GOPS_ELOST when it is
	 * gone, -EIO otherwise. */
	int (*compute_processes)(struct gops_source *s, int index, unsigned *count);
	/* Percent of the last sample period (1/6 s to 1 s) during which a kernel ran. */
	int (*utilization)(struct gops_source *s, int index, unsigned *busy_pct);
	/* Power the hardware averaged over its own window (NVML: 1 s on Ampere and newer),
	 * where read_power gives instant power beside it; GOPS_ENOTSUP otherwise. Instant power
	 * can alias a bursty load far off the truth; an average cannot, so the meter judges the
	 * energy counter against it (meter.c, "counter faults"). */
	int (*read_power_avg)(struct gops_source *s, int index, double *watts);
	/* The processes on the device (compute and graphics, each pid once), at most cap of
	 * them, *n how many there are in all. On a MIG GPU each with its instance. Cheap: the
	 * monitor lists them once a second while a command is measured. */
	int (*gpu_processes)(struct gops_source *s, int index, struct gops_gpu_proc *out, size_t cap,
	                     size_t *n);
	/* Each process's mean SM utilisation (%) over the device's samples taken after
	 * since_us (CLOCK_REALTIME in microseconds); *n 0 when there are none. Its cost is
	 * unknown: the monitor calls it at most once a second, and only on a shared GPU.
	 * GOPS_ENOTSUP where the device has no per-process samples (MIG mode among others). */
	int (*process_sm_util)(struct gops_source *s, int index, unsigned long long since_us,
	                       struct gops_gpu_proc *out, size_t cap, size_t *n);
	/* The device's MIG instances (*n 0 when MIG is off), as found at open. */
	int (*mig_instances)(struct gops_source *s, int index, const struct gops_mig_instance **v, size_t *n);
};

/* Each source's table, one per file (nvml.c, perf.c, powercap.c, hwmon.c, estimate.c). */
extern const struct gops_source_ops gops_source_nvml;
extern const struct gops_source_ops gops_source_perf;
extern const struct gops_source_ops gops_source_powercap;
extern const struct gops_source_ops gops_source_hwmon;
extern const struct gops_source_ops gops_source_estimate;

/* The registry: every source greenops knows, in the order they are tried. */
extern const struct gops_source_ops *const gops_sources[];
extern const size_t gops_n_sources;
const struct gops_source_ops *gops_source_find(const char *name);

#endif
