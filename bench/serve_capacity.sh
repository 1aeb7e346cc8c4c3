#!/usr/bin/env bash
# Client capacity of `greenops serve-bench`: the highest Poisson rate at which it still holds
# its schedule (achieved >= 99% of the schedule's own rate, arrival lateness p99 <= 1 ms, no
# failure) against bench/serve_capacity_server on loopback, with a response's 16 events in one
# write (burst) and one event per write (split), plus the client's CPU time per request and the
# share of its core's time that the hypervisor took (steal). It goes on to the next rate while
# some run still produced >= 99% of the rate. For reference, at the same rates, in both modes
# and at the same moment: bench/curl_bare (the barest libcurl-multi loop, counting events
# only), bench/raw_bare (the same open loop on plain sockets, no HTTP library: the machine's
# floor) and wrk's closed-loop ceiling. `srv busy%` is the share of the run the server spent
# working (it polls while streams are open, so its CPU time would not say; with several
# server threads, their mean). Where a Python with aiohttp exists, vLLM's request function
# (bench/vllm_request_func.py) runs too.
# Usage: bench/serve_capacity.sh [BUILD] [--rates "5000 10000 ..."] [--duration S] [--parser fast|jansson]
#        [--modes "burst split"] [--repeat N] [--server-threads N] [--vllm-rates LIST] [--no-build]
#   --repeat N: N runs per rate (the machine's stalls come and go)
#   --server-threads N: the canned server's threads, on cores 0..N-1 (SO_REUSEPORT); the
#     clients run on core N. Default 1 below 8 cores, else 4.
#   --no-build: use the binaries under BUILD as they are (a machine without a compiler: carry
#     BUILD/greenops, BUILD/bench/{serve_capacity_server,raw_bare,curl_bare} and their
#     libraries, see bench/carry.sh); also the default when no C compiler is found.
set -u
BUILD=${1:-build}
[ $# -gt 0 ] && shift
RATES="5000 10000 15000 20000 22500 25000 27500 30000 35000 40000"
DURATION=3
PARSER=fast
MODES="burst split"
REPEAT=1
VLLM_RATES="500 1000 2000 3000 4000 6000"
THREADS=""
BUILD_STEP=1
command -v cc >/dev/null || BUILD_STEP=""
while [ $# -gt 0 ]; do
	case $1 in
	--server-threads) THREADS=$2; shift 2 ;;
	--vllm-rates) VLLM_RATES=$2; shift 2 ;;
	--no-build) BUILD_STEP=""; shift ;;
	--rates) RATES=$2; shift 2 ;;
	--duration) DURATION=$2; shift 2 ;;
	--parser) PARSER=$2; shift 2 ;;
	--modes) MODES=$2; shift 2 ;;
	--repeat) REPEAT=$2; shift 2 ;;
	*) echo "usage: $0 [BUILD] [--rates LIST] [--duration S] [--parser fast|jansson] [--modes 'burst split'] [--repeat N] [--server-threads N] [--no-build]" >&2; exit 2 ;;
	esac
done
if [ -n "$BUILD_STEP" ]; then
	make -s -j2 BUILD="$BUILD" "$BUILD/greenops" "$BUILD/bench/serve_capacity_server" "$BUILD/bench/curl_bare" \
		"$BUILD/bench/raw_bare" || exit 1
fi
for b in greenops bench/serve_capacity_server bench/curl_bare bench/raw_bare; do
	[ -x "$BUILD/$b" ] || { echo "serve_capacity: $BUILD/$b is missing (build it, or carry it)" >&2; exit 1; }
done
[ -n "$THREADS" ] || { [ "$(nproc)" -ge 8 ] && THREADS=4 || THREADS=1; }
# vLLM's request function needs aiohttp: the first Python that has it.
VLLM_PY=""
for py in python3 /usr/bin/python3; do
	# (without LD_LIBRARY_PATH: carried libraries are for the C clients, not for Python's ssl)
	if command -v "$py" >/dev/null && env -u LD_LIBRARY_PATH "$py" -c 'import aiohttp' 2>/dev/null; then
		VLLM_PY=$py
		break
	fi
