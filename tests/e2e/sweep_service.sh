# greenops sweep with a service: the mock LLM server started once per server setting, ready
# when its URL answers, serve-bench at three rates inside each, stopped cleanly with SIGTERM;
# then analyze --sweep names the cheapest configuration under a TTFT constraint. One setting
# answers its first token late but streams fast (shorter runs, cheaper per request at constant
# power), the other answers at once but streams slowly: the SLO changes the answer.
. "$(dirname "$0")/lib.sh"

export GREENOPS_NVML_LIBRARY="$FAKE_NVML" FAKE_NVML_SCRIPT="$SCRATCH/gpu.script" FAKE_NVML_IDLE_W=60
: >"$FAKE_NVML_SCRIPT"
DB="$SCRATCH/sweep.db"
q() { python3 -c 'import sqlite3,sys
c=sqlite3.connect(sys.argv[1])
for r in c.execute(sys.argv[2]): print("|".join("" if v is None else str(v) for v in r))' "$DB" "$1"; }

cat >"$SCRATCH/llm.yaml" <<PLAN
name: llm-rates
serve_bench: [--base-url, "http://127.0.0.1:{port}", --model, mock, --rate, "{rate}", --num-requests, "20",
              --output-len, "8", --cooldown, "0", --sources, nvml, --idle, none, --quiet]
combinations:
  - {ttft: 400, gap: 2, rate: 5}
  - {ttft: 400, gap: 2, rate: 10}
  - {ttft: 400, gap: 2, rate: 20}
  - {ttft: 5, gap: 120, rate: 5}
  - {ttft: 5, gap: 120, rate: 10}
  - {ttft: 5, gap: 120, rate: 20}
service:
  command: [python3, "$TESTS_DIR/mock/openai_mock.py", --port, "{port}", --ttft-ms, "{ttft}", --gap-ms, "{gap}"]
  parameters: [ttft, gap]
  ready: {url: "http://127.0.0.1:{port}/v1/models", timeout: 60}
  stop_timeout: 10
PLAN

"$GREENOPS" sweep --dry-run "$SCRATCH/llm.yaml" >"$SCRATCH/dry.out" 2>&1
contains "dry run shows serve-bench runs" "$SCRATCH/dry.out" 'ttft=400 gap=2 rate=20  rep=1  greenops serve-bench --base-url http://127.0.0.1:PORT --model mock --rate 20'

"$GREENOPS" sweep "$SCRATCH/llm.yaml" --db "$DB" >"$SCRATCH/s.out" 2>"$SCRATCH/s.err"
eq "the sweep exits 0" "$?" 0
contains "six runs, all ok" "$SCRATCH/s.out" '^sweep 1 \(llm-rates\): 6 runs: 6 ok, 0 failed$'
eq "one service per setting, each ready" "$(grep -cE '^greenops sweep: service for ttft=(400 gap=2|5 gap=120) ready on port [0-9]+ after' "$SCRATCH/s.err")" 2
eq "each stopped cleanly on SIGTERM" "$(grep -cE '^greenops sweep: service stopped on SIGTERM \(.*\), cleanly$' "$SCRATCH/s.err")" 2
# The three rates of one service run one after another inside it.
eq "runs of one service are together" "$(q "SELECT json_extract(params, '\$.ttft') FROM sweep_runs ORDER BY position" | uniq | wc -l)" 2
eq "each run is a stored serve-bench run with its rate" \
	"$(q "SELECT count(*) FROM sweep_runs s JOIN runs r ON r.id = s.run_id JOIN bench_runs b ON b.run_id = r.id WHERE r.kind = 'serve-bench' AND b.rate = CAST(json_extract(s.params, '\$.rate') AS REAL) AND b.completed = 20")" 6
eq "serve-bench runs carry the sweep's tags" "$(q "SELECT count(*) FROM run_tags WHERE key = 'sweep' AND value = '1'")/$(q "SELECT count(*) FROM run_tags WHERE key = 'rate'")" 6/6

"$GREENOPS" analyze --sweep 1 --db "$DB" --json "$SCRATCH/free.json" >"$SCRATCH/free.out" 2>&1
eq "without a constraint the late-first-token server is cheapest" "$(jget "$SCRATCH/free.json" cheapest.params.ttft)" 400.0
"$GREENOPS" analyze --sweep 1 --db "$DB" --subject-to 'ttft_p99_ms<=200' --json "$SCRATCH/slo.json" >"$SCRATCH/slo.out" 2>&1
eq "analyze with an SLO exits 0" "$?" 0
eq "under ttft_p99_ms<=200 the other server is cheapest" "$(jget "$SCRATCH/slo.json" cheapest.params.ttft)" 5.0
eq "at its highest rate" "$(jget "$SCRATCH/slo.json" cheapest.params.rate)" 20.0
contains "analyze names it, per request" "$SCRATCH/slo.out" '^cheapest subject to ttft_p99_ms<=200: ttft=5 gap=120 rate=20: [0-9.]+ [mµ]?J per request'
check "its TTFT p99 meets the SLO" python3 -c 'import json,sys
c = json.load(open(sys.argv[1]))["cheapest"]["metrics"]
assert c["ttft_p99_ms"] <= 200 and c["energy_per_unit_j"] > 0' "$SCRATCH/slo.json"
"$GREENOPS" analyze --sweep 1 --db "$DB" --subject-to 'ttft_p99<=200' >/dev/null 2>"$SCRATCH/bad.err"
eq "an unknown metric is a usage error" "$?" 2
contains "naming it" "$SCRATCH/bad.err" "names no metric 'ttft_p99'"

# A service that never becomes ready: its runs fail as 'service', the sweep goes on.
cat >"$SCRATCH/dead.yaml" <<'PLAN'
serve_bench: [--base-url, "http://127.0.0.1:{port}", --model, mock, --rate, "{rate}", --num-requests, "5"]
parameters: {rate: [1, 2]}
service:
  command: [sh, -c, "echo loading weights; echo 'RuntimeError: CUDA out of memory' >&2; exit 1"]
  ready: {log: "Uvicorn running", timeout: 20}
PLAN
"$GREENOPS" sweep "$SCRATCH/dead.yaml" --db "$DB" >"$SCRATCH/d.out" 2>"$SCRATCH/d.err"
eq "a dead service does not stop the sweep" "$?" 0
contains "its runs fail as service failures" "$SCRATCH/d.out" '^sweep 2: 2 runs: 0 ok, 2 failed \(2 service\)$'
contains "with the service's last words" "$SCRATCH/d.err" "the service ended before it was ready \(exit status 1\): RuntimeError: CUDA out of memory"

done_testing
