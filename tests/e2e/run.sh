# greenops run end to end against the fake NVML: energy by counter and by integration,
# exit statuses, signals, exec failures, bad flags, timeline and windows.
. "$(dirname "$0")/lib.sh"

export GREENOPS_NVML_LIBRARY="$FAKE_NVML" FAKE_NVML_SCRIPT="$SCRATCH/gpu.script" FAKE_NVML_IDLE_W=60
: >"$FAKE_NVML_SCRIPT"
# The child drives the fake GPU's power by appending timestamped lines.
LOAD='g() { echo "$(date +%s%N) 0 $1" >>"$FAKE_NVML_SCRIPT"; }; g 300; sleep 2; g 100; sleep 1; g 60'

"$GREENOPS" run --no-db --sources nvml --json "$SCRATCH/c.json" --timeline "$SCRATCH/t.csv" -- sh -c "$LOAD" 2>"$SCRATCH/c.err"
eq "run exits with the child's status" "$?" 0
e=$(jget "$SCRATCH/c.json" domains.0.energy_j)
u=$(jget "$SCRATCH/c.json" domains.0.uncertainty_j)
eq "counter method" "$(jget "$SCRATCH/c.json" domains.0.method)" counter
# 300 W x 2 s + 100 W x 1 s, plus the child's few ms at 60 W either side: ~700 J on an idle
# machine; the steps' real lengths (the script's timestamps) on a busy one.
want=$(script_energy "$FAKE_NVML_SCRIPT" 0 60 "$(jget "$SCRATCH/c.json" duration_s)")
near "300 W for 2 s then 100 W for 1 s (~700 J) within the uncertainty" "$e" "$want" "$(awk -v u="$u" 'BEGIN{print u + 2}')"
# Small: about 2% here; edges a loaded machine reads late widen it a little, honestly.
near "the uncertainty is small (< 5%)" "$u" 0 "$(awk -v w="$want" 'BEGIN { print 0.05 * w }')"
near "update period measured at the start" "$(jget "$SCRATCH/c.json" domains.0.update_period_s)" 0.1 0.015
contains "summary names the domain and method" "$SCRATCH/c.err" "gpu0 +counter"
contains "timeline has its header" "$SCRATCH/t.csv" "^t_s,domain,power_w,counter_j$"
rows=$(grep -c ',gpu0,' "$SCRATCH/t.csv")
[ "$rows" -ge 25 ] && ok "timeline has a row per sample ($rows)" || not_ok "timeline rows" "only $rows"

: >"$FAKE_NVML_SCRIPT"
GREENOPS_NVML_LIBRARY="$BUILD_ABS/tests/libfake-nvml-noenergy.so" \
	"$GREENOPS" run --no-db --sources nvml --json "$SCRATCH/i.json" --timeline "$SCRATCH/i.csv" -- sh -c "$LOAD" 2>/dev/null
eq "without the counter: integrated" "$(jget "$SCRATCH/i.json" domains.0.method)" integrated
# Integrating a stepped power misses up to half of each step (240, 200 and 40 W) over the
# sample gap around it: 24 J at 100 ms, more where a busy machine delays the sampler.
want=$(script_energy "$FAKE_NVML_SCRIPT" 0 60 "$(jget "$SCRATCH/i.json" duration_s)")
gap=$(awk -F, '$2 == "gpu0" { if (n++ && $1 - t > g) g = $1 - t; t = $1 } END { print g + 0 }' "$SCRATCH/i.csv")
near "integrated within half a step per sample gap (longest gap $gap s)" "$(jget "$SCRATCH/i.json" domains.0.energy_j)" \
	"$want" "$(awk -v w="$want" -v g="$gap" 'BEGIN{print (240 + 200 + 40) / 2 * g + 0.005 * w}')"

"$GREENOPS" run --no-db -q -- sh -c 'exit 3'
eq "exit status passes through" "$?" 3
"$GREENOPS" run --no-db -q --json "$SCRATCH/s.json" -- sh -c 'kill -TERM $$'
eq "killed child: 128+N" "$?" 143
eq "signal in JSON" "$(jget "$SCRATCH/s.json" signal)" 15
eq "exit_status in JSON" "$(jget "$SCRATCH/s.json" exit_status)" 143

"$GREENOPS" run --no-db -- no-such-command-here 2>"$SCRATCH/e.err"
eq "exec failure exits 127" "$?" 127
eq "exec failure message" "$(cat "$SCRATCH/e.err")" "greenops run: cannot run 'no-such-command-here': No such file or directory"

