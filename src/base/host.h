/* Host identity for the results database: the hostname and the machine id that together
 * say which machine a run, a device or an idle baseline belongs to. */
#ifndef GOPS_HOST_H
#define GOPS_HOST_H

#include <stddef.h>

struct gops_host {
	char hostname[256];
	char machine_id[64]; /* /etc/machine-id; "" when the system has none */
	char boot_id[64];    /* /proc/sys/kernel/random/boot_id; "" when unreadable */
};

/* Fills h. Fails (negative errno, message in err) only when the hostname is unknown. */
int gops_host_identify(struct gops_host *h, char *err, size_t errlen);

#endif
