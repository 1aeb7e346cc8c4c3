# greenops run --repeat N [--warmup K] against the fake NVML at a constant power: N executions,
# each a window with its energy and time, their mean ± sd, range and 95% interval of the mean;
# warmups run before the span and are in nothing measured; a failing execution stops the
# repetitions with its status; SIGINT keeps what was measured; bad values are usage errors.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fake_nvml.sh"

fake_nvml_setup
export FAKE_NVML_IDLE_W=150 # the GPU draws 150 W throughout: no script line changes it
P=150

# Each execution appends a line to a file: the file counts executions, warmups included.
"$GREENOPS" run --no-db --sources nvml --repeat 5 --warmup 2 --units 4 --json "$SCRATCH/r.json" \
	-- sh -c "echo x >>'$SCRATCH/count'; sleep 0.3" 2>"$SCRATCH/r.err"
eq "repeated command exits 0" "$?" 0
eq "the command ran warmups + repetitions times" "$(wc -l <"$SCRATCH/count")" 7
eq "count is the repetitions asked for" "$(jget "$SCRATCH/r.json" repeat.count)" 5
eq "warmup is the warmups asked for" "$(jget "$SCRATCH/r.json" repeat.warmup)" 2

# Every figure of the repeat object, recomputed from its runs and checked against the windows.
cat >"$SCRATCH/check.py" <<'EOF'
import json, math, sys
r = json.load(open(sys.argv[1]))
what, P = sys.argv[2], float(sys.argv[3])
rep, runs = r["repeat"], r["repeat"]["runs"]
wins = [w for w in r["windows"] if w["name"] == "repetition"]
ok = [x for x in runs if x["exit_status"] == 0]
# Student t at 0.975 for 1..9 degrees of freedom
T = [12.706204736, 4.302652730, 3.182446305, 2.776445105, 2.570581836, 2.446911851,
     2.364624252, 2.306004135, 2.262157163]

def stats(key):
    v = [x[key] for x in ok]
    n = len(v)
    m = sum(v) / n
    sd = math.sqrt(sum((a - m) ** 2 for a in v) / (n - 1))
    h = T[n - 2] * sd / math.sqrt(n)
    return {"mean": m, "sd": sd, "min": min(v), "max": max(v), "ci95": [m - h, m + h]}

def close(a, b, tol=1e-6):
    return abs(a - b) <= tol * max(1.0, abs(b))

def same(got, want):
    return all(close(got[k], want[k]) for k in ("mean", "sd", "min", "max")) and \
        close(got["ci95"][0], want["ci95"][0]) and close(got["ci95"][1], want["ci95"][1])

if what == "runs":  # one run per execution measured, one window each
    sys.exit(not (len(runs) == int(sys.argv[4]) == len(wins)))
elif what == "energy":  # each execution: P x its duration, within its uncertainty
    bad = [x for x in runs if not abs(x["energy_j"] - P * x["duration_s"]) <= x["uncertainty_j"] + 1e-6]
    print(*bad, file=sys.stderr)
    sys.exit(bool(bad) or not runs)
elif what == "windows":  # the runs are the windows, in order
    sys.exit(not all(close(x["energy_j"], w["energy_j"]) and
                     close(x["duration_s"], w["end_s"] - w["start_s"]) for x, w in zip(runs, wins)))
elif what == "durations":  # each execution lasted at least its sleep
    sys.exit(not all(x["duration_s"] >= float(sys.argv[4]) for x in runs))
elif what == "stats":
    sys.exit(not (same(rep["energy_j"], stats("energy_j")) and same(rep["duration_s"], stats("duration_s"))))
elif what == "ci":  # the interval holds the mean, and is wider where the runs differ more
    e = rep["energy_j"]
    sys.exit(not (e["ci95"][0] < e["mean"] < e["ci95"][1] and e["min"] <= e["mean"] <= e["max"]))
elif what == "span":  # the span is the executions back to back: no warmup inside it
    total = sum(x["duration_s"] for x in runs)
    print(r["duration_s"], total, file=sys.stderr)
    sys.exit(not (total <= r["duration_s"] + 1e-6 and r["duration_s"] - total < float(sys.argv[4])))
