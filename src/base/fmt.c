/* SI-prefixed and significant-digit formatting of figures (see fmt.h). */
#include "base/fmt.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int decimals_for(double mantissa, int sig)
{
	int d = sig - ((int)floor(log10(fabs(mantissa))) + 1);
	return d < 0 ? 0 : d > 15 ? 15 : d;
}

static const char *const prefixes[] = {"p", "n", "µ", "m", "", "k", "M", "G", "T"};

/* The power of 1000 (-4..4) and the decimals that show V with SIG significant digits. */
static void si_scale(double v, int sig, int *exp1000, int *decimals)
{
	int e = (int)floor(log10(fabs(v)) / 3);
	if (e < -4)
		e = -4;
	if (e > 4)
		e = 4;
	double m = v / pow(1000, e);
	/* Rounding to SIG digits may carry into the next prefix: 999.96 -> "1.000 k". */
	int d = decimals_for(m, sig);
	if (round(fabs(m) * pow(10, d)) / pow(10, d) >= 1000 && e < 4) {
		e++;
		d = sig - 1; /* the mantissa rounds to 1 */
	}
	*exp1000 = e;
	*decimals = d;
}

const char *gops_fmt_si_pm(char *buf, size_t len, double v, double u, const char *unit, int sig)
{
	if (!isfinite(v)) {
		snprintf(buf, len, "-");
		return buf;
	}
	if (!isfinite(u)) {
		gops_fmt_si(buf, len, v, unit, sig);
		return buf;
	}
	int e, d;
	si_scale(v != 0 ? v : u != 0 ? u : 1, sig, &e, &d);
	double k = pow(1000, e);
	/* Enough decimals to show the uncertainty's two leading digits: "14.4243 ± 0.0015 kJ". */
	if (u != 0) {
		int du = decimals_for(u / k, 2);
		d = du > d ? (du > 6 ? 6 : du) : d;
	}
	snprintf(buf, len, "%.*f ± %.*f %s%s", d, v / k, d, u / k, prefixes[e + 4], unit);
	return buf;
}

const char *gops_fmt_si(char *buf, size_t len, double v, const char *unit, int sig)
{
	if (!isfinite(v)) {
		snprintf(buf, len, "-");
		return buf;
	}
	if (v == 0) {
		snprintf(buf, len, "0 %s", unit);
		return buf;
	}
	if (sig < 1)
		sig = 1;
	int e, d;
	si_scale(v, sig, &e, &d);
	double m = v / pow(1000, e);
	snprintf(buf, len, "%.*f %s%s", d, m, prefixes[e + 4], unit);
	return buf;
}

const char *gops_fmt_sig(char *buf, size_t len, double v, int sig)
{
	if (!isfinite(v)) {
		snprintf(buf, len, "-");
		return buf;
	}
	if (v == 0) {
		snprintf(buf, len, "0");
		return buf;
	}
	int mag = (int)floor(log10(fabs(v)));
	int d = sig - 1 - mag;
	if (d < 0)
		d = 0;
	if (d > 15)
		d = 15;
	snprintf(buf, len, "%.*f", d, v);
	if (d > 0) { /* "0.300" -> "0.3", "5.000" -> "5" */
		char *e = buf + strlen(buf) - 1;
		while (*e == '0')
			*e-- = 0;
		if (*e == '.')
			*e = 0;
	}
	return buf;
}

const char *gops_fmt_energy(char *buf, size_t len, double joules)
{
	char a[GOPS_FMT_LEN], b[GOPS_FMT_LEN];
	if (!isfinite(joules)) {
		snprintf(buf, len, "-");
		return buf;
	}
	snprintf(buf, len, "%s (%s)", gops_fmt_si(a, sizeof a, joules, "J", 4),
	         gops_fmt_si(b, sizeof b, joules / 3600, "Wh", 4));
	return buf;
}
