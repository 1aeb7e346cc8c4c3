# examples/study.sh end to end on the fake GPU: each of the study's three experiments run from a
# small form of its short plan in examples/ (same command lines, fewer values), with python3
# standing in for PyTorch (tests/mock/fake_cnn.py: cnn.py's own flags, windows, tags, ONNX files
# and out-of-memory message) and for the LLM server (tests/mock/openai_mock.py). Checks that the
# idle power is stored first, the exports tag each run with its MACs, an out-of-memory run ends
# its ladder, and the analyses the results are read from come out with their figures.
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$TESTS_DIR/.." && pwd)
export GREENOPS_NVML_LIBRARY="$FAKE_NVML" FAKE_NVML_SCRIPT="$SCRATCH/gpu.script" FAKE_NVML_IDLE_W=60
: >"$FAKE_NVML_SCRIPT"
export FAKE_CNN_ONNX_GEN="$BUILD_ABS/tests/onnx_gen" IDLE_S=1 IDLE_ARGS=--force GREENOPS

# python3 in front of the real one: cnn.py and server.py go to the fakes, the rest passes.
REAL_PY=$(command -v python3)
mkdir -p "$SCRATCH/bin" "$SCRATCH/ex"
cat >"$SCRATCH/bin/python3" <<EOF
#!/usr/bin/env bash
case "\$1" in
*/workloads/pytorch/cnn.py) shift; exec "$REAL_PY" "$TESTS_DIR/mock/fake_cnn.py" "\$@" ;;
*/workloads/llm/server.py)
	while [ \$# -gt 0 ] && [ "\$1" != --port ]; do shift; done
	exec "$REAL_PY" "$TESTS_DIR/mock/openai_mock.py" --port "\$2" --ttft-ms 20 --gap-ms 5 ;;
esac
exec "$REAL_PY" "\$@"
EOF
chmod +x "$SCRATCH/bin/python3"
export PATH="$SCRATCH/bin:$PATH"
ln -s "$ROOT/workloads" "$SCRATCH/workloads" # the plans find the workloads at {plan_dir}/../workloads

# small PLAN NAME SED...: examples/quick_NAME.yaml with fewer values, no cool-down, as ex/NAME.yaml
small() {
	local name=$1
	shift
	sed -e 's/^cooldown:.*/cooldown: 0/' "$@" "$ROOT/examples/quick_$name.yaml" >"$SCRATCH/ex/$name.yaml"
}
q() { python3 -c 'import sqlite3,sys
c=sqlite3.connect(sys.argv[1])
for r in c.execute(sys.argv[2]): print("|".join("" if v is None else str(v) for v in r))' "$1" "$2"; }
study() { bash "$ROOT/examples/study.sh" "$@"; }

# --- finding 1: MACs per parameter ----------------------------------------------------------
small cnn_profile -e 's/^  arch: \[.*/  arch: [resnet18, resnet50]/' -e '/^         squeezenet1_1\]$/d' \
	-e 's/^repetitions: 3/repetitions: 2/' -e 's/--seconds, "[0-9.]*"/--seconds, "0.3"/' \
	-e 's/--infer-seconds, "[0-9.]*"/--infer-seconds, "0.1"/' -e "s|/tmp/greenops-onnx|$SCRATCH/onnx|"
study --plan "$SCRATCH/ex/cnn_profile.yaml" --out "$SCRATCH/r" cnn-profile >"$SCRATCH/cnn.out" 2>"$SCRATCH/cnn.err"
eq "cnn-profile: study.sh exits 0" "$?" 0
check "an ONNX export per architecture, where the plan's model: looks" test -s "$SCRATCH/onnx/resnet18_32.onnx" -a -s "$SCRATCH/onnx/resnet50_32.onnx"
eq "greenops macs of each export kept" "$(grep -c '"macs_per_param"' "$SCRATCH/r/cnn-profile-macs.jsonl")" 2
DB=$SCRATCH/r/cnn-profile.db
eq "the idle power was stored first" "$(q "$DB" "SELECT count(*) FROM baselines b JOIN devices d ON d.id = b.device_id WHERE d.domain = 'gpu0'")" 1
contains "four runs, all ok" "$SCRATCH/r/cnn-profile-sweep.log" '^sweep 1 \(cnn-profile-quick\): 4 runs: 4 ok, 0 failed$'
eq "each run tagged with its MACs per parameter and its data" \
	"$(q "$DB" "SELECT count(*) FROM runs r WHERE EXISTS (SELECT 1 FROM run_tags WHERE run_id = r.id AND key = 'macs_per_param') AND EXISTS (SELECT 1 FROM run_tags WHERE run_id = r.id AND key = 'data' AND value = 'synthetic')")" 4
for w in train infer; do
	check "$w windows: MACs per parameter against energy per sample, n = 4, three methods" python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
rows = [c for c in d["correlations"] if c["x"] == "macs_per_param" and c["y"] == "energy_per_unit_j"]
assert sorted(c["method"] for c in rows) == ["kendall", "pearson", "spearman"], rows
assert all(c["n"] == 4 for c in rows), rows' "$SCRATCH/r/cnn-profile-$w.json"
done
contains "the correlation table is shown" "$SCRATCH/cnn.out" '^macs_per_param +energy_per_unit_j +spearman +4 '

# --- finding 2: the batch ladder, out of memory at 224x224 ------------------------------------
small batch_ladder -e 's/^  arch: \[.*/  arch: [resnet18]/' -e 's/^  batch: \[.*/  batch: [16, 256, 2048, 4096]/' \
	-e 's/--seconds, "[0-9.]*"/--seconds, "0.05"/'
study --plan "$SCRATCH/ex/batch_ladder.yaml" --out "$SCRATCH/r" batch-ladder >"$SCRATCH/bl.out" 2>"$SCRATCH/bl.err"
eq "batch-ladder: study.sh exits 0" "$?" 0
# 2048 x 224 x 224 is above the fake's memory: that run fails as oom and 4096 is not tried.
contains "the ladder at 224x224 ends at its out-of-memory" "$SCRATCH/r/batch-ladder-sweep.log" \
	'^sweep 1 \(batch-ladder-quick\): 8 runs: 6 ok, 1 failed \(1 oom\), 1 skipped$'
contains "the optimum per architecture and size" "$SCRATCH/bl.out" '^lowest mean energy_per_unit_j: .* \(sd .*, 3 runs\) at batch = (16|256|2048|4096)$'
check "an optimum for each size" test -s "$SCRATCH/r/batch-ladder-resnet18-32.json" -a -s "$SCRATCH/r/batch-ladder-resnet18-224.json"

# --- finding 3: rates against the LLM server, one service per size -----------------------------
small llm_rates -e 's/^  rate: \[.*/  rate: [5, 20]/' -e 's/^repetitions: 3/repetitions: 2/' \
	-e 's/--duration, "3"/--duration, "1"/'
study --plan "$SCRATCH/ex/llm_rates.yaml" --out "$SCRATCH/r" llm-rates >"$SCRATCH/llm.out" 2>"$SCRATCH/llm.err"
eq "llm-rates: study.sh exits 0" "$?" 0
contains "eight runs, all ok" "$SCRATCH/r/llm-rates-sweep.log" '^sweep 1 \(llm-rates-quick\): 8 runs: 8 ok, 0 failed$'
eq "one CSV row per run" "$(($(wc -l <"$SCRATCH/r/llm-rates-runs.csv") - 1))" 8
for s in 1b 8b; do
	check "$s: rate against energy per request and per token, n = 4" python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
rows = [c for c in d["correlations"] if c["x"] == "rate" and c["method"] == "spearman"]
assert {c["y"] for c in rows} == {"energy_per_unit_j", "energy_per_output_token_j"}, rows
assert all(c["n"] == 4 for c in rows), rows' "$SCRATCH/r/llm-rates-$s.json"
done
contains "the cheapest rate under the TTFT bound" "$SCRATCH/r/llm-rates-sweep.txt" '^cheapest subject to ttft_p99_ms<=2000: size=(1b|8b) rate=(5|20): '

# --- a time limit stops the sweep and keeps what it measured ------------------------------------
small cnn_profile -e 's/--seconds, "[0-9.]*"/--seconds, "3"/' -e "s|/tmp/greenops-onnx|$SCRATCH/onnx|"
study --plan "$SCRATCH/ex/cnn_profile.yaml" --out "$SCRATCH/t" --time-limit 4 cnn-profile >"$SCRATCH/t.out" 2>"$SCRATCH/t.err"
eq "a stopped sweep still ends 0 with its analyses" "$?" 0
contains "it says how to go on" "$SCRATCH/t.err" 'the sweep was stopped \(exit [0-9]+\): go on with: .* sweep .* --resume=1$'
contains "the sweep is stored as interrupted" "$SCRATCH/t/cnn-profile-sweep.txt" '^sweep 1 \(cnn-profile-quick\): 24 runs, .*\(interrupted\)$'

# --- bad input: one line each ---------------------------------------------------------------
study nothing >/dev/null 2>"$SCRATCH/e1"
eq "an unknown experiment exits 2" "$?" 2
contains "naming it" "$SCRATCH/e1" "^study.sh: unknown argument 'nothing'$"
study --time-limit 1m cnn-profile >/dev/null 2>"$SCRATCH/e2"
eq "a time limit that is not whole seconds exits 2" "$?" 2
contains "naming it" "$SCRATCH/e2" "^study.sh: --time-limit '1m': whole seconds$"
"$REAL_PY" "$ROOT/workloads/pytorch/cnn.py" --data "$SCRATCH/nothing-here" >/dev/null 2>"$SCRATCH/e3"
eq "cnn.py: a --data folder without CIFAR-10 exits 1" "$?" 1
contains "naming the folder" "$SCRATCH/e3" "^cnn.py: --data $SCRATCH/nothing-here: no CIFAR-10 data_batch_N.bin or data_batch_N files there$"
"$REAL_PY" "$ROOT/workloads/pytorch/cnn.py" --mode eval >/dev/null 2>"$SCRATCH/e4"
eq "cnn.py: an unknown --mode exits 2" "$?" 2
contains "naming it" "$SCRATCH/e4" "cnn.py: error: --mode 'eval': train, infer or train,infer$"

done_testing
