/* Estimated shares of a shared GPU's measured energy: the sampler records, once a second,
 * which processes use the GPU and how much (a tick); share_split() turns the ticks and the
 * domain's measured energy into joules for the command, the others and what it cannot
 * attribute. The model is docs/FLEET.md's "Shared GPUs and MIG". Pure arithmetic, no I/O. */
#ifndef GOPS_METER_ATTRIB_H
#define GOPS_METER_ATTRIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHARE_PROCS     16 /* processes kept per tick; the rest of the others are summed in the last */
#define SHARE_PIDS      64 /* distinct processes named in a result */
#define SHARE_INSTANCES 8  /* MIG instances */

/* What a tick's interval can be split by. */
enum share_basis {
	SHARE_IDLE,    /* no process on the GPU: nothing to give it to */
	SHARE_SOLE,    /* the command's processes alone */
	SHARE_SM,      /* per-process SM utilisation */
	SHARE_SLICES,  /* MIG: the busy instances' slice counts */
	SHARE_MISSING, /* others present, but no activity readable: not split */
};

struct share_proc {
	uint32_t pid; /* 0: several other processes beyond SHARE_PROCS, summed */
	int16_t instance;
	bool command;
	float weight; /* SM % (SHARE_SM), slices per process of the instance (SHARE_SLICES), 1 */
};

/* The interval from the previous tick (or the span's start) to t_ns is described by this. */
struct share_tick {
	int64_t t_ns;
	uint8_t basis; /* enum share_basis */
	uint8_t n;
	struct share_proc p[SHARE_PROCS];
};

/* A process seen on the GPU, classified once (the command's tree or not) and named. */
struct share_pid {
	uint32_t pid;
	bool command;
	char name[16];
};

struct share_total {
	uint32_t pid;
	int16_t instance;
	bool command;
	double energy_j;
};

struct share_result {
	double total_j; /* command_j + others_j + unattributed_j */
	double command_j, others_j, unattributed_j;
	double missing_s; /* seconds shared with others whose energy could not be split */
	size_t n;         /* per process (and instance) */
	struct share_total per[SHARE_PIDS];
	double instance_j[SHARE_INSTANCES];
};

/* The domain's energy accumulated up to t (only differences count). */
typedef double (*share_energy_fn)(const void *ctx, int64_t t);

/* Splits the energy of [t0, t1] tick by tick. With idle_w known (not NAN), each interval's
 * energy up to idle_w x its length is unattributed and only the rest, the dynamic energy, is
 * split; without it the whole energy is. The stretch after the last tick takes that tick's
 * shares. Where `scale_to` is a number, every figure is scaled so that they add up to it
 * (the domain's measured energy, whose edges the meter places more finely). */
void share_split(const struct share_tick *ticks, size_t n, int64_t t0, int64_t t1, double idle_w,
                 share_energy_fn energy_at, const void *ctx, double scale_to, struct share_result *out);

#endif
