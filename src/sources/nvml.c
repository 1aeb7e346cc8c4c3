/* NVIDIA GPUs through NVML, loaded with dlopen: one domain per visible GPU, with the energy
 * counter (mJ) where the GPU has one and instant power (field 186) or the 1 s average.
 * Owns the library handle and its own declarations of the few NVML pieces it uses. */
#include "sources/source.h"
#include "base/util.h"

#include <ctype.h>
#include <math.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sources/nvml_types.h"

/* Process lists: nvmlProcessInfo_t's layout differs between the unversioned call (v1, 16
 * bytes) and _v2/_v3 (24 bytes), so each list call is kept with the size of its entries, and
 * only the pid (the first member of both) is read. */
struct nvml_api {
	nvmlReturn_t (*init)(void);
	nvmlReturn_t (*shutdown)(void);
	nvmlReturn_t (*get_count)(unsigned int *count);
	nvmlReturn_t (*get_handle)(unsigned int index, nvmlDevice_t *dev);
	const char *(*error_string)(nvmlReturn_t rc);
	nvmlReturn_t (*get_name)(nvmlDevice_t dev, char *name, unsigned int len);
	nvmlReturn_t (*get_uuid)(nvmlDevice_t dev, char *uuid, unsigned int len);
	nvmlReturn_t (*get_energy)(nvmlDevice_t dev, unsigned long long *mj);
	nvmlReturn_t (*get_fields)(nvmlDevice_t dev, int count, nvmlFieldValue_t *values);
	nvmlReturn_t (*get_power)(nvmlDevice_t dev, unsigned int *mw);
	nvmlReturn_t (*get_limit)(nvmlDevice_t dev, unsigned int *mw);
	nvmlReturn_t (*get_procs)(nvmlDevice_t dev, unsigned int *count, void *infos);
	nvmlReturn_t (*get_gprocs)(nvmlDevice_t dev, unsigned int *count, void *infos);
	size_t procs_size, gprocs_size; /* bytes per entry of each list */
	nvmlReturn_t (*get_util)(nvmlDevice_t dev, nvmlUtilization_t *util);
	nvmlReturn_t (*get_proc_util)(nvmlDevice_t dev, nvmlProcessUtilizationSample_t *samples,
	                              unsigned int *count, unsigned long long since_us);
	nvmlReturn_t (*get_mig_mode)(nvmlDevice_t dev, unsigned int *current, unsigned int *pending);
	nvmlReturn_t (*get_max_mig)(nvmlDevice_t dev, unsigned int *count);
	nvmlReturn_t (*get_mig_handle)(nvmlDevice_t dev, unsigned int index, nvmlDevice_t *mig);
	nvmlReturn_t (*get_attributes)(nvmlDevice_t dev, nvmlDeviceAttributes_t *attr);
};

#define MAX_MIG 8 /* 7 instances at most on A100 and H100 */

struct nvml_gpu {
	nvmlDevice_t dev;
	bool handle_ok;
	bool active; /* visible and published as a domain */
	bool has_energy, has_field, has_usage;
	unsigned long long raw0;     /* counter at open, or where it restarted */
	unsigned long long last_raw; /* counter at the last read */
	double base_j;               /* joules counted before the counter last restarted */
	char name[16];               /* gpuN */
	char uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
	bool mig_mode; /* MIG enabled: the counter is the whole GPU's, the instances have none */
	unsigned n_mig;
	nvmlDevice_t mig_dev[MAX_MIG];
	struct gops_mig_instance mig[MAX_MIG];
};

struct gops_source {
	void *dl;
	char lib[256]; /* as given to dlopen: messages name it */
	struct nvml_api api;
	bool initialised;
	struct nvml_gpu *gpus; /* by NVML index */
	unsigned n_gpus;
	char err[512];
};

static void set_err(struct gops_source *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(struct gops_source *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->err, sizeof s->err, fmt, ap);
	va_end(ap);
}

static const char *nvml_strerror(struct gops_source *s, nvmlReturn_t rc)
{
	static __thread char buf[32];
	const char *t = s->api.error_string ? s->api.error_string(rc) : NULL;
	if (t && *t)
		return t;
	snprintf(buf, sizeof buf, "NVML error %d", rc);
	return buf;
}

/* The one way symbols are found: newest versioned name first (`versions` lists suffixes,
 * newest first, separated by spaces), then the unversioned one, which keeps the oldest ABI.
 * A required symbol that is missing is named in the error. */
