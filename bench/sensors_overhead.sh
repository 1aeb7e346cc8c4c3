#!/usr/bin/env bash
# Sensor sampling overhead: greenops's own CPU time per second of monitoring while it reads
# two RAPL packages and DRAM from a fake powercap tree every 10 ms (the fake RAPL writer keeps
# the counters moving). Target: below 1% of one core.
#   bench/sensors_overhead.sh [BUILD] [SECONDS]    (defaults: build, 20)
set -eu
BUILD=${1:-build}
SECS=${2:-20}
GREENOPS=$(cd "$BUILD" && pwd)/greenops
WRITER=$(cd "$BUILD" && pwd)/tests/fake-rapl-writer
source "$(dirname "$0")/../tests/fakes/fake_sysfs.sh"
tmp=$(mktemp -d)
trap 'kill $wpid 2>/dev/null; rm -rf "$tmp"' EXIT
root=$tmp/sys
fake_rapl_zone "$root" intel-rapl:0 package-0 262143328850 125000000
fake_rapl_zone "$root" intel-rapl:0:0 dram 65712999613
fake_rapl_zone "$root" intel-rapl:1 package-1 262143328850 125000000
"$WRITER" "$root" intel-rapl:0=60 intel-rapl:0:0=10 intel-rapl:1=55 --period-ms 5 --ready "$tmp/ready" &
wpid=$!
wait_for_file "$tmp/ready"
export GREENOPS_SYSFS_ROOT=$root GREENOPS_NVML_LIBRARY=/nonexistent

# cpu_of ARGS...: user+system seconds (getrusage, microseconds) and wall seconds of one run
cpu_of() {
	python3 - "$GREENOPS" run --no-db --sources powercap --json "$tmp/out.json" "$@" <<'PY'
import os, subprocess, sys, time
t = time.monotonic()
p = subprocess.Popen(sys.argv[1:], stderr=subprocess.DEVNULL)
_, status, ru = os.wait4(p.pid, 0)
if status != 0:
    sys.exit("greenops run failed")
print("%.4f %.3f" % (ru.ru_utime + ru.ru_stime, time.monotonic() - t))
PY
}
read -r c0 w0 < <(cpu_of --interval 10 -- true)
read -r c1 w1 < <(cpu_of --interval 10 -- sleep "$SECS")
read -r c2 w2 < <(cpu_of --interval 100 -- sleep "$SECS")
domains=$(python3 -c 'import json,sys; print(" ".join(d["name"] for d in json.load(open(sys.argv[1]))["domains"]))' "$tmp/out.json")
awk -v c0="$c0" -v c1="$c1" -v w1="$w1" -v c2="$c2" -v w2="$w2" -v d="$domains" -v s="$SECS" 'BEGIN {
	printf "domains: %s\n", d
	printf "start-up and shut-down (run -- true):   %.4f s CPU\n", c0
	printf "10 ms interval, %s s:  %.4f s CPU / %.2f s = %.3f%% of one core (%.3f%% without start-up)\n", s, c1, w1, 100 * c1 / w1, 100 * (c1 - c0) / w1
	printf "100 ms interval, %s s: %.4f s CPU / %.2f s = %.3f%% of one core\n", s, c2, w2, 100 * c2 / w2
}'