done
VLLM_FUNC=$(dirname "$0")/vllm_request_func.py
GREENOPS=$BUILD/greenops
SERVER=$BUILD/bench/serve_capacity_server
TMP=$(mktemp -d)
SPID=""
trap '[ -n "$SPID" ] && kill "$SPID" 2>/dev/null; rm -rf "$TMP"' EXIT
# The server's threads get cores 0..THREADS-1, the client the next one.
pin_client="" first_cpu=""
if command -v taskset >/dev/null && [ "$(nproc)" -gt "$THREADS" ]; then
	pin_client="taskset -c $THREADS"
	first_cpu="--first-cpu 0"
fi

start_server() {
	: >"$TMP/port"
	: >"$TMP/srv"
	# shellcheck disable=SC2086 # first_cpu is two words or none
	"$SERVER" --threads "$THREADS" $first_cpu "$@" >"$TMP/port" 2>"$TMP/srv" &
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

# The server's working seconds so far (it prints them on SIGUSR1) and the time, as "busy now".
srv_busy() {
	local n
	n=$(grep -c '^BUSY' "$TMP/srv")
	kill -USR1 "$SPID"
	for _ in $(seq 200); do
		if [ "$(grep -c '^BUSY' "$TMP/srv")" -gt "$n" ]; then
			echo "$(awk '/^BUSY/ {b = $2} END {print b}' "$TMP/srv") $(date +%s.%N)"
			return
		fi
		sleep 0.01
	done
	echo "- $(date +%s.%N)" # no answer within 2 s
}

# busy_pct "B0 T0" "B1 T1": the server's working share of that span, in % ("-" unknown)
busy_pct() {
	awk -v a="$1" -v b="$2" 'BEGIN { split(a, x); split(b, y)
		if (x[1] == "-" || y[1] == "-") print "-"; else printf "%.0f\n", 100 * (y[1] - x[1]) / (y[2] - x[2]) }'
}

# A client that collapsed leaves tens of thousands of loopback connections in TIME_WAIT for
# a minute, and the next run's connections may then find no local port: each run waits (up
# to 65 s) until fewer than 4,000 are left.
settle() {
	local n i
	for i in $(seq 130); do
		n=$(ss -Htan state time-wait 2>/dev/null | wc -l)
		[ "$n" -lt 4000 ] && { [ "$i" -gt 1 ] && echo "# waited $(((i - 1) / 2)) s for TIME_WAIT sockets to clear" >&2; return; }
		sleep 0.5
	done
}

# run_greenops MODE RATE: one greenops run, one table line
run_greenops() {
	local s0 s1 b0 b1
	settle
	b0=$(srv_busy)
	s0=$(steal_ticks)
	rm -f "$TMP/r.json"
	# A client that fell behind exits 1 but still writes what it measured: that is a result.
	$pin_client "$GREENOPS" serve-bench --base-url "http://127.0.0.1:$PORT" --model bench --rate "$2" \
		--duration "$DURATION" --output-len 16 --input-len 8 --no-energy --no-db --quiet --cooldown 0 \
		--json-parser "$PARSER" --timeout 10 --json "$TMP/r.json" 2>"$TMP/err" ||
		[ -s "$TMP/r.json" ] || { cat "$TMP/err" >&2; return 1; }
	s1=$(steal_ticks)
	b1=$(srv_busy)
	python3 - "$TMP/r.json" "$1" "$2" "$s0" "$s1" "$(busy_pct "$b0" "$b1")" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["runs"][0]
a, b = [int(x) for x in sys.argv[4].split()], [int(x) for x in sys.argv[5].split()]
steal = 100.0 * (b[1] - a[1]) / max(1, b[0] - a[0])
ratio = r["achieved_rate"] / r["schedule_rate"]
late = r["lateness_ms"]["p99"]
holds = ratio >= 0.99 and late <= 1.0 and r["failed"] == 0 and r["not_sent"] == 0
print("%-6s %-8s %8s %9.0f %9.0f %9.4f %11.3f %11.2f %11.2f %8.2f %7d %7.1f %8s %6s" % (sys.argv[2], "greenops",
      sys.argv[3], r["schedule_rate"], r["achieved_rate"], ratio, late, r["client_cpu_us_per_request"],
      r["client_busy_us_per_request"], r["reads_per_response"] or 0, r["failed"], steal, sys.argv[6],
      "yes" if holds else "no"))
PY
}

