# greenops sweep end to end, against the fake NVML at a constant 60 W: five batch sizes x three
# repetitions with one size failing with PyTorch's out-of-memory message (12 ok, 3 classified
# failures), a ladder that stops at its first out-of-memory, resume after SIGKILL without
# repeating completed runs, a time limit, analyze --sweep naming the cheapest batch size with
# its interval, and malformed plans each named by file, line and column.
. "$(dirname "$0")/lib.sh"

FIX="$TESTS_DIR/fixtures/sweep"
export GREENOPS_NVML_LIBRARY="$FAKE_NVML" FAKE_NVML_SCRIPT="$SCRATCH/gpu.script" FAKE_NVML_IDLE_W=60
: >"$FAKE_NVML_SCRIPT"
DB="$SCRATCH/sweep.db"
q() { python3 -c 'import sqlite3,sys
c=sqlite3.connect(sys.argv[1])
for r in c.execute(sys.argv[2]): print("|".join("" if v is None else str(v) for v in r))' "$DB" "$1"; }

plan() { # plan FILE LADDER-LINE EXTRA-ARGS [BATCHES [REPS]]
	cat >"$1" <<EOF
name: batch-ladder
command: ["$FIX/fake_train.sh", "--batch", "{batch}"$3]
parameters:
  batch: [${4:-64, 128, 256, 512, 1024}]
repetitions: ${5:-3}
seed: 7
units: "{batch} * 10"
tags: {study: sweep-test}
options: [--sources, nvml, --idle, none]
$2
EOF
}

# --- dry run -------------------------------------------------------------------------------
plan "$SCRATCH/p.yaml" "" ""
"$GREENOPS" sweep --dry-run "$SCRATCH/p.yaml" >"$SCRATCH/dry.out" 2>"$SCRATCH/dry.err"
eq "dry run exits 0" "$?" 0
eq "dry run prints one line per run" "$(wc -l <"$SCRATCH/dry.out")" 15
contains "a dry-run line names parameters, repetition, units and command" "$SCRATCH/dry.out" \
	'^ +[0-9]+  batch=[0-9]+  rep=[123]  units=[0-9]+  .*fake_train.sh --batch [0-9]+$'
eq "every configuration three times" "$(sed -E 's/.*batch=([0-9]+).*/\1/' "$SCRATCH/dry.out" | sort | uniq -c | awk '{print $1}' | sort -u)" 3
"$GREENOPS" sweep --dry-run "$SCRATCH/p.yaml" >"$SCRATCH/dry2.out" 2>/dev/null
check "the order is the seed's, the same each time" cmp -s "$SCRATCH/dry.out" "$SCRATCH/dry2.out"
"$GREENOPS" sweep --dry-run --seed 8 "$SCRATCH/p.yaml" >"$SCRATCH/dry3.out" 2>/dev/null
check "another seed, another order" sh -c "! cmp -s '$SCRATCH/dry.out' '$SCRATCH/dry3.out'"
check "a dry run stores nothing" test ! -e "$DB"

# --- five sizes x three reps, 1024 runs out of memory ---------------------------------------
FAKE_OOM_AT=1024 "$GREENOPS" sweep "$SCRATCH/p.yaml" --db "$DB" >"$SCRATCH/s.out" 2>"$SCRATCH/s.err"
eq "the sweep runs to its end (exit 0)" "$?" 0
contains "summary: 12 ok, 3 out of memory" "$SCRATCH/s.out" '^sweep 1 \(batch-ladder\): 15 runs: 12 ok, 3 failed \(3 oom\)$'
contains "the summary says what to run next" "$SCRATCH/s.out" "^next: greenops analyze --sweep 1 --db $DB\$"
contains "progress lines count runs, failures and an ETA" "$SCRATCH/s.err" '\[15/15\] batch=[0-9]+ rep [123]: (ok|oom) \| 12 ok, 3 failed \| ETA'
contains "a failure is shown with its line" "$SCRATCH/s.err" 'batch=1024 rep [123] failed \(oom\): torch.OutOfMemoryError: CUDA out of memory'
eq "12 runs stored as ok" "$(q "SELECT count(*) FROM sweep_runs WHERE sweep_id = 1 AND status = 'ok' AND run_id IS NOT NULL")" 12
eq "3 classified failures, all batch 1024" "$(q "SELECT count(*), group_concat(DISTINCT failure), group_concat(DISTINCT json_extract(params, '\$.batch')) FROM sweep_runs WHERE status = 'failed'")" "3|oom|1024"
contains "the failure keeps the output line" <(q "SELECT message FROM sweep_runs WHERE status = 'failed' LIMIT 1") 'CUDA out of memory. Tried to allocate 2.00 GiB'
eq "each run tagged with sweep, batch, rep and the plan's tags" \
	"$(q "SELECT count(*) FROM runs r WHERE (SELECT value FROM run_tags WHERE run_id = r.id AND key = 'sweep') = '1' AND EXISTS (SELECT 1 FROM run_tags WHERE run_id = r.id AND key = 'batch') AND EXISTS (SELECT 1 FROM run_tags WHERE run_id = r.id AND key = 'rep') AND EXISTS (SELECT 1 FROM run_tags WHERE run_id = r.id AND key = 'study' AND value = 'sweep-test')")" 15
eq "units from the expression" "$(q "SELECT r.units FROM sweep_runs s JOIN runs r ON r.id = s.run_id WHERE json_extract(s.params, '\$.batch') = '256' LIMIT 1")" 2560.0
eq "the sweep is completed" "$(q "SELECT status FROM sweeps WHERE id = 1")" completed

# --- analyze --sweep -----------------------------------------------------------------------
"$GREENOPS" analyze --sweep 1 --db "$DB" --json "$SCRATCH/a.json" >"$SCRATCH/a.out" 2>&1
eq "analyze --sweep exits 0" "$?" 0
# Constant power, nearly constant duration: energy per sample falls with the batch size, so the
# largest size that ran (512) is the cheapest.
eq "the cheapest batch size" "$(jget "$SCRATCH/a.json" cheapest.params.batch)" 512.0
check "its interval holds its mean" python3 -c 'import json,sys
c = json.load(open(sys.argv[1]))["cheapest"]
assert c["ci_low_j"] < c["energy_per_unit_j"] < c["ci_high_j"] and c["ok"] == 3 and c["sd_j"] > 0' "$SCRATCH/a.json"
# Three noisy runs (a loaded machine) can put the Student-t interval's low end below 0.
contains "analyze names the cheapest with its interval" "$SCRATCH/a.out" '^cheapest: batch=512: [0-9.]+ [mµn]?J per unit, 95% interval \[-?[0-9.]+ [mµn]?J, [0-9.]+ [mµn]?J\] \(3 runs\)$'
contains "the failed configuration is listed with its class" "$SCRATCH/a.out" '^  batch=1024 +3 +0  oom: '
contains "batch correlates negatively with energy per sample" "$SCRATCH/a.out" '^  batch +energy_per_unit_j +spearman +-0\.[5-9]'
"$GREENOPS" analyze --sweep 1 --db "$DB" --subject-to 'duration_s<=0' >"$SCRATCH/c.out" 2>&1
contains "an SLO nothing meets says so" "$SCRATCH/c.out" '^cheapest subject to duration_s<=0: no configuration meets the constraints$'
"$GREENOPS" analyze --sweep 9 --db "$DB" >/dev/null 2>"$SCRATCH/c.err"
eq "an unknown sweep is an error" "$?" 1
contains "and says which" "$SCRATCH/c.err" '^greenops analyze: there is no sweep 9$'

# --- a ladder stops at its first out-of-memory ----------------------------------------------
plan "$SCRATCH/l.yaml" "ladder: batch" "" "64, 128, 256, 512, 1024" 2
FAKE_OOM_AT=256 "$GREENOPS" sweep "$SCRATCH/l.yaml" --db "$DB" >"$SCRATCH/l.out" 2>"$SCRATCH/l.err"
eq "the ladder sweep exits 0" "$?" 0
contains "ladder summary" "$SCRATCH/l.out" '^sweep 2 \(batch-ladder\): 10 runs: 4 ok, 1 failed \(1 oom\), 5 skipped$'
eq "the sizes above the first failure never ran" \
	"$(q "SELECT group_concat(DISTINCT json_extract(params, '\$.batch')) FROM sweep_runs WHERE sweep_id = 2 AND status = 'skipped' ORDER BY 1")" "256,512,1024"
contains "a skipped run says why" <(q "SELECT message FROM sweep_runs WHERE sweep_id = 2 AND status = 'skipped' LIMIT 1") 'the ladder stopped: batch=256 ran out of memory'

# --- resume after SIGKILL ------------------------------------------------------------------
plan "$SCRATCH/r.yaml" "" ', "--sleep", "0.3"' "64, 128, 256" 2
export FAKE_TRAIN_LOG="$SCRATCH/train.log" FAKE_OOM_AT=100000
: >"$FAKE_TRAIN_LOG"
"$GREENOPS" sweep "$SCRATCH/r.yaml" --db "$DB" >"$SCRATCH/r1.out" 2>&1 &
pid=$!
# Kill it while its fourth run trains: three done, one in flight.
for _ in $(seq 1 600); do [ "$(wc -l <"$FAKE_TRAIN_LOG")" -ge 4 ] && break; sleep 0.05; done
kill -9 "$pid"
wait "$pid" 2>/dev/null
started_before=$(wc -l <"$FAKE_TRAIN_LOG")
ok_before=$(q "SELECT count(*) FROM sweep_runs WHERE sweep_id = 3 AND status = 'ok'")
check "runs completed before the kill are kept" test "$ok_before" -ge 3
eq "the run in flight is left marked running" "$(q "SELECT count(*) FROM sweep_runs WHERE sweep_id = 3 AND status = 'running'")" 1
sleep 0.5 # the killed run's own greenops stops on its parent's death; let it finish storing
"$GREENOPS" sweep "$SCRATCH/r.yaml" --db "$DB" --resume >"$SCRATCH/r2.out" 2>"$SCRATCH/r2.err"
eq "resume exits 0" "$?" 0
contains "resume says where it goes on" "$SCRATCH/r2.err" "^greenops sweep: resuming sweep 3: $ok_before of 6 runs done$"
contains "the resumed sweep completes all" "$SCRATCH/r2.out" '^sweep 3 \(batch-ladder\): 6 runs: 6 ok, 0 failed$'
eq "no completed run was repeated (only the one in flight ran again)" \
	"$(wc -l <"$FAKE_TRAIN_LOG")" "$((started_before + 6 - ok_before))"
eq "each of the 6 planned runs is stored once" "$(q "SELECT count(DISTINCT run_id) FROM sweep_runs WHERE sweep_id = 3 AND status = 'ok'")" 6
"$GREENOPS" sweep "$SCRATCH/r.yaml" --db "$DB" --resume >/dev/null 2>"$SCRATCH/r3.err"
eq "nothing left to resume is an error" "$?" 1
contains "and says so" "$SCRATCH/r3.err" "no unfinished sweep of '$SCRATCH/r.yaml'"
unset FAKE_TRAIN_LOG FAKE_OOM_AT

# --- time limit and exit status --------------------------------------------------------------
# (5 s: the limit counts from the start of the run, greenops's own start-up included, which the
# sanitizer build on a loaded machine stretches past a second.)
cat >"$SCRATCH/t.yaml" <<EOF
command: ["{plan_dir}/slow.sh", "{what}"]
parameters: {what: [hang, fail]}
order: sequential
time_limit: 5s
options: [--sources, nvml, --idle, none]
EOF
cat >"$SCRATCH/slow.sh" <<'EOF'
#!/bin/sh
[ "$1" = hang ] && exec sleep 60
echo "loading data" >&2; echo "ValueError: bad shape (3, 4)" >&2; exit 3
EOF
chmod +x "$SCRATCH/slow.sh"
"$GREENOPS" sweep "$SCRATCH/t.yaml" --db "$DB" >"$SCRATCH/t.out" 2>&1
eq "a sweep with failures still exits 0" "$?" 0
eq "the time limit and the exit status are classified" \
	"$(q "SELECT failure || ':' || message FROM sweep_runs WHERE sweep_id = 4 ORDER BY position")" \
	"time-limit:stopped at the time limit of 5 s
exit-status:exit status 3: ValueError: bad shape (3, 4)"
eq "the time-limited run is stored as interrupted" "$(q "SELECT r.status FROM sweep_runs s JOIN runs r ON r.id = s.run_id WHERE s.sweep_id = 4 AND s.position = 0")" interrupted

# --- malformed plans: one line each, with file, line and column ------------------------------
bad() { # bad NAME PLAN EXPECTED
	printf '%s' "$2" >"$SCRATCH/bad.yaml"
	"$GREENOPS" sweep --dry-run "$SCRATCH/bad.yaml" >"$SCRATCH/bad.out" 2>"$SCRATCH/bad.err"
	local rc=$?
	if [ $rc -eq 1 ] && [ "$(wc -l <"$SCRATCH/bad.err")" -eq 1 ] && [ ! -s "$SCRATCH/bad.out" ] &&
		grep -Fq -- "greenops sweep: $SCRATCH/bad.yaml:$3" "$SCRATCH/bad.err"; then
		ok "$1"
	else
		not_ok "$1" "exit $rc" "$(cat "$SCRATCH/bad.err")"
	fi
}
bad "bad YAML" 'command: [t, "{b}"
parameters: {b: [1, 2}
' "2:1: not valid YAML"
bad "unknown key" 'command: [t]
parameters: {b: [1]}
repeats: 3
' "3:1: unknown key 'repeats' in the plan"
bad "empty grid" 'command: [t, "{b}"]
parameters:
  b: []
' "3:6: parameter 'b' has an empty list of values"
bad "a template naming an unknown parameter" 'command: [t, --batch, "{batch}"]
parameters: {b: [1]}
' "1:24: '{batch}' names no parameter (parameters: b)"
"$GREENOPS" sweep --dry-run "$SCRATCH/none.yaml" >/dev/null 2>"$SCRATCH/n.err"
contains "a missing plan is named" "$SCRATCH/n.err" "^greenops sweep: cannot read plan '$SCRATCH/none.yaml': No such file or directory$"

done_testing