static void *resolve(struct gops_source *s, const char *name, const char *versions, bool required)
{
	char full[96];
	for (const char *v = versions; *v;) {
		size_t n = strcspn(v, " ");
		snprintf(full, sizeof full, "%s%.*s", name, (int)n, v);
		void *p = dlsym(s->dl, full);
		if (p)
			return p;
		v += n;
		v += strspn(v, " ");
	}
	void *p = dlsym(s->dl, name);
	if (!p && required)
		set_err(s, "%s: missing symbol '%s'", s->lib, name);
	return p;
}

#define RESOLVE(field, name, versions, required)                                                             \
	(s->api.field = (__typeof__(s->api.field))resolve(s, name, versions, required))

/* Bytes per entry of a process list: v1's where only the unversioned name exists. */
static size_t entry_size(struct gops_source *s, const char *name)
{
	char full[96];
	for (const char *v = "_v3\0_v2\0"; *v; v += strlen(v) + 1) {
		snprintf(full, sizeof full, "%s%s", name, v);
		if (dlsym(s->dl, full))
			return sizeof(nvmlProcessInfo_t);
	}
	return sizeof(nvmlProcessInfo_v1_t);
}

static int resolve_all(struct gops_source *s)
{
	if (!RESOLVE(init, "nvmlInit", "_v2", true) || !RESOLVE(shutdown, "nvmlShutdown", "", true) ||
	    !RESOLVE(get_count, "nvmlDeviceGetCount", "_v2", true) ||
	    !RESOLVE(get_handle, "nvmlDeviceGetHandleByIndex", "_v2", true) ||
	    !RESOLVE(error_string, "nvmlErrorString", "", true))
		return -ELIBBAD;
	RESOLVE(get_name, "nvmlDeviceGetName", "", false);
	RESOLVE(get_uuid, "nvmlDeviceGetUUID", "", false);
	RESOLVE(get_energy, "nvmlDeviceGetTotalEnergyConsumption", "", false);
	RESOLVE(get_fields, "nvmlDeviceGetFieldValues", "", false);
	RESOLVE(get_power, "nvmlDeviceGetPowerUsage", "", false);
	if (!RESOLVE(get_limit, "nvmlDeviceGetEnforcedPowerLimit", "", false))
		RESOLVE(get_limit, "nvmlDeviceGetPowerManagementLimit", "", false);
	RESOLVE(get_procs, "nvmlDeviceGetComputeRunningProcesses", "_v3 _v2", false);
	RESOLVE(get_gprocs, "nvmlDeviceGetGraphicsRunningProcesses", "_v3 _v2", false);
	s->api.procs_size = entry_size(s, "nvmlDeviceGetComputeRunningProcesses");
	s->api.gprocs_size = entry_size(s, "nvmlDeviceGetGraphicsRunningProcesses");
	RESOLVE(get_util, "nvmlDeviceGetUtilizationRates", "", false);
	RESOLVE(get_proc_util, "nvmlDeviceGetProcessUtilization", "", false);
	RESOLVE(get_mig_mode, "nvmlDeviceGetMigMode", "", false);
	RESOLVE(get_max_mig, "nvmlDeviceGetMaxMigDeviceCount", "", false);
	RESOLVE(get_mig_handle, "nvmlDeviceGetMigDeviceHandleByIndex", "", false);
	RESOLVE(get_attributes, "nvmlDeviceGetAttributes", "_v2", false);
	return 0;
}

/* dlerror() repeats the path in front of the reason; keep the reason. */
static const char *dl_reason(const char *path, char *buf, size_t len)
{
	const char *e = dlerror();
	if (!e)
		e = "cannot be loaded";
	size_t n = strlen(path);
	if (strncmp(e, path, n) == 0 && e[n] == ':' && e[n + 1] == ' ')
		e += n + 2;
	return gops_strlcpy(buf, e, len);
}

