/* A measured span as JSON (the shape docs/CONTRACTS.md fixes), through jansson. Missing figures are
 * null, never 0. */
#include <greenops/greenops.h>

#include "meter/result_json.h"
#include "base/util.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

json_t *gops_json_num(double v)
{
	return isnan(v) || isinf(v) ? json_null() : json_real(v);
}

json_t *gops_json_text(const char *s)
{
	if (!s)
		return json_null();
	json_t *j = json_string(s);
	if (!j) {
		char *fixed = gops_utf8_repair(s);
		j = json_string(fixed);
		free(fixed);
	}
	return j;
}

void gops_json_set_text(json_t *obj, const char *key, const char *value)
{
	char *k = gops_utf8_repair(key);
	json_object_set_new(obj, k, gops_json_text(value));
	free(k);
}

static json_t *strings(char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, gops_json_text(v[i]));
	return a;
}

json_t *gops_domain_json(const struct gops_domain_result *d)
{
	json_t *o = json_object();
	json_object_set_new(o, "name", json_string(d->name));
	json_object_set_new(o, "source", json_string(d->source));
	json_object_set_new(o, "kind", json_string(d->kind));
	json_object_set_new(o, "label", json_string(d->label));
	json_object_set_new(o, "method", json_string(gops_method_name(d->method)));
	json_object_set_new(o, "summed", json_boolean(d->summed));
	json_object_set_new(o, "energy_j", gops_json_num(d->energy_j));
	json_object_set_new(o, "dynamic_energy_j", gops_json_num(d->dynamic_energy_j));
	json_object_set_new(o, "idle_power_w", gops_json_num(d->idle_power_w));
	json_object_set_new(o, "avg_power_w", gops_json_num(d->avg_power_w));
	json_object_set_new(o, "peak_power_w", gops_json_num(d->peak_power_w));
	json_object_set_new(o, "uncertainty_j", gops_json_num(d->uncertainty_j));
	json_object_set_new(o, "integrated_energy_j", gops_json_num(d->integrated_energy_j));
	json_object_set_new(o, "update_period_s",
	                    d->update_period_s > 0 ? json_real(d->update_period_s) : json_null());
	json_object_set_new(o, "warnings", strings(d->warnings, d->n_warnings));
	return o;
}

/* A shared GPU's estimated split: beside the domain's measured figures, never in them. */
static json_t *attribution_json(const struct gops_attribution *a)
{
	json_t *o = json_object();
	json_object_set_new(o, "method", json_string("estimated"));
	json_object_set_new(o, "basis", json_string(a->basis));
	json_object_set_new(o, "energy_j", gops_json_num(a->energy_j));
	json_object_set_new(o, "command_j", gops_json_num(a->command_j));
	json_object_set_new(o, "others_j", gops_json_num(a->others_j));
	json_object_set_new(o, "unattributed_j", gops_json_num(a->unattributed_j));
	json_object_set_new(o, "idle_power_w", gops_json_num(a->idle_power_w));
	json_object_set_new(o, "missing_s", json_real(a->missing_s));
	json_object_set_new(o, "other_processes", json_integer((json_int_t)a->n_other_processes));
	json_t *procs = json_array();
	for (size_t i = 0; i < a->n_processes; i++) {
		const struct gops_process_share *p = &a->processes[i];
		json_t *po = json_object();
		json_object_set_new(po, "pid", p->pid ? json_integer(p->pid) : json_null());
		json_object_set_new(po, "name", p->name[0] ? gops_json_text(p->name) : json_null());
		json_object_set_new(po, "command", json_boolean(p->command));
		if (a->n_instances)
			json_object_set_new(po, "instance",
			                    p->instance >= 0 ? json_integer(p->instance) : json_null());
		json_object_set_new(po, "energy_j", gops_json_num(p->energy_j));
		json_array_append_new(procs, po);
	}
	json_object_set_new(o, "processes", procs);
	if (a->n_instances) {
		json_t *inst = json_array();
		for (size_t i = 0; i < a->n_instances; i++) {
			const struct gops_instance_share *in = &a->instances[i];
			json_t *io = json_object();
			json_object_set_new(io, "uuid", gops_json_text(in->uuid));
			json_object_set_new(io, "slices",
			                    in->slices ? json_integer(in->slices) : json_null());
			json_object_set_new(io, "command", json_boolean(in->command));
			json_object_set_new(io, "energy_j", gops_json_num(in->energy_j));
			json_array_append_new(inst, io);
		}
		json_object_set_new(o, "instances", inst);
	}
	return o;
}

