#!/usr/bin/env bash
# End-to-end tests of `greenops serve-bench --http2` against the h2c mock (tests/mock/openai_mock_h2.py):
# the acceptance numbers over HTTP/2, shared connections seen from the server's side, failures of
# every kind (a reset stream among live ones), 50 streams at once on a connection, and flow control.
. "$(dirname "$0")/lib.sh"
MOCK="$TESTS_DIR/mock/openai_mock_h2.py"
PIDS=""
trap 'for p in $PIDS; do kill "$p" 2>/dev/null; done; rm -rf "$SCRATCH"' EXIT

# The mock needs the h2 module (Debian: python3-h2), which a python3 first on PATH (pyenv,
# a virtual environment) may not see: take the first interpreter that has it.
PY=""
for p in python3 /usr/bin/python3; do
	if "$p" -c 'import h2' 2>/dev/null; then PY=$p; break; fi
done
if [ -z "$PY" ]; then
	ok "HTTP/2 serve-bench not tested: no python3 with the h2 module (apt-get install python3-h2) # skip"
	done_testing
	exit
fi
. "$(dirname "$0")/lib_serve_bench.sh"

# stop_mock: one server at a time, so that none outlives its scenario
stop_mock() { kill "$MOCK_PID" 2>/dev/null; wait "$MOCK_PID" 2>/dev/null; }
sb() { "$GREENOPS" serve-bench --model mock --no-db --no-energy --cooldown 0 --http2 "$@"; }
# conn_stats LOG: "requests connections busiest most_open" from the mock's log (one line per
# request: time, connection number, stream id, streams open on that connection)
conn_stats() {
	awk '{ n++; c[$2]++; if ($4 > open) open = $4 }
	     END { k = 0; top = 0; for (i in c) { k++; if (c[i] > top) top = c[i] }; print n + 0, k, top, open + 0 }' "$1"
}

# 0. The mock speaks only HTTP/2, so every request it logs came over HTTP/2.
start_mock h1
"$GREENOPS" serve-bench --model mock --no-db --no-energy --cooldown 0 --base-url "http://127.0.0.1:$PORT" \
	--rate 5 --num-requests 2 2>"$SCRATCH/h1.err"
eq "HTTP/1.1 to the h2c mock fails" "$?" 1
eq "the mock logged no HTTP/1.1 request" "$(wc -l <"$SCRATCH/h1.log")" 0
stop_mock

# 1. The acceptance run over HTTP/2: 100 requests at 20/s, TTFT 40 ms, 16 tokens 10 ms apart.
start_mock a --ttft-ms 40 --gap-ms 10 --tokens 16
sb --base-url "http://127.0.0.1:$PORT" --rate 20 --num-requests 100 --output-len 16 --seed 1 \
	--json "$SCRATCH/a.json" 2>"$SCRATCH/a.err"
eq "h2 run exits 0" "$?" 0
stop_mock
J="$SCRATCH/a.json"
eq "h2: the run says HTTP/2" "$(jget "$J" config.http)" 2
check_acceptance "h2: " "$J"
# From the server's side: the 100 requests and the up-front check shared a few connections.
read -r nreq nconn busiest _ <<<"$(conn_stats "$SCRATCH/a.log")"
eq "h2: the mock saw 101 requests (check + 100)" "$nreq" 101
check "h2: at most 4 connections for 101 requests (got $nconn)" test "$nconn" -le 4
check "h2: one connection carried at least 25 requests (got $busiest)" test "$busiest" -ge 25
check "h2: the client counts at most 4 new connections" test "$(jget "$J" runs.0.connections_opened)" -le 4

# 2. Every 10th request fails, in each way; drop resets the stream, the connection lives on.
for mode in http500 event drop; do
	start_mock "f$mode" --ttft-ms 40 --gap-ms 10 --tokens 16 --fail-every 10 --fail-mode "$mode"
	sb --base-url "http://127.0.0.1:$PORT" --rate 20 --num-requests 100 --output-len 16 \
		--json "$SCRATCH/f$mode.json" 2>"$SCRATCH/f$mode.err"
	eq "h2 $mode: failures do not change the exit status" "$?" 0
	stop_mock
	check_failures "h2 $mode" "$mode" "$SCRATCH/f$mode.json" "$SCRATCH/f$mode.err"
	read -r nreq nconn _ _ <<<"$(conn_stats "$SCRATCH/f$mode.log")"
	check "h2 $mode: failures did not multiply connections ($nconn for $nreq requests)" test "$nconn" -le 4
done
contains "h2: error event message kept" "$SCRATCH/fevent.json" "injected failure"

# 3. --rate inf: 50 requests at once, multiplexed (all open together on a connection).
start_mock inf --ttft-ms 40 --gap-ms 10 --tokens 16
sb --base-url "http://127.0.0.1:$PORT" --rate inf --num-requests 50 --output-len 16 \
	--json "$SCRATCH/inf.json" 2>"$SCRATCH/inf.err"
eq "h2 inf: exits 0" "$?" 0
stop_mock
J="$SCRATCH/inf.json"
eq "h2 inf: 50 completed" "$(jget "$J" runs.0.completed)" 50
eq "h2 inf: 800 output tokens" "$(jget "$J" runs.0.total_output_tokens)" 800
read -r nreq nconn _ most_open <<<"$(conn_stats "$SCRATCH/inf.log")"
check "h2 inf: at most 4 connections for $nreq requests (got $nconn)" test "$nconn" -le 4
check "h2 inf: at least 25 streams open at once on a connection (got $most_open)" test "$most_open" -ge 25
# One after the other they would take 50 x 190 ms; together, each about 190 ms.
check "h2 inf: served concurrently (E2EL p99 under 1 s)" \
	awk -v e="$(jget "$J" runs.0.e2el_ms.p99)" 'BEGIN { exit !(e + 0 > 0 && e < 1000) }'

# 4. Flow control: prompts of 100 KB exceed the 64 KiB initial windows of a stream and of the
# connection, so they only arrive if the mock returns its windows (WINDOW_UPDATE). Chat too.
python3 -c 'import json
for i in range(6):
    print(json.dumps({"messages": [{"role": "user", "content": " ".join(["w%d" % i] * 20000)}]}))' \
	>"$SCRATCH/big.jsonl"
start_mock big --ttft-ms 5 --gap-ms 2 --tokens 4
sb --base-url "http://127.0.0.1:$PORT/v1" --endpoint chat --rate inf --num-requests 6 \
	--dataset "$SCRATCH/big.jsonl" --json "$SCRATCH/big.json" 2>"$SCRATCH/big.err"
eq "h2 big bodies: exits 0" "$?" 0
stop_mock
eq "h2 big bodies: 6 completed" "$(jget "$SCRATCH/big.json" runs.0.completed)" 6
eq "h2 big bodies: every prompt arrived whole" "$(jget "$SCRATCH/big.json" runs.0.total_input_tokens)" 120000
eq "h2 big bodies: chat tokens counted" "$(jget "$SCRATCH/big.json" runs.0.total_output_tokens)" 24
done_testing