static int load_library(struct gops_source *s)
{
	char why[256];
	const char *env = getenv("GREENOPS_NVML_LIBRARY");
	if (env && *env) {
		gops_strlcpy(s->lib, env, sizeof s->lib);
		s->dl = dlopen(env, RTLD_NOW | RTLD_LOCAL);
		if (!s->dl) {
			set_err(s, "cannot load '%s' (GREENOPS_NVML_LIBRARY): %s", env,
			        dl_reason(env, why, sizeof why));
			return -ENOENT;
		}
	} else {
		static const char *const names[] = {"libnvidia-ml.so.1", "libnvidia-ml.so"};
		for (size_t i = 0; i < sizeof names / sizeof names[0] && !s->dl; i++) {
			s->dl = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
			if (s->dl)
				gops_strlcpy(s->lib, names[i], sizeof s->lib);
			else if (i == 0)
				dl_reason(names[i], why, sizeof why);
		}
		if (!s->dl) {
			set_err(s, "cannot load 'libnvidia-ml.so.1' (no NVIDIA driver?): %s", why);
			return -ENOENT;
		}
	}
	return resolve_all(s);
}

static int init_library(struct gops_source *s)
{
	nvmlReturn_t rc = s->api.init();
	if (rc == NVML_SUCCESS) {
		s->initialised = true;
		return 0;
	}
	set_err(s, "%s: nvmlInit failed: %s", s->lib, nvml_strerror(s, rc));
	switch (rc) {
	case NVML_ERROR_DRIVER_NOT_LOADED:
	case NVML_ERROR_LIBRARY_NOT_FOUND:
		return -ENOENT; /* the library without a driver: containers, CPU machines */
	case NVML_ERROR_NO_PERMISSION:
		return -EACCES;
	default:
		return -EIO;
	}
}

static bool field_watts(const nvmlFieldValue_t *fv, double *watts)
{
	double mw;
	switch (fv->valueType) {
	case NVML_VALUE_TYPE_DOUBLE:
		mw = fv->value.dVal;
		break;
	case NVML_VALUE_TYPE_UNSIGNED_INT:
		mw = fv->value.uiVal;
		break;
	case NVML_VALUE_TYPE_UNSIGNED_LONG:
		mw = (double)fv->value.ulVal;
		break;
	case NVML_VALUE_TYPE_UNSIGNED_LONG_LONG:
		mw = (double)fv->value.ullVal;
		break;
	case NVML_VALUE_TYPE_SIGNED_LONG_LONG:
		mw = (double)fv->value.sllVal;
		break;
	case NVML_VALUE_TYPE_SIGNED_INT:
		mw = fv->value.siVal;
		break;
	case NVML_VALUE_TYPE_UNSIGNED_SHORT:
		mw = fv->value.usVal;
		break;
	default:
		return false;
	}
	*watts = mw / 1000.0;
	return true;
}

/* Instant power from field 186. The call can succeed while the field itself failed, so
 * the per-field status decides. */
static nvmlReturn_t read_field(struct gops_source *s, struct nvml_gpu *g, double *watts)
{
	nvmlFieldValue_t fv;
	memset(&fv, 0, sizeof fv);
	fv.fieldId = NVML_FI_DEV_POWER_INSTANT;
	fv.scopeId = NVML_POWER_SCOPE_GPU;
	nvmlReturn_t rc = s->api.get_fields(g->dev, 1, &fv);
	if (rc != NVML_SUCCESS)
		return rc;
	if (fv.nvmlReturn != NVML_SUCCESS)
		return fv.nvmlReturn;
	return field_watts(&fv, watts) ? NVML_SUCCESS : NVML_ERROR_NOT_SUPPORTED;
}

/* A MIG device's UUID (or a prefix naming exactly one) -> its parent's NVML index, with
 * *instance its position among the parent's MIG devices; -1 when none or several match. */
static int match_mig(struct gops_source *s, const char *e, unsigned *instance)
{
	int found = -1;
	size_t n = strlen(e);
	for (unsigned i = 0; i < s->n_gpus; i++)
		for (unsigned k = 0; k < s->gpus[i].n_mig; k++)
			if (strncasecmp(s->gpus[i].mig[k].uuid, e, n) == 0) {
				if (found >= 0)
					return -1;
				found = (int)i;
				*instance = k;
			}
	return found;
}

/* CUDA_VISIBLE_DEVICES entry -> NVML index, or -1. Entries are indices or UUIDs
 * ("GPU-8a1f..."), where any prefix that names exactly one GPU will do, as for CUDA, or the
 * UUID of a MIG device ("MIG-..."), which names its parent (the one with an energy counter)
 * and marks the instance named. */
