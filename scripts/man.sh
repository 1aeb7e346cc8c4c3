#!/bin/sh
# Writes the greenops(1) manual page from the tool's own help texts (greenops --help and
# greenops help VERB), so the page says what the binary does:
#   scripts/man.sh build/greenops > build/greenops.1
set -eu
g=${1:?usage: scripts/man.sh GREENOPS}
# Characters beyond ASCII (×, ±, µ) become roff's \[uXXXX] escapes.
# roff: a backslash is written \e; a line starting with . or ' is protected with \&.
esc() { sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/" | perl -CS -pe 's/([^\x00-\x7f])/sprintf("\\[u%04X]", ord($1))/ge'; }
version=$("$g" --version | awk '{ print $2 }')
cat <<HEAD
.TH GREENOPS 1 "" "greenops $version" "User Commands"
.SH NAME
greenops \\- measure what machine-learning work costs in energy, from the hardware's own sensors
.SH SYNOPSIS
.B greenops
[\\fB\\-\\-version\\fR] [\\fB\\-\\-help\\fR] [\\fB\\-\\-no\\-config\\fR]
.I VERB
[\\fIARGS\\fR...]
.SH DESCRIPTION
HEAD
echo ".nf"
"$g" --help | esc
echo ".fi"
echo ".SH VERBS"
for verb in $("$g" --help | awk '/^verbs:/ { on = 1; next } on && NF { print $1 }'); do
	echo ".SS $verb"
	echo ".nf"
	"$g" help "$verb" 2>&1 | esc
	echo ".fi"
done
cat <<'TAIL'
.SH ENVIRONMENT
.TP
.B GREENOPS_DB
the results database (default ~/.local/share/greenops)
.TP
.B GREENOPS_CONFIG
the configuration file (default ~/.config/greenops/config.toml); empty: none
.TP
.B GREENOPS_NVML_LIBRARY
the NVML library to load instead of libnvidia-ml.so.1
.TP
.B GREENOPS_SYSFS_ROOT
read /sys below this folder instead
.SH SEE ALSO
docs/ in the source tree: METHOD.md (how energy is measured), CONTRACTS.md (JSON, exit
statuses, environment), SWEEP.md, ANALYZE.md, SERVE_BENCH.md.
TAIL