"$GREENOPS" run --frobnicate -- true 2>"$SCRATCH/f.err"
eq "unknown flag exits 2" "$?" 2
contains "unknown flag is named" "$SCRATCH/f.err" "unknown option '--frobnicate'"
"$GREENOPS" run --interval abc -- true 2>"$SCRATCH/f.err"
eq "bad value exits 2" "$?" 2
contains "bad value is named" "$SCRATCH/f.err" "invalid value 'abc' for --interval"
"$GREENOPS" run 2>/dev/null
eq "no command exits 2" "$?" 2
"$GREENOPS" run --no-db --sources nvml,bogus -- true 2>"$SCRATCH/f.err"
eq "unknown source fails" "$?" 1
contains "unknown source is named" "$SCRATCH/f.err" "unknown source 'bogus'"
GREENOPS_NVML_LIBRARY=/nonexistent/libnvidia-ml.so "$GREENOPS" run --no-db --sources nvml -- true 2>"$SCRATCH/f.err"
eq "a named source that cannot load is an error" "$?" 1
contains "the library path is named" "$SCRATCH/f.err" "/nonexistent/libnvidia-ml.so"

# SIGINT reaches the child; what was measured is still written.
mkfifo "$SCRATCH/started"
"$GREENOPS" run --no-db -q --json "$SCRATCH/int.json" -- sh -c "echo up >'$SCRATCH/started'; exec sleep 30" &
gpid=$!
read -r _ <"$SCRATCH/started"
kill -INT "$gpid"
wait "$gpid"
eq "SIGINT forwarded: child died of it" "$?" 130
eq "interrupted run still written" "$(jget "$SCRATCH/int.json" signal)" 2

# Windows through the socket from Python, with the units of the README's example.
cat >"$SCRATCH/w.py" <<'EOF'
import os, sys, time
sys.path.insert(0, os.path.join(os.environ["TESTS_DIR"], "..", "bindings", "python"))
import greenops
def gpu(w):
    with open(os.environ["FAKE_NVML_SCRIPT"], "a") as f:
        f.write(f"{time.time_ns()} 0 {w}\n")
gpu(300)
with greenops.window("warm"):
    time.sleep(1)
gpu(200)
with greenops.window("train", units=500):
    time.sleep(2)
gpu(60)
EOF
: >"$FAKE_NVML_SCRIPT"
"$GREENOPS" run --no-db -q --sources nvml --json "$SCRATCH/w.json" -- python3 "$SCRATCH/w.py"
eq "python child ran" "$?" 0
# --plot draws with vega under node (tests/e2e/report.sh tests it further).
if command -v node >/dev/null && [ -f "$BUILD_ABS/report/node_modules/vega/build/vega.min.js" ]; then
	"$GREENOPS" run --no-db -q --sources nvml --plot "$SCRATCH/p.svg" -- python3 -c 'import time; time.sleep(0.5)'
	contains "--plot draws the power line" "$SCRATCH/p.svg" 'class="mark-line role-mark'
	contains "--plot labels the domain with its energy and method" "$SCRATCH/p.svg" '>gpu0: [0-9.]+ J, [a-z+]+<'
else
	ok "--plot # SKIP node or the plotting libraries (build/report) are not installed"
fi
eq "two windows" "$(jget "$SCRATCH/w.json" windows.1.name)" train
wu=$(jget "$SCRATCH/w.json" windows.0.uncertainty_j)
near "warm: 300 W x its ~1 s" "$(jget "$SCRATCH/w.json" windows.0.energy_j)" "$(awk -v d="$(window_s "$SCRATCH/w.json" 0)" 'BEGIN{print 300 * d}')" "$(awk -v u="$wu" 'BEGIN{print u + 3}')"
tu=$(jget "$SCRATCH/w.json" windows.1.uncertainty_j)
tw=$(awk -v d="$(window_s "$SCRATCH/w.json" 1)" 'BEGIN{print 200 * d}')
near "train: 200 W x its ~2 s" "$(jget "$SCRATCH/w.json" windows.1.energy_j)" "$tw" "$(awk -v u="$tu" 'BEGIN{print u + 3}')"
near "train: per unit, of 500" "$(jget "$SCRATCH/w.json" windows.1.energy_per_unit_j)" "$(awk -v e="$tw" 'BEGIN{print e / 500}')" \
	"$(awk -v u="$tu" 'BEGIN{print (u + 3) / 500}')"

# Malformed control lines are counted, never fatal.
"$GREENOPS" run --no-db -q --json "$SCRATCH/m.json" -- python3 -c '
import os, socket
s = socket.socket(socket.AF_UNIX); s.connect(os.environ["GREENOPS_CONTROL"])
s.sendall(b"begin\nfrobnicate x\nbegin ok\nend ok\nunits -3\n")'
eq "malformed lines do not fail the run" "$?" 0
eq "malformed lines counted" "$(jget "$SCRATCH/m.json" malformed_control_lines)" 3
eq "good lines still applied" "$(jget "$SCRATCH/m.json" windows.0.name)" ok

