/* JSON building blocks for results, shared by run, show and serve-bench. */
#ifndef GOPS_RESULT_JSON_H
#define GOPS_RESULT_JSON_H

#include <greenops/greenops.h>
#include <jansson.h>

json_t *gops_json_num(double v); /* null for NAN */
json_t *gops_domain_json(const struct gops_domain_result *d);
json_t *gops_result_json_object(const struct gops_result *r, int exit_status, int signal);

#endif
