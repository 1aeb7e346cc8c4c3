#!/usr/bin/env bash
# Client capacity of `greenops serve-bench`: the highest Poisson rate at which it still holds
# its schedule (achieved >= 99% of the schedule's own rate, arrival lateness p99 <= 1 ms, no
# failure) against bench/serve_capacity_server on loopback, with a response's 16 events in one
# write (burst) and one event per write (split), plus the client's CPU time per request and the
# share of its core's time that the hypervisor took (steal). It goes on to the next rate while
# some run still produced >= 99% of the rate. For reference, at the same rates
# and the same moment: bench/curl_bare (the barest libcurl-multi loop, counting events only)
# and wrk's closed-loop ceiling.
# Usage: bench/serve_capacity.sh [BUILD] [--rates "5000 10000 ..."] [--duration S] [--parser fast|jansson]
#        [--modes "burst split"] [--repeat N]   (N runs per rate: the machine's stalls come and go)
set -u
BUILD=${1:-build}
[ $# -gt 0 ] && shift
RATES="5000 10000 15000 20000 22500 25000 27500 30000 35000 40000"
DURATION=3
PARSER=fast
MODES="burst split"
REPEAT=1
while [ $# -gt 0 ]; do
	case $1 in
	--rates) RATES=$2; shift 2 ;;
	--duration) DURATION=$2; shift 2 ;;
	--parser) PARSER=$2; shift 2 ;;
	--modes) MODES=$2; shift 2 ;;
	--repeat) REPEAT=$2; shift 2 ;;
	*) echo "usage: $0 [BUILD] [--rates LIST] [--duration S] [--parser fast|jansson] [--modes 'burst split'] [--repeat N]" >&2; exit 2 ;;
	esac
done
make -s -j2 BUILD="$BUILD" "$BUILD/greenops" "$BUILD/bench/serve_capacity_server" "$BUILD/bench/curl_bare" || exit 1
GREENOPS=$BUILD/greenops
SERVER=$BUILD/bench/serve_capacity_server
TMP=$(mktemp -d)
SPID=""
trap '[ -n "$SPID" ] && kill "$SPID" 2>/dev/null; rm -rf "$TMP"' EXIT
# Two cores: the server gets one, the client the other.
pin_server="" pin_client=""
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then pin_server="taskset -c 0"; pin_client="taskset -c 1"; fi

start_server() {
	: >"$TMP/port"
	$pin_server "$SERVER" "$@" >"$TMP/port" &
	SPID=$!
	for _ in $(seq 100); do
		PORT=$(awk '/^PORT/ {print $2}' "$TMP/port")
		[ -n "$PORT" ] && return 0
		sleep 0.05
	done
	echo "serve_capacity: the server did not start" >&2
	exit 1
}