static int match_entry(struct gops_source *s, const char *e)
{
	if (!*e)
		return -1;
	if (strncasecmp(e, "MIG-", 4) == 0 && strlen(e) > 4) {
		unsigned k = 0;
		int i = match_mig(s, e, &k);
		if (i >= 0)
			s->gpus[i].mig[k].named = true;
		return i;
	}
	if (isdigit((unsigned char)*e)) {
		char *end;
		errno = 0;
		unsigned long v = strtoul(e, &end, 10);
		return (errno || *end || v >= s->n_gpus) ? -1 : (int)v;
	}
	if (strncasecmp(e, "GPU-", 4) != 0)
		return -1;
	int found = -1;
	size_t n = strlen(e);
	for (unsigned i = 0; i < s->n_gpus; i++) {
		if (s->gpus[i].uuid[0] && strncasecmp(s->gpus[i].uuid, e, n) == 0) {
			if (found >= 0)
				return -1; /* ambiguous */
			found = (int)i;
		}
	}
	return found;
}

static char *trim(char *t)
{
	while (isspace((unsigned char)*t))
		t++;
	size_t n = strlen(t);
	while (n > 0 && isspace((unsigned char)t[n - 1]))
		t[--n] = 0;
	return t;
}

/* Marks the GPUs CUDA_VISIBLE_DEVICES lets the workload see (all when it is unset).
 * Like CUDA, the first entry that names no GPU ends the list. */
static int select_visible(struct gops_source *s, bool *visible, struct gops_notes *notes)
{
	const char *env = getenv("CUDA_VISIBLE_DEVICES");
	if (!env) {
		for (unsigned i = 0; i < s->n_gpus; i++)
			visible[i] = true;
		return 0;
	}
	char *copy = strdup(env);
	if (!copy)
		return -ENOMEM;
	size_t n_visible = 0;
	char *rest = copy;
	if (*trim(copy)) {
		while (rest) {
			char *entry = trim(strsep(&rest, ","));
			int i = match_entry(s, entry);
			if (i < 0) {
				gops_notes_add(
				    notes,
				    "CUDA_VISIBLE_DEVICES=%s: '%s' names no GPU: it and the entries "
				    "after it are ignored, as CUDA does",
				    env, entry);
				break;
			}
			n_visible += !visible[i];
			visible[i] = true;
		}
	}
	free(copy);
	if (n_visible == 0) {
		set_err(s, "CUDA_VISIBLE_DEVICES='%s' leaves no GPU to measure", env);
		return -ENOENT;
	}
	char list[256] = "";
	size_t off = 0;
	for (unsigned i = 0; i < s->n_gpus && off < sizeof list; i++)
		if (visible[i])
			off += (size_t)snprintf(list + off, sizeof list - off, "%sgpu%u", off ? ", " : "", i);
	gops_notes_add(notes, "CUDA_VISIBLE_DEVICES=%s: measuring %s only", env, list);
	for (unsigned i = 0; i < s->n_gpus; i++)
		for (unsigned k = 0; k < s->gpus[i].n_mig; k++)
			if (s->gpus[i].mig[k].named)
				gops_notes_add(
				    notes,
				    "CUDA_VISIBLE_DEVICES names MIG instance %u of gpu%u (%s): MIG "
				    "instances have no energy counter, so gpu%u is measured whole and "
				    "the instance's share is estimated",
				    k, i, s->gpus[i].mig[k].uuid, i);
	return 0;
}

/* Finds what this GPU can be read for and fills its domain; false when it cannot be
 * measured at all (the reason goes to notes). */