# run_ref CLIENT MODE RATE: one run of a reference client (curl_bare or raw_bare), the same
# columns where it has them. They have no give-up rule of their own: a collapsed run is cut at
# three times its duration.
run_ref() {
	local sched achieved late cpu events reads b0 b1 cut=$((3 * ${DURATION%.*} + 5))
	settle
	b0=$(srv_busy)
	local prog=("$BUILD/bench/$1")
	[ "$1" = vllm ] && prog=(env -u LD_LIBRARY_PATH "$VLLM_PY" "$VLLM_FUNC")
	read -r sched achieved late cpu events reads < <(timeout "$cut" \
		$pin_client "${prog[@]}" "http://127.0.0.1:$PORT/v1/completions" "$3" "$DURATION" 2>"$TMP/ref.err")
	b1=$(srv_busy)
	# No line: cut at $cut s (collapsed), or stopped with a reason, which goes to stderr.
	[ -s "$TMP/ref.err" ] && echo "# $1 at $3 req/s: $(head -1 "$TMP/ref.err")" >&2
	[ -n "$sched" ] || { sched=$3 achieved=0 late=$((cut * 1000)) cpu=0 events=0; }
	awk -v m="$2" -v w="$1" -v r="$3" -v s="$sched" -v a="$achieved" -v l="$late" -v c="$cpu" -v e="$events" \
		-v rd="${reads:--}" -v sb="$(busy_pct "$b0" "$b1")" 'BEGIN {
		ratio = a / s; holds = (ratio >= 0.99 && l <= 1.0 && e >= 18) ? "yes" : "no"
		printf "%-6s %-8s %8s %9.0f %9.0f %9.4f %11.3f %11.2f %11s %8s %7s %7s %8s %6s\n", m, w, r, s, a, ratio, l, c, "-", rd, "-", "-", sb, holds }'
}
run_curl_bare() { run_ref curl_bare "$@"; }
run_raw_bare() { run_ref raw_bare "$@"; }
run_vllm() { run_ref vllm "$@"; }

# sweep RUNNER LABEL: every rate REPEAT times while some run of the previous rate still produced
# >= 99% of it; says per rate in how many runs the schedule held.
sweep() {
	local runner=$1 label=$2 rate rep line held produced any="" most="" cpu=""
	printf '%-6s %-8s %8s %9s %9s %9s %11s %11s %11s %8s %7s %7s %8s %6s\n' mode client rate schedule achieved ratio \
		"late p99 ms" "cpu us/req" "busy us/req" "reads" failed steal% "srv busy%" holds
	for rate in $RATES; do
		held=0 produced=0
		for rep in $(seq "$REPEAT"); do
			line=$($runner "$label" "$rate") || return 1
			echo "$line"
			case $line in *yes) held=$((held + 1)); cpu=$(echo "$line" | awk '{print $9}') ;; esac
			awk -v r="$(echo "$line" | awk '{print $6}')" 'BEGIN { exit !(r >= 0.99) }' && produced=$((produced + 1))
		done
		[ "$REPEAT" -gt 1 ] && echo "# $label ${runner#run_} $rate req/s: held in $held of $REPEAT runs"
		[ "$held" -gt 0 ] && any=$rate
		[ $((2 * held)) -gt "$REPEAT" ] && most=$rate
		[ "$produced" -gt 0 ] || break
	done
	case $cpu in '' | -) cpu="" ;; *) cpu=" (busy CPU $cpu us/request in the last run that held)" ;; esac
	echo "# $label ${runner#run_}: held the schedule up to ${any:-none} req/s in at least one run, up to ${most:-none} in most runs$cpu"
}

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg), parser $PARSER, $REPEAT run(s) per rate, server threads $THREADS, vLLM's request function: ${VLLM_PY:-no aiohttp}"
for mode in $MODES; do
	# split: one event per write, 100 us apart, so that the client reads each event alone.
	if [ "$mode" = split ]; then start_server --mode split --gap-us 100; else start_server --mode burst; fi
	sweep run_greenops "$mode"
	# The reference clients, same server, rates and criteria (they send a fixed small body).
	sweep run_raw_bare "$mode"
	sweep run_curl_bare "$mode"
	[ -n "$VLLM_PY" ] && RATES=$VLLM_RATES sweep run_vllm "$mode"
	kill "$SPID" 2>/dev/null
	wait "$SPID" 2>/dev/null
	SPID=""
done
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
