/* Which machine this is: the hostname alone changes with DHCP and clones share it, so the
 * machine id (systemd's, else D-Bus's) is kept beside it; the boot id tells a process that
 * died in an earlier boot from one that is still running. */
#include "base/host.h"
#include "base/util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void read_id(const char *path, char *out, size_t len)
{
	char buf[128];
	out[0] = 0;
	if (gops_read_file(path, buf, sizeof buf) <= 0)
		return;
	/* Only the first line, and only if it looks like an id: a half-written file is no id. */
	size_t n = strcspn(buf, "\n");
	buf[n] = 0;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)buf[i]) && buf[i] != '-')
			return;
	gops_strlcpy(out, buf, len);
}

int gops_host_identify(struct gops_host *h, char *err, size_t errlen)
{
	memset(h, 0, sizeof *h);
	if (gethostname(h->hostname, sizeof h->hostname - 1) < 0 || !h->hostname[0]) {
		int e = errno ? errno : ENOENT;
		snprintf(err, errlen, "cannot read the hostname: %s", strerror(e));
		return -e;
	}
	read_id("/etc/machine-id", h->machine_id, sizeof h->machine_id);
	if (!h->machine_id[0])
		read_id("/var/lib/dbus/machine-id", h->machine_id, sizeof h->machine_id);
	char path[4096];
	read_id(gops_sys_path(path, sizeof path, "/proc/sys/kernel/random/boot_id"), h->boot_id,
	        sizeof h->boot_id);
	return 0;
}