static bool probe_gpu(struct gops_source *s, unsigned i, struct gops_domain *d, struct gops_notes *notes)
{
	struct nvml_gpu *g = &s->gpus[i];
	char model[NVML_DEVICE_NAME_V2_BUFFER_SIZE] = "NVIDIA GPU";
	nvmlReturn_t rc;

	memset(d, 0, sizeof *d);
	snprintf(d->name, sizeof d->name, "%s", g->name);
	d->kind = GOPS_KIND_GPU;
	d->index = (int)i;
	d->energy_expensive = true; /* the counter call burns ~3.9 ms of CPU on an H100 */
	d->range_j = 0;             /* 64-bit mJ: does not wrap */
	d->update_period_s = 0;     /* measured by the monitor */
	if (s->api.get_name && s->api.get_name(g->dev, model, sizeof model) != NVML_SUCCESS)
		gops_strlcpy(model, "NVIDIA GPU", sizeof model);
	if (snprintf(d->label, sizeof d->label, "%s %s", model, g->uuid[0] ? g->uuid : "(no UUID)") < 0)
		d->label[0] = 0;

	if (!s->api.get_energy) {
		gops_domain_note(d, "no energy counter in %s: energy is integrated from power", s->lib);
	} else if ((rc = s->api.get_energy(g->dev, &g->raw0)) == NVML_SUCCESS) {
		g->has_energy = true;
		g->last_raw = g->raw0;
		d->caps |= GOPS_CAP_ENERGY;
	} else if (rc == NVML_ERROR_GPU_IS_LOST) {
		gops_notes_add(notes, "%s (%s): %s: not measured", g->name, d->label, nvml_strerror(s, rc));
		return false;
	} else if (rc == NVML_ERROR_NOT_SUPPORTED) {
		gops_domain_note(d, "no energy counter on this GPU: energy is integrated from power");
	} else {
		gops_domain_note(d, "energy counter unreadable (%s): energy is integrated from power",
		                 nvml_strerror(s, rc));
	}

	double w;
	unsigned int mw;
	g->has_field = s->api.get_fields && read_field(s, g, &w) == NVML_SUCCESS;
	g->has_usage = s->api.get_power && s->api.get_power(g->dev, &mw) == NVML_SUCCESS;
	if (g->has_field || g->has_usage)
		d->caps |= GOPS_CAP_POWER;
	if (!g->has_field && g->has_usage)
		gops_domain_note(d, "power from nvmlDeviceGetPowerUsage, a 1 s average on Ampere and newer "
		                    "GPUs (no instant power field)");
	if (s->api.get_limit && s->api.get_limit(g->dev, &mw) == NVML_SUCCESS)
		d->max_power_w = mw / 1000.0;

	if (g->mig_mode)
		gops_domain_note(d, "MIG mode, %u instance%s: energy and power are the whole GPU's", g->n_mig,
		                 g->n_mig == 1 ? "" : "s");
	if (!d->caps) {
		gops_notes_add(notes, "%s (%s): neither energy nor power can be read: not measured", g->name,
		               d->label);
		return false;
	}
	return true;
}

/* The MIG devices of a GPU in MIG mode: their handles, UUIDs and slice counts. */
static void find_mig(struct gops_source *s, struct nvml_gpu *g)
{
	unsigned int cur = 0, pending = 0, max = 0;
	if (!s->api.get_mig_mode || !s->api.get_mig_handle ||
	    s->api.get_mig_mode(g->dev, &cur, &pending) != NVML_SUCCESS || cur != NVML_DEVICE_MIG_ENABLE)
		return;
	g->mig_mode = true;
	if (!s->api.get_max_mig || s->api.get_max_mig(g->dev, &max) != NVML_SUCCESS || max > 64)
		max = MAX_MIG;
	for (unsigned k = 0; k < max && g->n_mig < MAX_MIG; k++) {
		nvmlDevice_t md;
		if (s->api.get_mig_handle(g->dev, k, &md) != NVML_SUCCESS)
			continue; /* an empty slot: instances need not be contiguous */
		struct gops_mig_instance *mi = &g->mig[g->n_mig];
		memset(mi, 0, sizeof *mi);
		if (!s->api.get_uuid || s->api.get_uuid(md, mi->uuid, sizeof mi->uuid) != NVML_SUCCESS)
			snprintf(mi->uuid, sizeof mi->uuid, "MIG-(%s/%u)", g->name, k);
		nvmlDeviceAttributes_t a;
		memset(&a, 0, sizeof a);
		if (s->api.get_attributes && s->api.get_attributes(md, &a) == NVML_SUCCESS)
			mi->slices = a.gpuInstanceSliceCount;
		g->mig_dev[g->n_mig++] = md;
	}
}