elif what == "units":  # --units counts per execution: the run has count x units
    u = float(sys.argv[4])
    e, pu = rep["energy_j"], rep["energy_per_unit_j"]
    sys.exit(not (close(r["units"], u * len(runs)) and all(close(pu[k], e[k] / u) for k in ("mean", "sd", "min", "max"))))
elif what == "ok_only":  # statistics over the executions that exited 0 alone
    sys.exit(not (len(ok) == int(sys.argv[4]) and same(rep["energy_j"], stats("energy_j"))))
EOF
rj() { python3 "$SCRATCH/check.py" "$SCRATCH/$1" "$2" "$P" "${@:3}"; }

check "5 runs, one window each" rj r.json runs 5
check "each run's energy is P x its duration within its uncertainty" rj r.json energy
check "runs are the repetition windows" rj r.json windows
check "each run lasted its sleep at least" rj r.json durations 0.3
check "mean, sd, min, max and ci95 agree with the runs" rj r.json stats
check "ci95 holds the mean" rj r.json ci
# Two warmups inside the span would add at least 0.6 s to it.
check "warmups are not in the span" rj r.json span 0.25
check "energy per unit is per execution" rj r.json units 4
contains "summary has the repetitions" "$SCRATCH/r.err" "^  5 repetitions measured, after 2 warmups"
contains "summary gives energy mean ± sd" "$SCRATCH/r.err" "^    energy \(mean ± σ\): +[0-9.]+ ± [0-9.]+ J +95% CI [0-9.]+ J … [0-9.]+ J"
contains "summary gives time min … max" "$SCRATCH/r.err" "^ +\(min … max\): +[0-9.]+ ms … [0-9.]+ ms"
contains "summary gives energy per unit" "$SCRATCH/r.err" "^    energy/unit \(mean ± σ\)"
eq "a progress line per repetition off a terminal" "$(grep -c '^greenops run: repetition [1-5]/5: ' "$SCRATCH/r.err")" 5
eq "and per warmup" "$(grep -c '^greenops run: warmup [12]/2: ' "$SCRATCH/r.err")" 2

# The third execution fails: the repetitions stop there, with its status; the two before it
# are kept and make the statistics.
rm -f "$SCRATCH/count"
"$GREENOPS" run --no-db --sources nvml --repeat 5 --json "$SCRATCH/f.json" \
	-- sh -c "n=\$(cat '$SCRATCH/count' 2>/dev/null | wc -l); echo x >>'$SCRATCH/count'; [ \$n -lt 2 ] || exit 3; sleep 0.1" \
	2>"$SCRATCH/f.err"
eq "a failing repetition's status is greenops's" "$?" 3
eq "no execution after it" "$(wc -l <"$SCRATCH/count")" 3
check "3 runs kept" rj f.json runs 3
eq "the last run has the failing status" "$(jget "$SCRATCH/f.json" repeat.runs.2.exit_status)" 3
eq "the run's exit status too" "$(jget "$SCRATCH/f.json" exit_status)" 3
check "statistics over the 2 that exited 0" rj f.json ok_only 2
contains "one line says why it stopped" "$SCRATCH/f.err" "^greenops run: repetition 3 of 5 exited with status 3"

# A failing warmup: nothing is measured, greenops exits with its status.
rm -f "$SCRATCH/w.json"
"$GREENOPS" run --no-db --sources nvml --repeat 3 --warmup 1 --json "$SCRATCH/w.json" -- sh -c 'exit 4' 2>"$SCRATCH/w.err"
eq "a failing warmup's status is greenops's" "$?" 4
contains "it is said" "$SCRATCH/w.err" "warmup 1 of 1 exited with status 4: nothing measured"
eq "nothing written" "$(test -e "$SCRATCH/w.json" && echo written || echo absent)" absent
"$GREENOPS" run --no-db --sources nvml --repeat 3 --warmup 1 --json "$SCRATCH/w.json" -- "$SCRATCH/no-such-command" 2>"$SCRATCH/w.err"
eq "a command not found at the warmup exits 127" "$?" 127
contains "it is named" "$SCRATCH/w.err" "^greenops run: cannot run '.*no-such-command'"
eq "nothing written for it" "$(test -e "$SCRATCH/w.json" && echo written || echo absent)" absent

