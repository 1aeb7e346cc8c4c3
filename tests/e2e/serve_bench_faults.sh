#!/usr/bin/env bash
# End-to-end tests of serve-bench against hostile input and a hostile end: a trace whose
# timestamps overflow nanoseconds, a server claiming billions of tokens, a sweep killed
# outright, and a request count too big for the memory it may use.
. "$(dirname "$0")/lib.sh"
MOCK="$TESTS_DIR/mock/openai_mock.py"
. "$(dirname "$0")/lib_serve_bench.sh"
PIDS=""
trap 'for p in $PIDS; do kill "$p" 2>/dev/null; done; rm -rf "$SCRATCH"' EXIT

sb() { "$GREENOPS" serve-bench --model mock --no-energy --cooldown 0 "$@"; }

# 1. A trace of 0 and 1e10 s (seconds since 1970 beside a zero): 1e19 ns does not fit the
#    send times; refused with one line, nothing measured as a negative latency.
start_mock huge --ttft-ms 5 --gap-ms 1 --tokens 4 --usage-tokens 5000000000
printf '{"prompt": "a", "timestamp": 0}\n{"prompt": "b", "timestamp": 1e10}\n' >"$SCRATCH/trace.jsonl"
sb --no-db --base-url "http://127.0.0.1:$PORT" --rate trace --dataset "$SCRATCH/trace.jsonl" \
	--json "$SCRATCH/trace.json" 2>"$SCRATCH/trace.err"
eq "a trace beyond int64 nanoseconds is refused" "$?" 1
contains "the timestamp is named" "$SCRATCH/trace.err" "trace timestamp 2 comes 1e\+10 s after the first"
eq "one line on stderr" "$(wc -l <"$SCRATCH/trace.err")" 1

# 2. usage.completion_tokens of 5,000,000,000 is kept whole (it was cut to 705,032,704), in the
#    JSON, the requests CSV and the database.
sb --db "$SCRATCH/tok.db" --base-url "http://127.0.0.1:$PORT" --rate inf --num-requests 2 \
	--output-len 4 --json "$SCRATCH/tok.json" --requests "$SCRATCH/tok.csv" 2>"$SCRATCH/tok.err"
eq "huge usage: exits 0" "$?" 0
eq "huge usage: total kept whole" "$(jget "$SCRATCH/tok.json" runs.0.total_output_tokens)" 10000000000
eq "huge usage: the CSV row keeps it" "$(python3 -c 'import csv,sys; print(next(csv.DictReader(open(sys.argv[1])))["tokens_out"])' "$SCRATCH/tok.csv")" 5000000000
eq "huge usage: the database keeps it" \
	"$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select max(tokens_out) from requests").fetchone()[0])' "$SCRATCH/tok.db")" 5000000000

# 3. A sweep killed outright (SIGKILL: nothing of greenops runs after it) leaves a run that
#    `greenops runs` shows as lost, as a killed `greenops run` does: the run is stored as
#    running before the first request is sent. It left no record at all.
start_mock slow --ttft-ms 20 --gap-ms 20 --tokens 4
DB="$SCRATCH/kill.db"
"$GREENOPS" serve-bench --model mock --no-energy --cooldown 0 --db "$DB" \
	--base-url "http://127.0.0.1:$PORT" --rate 5 --num-requests 10000 --output-len 4 \
	--quiet >/dev/null 2>"$SCRATCH/kill.err" &
sbpid=$!
PIDS="$PIDS $sbpid"
# the first requests reach the mock after the run is stored
for _ in $(seq 600); do
	[ "$(grep -c . "$SCRATCH/slow.log" 2>/dev/null)" -ge 3 ] && break
	kill -0 "$sbpid" 2>/dev/null || break
	sleep 0.05
done
kill -KILL "$sbpid"
wait "$sbpid" 2>/dev/null
"$GREENOPS" runs --db "$DB" >"$SCRATCH/kill.runs" 2>&1
eq "SIGKILLed serve-bench: one run listed" "$(grep -c 'serve-bench' "$SCRATCH/kill.runs")" 1
contains "SIGKILLed serve-bench: it is lost" "$SCRATCH/kill.runs" ' lost$'

# 4. --num-requests 1000000000 under a memory limit (ulimit -v): one line saying how much the
#    records need and how much there is, before anything is sent (it printed
#    "greenops serve-bench: " and nothing else when an allocation failed). A sanitizer build
#    cannot start under ulimit -v (its shadow memory): there, 1e12 requests, beyond any
#    machine's memory.
n_before=$(grep -c . "$SCRATCH/slow.log")
if bash -c 'ulimit -v 1000000 && "$0" --version; exit $?' "$GREENOPS" >/dev/null 2>&1; then
	N=1000000000 limit="ulimit -v 1000000 &&"
else
	N=1000000000000 limit=
fi
(eval "$limit" sb --db "$SCRATCH/mem.db" --base-url "http://127.0.0.1:$PORT" --rate inf \
	--num-requests "$N" --output-len 4) >/dev/null 2>"$SCRATCH/mem.err"
eq "$N requests${limit:+ under ulimit -v 1 GB}: exit 1" "$?" 1
contains "$N requests: says what they need and what there is" "$SCRATCH/mem.err" \
	"^greenops serve-bench: $N requests need about [0-9.e+]+ GiB to keep each one's timings .*this process may use [0-9.e+]+ GiB: use fewer --num-requests$"
eq "$N requests: one line" "$(wc -l <"$SCRATCH/mem.err")" 1
eq "$N requests: nothing sent" "$(grep -c . "$SCRATCH/slow.log")" "$n_before"

done_testing