json_t *gops_result_json_object(const struct gops_result *r, int exit_status, int signal)
{
	char when[40];
	json_t *o = json_object();
	json_object_set_new(o, "greenops_version", json_string(gops_version()));
	json_object_set_new(o, "exit_status", json_integer(exit_status));
	json_object_set_new(o, "signal", signal ? json_integer(signal) : json_null());
	json_object_set_new(o, "start_time",
	                    json_string(gops_iso_time(r->start_realtime_ns, when, sizeof when)));
	json_object_set_new(o, "duration_s", json_real(r->duration_s));
	json_object_set_new(o, "start_monotonic_ns", json_integer(r->start_ns));
	json_object_set_new(o, "end_monotonic_ns", json_integer(r->end_ns));
	json_object_set_new(o, "energy_j", gops_json_num(r->energy_j));
	json_object_set_new(o, "dynamic_energy_j", gops_json_num(r->dynamic_energy_j));
	json_object_set_new(o, "uncertainty_j", gops_json_num(r->uncertainty_j));
	json_object_set_new(o, "idle_source", json_string(r->idle_source ? r->idle_source : "none"));
	json_object_set_new(o, "units", gops_json_num(r->units));
	json_object_set_new(o, "energy_per_unit_j", gops_json_num(r->energy_per_unit_j));
	json_t *summed = json_array();
	json_t *doms = json_array();
	for (size_t i = 0; i < r->n_domains; i++) {
		json_t *d = gops_domain_json(&r->domains[i]);
		for (size_t k = 0; k < r->n_attributions; k++)
			if (!strcmp(r->attributions[k].domain, r->domains[i].name))
				json_object_set_new(d, "attribution", attribution_json(&r->attributions[k]));
		json_array_append_new(doms, d);
		if (r->domains[i].summed)
			json_array_append_new(summed, json_string(r->domains[i].name));
	}
	json_object_set_new(o, "summed_domains", summed);
	json_object_set_new(o, "domains", doms);
	json_t *wins = json_array();
	for (size_t i = 0; i < r->n_windows; i++) {
		const struct gops_window_result *w = &r->windows[i];
		json_t *wo = json_object();
		json_object_set_new(wo, "name", gops_json_text(w->name));
		json_object_set_new(wo, "start_s", json_real(w->start_s));
		json_object_set_new(wo, "end_s", json_real(w->end_s));
		json_object_set_new(wo, "units", gops_json_num(w->units));
		json_object_set_new(wo, "energy_j", gops_json_num(w->energy_j));
		json_object_set_new(wo, "dynamic_energy_j", gops_json_num(w->dynamic_energy_j));
		json_object_set_new(wo, "energy_per_unit_j", gops_json_num(w->energy_per_unit_j));
		json_object_set_new(wo, "uncertainty_j", gops_json_num(w->uncertainty_j));
		json_object_set_new(wo, "open", json_boolean(w->open));
		json_t *wd = json_array();
		for (size_t k = 0; k < w->n_domains; k++)
			json_array_append_new(wd, gops_domain_json(&w->domains[k]));
		json_object_set_new(wo, "domains", wd);
		json_object_set_new(wo, "warnings", strings(w->warnings, w->n_warnings));
		json_array_append_new(wins, wo);
	}
	json_object_set_new(o, "windows", wins);
	json_t *tags = json_object();
	for (size_t i = 0; i < r->n_tags; i++)
		gops_json_set_text(tags, r->tags[i].key, r->tags[i].value);
	json_object_set_new(o, "tags", tags);
	json_object_set_new(o, "malformed_control_lines",
	                    json_integer((json_int_t)r->malformed_control_lines));
	json_object_set_new(o, "notes", strings(r->warnings, r->n_warnings));
	return o;
}

char *gops_result_to_json(const struct gops_result *r, int exit_status, int signal)
{
	json_t *o = gops_result_json_object(r, exit_status, signal);
	char *s = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
	json_decref(o);
	return s;
}