# SIGINT during a warmup: forwarded, nothing measured, greenops exits 130.
rm -f "$SCRATCH/count"
mkfifo "$SCRATCH/warm"
"$GREENOPS" run --no-db -q --sources nvml --repeat 3 --warmup 2 --json "$SCRATCH/wi.json" \
	-- sh -c "n=\$(cat '$SCRATCH/count' 2>/dev/null | wc -l); echo x >>'$SCRATCH/count'; [ \$n -gt 0 ] || { echo up >'$SCRATCH/warm'; exec sleep 30; }" \
	2>"$SCRATCH/wi.err" &
gpid=$!
read -r _ <"$SCRATCH/warm"
kill -INT "$gpid"
wait "$gpid"
eq "SIGINT in a warmup: exit 130" "$?" 130
contains "it is said" "$SCRATCH/wi.err" "^greenops run: warmup 1 of 2 was killed by signal 2: nothing measured"
eq "no execution after it" "$(wc -l <"$SCRATCH/count")" 1
eq "nothing written after it" "$(test -e "$SCRATCH/wi.json" && echo written || echo absent)" absent

# SIGINT during the third execution: forwarded, the repetitions stop, what was measured is written.
rm -f "$SCRATCH/count"
mkfifo "$SCRATCH/third"
"$GREENOPS" run --no-db -q --sources nvml --repeat 50 --json "$SCRATCH/i.json" \
	-- sh -c "n=\$(cat '$SCRATCH/count' 2>/dev/null | wc -l); echo x >>'$SCRATCH/count'; [ \$n -lt 2 ] || { echo up >'$SCRATCH/third'; exec sleep 30; }" \
	2>"$SCRATCH/i.err" &
gpid=$!
read -r _ <"$SCRATCH/third"
kill -INT "$gpid"
wait "$gpid"
eq "SIGINT: the execution died of it, greenops exits 130" "$?" 130
check "the 3 executions are kept" rj i.json runs 3
eq "the interrupted one has 130" "$(jget "$SCRATCH/i.json" repeat.runs.2.exit_status)" 130
check "the 2 before it make the statistics" rj i.json ok_only 2
contains "one line says so" "$SCRATCH/i.err" "^greenops run: repetition 3 of 50 was killed by signal 2"

# Without --repeat there is no repeat object.
"$GREENOPS" run --no-db -q --sources nvml --json "$SCRATCH/o.json" -- true
eq "no repeat object without --repeat" "$(jget "$SCRATCH/o.json" repeat 2>/dev/null || echo absent)" absent

# Usage errors: exit 2, the flag named, the command never run.
bad() {
	local name=$1 flag=$2
	shift 2
	rm -f "$SCRATCH/ran"
	"$GREENOPS" run --no-db --sources nvml "$@" -- touch "$SCRATCH/ran" 2>"$SCRATCH/b.err"
	eq "$name exits 2" "$?" 2
	contains "$name names $flag" "$SCRATCH/b.err" "^greenops run: .*$flag"
	eq "$name runs nothing" "$(test -e "$SCRATCH/ran" && echo ran || echo not)" not
}
bad "--repeat 1" "--repeat" --repeat 1
bad "--repeat x" "--repeat" --repeat x
bad "--repeat 2.5" "--repeat" --repeat 2.5
bad "--warmup -1" "--warmup" --repeat 3 --warmup -1
bad "--warmup without --repeat" "--warmup" --warmup 2
bad "--repeat with --min-duration" "--repeat and --min-duration" --repeat 3 --min-duration 1
bad "--min-duration with --repeat" "--repeat and --min-duration" --min-duration 1 --repeat 3

"$GREENOPS" help run >"$SCRATCH/help.txt" 2>&1
contains "help lists --repeat" "$SCRATCH/help.txt" "^  --repeat N"
contains "help lists --warmup" "$SCRATCH/help.txt" "^  --warmup K"
done_testing
