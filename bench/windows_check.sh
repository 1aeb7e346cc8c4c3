#!/usr/bin/env bash
# Windows as exact as the span, on any machine with an NVIDIA GPU, PyTorch and greenops:
#   bench/windows_check.sh cpu      greenops's CPU for `run -- true` and `run -- sleep 30`, the
#                                   latter side by side with nvidia-smi --loop-ms=100 for 30 s
#   bench/windows_check.sh windows  two runs of bench/gpu_windows.py --plan windows: every
#                                   window against the counter's difference at its edges
#   bench/windows_check.sh methods  windows of 0.1-60 s on steady and bursty loads, greenops
#                                   against the methods other tools use (table and SVG plot)
#   bench/windows_check.sh span     the whole span and --min-duration against the counter
#                                   logged outside greenops (bench/counter_log.py)
# GREENOPS (default build/greenops) is the binary; logs and JSON go to OUT (default
# /tmp/greenops-windows-check). The last lines printed are the step's table. Shorter, for a
# tight GPU budget: GPU_WINDOWS_ARGS="--scale 0.6" (phases of the windows plan),
# METHODS_ARGS="--longest 20,10" (longest windows, steady and bursty), SPAN_SECONDS=3 and
# SPAN_LOAD=0 (short commands on an idle GPU, no matmul span).
set -u
cd "$(dirname "$0")/.."
G=${GREENOPS:-build/greenops}
OUT=${OUT:-/tmp/greenops-windows-check}
mkdir -p "$OUT"

# CPU seconds (user + system) of a command and everything it started.
cpu_of() {
	python3 -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"{r.ru_utime + r.ru_stime:.4f}")' "$@"
}

step_cpu() {
	for i in 1 2 3; do
		echo "run -- true #$i: $(cpu_of "$G" run --no-db -q --json "$OUT/true_$i.json" -- true) s CPU"
	done | tee "$OUT/cpu_true.txt"
	# Side by side, the same 30 s.
	cpu_of "$G" run --no-db -q --json "$OUT/sleep30.json" -- sleep 30 >"$OUT/cpu_greenops.txt" &
	cpu_of timeout -s INT 30 nvidia-smi --query-gpu=power.draw --format=csv --loop-ms=100 >"$OUT/cpu_smi.txt" &
	wait
	echo "| command | CPU s |"
	echo "|---|---|"
	awk '{ print "| greenops run -- true (" $4 ") | " $5 " |" }' "$OUT/cpu_true.txt"
	for i in 1 2 3; do
		python3 -c 'import json, sys
p = json.load(open(sys.argv[1])).get("greenops_cpu_phases_s") or {}
print("| where run -- true #" + sys.argv[2] + " spent it | " + ", ".join(f"{k} {v:.4f}" for k, v in p.items() if v is not None) + " |")' "$OUT/true_$i.json" "$i"
	done
	echo "| greenops run -- sleep 30 | $(cat "$OUT/cpu_greenops.txt") |"
	echo "| nvidia-smi --query-gpu=power.draw --format=csv --loop-ms=100, 30 s | $(cat "$OUT/cpu_smi.txt") |"
}

step_windows() {
	for run in 1 2; do
		"$G" run --no-db -q --json "$OUT/gw_$run.json" --timeline "$OUT/tl_$run.csv" -- \
			python3 bench/gpu_windows.py --plan windows ${GPU_WINDOWS_ARGS:-} --out "$OUT/cw_$run.json" 2>"$OUT/windows_$run.log" ||
			echo "windows run $run failed: $OUT/windows_$run.log"
	done
	python3 bench/windows_report.py check "$OUT/gw_1.json" "$OUT/cw_1.json" "$OUT/gw_2.json" "$OUT/cw_2.json" |
		tee "$OUT/windows_table.md"
}

step_methods() {
	"$G" run --no-db -q --json "$OUT/gm.json" -- \
		python3 bench/gpu_windows.py --plan methods ${METHODS_ARGS:-} --out "$OUT/cm.json" 2>"$OUT/methods.log" ||
		echo "methods run failed: $OUT/methods.log"
	python3 bench/windows_report.py methods "$OUT/gm.json" "$OUT/cm.json" --svg "$OUT/methods.svg" \
		--md "$OUT/methods_table.md"
}

# The counter logged from outside while greenops measures; $1: name, rest: greenops run args.
logged() {
	local name=$1
	shift
	mkfifo "$OUT/$name.fifo"
	python3 bench/counter_log.py "$OUT/$name.counter.json" <"$OUT/$name.fifo" &
	local logger=$!
	exec 9>"$OUT/$name.fifo"
	sleep 1
	"$G" run --no-db -q --json "$OUT/$name.json" "$@" 2>"$OUT/$name.log"
	sleep 1
	exec 9>&-
	wait "$logger"
	rm -f "$OUT/$name.fifo"
	python3 - "$OUT/$name.json" "$OUT/$name.counter.json" "$name" <<'PY'
import json, sys
sys.path.insert(0, "bench")
from counter_log import energy_between
g = json.load(open(sys.argv[1]))
u = json.load(open(sys.argv[2]))
try:
    ref = energy_between(u, g["start_monotonic_ns"], g["end_monotonic_ns"])
except ValueError as e:
    print(f"| {sys.argv[3]} | {g['duration_s']:.2f} s | not compared: {e} ({len(u)} counter updates logged) | | | |")
    sys.exit()
d = next(x for x in g["domains"] if x["name"] == "gpu0")
rep = g.get("repetitions")
if rep:
    n = rep["count"]
    print(f"| {sys.argv[3]} | {g['duration_s']:.2f} s, {n} repetitions of {g['duration_s'] / n:.3f} s | "
          f"{ref / n:.3f} | {d['energy_j'] / n:.3f} ± {d['uncertainty_j'] / n:.3f} | "
          f"{100 * (d['energy_j'] - ref) / ref:+.2f}% | {g['greenops_cpu_s']:.3f} |")
else:
    print(f"| {sys.argv[3]} | {g['duration_s']:.2f} s | {ref:.2f} | {d['energy_j']:.2f} ± {d['uncertainty_j']:.2f} | "
          f"{100 * (d['energy_j'] - ref) / ref:+.2f}% | {g['greenops_cpu_s']:.3f} |")
PY
}

step_span() {
	local secs=${SPAN_SECONDS:-5}
	{
		echo "| span | length | counter J (outside) | greenops gpu0 J | error | greenops CPU s |"
		echo "|---|---|---|---|---|---|"
		logged "span_sleep$secs" -- sleep "$secs"
		if [ "${SPAN_LOAD:-1}" = 1 ]; then
			logged span_matmul -- python3 workloads/gpu/matmul.py --seconds 10
			# Short commands under a steady load started outside greenops.
			python3 workloads/gpu/matmul.py --seconds 35 2>/dev/null &
			local load=$!
			sleep 8
		fi
		for i in 1 2 3; do logged "short_$i" -- sleep 0.1; done
		logged min_duration --min-duration "$secs" -- sleep 0.1
		[ "${SPAN_LOAD:-1}" = 1 ] && wait "$load"
	} | tee "$OUT/span_table.md"
}

steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=(cpu windows)
for step in "${steps[@]}"; do
	case "$step" in
	cpu) step_cpu ;;
	windows) step_windows ;;
	methods) step_methods ;;
	span) step_span ;;
	*) echo "windows_check.sh: unknown step '$step' (cpu, windows, methods, span)" >&2; exit 2 ;;
	esac
done
