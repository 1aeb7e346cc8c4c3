# greenops run on a GPU that other processes use too, and on a MIG instance: the measured
# energy stays as measured, and beside it an estimated split (docs/FLEET.md, "Shared GPUs and
# MIG"). The fake NVML reports the command's process through a pid file the command writes
# first thing, and two other processes (real ones, outside the command's tree) at known SM
# shares. The fake idles at 50 W; the command raises it to 300 W while it runs.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/e2e/fake_nvml.sh"

fake_nvml_setup
export FAKE_NVML_IDLE_W=50
sleep 60 &
other1=$!
sleep 60 &
other2=$!
trap 'kill $other1 $other2 2>/dev/null; rm -rf "$SCRATCH"' EXIT
PIDFILE=$SCRATCH/cmd.pid
CMD='echo $$ >"$PIDFILE"; echo "$(date +%s%N) 0 300" >>"$FAKE_NVML_SCRIPT"; sleep 3; echo "$(date +%s%N) 0 50" >>"$FAKE_NVML_SCRIPT"'
export PIDFILE

# attr JSON: shell assignments from the run's gpu0 and its attribution (A_* empty when none)
attr() {
	python3 - "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
d = r["domains"][0]
a = d.get("attribution") or {}
print("DUR=%s E=%s IDLE=%s HAS=%d" % (r["duration_s"], d["energy_j"], d["idle_power_w"], "attribution" in d))
for k in ("method", "basis", "command_j", "others_j", "unattributed_j", "energy_j", "other_processes"):
    print("A_%s=%s" % (k, a.get(k, "")))
cmd = [p for p in a.get("processes", []) if p["command"]]
print("A_cmd_pid=%s A_cmd_name=%s" % (cmd[0]["pid"] if cmd else "", cmd[0]["name"] if cmd else ""))
print("A_n_procs=%d" % len(a.get("processes", [])))
for i, x in enumerate(a.get("instances", [])):
    print("A_inst%d_j=%s A_inst%d_cmd=%d" % (i, x["energy_j"], i, x["command"]))
PY
}
# expect SHARE: (E - 50 W x duration) x SHARE, the dynamic energy's share
expect() { awk -v e="$E" -v d="$DUR" -v s="$1" 'BEGIN { printf "%.3f\n", (e - 50 * d) * s }'; }
pct() { awk -v x="$1" -v p="$2" 'BEGIN { printf "%.3f\n", x * p / 100 }'; }

# --- shared: the command at 60% SM, the others at 20% and 10% ---
rm -f "$PIDFILE"
: >"$FAKE_NVML_SCRIPT"
FAKE_NVML_PROCESSES="@$PIDFILE:60,$other1:20,$other2:10" \
	"$GREENOPS" run --no-db --sources nvml --idle measure:1 --json "$SCRATCH/s.json" -- sh -c "$CMD" \
	2>"$SCRATCH/s.err"
eq "shared: the run exits 0" "$?" 0
eval "$(attr "$SCRATCH/s.json")"
eq "shared: an attribution object" "$HAS" 1
eq "shared: labelled estimated" "$A_method" estimated
eq "shared: from SM utilisation" "$A_basis" sm_util
eq "shared: two other processes" "$A_other_processes" 2
eq "shared: the command's process is the one it wrote" "$A_cmd_pid" "$(cat "$PIDFILE")"
eq "shared: named" "$A_cmd_name" sh
want=$(script_energy "$FAKE_NVML_SCRIPT" 0 50 "$DUR")
near "shared: the measured energy_j is the fake's energy, as without sharing (J)" "$E" "$want" "$(pct "$want" 2)"
c=$(expect 0.6666667)
near "shared: the command's estimate is 60/90 of the dynamic energy (J)" "$A_command_j" "$c" "$(pct "$c" 3)"
o=$(expect 0.3333333)
near "shared: the others' is 30/90 of it (J)" "$A_others_j" "$o" "$(pct "$o" 3)"
near "shared: idle power x duration is unattributed (J)" "$A_unattributed_j" \
	"$(awk -v i="$IDLE" -v d="$DUR" 'BEGIN { print i * d }')" "$(pct "$E" 1)"
near "shared: command + others + unattributed = the measured energy (J)" \
	"$(awk -v a="$A_command_j" -v b="$A_others_j" -v c="$A_unattributed_j" 'BEGIN { print a + b + c }')" "$E" 0.01