static int open_gpus(struct gops_source *s, struct gops_domain_list *dl, struct gops_notes *notes)
{
	unsigned int count = 0;
	nvmlReturn_t rc = s->api.get_count(&count);
	if (rc != NVML_SUCCESS) {
		set_err(s, "%s: cannot count GPUs: %s", s->lib, nvml_strerror(s, rc));
		return -EIO;
	}
	if (count == 0) {
		set_err(s, "%s: no NVIDIA GPU found", s->lib);
		return -ENOENT;
	}
	s->gpus = calloc(count, sizeof *s->gpus);
	bool *visible = calloc(count, sizeof *visible);
	if (!s->gpus || !visible) {
		free(visible);
		return -ENOMEM;
	}
	s->n_gpus = count;
	for (unsigned i = 0; i < count; i++) {
		struct nvml_gpu *g = &s->gpus[i];
		snprintf(g->name, sizeof g->name, "gpu%u", i);
		g->handle_ok = s->api.get_handle(i, &g->dev) == NVML_SUCCESS;
		if (g->handle_ok && s->api.get_uuid &&
		    s->api.get_uuid(g->dev, g->uuid, sizeof g->uuid) != NVML_SUCCESS)
			g->uuid[0] = 0;
	}
	for (unsigned i = 0; i < count; i++)
		if (s->gpus[i].handle_ok)
			find_mig(s, &s->gpus[i]);
	int r = select_visible(s, visible, notes);
	size_t n_domains = 0;
	for (unsigned i = 0; r == 0 && i < count; i++) {
		struct nvml_gpu *g = &s->gpus[i];
		struct gops_domain d;
		if (!visible[i])
			continue;
		if (!g->handle_ok) {
			rc = s->api.get_handle(i, &g->dev);
			gops_notes_add(notes, "%s: cannot open: %s: not measured", g->name,
			               nvml_strerror(s, rc));
			continue;
		}
		if (!probe_gpu(s, i, &d, notes))
			continue;
		int pos = gops_domain_list_add(dl, &d);
		if (pos < 0)
			r = pos;
		g->active = pos >= 0;
		n_domains += pos >= 0;
	}
	free(visible);
	if (r == 0 && n_domains == 0) {
		set_err(s, "%s: no GPU can be measured", s->lib);
		r = -ENOENT;
	}
	return r;
}

static void nvml_close(struct gops_source *s)
{
	if (!s)
		return;
	if (s->initialised)
		s->api.shutdown();
	if (s->dl)
		dlclose(s->dl);
	free(s->gpus);
	free(s);
}

static int nvml_open(struct gops_source **out, const struct gops_source_args *args,
                     struct gops_domain_list *dl, struct gops_notes *notes, char *err, size_t errlen)
{
	struct gops_source *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	size_t n0 = dl->n;
	int r = load_library(s);
	if (r == 0)
		r = init_library(s);
	if (r == 0)
		r = open_gpus(s, dl, notes);
	if (r < 0) {
		if (r == -ENOMEM && !s->err[0])
			set_err(s, "out of memory");
		gops_strlcpy(err, s->err, errlen);
		dl->n = n0; /* no domain may outlive its source */
		nvml_close(s);
		return r;
	}
	*out = s;
	return 0;
}

static struct nvml_gpu *gpu_at(struct gops_source *s, int index)
{
	if (index < 0 || (unsigned)index >= s->n_gpus || !s->gpus[index].active) {
		set_err(s, "no NVML domain with index %d", index);
		return NULL;
	}
	return &s->gpus[index];
}

/* NOT_SUPPORTED is "not measured", never zero; a lost GPU ends its domain's span. */
static int read_failed(struct gops_source *s, struct nvml_gpu *g, nvmlReturn_t rc, const char *what,
                       const char *fn)
{
	switch (rc) {
	case NVML_ERROR_NOT_SUPPORTED:
		set_err(s, "%s of '%s' is not measured: %s", what, g->name, nvml_strerror(s, rc));
		return GOPS_ENOTSUP;
	case NVML_ERROR_GPU_IS_LOST:
		set_err(s, "'%s' is lost: %s", g->name, nvml_strerror(s, rc));
		return GOPS_ELOST;
	default:
		set_err(s, "cannot read %s of '%s': %s (%s)", what, g->name, nvml_strerror(s, rc), fn);
		return -EIO;
	}
}

static int nvml_read_energy(struct gops_source *s, int index, double *joules)
{
	struct nvml_gpu *g = gpu_at(s, index);
	if (!g)
		return -EINVAL;
	if (!g->has_energy)
		return read_failed(s, g, NVML_ERROR_NOT_SUPPORTED, "energy", "");
	unsigned long long raw;
	nvmlReturn_t rc = s->api.get_energy(g->dev, &raw);
	if (rc != NVML_SUCCESS)
		return read_failed(s, g, rc, "energy", "nvmlDeviceGetTotalEnergyConsumption");
	int ret = 0;
	if (raw < g->last_raw) {
		/* The driver restarted the counter. What was used between the last read and the
		 * restart is unknown: carry on from the value already returned and flag it. */
		g->base_j += (double)(g->last_raw - g->raw0) / 1000.0;
		g->raw0 = raw;
		ret = GOPS_READ_DISCONTINUITY;
	}
	g->last_raw = raw;
	*joules = g->base_j + (double)(raw - g->raw0) / 1000.0;
	return ret;
}

