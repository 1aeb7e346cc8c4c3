# greenops run --min-duration against the fake NVML: a command too short for the sensor runs
# again and again until the span covers the duration, and the energy per repetition is the
# span's over their count, with its interval; a failing command stops the repetitions.
. "$(dirname "$0")/lib.sh"

export GREENOPS_NVML_LIBRARY="$FAKE_NVML" FAKE_NVML_SCRIPT="$SCRATCH/gpu.script" FAKE_NVML_IDLE_W=60
# 200 W from before the span to after it: every repetition draws 200 W for as long as it lasts.
echo "$(now_ns) 0 200" >"$FAKE_NVML_SCRIPT"

"$GREENOPS" run --no-db --sources nvml --min-duration 1 --json "$SCRATCH/r.json" -- sleep 0.05 2>"$SCRATCH/r.err"
eq "repeated command exits 0" "$?" 0
n=$(jget "$SCRATCH/r.json" repetitions.count)
d=$(jget "$SCRATCH/r.json" duration_s)
e=$(jget "$SCRATCH/r.json" energy_j)
u=$(jget "$SCRATCH/r.json" uncertainty_j)
check "the span covers the minimum duration ($d s)" awk -v d="$d" 'BEGIN { exit !(d >= 1) }'
# Each repetition lasts at least its 0.05 s sleep, so at most 1 s / 0.05 s of them end before
# the span covers 1 s; at least two are needed for it.
check "repeated until then ($n repetitions)" awk -v n="$n" 'BEGIN { exit !(n >= 2 && n <= 21) }'
eq "one window per repetition" "$(jget "$SCRATCH/r.json" windows.$((n - 1)).name)" repetition
check "no window beyond the repetitions" python3 -c 'import json, sys
sys.exit(len(json.load(open(sys.argv[1]))["windows"]) != int(sys.argv[2]))' "$SCRATCH/r.json" "$n"
near "span energy is 200 W x its length" "$e" "$(awk -v d="$d" 'BEGIN { print 200 * d }')" \
	"$(awk -v u="$u" 'BEGIN { print u + 2 }')"
pe=$(jget "$SCRATCH/r.json" repetitions.energy_j)
pu=$(jget "$SCRATCH/r.json" repetitions.uncertainty_j)
near "energy per repetition is the span's over the count" "$pe" "$(awk -v e="$e" -v n="$n" 'BEGIN { printf "%.9f", e / n }')" 1e-6
near "its uncertainty too" "$pu" "$(awk -v u="$u" -v n="$n" 'BEGIN { printf "%.9f", u / n }')" 1e-6
near "per repetition: 200 W x the mean repetition" "$pe" "$(awk -v d="$d" -v n="$n" 'BEGIN { print 200 * d / n }')" \
	"$(awk -v u="$pu" -v n="$n" 'BEGIN { print u + 2 / n }')"
check "the interval holds the estimate" python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))["repetitions"]
lo, hi = r["interval_j"]
sys.exit(not (lo < r["energy_j"] < hi and abs(hi - lo - 2 * r["uncertainty_j"]) < 1e-6))' "$SCRATCH/r.json"
contains "summary gives energy per repetition" "$SCRATCH/r.err" "^  $n repetitions over .* J per repetition"

# A command that fails is not repeated: its status is greenops's.
"$GREENOPS" run --no-db -q --sources nvml --min-duration 5 --json "$SCRATCH/f.json" -- sh -c 'exit 3'
eq "a failing command ends the repetitions with its status" "$?" 3
eq "it ran once" "$(jget "$SCRATCH/f.json" repetitions.count)" 1

# Without the option there is no repetitions object.
"$GREENOPS" run --no-db -q --sources nvml --json "$SCRATCH/o.json" -- true
eq "no repetitions without --min-duration" "$(jget "$SCRATCH/o.json" repetitions 2>/dev/null || echo absent)" absent

"$GREENOPS" run --no-db --min-duration 0 -- true 2>"$SCRATCH/b.err"
eq "a zero duration exits 2" "$?" 2
contains "the option is named" "$SCRATCH/b.err" "min-duration"
"$GREENOPS" run --no-db --min-duration abc -- true 2>"$SCRATCH/b.err"
eq "a bad duration exits 2" "$?" 2
contains "the value is named" "$SCRATCH/b.err" "'abc'"
done_testing