# Time the hypervisor took from the client's core (the steal column of /proc/stat), printed as
# "all steal" in clock ticks: the client is late whenever its virtual CPU is not running.
steal_ticks() {
	local core=${pin_client##* }
	awk -v c="cpu$core" '$1 == c {t = 0; for (i = 2; i <= 9; i++) t += $i; print t, $9}' /proc/stat
}

# run_greenops MODE RATE: one greenops run, one table line
run_greenops() {
	local s0 s1
	s0=$(steal_ticks)
	rm -f "$TMP/r.json"
	# A client that fell behind exits 1 but still writes what it measured: that is a result.
	$pin_client "$GREENOPS" serve-bench --base-url "http://127.0.0.1:$PORT" --model bench --rate "$2" \
		--duration "$DURATION" --output-len 16 --input-len 8 --no-energy --no-db --quiet --cooldown 0 \
		--json-parser "$PARSER" --timeout 10 --json "$TMP/r.json" 2>"$TMP/err" ||
		[ -s "$TMP/r.json" ] || { cat "$TMP/err" >&2; return 1; }
	s1=$(steal_ticks)
	python3 - "$TMP/r.json" "$1" "$2" "$s0" "$s1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["runs"][0]
a, b = [int(x) for x in sys.argv[4].split()], [int(x) for x in sys.argv[5].split()]
steal = 100.0 * (b[1] - a[1]) / max(1, b[0] - a[0])
ratio = r["achieved_rate"] / r["schedule_rate"]
late = r["lateness_ms"]["p99"]
holds = ratio >= 0.99 and late <= 1.0 and r["failed"] == 0 and r["not_sent"] == 0
print("%-6s %8s %9.0f %9.0f %9.4f %11.3f %11.2f %11.2f %8.2f %7d %7.1f %6s" % (sys.argv[2], sys.argv[3], r["schedule_rate"],
      r["achieved_rate"], ratio, late, r["client_cpu_us_per_request"], r["client_busy_us_per_request"],
      r["reads_per_response"] or 0, r["failed"], steal, "yes" if holds else "no"))
PY
}

# run_bare MODE RATE: one run of the reference client, the same columns where it has them
run_bare() {
	local sched achieved late cpu events
	# It has no give-up rule of its own: a collapsed run is cut at three times its duration.
	read -r sched achieved late cpu events < <(timeout "$((3 * ${DURATION%.*} + 5))" \
		$pin_client "$BUILD/bench/curl_bare" "http://127.0.0.1:$PORT/v1/completions" "$2" "$DURATION")
	[ -n "$sched" ] || { sched=$2 achieved=0 late=$(((3 * ${DURATION%.*} + 5) * 1000)) cpu=0 events=0; }
	awk -v m="$1" -v r="$2" -v s="$sched" -v a="$achieved" -v l="$late" -v c="$cpu" -v e="$events" 'BEGIN {
		ratio = a / s; holds = (ratio >= 0.99 && l <= 1.0 && e >= 18) ? "yes" : "no"
		printf "%-6s %8s %9.0f %9.0f %9.4f %11.3f %11.2f %11s %8s %7s %7s %6s\n", m, r, s, a, ratio, l, c, "-", "-", "-", "-", holds }'
}

# sweep RUNNER LABEL: every rate REPEAT times while some run of the previous rate still produced
# >= 99% of it; says per rate in how many runs the schedule held.
sweep() {
	local runner=$1 label=$2 rate rep line held produced any="" most="" cpu=""
	printf '%-6s %8s %9s %9s %9s %11s %11s %11s %8s %7s %7s %6s\n' mode rate schedule achieved ratio "late p99 ms" "cpu us/req" "busy us/req" "reads" failed steal% holds
	for rate in $RATES; do
		held=0 produced=0
		for rep in $(seq "$REPEAT"); do
			line=$($runner "$label" "$rate") || return 1
			echo "$line"
			case $line in *yes) held=$((held + 1)); cpu=$(echo "$line" | awk '{print $8}') ;; esac
			awk -v r="$(echo "$line" | awk '{print $5}')" 'BEGIN { exit !(r >= 0.99) }' && produced=$((produced + 1))
		done
		[ "$REPEAT" -gt 1 ] && echo "# $label $rate req/s: held in $held of $REPEAT runs"
		[ "$held" -gt 0 ] && any=$rate
		[ $((2 * held)) -gt "$REPEAT" ] && most=$rate
		[ "$produced" -gt 0 ] || break
	done
	case $cpu in '' | -) cpu="" ;; *) cpu=" (busy CPU $cpu us/request in the last run that held)" ;; esac
	echo "# $label: held the schedule up to ${any:-none} req/s in at least one run, up to ${most:-none} in most runs$cpu"
}

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg), parser $PARSER, $REPEAT run(s) per rate"
for mode in $MODES; do
	# split: one event per write, 100 us apart, so that the client reads each event alone.
	if [ "$mode" = split ]; then start_server --mode split --gap-us 100; else start_server --mode burst; fi
	sweep run_greenops "$mode"
	kill "$SPID" 2>/dev/null
	wait "$SPID" 2>/dev/null
	SPID=""
done
# The reference client, burst mode, same rates and criteria (it sends a fixed small body).
start_server --mode burst
sweep run_bare bare
kill "$SPID" 2>/dev/null
wait "$SPID" 2>/dev/null
SPID=""
if command -v wrk >/dev/null; then
	start_server --mode burst
	cat >"$TMP/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"model":"bench","prompt":"a b c","max_tokens":16,"stream":true,"stream_options":{"include_usage":true}}'
wrk.headers["Content-Type"] = "application/json"
LUA
	echo "# wrk (closed loop, 1 thread, 64 connections, same server, burst):"
	$pin_client wrk -t1 -c64 -d5s -s "$TMP/post.lua" "http://127.0.0.1:$PORT/v1/completions" | grep -E "Requests/sec|Latency"
fi
