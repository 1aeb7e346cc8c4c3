#!/usr/bin/env bash
# Energy sweep of the reference LLM server on a GPU machine: for each model size, start
# workloads/llm/server.py (random weights), wait until it listens, run `greenops serve-bench`
# at rising rates up to saturation, and print rate, achieved throughput, energy per request and
# per token, and TTFT p50. Written to finish within about 8 minutes for both sizes on an H100.
# Usage: workloads/llm/sweep.sh [SIZE...]   (sizes: 1b 8b tiny; default "1b 8b")
# Environment: GREENOPS (default bench/carry/greenops), OUT (results folder), DURATION (s per
# rate, default 10), RATES_1B, RATES_8B, RATES_TINY (comma-separated), SERVER_ARGS (extra).
set -u
cd "$(dirname "$0")/../.."
GREENOPS=${GREENOPS:-bench/carry/greenops}
[ -d bench/carry ] && export LD_LIBRARY_PATH="bench/carry${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
RESULTS=${OUT:-workloads/llm/results}
DURATION=${DURATION:-10}
SIZES=${*:-1b 8b}
mkdir -p "$RESULTS"
SPID=""
trap '[ -n "$SPID" ] && kill "$SPID" 2>/dev/null' EXIT
[ -x "$GREENOPS" ] || { echo "sweep: '$GREENOPS' not found (set GREENOPS)" >&2; exit 1; }

rates_for() {
	case $1 in
	1b) echo "${RATES_1B:-2,4,8,16,32,64,128}" ;;
	8b) echo "${RATES_8B:-1,2,4,8,16,32,64}" ;;
	*) echo "${RATES_TINY:-2,5,10,20,40}" ;;
	esac
}

status=0
for size in $SIZES; do
	: >"$RESULTS/server-$size.port"
	# shellcheck disable=SC2086
	python3 workloads/llm/server.py --model-size "$size" --port 0 --max-batch 64 ${SERVER_ARGS:-} \
		>"$RESULTS/server-$size.port" 2>"$RESULTS/server-$size.log" &
	SPID=$!
	PORT=""
	for _ in $(seq 1200); do # the model is built before the port opens: up to 2 minutes
		PORT=$(awk '/^PORT/ {print $2}' "$RESULTS/server-$size.port")
		[ -n "$PORT" ] && break
		kill -0 "$SPID" 2>/dev/null || break
		sleep 0.1
	done
	if [ -z "$PORT" ]; then
		echo "sweep: the $size server did not start:" >&2
		tail -20 "$RESULTS/server-$size.log" >&2
		status=1
		continue
	fi
	grep '^server:' "$RESULTS/server-$size.log"
	model=$(python3 -c 'import json,sys,urllib.request; print(json.load(urllib.request.urlopen(sys.argv[1]))["data"][0]["id"])' \
		"http://127.0.0.1:$PORT/v1/models")
	"$GREENOPS" serve-bench --base-url "http://127.0.0.1:$PORT" --model "$model" --rate "$(rates_for "$size")" \
		--duration "$DURATION" --input-len 128 --output-len 64 --ignore-eos --seed 1 --cooldown 3 \
		--timeout 300 --no-db --json "$RESULTS/sweep-$size.json" --requests "$RESULTS/requests-$size.csv" \
		2>"$RESULTS/serve-bench-$size.log" || status=1
	kill "$SPID" 2>/dev/null
	wait "$SPID" 2>/dev/null
	SPID=""
	python3 - "$RESULTS/sweep-$size.json" "$size" <<'PY' || status=1
import json, sys
d = json.load(open(sys.argv[1]))
def f(x, spec):
    return "-" if x is None else spec % x
print("\n%s (random weights), %s; energy: %s" % (sys.argv[2], d["config"]["model"],
      d["energy_note"] or "measured"))
print("%8s %10s %10s %12s %12s %12s %10s" % ("rate", "achieved", "completed", "J/request", "J/token",
      "steady J/req", "TTFT p50"))
for r in d["runs"]:
    st = r["steady_state"] or {}
    print("%8s %10s %10d %12s %12s %12s %10s" % (r["rate"], f(r["request_throughput"], "%.2f"), r["completed"],
          f(r["energy_per_request_j"], "%.2f"), f(r["energy_per_output_token_j"], "%.4f"),
          f(st.get("energy_per_request_j"), "%.2f"), f(r["ttft_ms"]["median"], "%.0f ms")))
s = d["saturation"]
print("throughput saturates at: %s req/s (max %s req/s); energy per request stops falling at: %s req/s "
      "(lowest at %s req/s, from the %s)" % (s["throughput_saturated_at_rate"], f(s["max_request_throughput"], "%.2f"),
      s["energy_per_request_stops_falling_at_rate"], s["energy_per_request_lowest_at_rate"], s["energy_basis"]))
PY
done
exit $status