static int nvml_read_power(struct gops_source *s, int index, double *watts)
{
	struct nvml_gpu *g = gpu_at(s, index);
	if (!g)
		return -EINVAL;
	nvmlReturn_t rc = NVML_ERROR_NOT_SUPPORTED;
	const char *fn = "";
	if (g->has_field) {
		rc = read_field(s, g, watts);
		fn = "nvmlDeviceGetFieldValues";
		if (rc == NVML_SUCCESS)
			return 0;
		if (rc == NVML_ERROR_GPU_IS_LOST || !g->has_usage)
			return read_failed(s, g, rc, "power", fn);
	}
	if (g->has_usage) {
		unsigned int mw;
		rc = s->api.get_power(g->dev, &mw);
		fn = "nvmlDeviceGetPowerUsage";
		if (rc == NVML_SUCCESS) {
			*watts = mw / 1000.0;
			return 0;
		}
	}
	return read_failed(s, g, rc, "power", fn);
}

/* The 1 s average, where instant power (field 186) is what nvml_read_power gives: beside it,
 * not instead of it. */
static int nvml_read_power_avg(struct gops_source *s, int index, double *watts)
{
	struct nvml_gpu *g = gpu_at(s, index);
	if (!g)
		return -EINVAL;
	if (!g->has_field || !g->has_usage)
		return GOPS_ENOTSUP;
	unsigned int mw;
	nvmlReturn_t rc = s->api.get_power(g->dev, &mw);
	if (rc != NVML_SUCCESS)
		return read_failed(s, g, rc, "average power", "nvmlDeviceGetPowerUsage");
	*watts = mw / 1000.0;
	return 0;
}

static const char *nvml_error(struct gops_source *s)
{
	return s->err;
}

static int nvml_compute_processes(struct gops_source *s, int index, unsigned *count)
{
	struct nvml_gpu *g = gpu_at(s, index);
	if (!g)
		return -EINVAL;
	if (!s->api.get_procs)
		return read_failed(s, g, NVML_ERROR_NOT_SUPPORTED, "compute processes", "");
	unsigned int n = 0;
	nvmlReturn_t rc = s->api.get_procs(g->dev, &n, NULL);
	if (rc != NVML_SUCCESS && rc != NVML_ERROR_INSUFFICIENT_SIZE)
		return read_failed(s, g, rc, "compute processes", "nvmlDeviceGetComputeRunningProcesses");
	*count = n;
	return 0;
}

static int nvml_utilization(struct gops_source *s, int index, unsigned *gpu_pct)
{
	struct nvml_gpu *g = gpu_at(s, index);
	if (!g)
		return -EINVAL;
	if (!s->api.get_util)
		return read_failed(s, g, NVML_ERROR_NOT_SUPPORTED, "utilization", "");
	nvmlUtilization_t u;
	nvmlReturn_t rc = s->api.get_util(g->dev, &u);
	if (rc != NVML_SUCCESS)
		return read_failed(s, g, rc, "utilization", "nvmlDeviceGetUtilizationRates");
	*gpu_pct = u.gpu;
	return 0;
}

/* Appends the pids of one list call to out (each pid once); returns the NVML status. */
static nvmlReturn_t add_procs(nvmlReturn_t (*fn)(nvmlDevice_t, unsigned int *, void *), size_t size,
                              nvmlDevice_t dev, int instance, struct gops_gpu_proc *out, size_t cap,
                              size_t *n)
{
	unsigned char stack[64 * sizeof(nvmlProcessInfo_t)], *buf = stack;
	unsigned int count = sizeof stack / size;
	nvmlReturn_t rc = fn(dev, &count, buf);
	if (rc == NVML_ERROR_INSUFFICIENT_SIZE) {
		count += 16; /* some may start meanwhile */
		if (!(buf = malloc(count * size)))
			return NVML_ERROR_INSUFFICIENT_SIZE;
		rc = fn(dev, &count, buf);
	}
	for (unsigned i = 0; rc == NVML_SUCCESS && i < count; i++) {
		unsigned pid;
		memcpy(&pid, buf + i * size, sizeof pid);
		bool seen = false;
		for (size_t k = 0; k < *n && k < cap && !seen; k++)
			seen = out[k].pid == pid;
		if (seen)
			continue;
		if (*n < cap)
			out[*n] = (struct gops_gpu_proc){.pid = pid, .instance = instance, .sm_pct = NAN};
		(*n)++;
	}
	if (buf != stack)
		free(buf);
	return rc;
}

