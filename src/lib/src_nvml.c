/* NVIDIA GPUs through NVML (dlopened): placeholder until the source is written. */
#include "lib/source.h"

#include <errno.h>

static int nvml_open(struct gops_source **out, struct gops_domain_list *dl, struct gops_notes *notes,
		     char *err, size_t errlen)
{
	(void)out, (void)dl, (void)notes, (void)err, (void)errlen;
	return -ENOENT;
}

const struct gops_source_ops gops_source_nvml = {.name = "nvml", .open = nvml_open};