# Idle measured right before the span, and idle given in watts; units give energy per unit.
: >"$FAKE_NVML_SCRIPT"
"$GREENOPS" run --no-db -q --sources nvml --idle measure:1 --units 100 --json "$SCRATCH/im.json" -- \
	sh -c 'echo "$(date +%s%N) 0 200" >>"$FAKE_NVML_SCRIPT"; sleep 1; echo "$(date +%s%N) 0 60" >>"$FAKE_NVML_SCRIPT"'
eq "idle measured: exits 0" "$?" 0
eq "idle source is measured" "$(jget "$SCRATCH/im.json" idle_source)" measured
near "idle power measured at 60 W" "$(jget "$SCRATCH/im.json" domains.0.idle_power_w)" 60 1
want=$(awk -v e="$(script_energy "$FAKE_NVML_SCRIPT" 0 60 "$(jget "$SCRATCH/im.json" duration_s)")" \
	-v d="$(jget "$SCRATCH/im.json" duration_s)" 'BEGIN{print e - 60 * d}')
near "dynamic energy of ~1 s at 200 W over 60 W idle" "$(jget "$SCRATCH/im.json" dynamic_energy_j)" "$want" \
	"$(awk -v u="$(jget "$SCRATCH/im.json" uncertainty_j)" 'BEGIN{print u + 3}')"
e=$(jget "$SCRATCH/im.json" energy_j)
near "energy per unit with --units 100" "$(jget "$SCRATCH/im.json" energy_per_unit_j)" "$(awk -v e="$e" 'BEGIN{printf "%.9f", e/100}')" 1e-6
"$GREENOPS" run --no-db -q --sources nvml --idle 50 --json "$SCRATCH/iw.json" -- sleep 1
eq "idle given in watts" "$(jget "$SCRATCH/iw.json" idle_source)" given
near "dynamic = gross - 50 W x duration" "$(jget "$SCRATCH/iw.json" dynamic_energy_j)" \
	"$(awk -v e="$(jget "$SCRATCH/iw.json" energy_j)" -v d="$(jget "$SCRATCH/iw.json" duration_s)" 'BEGIN{printf "%.9f", e - 50*d}')" 1e-6
"$GREENOPS" run --no-db --idle sometimes -- true 2>"$SCRATCH/ib.err"
eq "bad --idle exits 2" "$?" 2
contains "bad --idle is named" "$SCRATCH/ib.err" "invalid value 'sometimes' for --idle"

# --model tags the run with the model's complexity; a bad model fails before anything runs.
"$BUILD_ABS/tests/onnx_gen" resnet18 "$SCRATCH/r18.onnx"
"$GREENOPS" run --no-db -q --model "$SCRATCH/r18.onnx" --json "$SCRATCH/model.json" -- true
eq "run --model exits 0" "$?" 0
eq "macs tag" "$(jget "$SCRATCH/model.json" tags.macs)" 1814073344
eq "model tag" "$(jget "$SCRATCH/model.json" tags.model)" r18.onnx
near "macs_per_param tag" "$(jget "$SCRATCH/model.json" tags.macs_per_param)" 155.25 0.1
printf 'not a model' >"$SCRATCH/bad.onnx"
"$GREENOPS" run --no-db -q --model "$SCRATCH/bad.onnx" -- touch "$SCRATCH/ran" 2>"$SCRATCH/bad.err"
eq "a bad model fails the run" "$?" 1
[ ! -e "$SCRATCH/ran" ] && ok "the command did not run" || not_ok "the command did not run"
contains "the model file is named" "$SCRATCH/bad.err" "bad.onnx"

# A process the command leaves running is named, since what it uses afterwards is not in the run.
GREENOPS_NVML_LIBRARY=/nonexistent GREENOPS_SYSFS_ROOT="$SCRATCH/nosys" "$GREENOPS" run --no-db -- \
	sh -c 'sleep 2 >/dev/null 2>&1 & echo $! >"$0"' "$SCRATCH/leftover.pid" 2>"$SCRATCH/leftover.err"
eq "a leftover process: the command's exit status" "$?" 0
contains "a leftover process is named with its pid" "$SCRATCH/leftover.err" \
	"left 1 process running when it exited \\(pid $(cat "$SCRATCH/leftover.pid")\\)"
GREENOPS_NVML_LIBRARY=/nonexistent GREENOPS_SYSFS_ROOT="$SCRATCH/nosys" "$GREENOPS" run --no-db -- \
	sh -c 'sleep 0.1' 2>"$SCRATCH/noleftover.err"
check "no leftover process, no such warning" eval '! grep -q "left .* running" "$SCRATCH/noleftover.err"'
done_testing