static int nvml_gpu_processes(struct gops_source *s, int index, struct gops_gpu_proc *out, size_t cap,
                              size_t *n)
{
	struct nvml_gpu *g = gpu_at(s, index);
	if (!g)
		return -EINVAL;
	*n = 0;
	if (!s->api.get_procs)
		return read_failed(s, g, NVML_ERROR_NOT_SUPPORTED, "processes", "");
	/* On a MIG GPU each instance lists its own processes. */
	unsigned n_dev = g->mig_mode ? g->n_mig : 1;
	for (unsigned k = 0; k < n_dev; k++) {
		nvmlDevice_t dev = g->mig_mode ? g->mig_dev[k] : g->dev;
		int inst = g->mig_mode ? (int)k : -1;
		nvmlReturn_t rc = add_procs(s->api.get_procs, s->api.procs_size, dev, inst, out, cap, n);
		if (rc != NVML_SUCCESS)
			return read_failed(s, g, rc, "processes", "nvmlDeviceGetComputeRunningProcesses");
		if (s->api.get_gprocs)
			add_procs(s->api.get_gprocs, s->api.gprocs_size, dev, inst, out, cap, n);
	}
	return 0;
}

/* Per-process SM utilisation: every sample after since_us, averaged per pid. */
static int nvml_process_sm_util(struct gops_source *s, int index, unsigned long long since_us,
                                struct gops_gpu_proc *out, size_t cap, size_t *n)
{
	struct nvml_gpu *g = gpu_at(s, index);
	if (!g)
		return -EINVAL;
	*n = 0;
	if (!s->api.get_proc_util || g->mig_mode)
		return read_failed(s, g, NVML_ERROR_NOT_SUPPORTED, "process utilisation", "");
	nvmlProcessUtilizationSample_t stack[64], *v = stack;
	unsigned int count = sizeof stack / sizeof stack[0];
	nvmlReturn_t rc = s->api.get_proc_util(g->dev, v, &count, since_us);
	if (rc == NVML_ERROR_INSUFFICIENT_SIZE) {
		count += 16;
		if (!(v = malloc(count * sizeof *v)))
			return -ENOMEM;
		rc = s->api.get_proc_util(g->dev, v, &count, since_us);
	}
	if (rc == NVML_ERROR_NOT_FOUND) /* no sample since then */
		count = 0;
	else if (rc != NVML_SUCCESS) {
		if (v != stack)
			free(v);
		return read_failed(s, g, rc, "process utilisation", "nvmlDeviceGetProcessUtilization");
	}
	unsigned samples[64] = {0};
	for (unsigned i = 0; i < count; i++) {
		if (v[i].timeStamp <= since_us)
			continue;
		size_t k = 0;
		while (k < *n && k < cap && out[k].pid != v[i].pid)
			k++;
		if (k == *n) {
			if (k >= cap || k >= 64)
				continue;
			out[k] = (struct gops_gpu_proc){.pid = v[i].pid, .instance = -1, .sm_pct = 0};
			(*n)++;
		}
		samples[k]++;
		out[k].sm_pct += (v[i].smUtil - out[k].sm_pct) / samples[k];
	}
	if (v != stack)
		free(v);
	return 0;
}

static int nvml_mig_instances(struct gops_source *s, int index, const struct gops_mig_instance **v, size_t *n)
{
	struct nvml_gpu *g = gpu_at(s, index);
	if (!g)
		return -EINVAL;
	*v = g->mig;
	*n = g->mig_mode ? g->n_mig : 0;
	return 0;
}

const struct gops_source_ops gops_source_nvml = {
    .name = "nvml",
    .open = nvml_open,
    .read_energy = nvml_read_energy,
    .read_power = nvml_read_power,
    .error = nvml_error,
    .close = nvml_close,
    .compute_processes = nvml_compute_processes,
    .utilization = nvml_utilization,
    .read_power_avg = nvml_read_power_avg,
    .gpu_processes = nvml_gpu_processes,
    .process_sm_util = nvml_process_sm_util,
    .mig_instances = nvml_mig_instances,
};
