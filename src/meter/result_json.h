/* JSON building blocks for results, shared by run, show and serve-bench. */
#ifndef GOPS_RESULT_JSON_H
#define GOPS_RESULT_JSON_H

#include <greenops/greenops.h>
#include <jansson.h>

json_t *gops_json_num(double v); /* null for NAN */
/* A string from outside (a name, a tag, a command line): jansson refuses text that is not
 * UTF-8 and the member then vanished; such text is repaired instead (U+FFFD per bad byte),
 * as the monitor repairs names and tags where they enter. NULL gives null. */
json_t *gops_json_text(const char *s);
/* obj[key] = value, both repaired as gops_json_text does. */
void gops_json_set_text(json_t *obj, const char *key, const char *value);
json_t *gops_domain_json(const struct gops_domain_result *d);
json_t *gops_result_json_object(const struct gops_result *r, int exit_status, int signal);

#endif
