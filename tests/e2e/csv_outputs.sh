#!/usr/bin/env bash
# The tables greenops writes while it measures agree with the database's: serve-bench's table
# shows goodput under --slo and no 'nan' for an 'inf' rate, `greenops show` of a stored sweep
# prints the same rate table, --requests has export-csv requests' columns and values, and
# run --timeline has export-csv samples' columns.
. "$(dirname "$0")/lib.sh"
MOCK="$TESTS_DIR/mock/openai_mock.py"
. "$(dirname "$0")/lib_serve_bench.sh"
PIDS=""
trap 'for p in $PIDS; do kill "$p" 2>/dev/null; done; rm -rf "$SCRATCH"' EXIT

start_mock csv --ttft-ms 10 --gap-ms 2 --tokens 4
"$GREENOPS" serve-bench --model mock --cooldown 0 --db "$SCRATCH/sb.db" --base-url "http://127.0.0.1:$PORT" \
	--rate 20,inf --num-requests 12 --output-len 4 --slo ttft:5000,e2el:10000 --sources estimate \
	--requests "$SCRATCH/rq.csv" --json "$SCRATCH/sb.json" 2>"$SCRATCH/sb.err"
eq "serve-bench exits 0" "$?" 0
contains "the table has a goodput column under --slo" "$SCRATCH/sb.err" "^rate .* goodput +in SLO "
contains "every request in a loose SLO: goodput is the throughput" "$SCRATCH/sb.err" "^20 .* 100%"
check "no 'nan' anywhere on stderr ('inf' has no schedule rate)" sh -c "! grep -qi nan '$SCRATCH/sb.err'"
contains "the 'inf' rate's line says it is sent at once" "$SCRATCH/sb.err" "rate=inf: .*schedule all at once"

# show prints the rate table too, the same rows as serve-bench printed.
"$GREENOPS" show last --db "$SCRATCH/sb.db" >"$SCRATCH/show.out" 2>"$SCRATCH/show.err"
eq "show exits 0" "$?" 0
grep -E '^(rate|20|inf) ' "$SCRATCH/sb.err" >"$SCRATCH/t1"
grep -E '^(rate|20|inf) ' "$SCRATCH/show.out" >"$SCRATCH/t2"
eq "show prints the header and both rates" "$(wc -l <"$SCRATCH/t2")" 3
check "show's rate table is the one serve-bench printed" cmp -s "$SCRATCH/t1" "$SCRATCH/t2"

# --requests: export-csv's columns first, in its order, with its values.
"$GREENOPS" export-csv requests --db "$SCRATCH/sb.db" -o "$SCRATCH/ex.csv"
python3 - "$SCRATCH/rq.csv" "$SCRATCH/ex.csv" >"$SCRATCH/cmp" <<'P'
import csv, sys
a = list(csv.reader(open(sys.argv[1], newline="")))
b = list(csv.reader(open(sys.argv[2], newline="")))
n = len(b[0])
print("header", a[0][:n] == b[0])
print("rows", len(a) == len(b) == 25)
print("values", all(x[:n] == y for x, y in zip(a[1:], b[1:])))
print("extra", ",".join(a[0][n:]))
P
contains "--requests begins with export-csv requests' header" "$SCRATCH/cmp" "^header True$"
contains "one row per request in both (24 + header)" "$SCRATCH/cmp" "^rows True$"
contains "the same values in every shared column" "$SCRATCH/cmp" "^values True$"
contains "then the client's own columns" "$SCRATCH/cmp" "^extra warmup,status,error_kind,admit_s,start_s,usage,chunks,energy_j,"

# --no-db: the ids are empty, the columns the same.
"$GREENOPS" serve-bench --model mock --cooldown 0 --no-db --no-energy --base-url "http://127.0.0.1:$PORT" \
	--rate 20 --num-requests 3 --output-len 4 --quiet --requests "$SCRATCH/nodb.csv" 2>/dev/null
eq "--no-db: same header" "$(head -1 "$SCRATCH/nodb.csv")" "$(head -1 "$SCRATCH/rq.csv")"
eq "--no-db: no ids" "$(sed -n 2p "$SCRATCH/nodb.csv" | cut -d, -f1,2)" ","

# run --timeline and export-csv samples: the same columns (export adds run_id in front).
export GREENOPS_NVML_LIBRARY="$FAKE_NVML" FAKE_NVML_SCRIPT="$SCRATCH/gpu.script" FAKE_NVML_IDLE_W=60
: >"$FAKE_NVML_SCRIPT"
"$GREENOPS" run --sources nvml --samples --timeline "$SCRATCH/t.csv" -- sleep 0.5 2>/dev/null
eq "run --timeline exits 0" "$?" 0
"$GREENOPS" export-csv samples --run last -o "$SCRATCH/s.csv"
eq "timeline header = export-csv samples' without run_id" "$(head -1 "$SCRATCH/t.csv")" \
	"$(head -1 "$SCRATCH/s.csv" | cut -d, -f2-)"
done_testing
