/* The one number formatter for figures shown to a person (summaries, tables, the live view):
 * SI prefixes and significant digits, the way `perf stat` and hyperfine choose units. */
#ifndef GOPS_BASE_FMT_H
#define GOPS_BASE_FMT_H

#include <stddef.h>

#define GOPS_FMT_LEN 48 /* enough for any figure below */

/* V with an SI prefix (p n µ m, k M G T) so that 1 <= |mantissa| < 1000, SIG significant
 * digits, then a space and UNIT: 0.0000388 g -> "38.8 µg" (SIG 3), 1234.5 J -> "1.235 kJ"
 * (SIG 4). Zero prints as "0 UNIT"; NAN and infinities as "-". Returns BUF. */
const char *gops_fmt_si(char *buf, size_t len, double v, const char *unit, int sig);
/* V ± U, both in V's prefix and decimals: "700.0 ± 2.3 J", "1.982 ± 0.595 J". U not finite:
 * as gops_fmt_si. */
const char *gops_fmt_si_pm(char *buf, size_t len, double v, double u, const char *unit, int sig);
/* V in fixed notation with SIG significant digits and no exponent: 8.961e-07 -> "0.000000896"
 * (SIG 3), 1260 -> "1260", 0.3 -> "0.3" (no trailing zeros). For figures with no SI prefix
 * (money, counts, rates). Returns BUF. */
const char *gops_fmt_sig(char *buf, size_t len, double v, int sig);
/* Energy in joules, also as watt-hours: "1.235 kJ (0.3430 Wh)". Returns BUF. */
const char *gops_fmt_energy(char *buf, size_t len, double joules);

#endif
