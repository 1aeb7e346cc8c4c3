/* Merging results databases: the runs of one database (with their hosts, devices, domains,
 * windows, tags, samples, serve-bench runs and requests, and idle baselines) copied into
 * another, ids renumbered. Used to gather the per-node databases of a cluster job. */
#ifndef GOPS_DB_MERGE_H
#define GOPS_DB_MERGE_H

#include <stddef.h>

struct gops_db_merge_stats {
	size_t runs_copied;
	size_t runs_present; /* already in the destination (same host, start and command) */
};

/* Copies everything of src_path that dst_path lacks into dst_path (created when missing),
 * in one transaction: a failure leaves dst_path as it was. A run is the same run when its
 * host (hostname and machine id), start time, pid and command are equal, so merging twice
 * copies nothing the second time. Returns 0 or a negative errno with the message in err. */
int gops_db_merge(const char *dst_path, const char *src_path, struct gops_db_merge_stats *stats, char *err,
                  size_t errlen);

#endif
