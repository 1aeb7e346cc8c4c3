/* Finding, inlining and running the report's plotting libraries. The libraries are vendored by
 * the build (mk/report.mk runs npm ci into build/report from report/package-lock.json). */
#include "cli/report_assets.h"

#include "base/util.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char assets[PATH_MAX];

static bool has_assets(const char *dir)
{
	char *p = gops_xasprintf("%s/node_modules/vega/build/vega.min.js", dir);
	bool ok = access(p, R_OK) == 0;
	free(p);
	return ok;
}

const char *report_assets_dir(char *err, size_t errlen)
{
	if (assets[0])
		return assets;
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = 0;
		char *slash = strrchr(exe, '/');
		if (slash)
			*slash = 0;
		const char *const rel[] = {"%s/report", "%s/../share/greenops/report"};
		for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
			char *cand = gops_xasprintf(rel[i], exe);
			bool found = has_assets(cand) && realpath(cand, assets);
			free(cand);
			if (found)
				return assets;
		}
	}
	snprintf(err, errlen,
	         "the plotting libraries are not installed next to greenops (build/report/node_modules "
	         "or share/greenops/report): run 'make' with npm available");
	return NULL;
}

static int inline_file(FILE *f, const char *path, char *err, size_t errlen)
{
	FILE *in = fopen(path, "rb");
	if (!in) {
		snprintf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
		return -errno;
	}
	fputs("<script>", f);
	/* "</script" inside the library would end the element early. */
	char buf[65536 + 16];
	size_t keep = 0, got;
	while ((got = fread(buf + keep, 1, 65536, in)) > 0) {
		size_t len = keep + got;
		size_t safe = len > 8 ? len - 8 : 0;
		for (size_t i = 0; i < safe; i++) {
			if (buf[i] == '<' && !strncasecmp(buf + i, "</script", 8))
				fputs("<\\/", f), i += 1;
			else
				fputc(buf[i], f);
		}
		memmove(buf, buf + safe, len - safe);
		keep = len - safe;
	}
	fwrite(buf, 1, keep, f);
	fclose(in);
	fputs("</script>\n", f);
	return 0;
}

int report_assets_inline(FILE *f, const char *dir, char *err, size_t errlen)
{
	static const char *const libs[] = {"vega/build/vega.min.js", "vega-lite/build/vega-lite.min.js",
	                                   "vega-embed/build/vega-embed.min.js"};
	for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++) {
		char *p = gops_xasprintf("%s/node_modules/%s", dir, libs[i]);
		int rc = inline_file(f, p, err, errlen);
		free(p);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int run_quiet(char *const argv[], const char *what, char *err, size_t errlen)
{
	char log[] = "/tmp/greenops-render-XXXXXX";
	int fd = mkstemp(log);
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "cannot start %s: %s", what, strerror(errno));
		return -errno;
	}
	if (pid == 0) {
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], argv);
		fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	int rc = 0;
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		char last[300] = "";
		FILE *l = fdopen(fd, "r");
		if (l) {
			rewind(l);
			char line[300];
			while (fgets(line, sizeof line, l))
				if (line[0] != '\n')
					snprintf(last, sizeof last, "%s", line);
			fclose(l);
			fd = -1;
		}
		last[strcspn(last, "\n")] = 0;
		snprintf(err, errlen, "%s failed%s%s", what, last[0] ? ": " : "", last);
		rc = -EIO;
	}
	if (fd >= 0)
		close(fd);
	unlink(log);
	return rc;
}

int report_render(const char *dir, struct report_figure *figs, size_t n, char *err, size_t errlen)
{
	json_t *jobs = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(jobs,
		                      json_pack("{s:O, s:s}", "spec", figs[i].spec, "svg", figs[i].svg));
	char jobs_path[] = "/tmp/greenops-figures-XXXXXX";
	int fd = mkstemp(jobs_path);
	if (fd < 0) {
		json_decref(jobs);
		snprintf(err, errlen, "cannot create a temporary file: %s", strerror(errno));
		return -errno;
	}
	close(fd);
	int rc = json_dump_file(jobs, jobs_path, JSON_COMPACT) < 0 ? -EIO : 0;
	json_decref(jobs);
	if (rc < 0) {
		snprintf(err, errlen, "cannot write '%s'", jobs_path);
		unlink(jobs_path);
		return rc;
	}
	char *script = gops_xasprintf("%s/render.mjs", dir);
	char *node_argv[] = {"node", script, jobs_path, NULL};
	rc = run_quiet(node_argv, "node (drawing the SVG figures)", err, errlen);
	free(script);
	unlink(jobs_path);
	for (size_t i = 0; !rc && i < n; i++) {
		if (!figs[i].png)
			continue;
		char *argv[] = {"rsvg-convert", "--zoom",    "2", "--background-color", "white", "-o",
		                figs[i].png,    figs[i].svg, NULL};
		rc = run_quiet(argv, "rsvg-convert (writing the PNG figures)", err, errlen);
	}
	return rc;
}
