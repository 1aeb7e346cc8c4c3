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
eq "huge usage: the CSV row keeps it" "$(awk -F, 'NR == 2 {print $15}' "$SCRATCH/tok.csv")" 5000000000
eq "huge usage: the database keeps it" \
	"$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select max(tokens_out) from requests").fetchone()[0])' "$SCRATCH/tok.db")" 5000000000

done_testing