contains "shared: the summary line" "$SCRATCH/s.err" \
	"gpu0 shared with 2 other processes: this command ≈ [0-9.]+ k?J of [0-9.]+ k?J \(estimated from SM utilisation\)"

# --- the same run without the others: no attribution, and the same measured energy ---
rm -f "$PIDFILE"
: >"$FAKE_NVML_SCRIPT"
FAKE_NVML_PROCESSES="@$PIDFILE:60" \
	"$GREENOPS" run --no-db --sources nvml --json "$SCRATCH/u.json" -- sh -c "$CMD" 2>"$SCRATCH/u.err"
eq "unshared: exits 0" "$?" 0
eval "$(attr "$SCRATCH/u.json")"
eq "unshared: no attribution object" "$HAS" 0
want=$(script_energy "$FAKE_NVML_SCRIPT" 0 50 "$DUR")
near "unshared: energy_j is the fake's (J)" "$E" "$want" "$(pct "$want" 2)"
if grep -q "shared with" "$SCRATCH/u.err"; then not_ok "unshared: no summary line"; else ok "unshared: no summary line"; fi

# --- shared, but no per-process utilisation readable: not split, all unattributed ---
rm -f "$PIDFILE"
: >"$FAKE_NVML_SCRIPT"
FAKE_NVML_PROCESS_UTIL=notsup FAKE_NVML_PROCESSES="@$PIDFILE:60,$other1:20" \
	"$GREENOPS" run --no-db --sources nvml --json "$SCRATCH/n.json" -- sh -c "$CMD" 2>"$SCRATCH/n.err"
eval "$(attr "$SCRATCH/n.json")"
eq "no samples: still an attribution object" "$HAS" 1
near "no samples: nothing given to the command (J)" "$A_command_j" 0 0.001
near "no samples: everything unattributed (J)" "$A_unattributed_j" "$E" 0.01
contains "no samples: the summary says so" "$SCRATCH/n.err" "without utilisation samples: their energy is unattributed"

# --- MIG: three instances of 3, 2 and 2 slices; the command on the first, another process
# on the second, the third idle. The parent GPU is measured; the split is by the busy
# instances' slices: 3/5 of the dynamic energy for the command, 2/5 for the other.
rm -f "$PIDFILE"
: >"$FAKE_NVML_SCRIPT"
MIG0=MIG-fa4e0000-0000-4000-9000-000000000000
FAKE_NVML_MIG=3,2,2 FAKE_NVML_PROCESSES="@$PIDFILE:0:0/0,$other1:0:0/1" CUDA_VISIBLE_DEVICES=$MIG0 \
	"$GREENOPS" run --no-db --sources nvml --idle measure:1 --json "$SCRATCH/m.json" -- sh -c "$CMD" \
	2>"$SCRATCH/m.err"
eq "MIG: measured, not refused (exit 0)" "$?" 0
eval "$(attr "$SCRATCH/m.json")"
want=$(script_energy "$FAKE_NVML_SCRIPT" 0 50 "$DUR")
near "MIG: the parent's energy_j is measured whole (J)" "$E" "$want" "$(pct "$want" 2)"
eq "MIG: labelled estimated" "$A_method" estimated
eq "MIG: by slices" "$A_basis" mig_slices
c=$(expect 0.6)
near "MIG: the command's instance has 3/5 of the dynamic energy (J)" "$A_command_j" "$c" "$(pct "$c" 3)"
near "MIG: instance 0 holds the command's share (J)" "$A_inst0_j" "$A_command_j" 0.01
eq "MIG: instance 0 is the command's" "$A_inst0_cmd" 1
o=$(expect 0.4)
near "MIG: instance 1 has 2/5 of it (J)" "$A_inst1_j" "$o" "$(pct "$o" 3)"
near "MIG: the idle instance has none (J)" "$A_inst2_j" 0 0.001
contains "MIG: the summary line" "$SCRATCH/m.err" "gpu0 MIG, 3 instances, the command on 1: this command ≈"
contains "MIG: the note names the instance" "$SCRATCH/m.err" "names MIG instance 0 of gpu0"

# A MIG UUID that names no instance still leaves no GPU, as CUDA would.
FAKE_NVML_MIG=3,2,2 CUDA_VISIBLE_DEVICES=MIG-ffffffff "$GREENOPS" run --no-db --sources nvml -- true \
	2>"$SCRATCH/bad.err"
check "an unknown MIG UUID: refused" test "$?" -ne 0
contains "an unknown MIG UUID: one line naming it" "$SCRATCH/bad.err" "MIG-ffffffff"
done_testing
