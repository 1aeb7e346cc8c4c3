# greenops run --export-csv / --export-json / --export-markdown / -o against the fake NVML at a
# constant power: one CSV row per execution (warmups marked, without energy), each measured
# row's energy P x its duration, the JSON statistics those of the CSV rows, the markdown row
# the same figures, the summary in a file; '-' is stdout holding that output alone (the
# command's stdout goes to stderr); unusable paths fail before the command runs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fake_nvml.sh"

fake_nvml_setup
export FAKE_NVML_IDLE_W=150 # the GPU draws 150 W throughout
P=150

"$GREENOPS" run --no-db --sources nvml --repeat 4 --warmup 1 --units 2 \
	--json "$SCRATCH/r.json" --export-csv "$SCRATCH/r.csv" --export-json "$SCRATCH/x.json" \
	--export-markdown "$SCRATCH/r.md" -o "$SCRATCH/summary.txt" \
	-- sh -c "echo hello; sleep 0.3" >"$SCRATCH/r.out" 2>"$SCRATCH/r.err"
eq "exports with --repeat: exit 0" "$?" 0

cat >"$SCRATCH/check.py" <<'EOF'
import csv, json, math, sys
what = sys.argv[1]
def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))
def close(a, b, tol=1e-6):
    return abs(a - b) <= tol * max(1.0, abs(b))
def fail(*msg):
    print(*msg, file=sys.stderr)
    sys.exit(1)
if what == "header":  # the columns, in order, one per domain at the end
    with open(sys.argv[2], newline="") as f:
        h = next(csv.reader(f))
    want = ["index", "warmup", "exit_status", "duration_s", "energy_j", "uncertainty_j",
            "energy_per_unit_j"] + sys.argv[3:]
    h == want or fail(h, want)
elif what == "count":  # rows of a kind: warmup true or false
    n = sum(r["warmup"] == sys.argv[3] for r in rows(sys.argv[2]))
    n == int(sys.argv[4]) or fail(n)
elif what == "warmup_rows":  # time and status, no energy (never 0)
    for r in rows(sys.argv[2]):
        if r["warmup"] == "true":
            (float(r["duration_s"]) >= 0.3 and r["exit_status"] == "0" and r["energy_j"] == ""
             and r["energy_per_unit_j"] == "" and r["energy_j_gpu0"] == "") or fail(r)
elif what == "indexes":  # 1..N for the measured executions
    idx = [int(r["index"]) for r in rows(sys.argv[2]) if r["warmup"] == "false"]
    idx == list(range(1, len(idx) + 1)) or fail(idx)
elif what == "energy":  # each measured row: P x its duration, within 2 %
    P = float(sys.argv[3])
    for r in rows(sys.argv[2]):
        if r["warmup"] == "false":
            e, d = float(r["energy_j"]), float(r["duration_s"])
            abs(e - P * d) <= 0.02 * P * d or fail(r)
elif what == "domain":  # one domain: its column is the total
    for r in rows(sys.argv[2]):
        if r["warmup"] == "false":
            close(float(r["energy_j_gpu0"]), float(r["energy_j"])) or fail(r)
elif what == "per_unit":
    u = float(sys.argv[3])
    for r in rows(sys.argv[2]):
        if r["warmup"] == "false":
            close(float(r["energy_per_unit_j"]), float(r["energy_j"]) / u) or fail(r)
elif what == "stats":  # the JSON's statistics are those of the CSV rows that exited 0
    rep = json.load(open(sys.argv[3]))["repeat"]
    ok = [r for r in rows(sys.argv[2]) if r["warmup"] == "false" and r["exit_status"] == "0"]
    len(ok) == int(sys.argv[4]) or fail(len(ok))
    for key in ("energy_j", "duration_s"):
        v = [float(r[key]) for r in ok]
        m = sum(v) / len(v)
        close(rep[key]["mean"], m) or fail(key, rep[key]["mean"], m)
        close(rep[key]["min"], min(v)) and close(rep[key]["max"], max(v)) or fail(key)
        if len(v) > 1:
            sd = math.sqrt(sum((a - m) ** 2 for a in v) / (len(v) - 1))
            close(rep[key]["sd"], sd) or fail(key, rep[key]["sd"], sd)
        else:
            rep[key]["sd"] is None and rep[key]["ci95"] == [None, None] or fail(rep[key])
elif what == "runs":  # every measured CSV row is a run of the JSON, in order
    runs = json.load(open(sys.argv[3]))["repeat"]["runs"]
    rs = [r for r in rows(sys.argv[2]) if r["warmup"] == "false"]
    len(runs) == len(rs) or fail(len(runs), len(rs))
    for x, r in zip(runs, rs):
        (close(x["energy_j"], float(r["energy_j"])) and close(x["duration_s"], float(r["duration_s"]))
         and x["exit_status"] == int(r["exit_status"])) or fail(x, r)
elif what == "same_repeat":  # --export-json's repeat object is --json's
    a, b = json.load(open(sys.argv[2]))["repeat"], json.load(open(sys.argv[3]))["repeat"]
    a == b or fail(a, b)
elif what == "md":  # the markdown row: runs, energy mean ± sd and time mean, as in the JSON
    rep = json.load(open(sys.argv[3]))["repeat"]
    row = [l for l in open(sys.argv[2]) if l.startswith("| `")]
    len(row) == 1 or fail(row)
    cells = [c.strip() for c in row[0].strip().strip("|").split("|")]
    e, t = rep["energy_j"], rep["duration_s"]
    want = [str(len(rep["runs"])), "%.4g ± %.4g" % (e["mean"], e["sd"]), "%.4g" % e["min"],
            "%.4g" % e["max"], "%.4g ± %.4g" % (t["mean"], t["sd"])]
    cells[1:6] == want or fail(cells, want)
elif what == "json_only":  # stdout is one JSON document
    json.load(open(sys.argv[2]))
EOF
pc() { python3 "$SCRATCH/check.py" "$@"; }

check "CSV header: the columns, then one per domain" pc header "$SCRATCH/r.csv" energy_j_gpu0
check "CSV: 4 measured rows" pc count "$SCRATCH/r.csv" false 4
check "CSV: 1 warmup row" pc count "$SCRATCH/r.csv" true 1
check "CSV: warmup rows have time and status, no energy" pc warmup_rows "$SCRATCH/r.csv"
check "CSV: measured rows numbered 1..4" pc indexes "$SCRATCH/r.csv"
check "CSV: each row's energy is P x its duration within 2%" pc energy "$SCRATCH/r.csv" "$P"
check "CSV: the one domain's column is the total" pc domain "$SCRATCH/r.csv"
check "CSV: energy per unit is per execution" pc per_unit "$SCRATCH/r.csv" 2
check "JSON: mean, sd, min, max are those of the CSV rows" pc stats "$SCRATCH/r.csv" "$SCRATCH/x.json" 4
check "JSON: runs are the CSV rows" pc runs "$SCRATCH/r.csv" "$SCRATCH/x.json"
check "JSON: the repeat object of --json" pc same_repeat "$SCRATCH/r.json" "$SCRATCH/x.json"
eq "JSON: the command" "$(jget "$SCRATCH/x.json" command.2)" "echo hello; sleep 0.3"
eq "JSON: warmup" "$(jget "$SCRATCH/x.json" repeat.warmup)" 1
check "markdown: runs, energy and time as in the JSON" pc md "$SCRATCH/r.md" "$SCRATCH/x.json"
contains "markdown: a header row" "$SCRATCH/r.md" '^\| Command \| Runs \| Energy \[J\] .*\| Energy/unit \[J\] \|$'
contains "-o: the summary is in the file" "$SCRATCH/summary.txt" "^ greenops: energy of 'sh -c echo hello; sleep 0.3' \(exit 0\)"
contains "-o: with the repetitions' statistics" "$SCRATCH/summary.txt" "^  4 repetitions measured, after 1 warmup"
eq "-o: not on stderr" "$(grep -c 'greenops: energy of' "$SCRATCH/r.err")" 0
eq "the command's stdout is untouched when no output is '-'" "$(grep -c '^hello$' "$SCRATCH/r.out")" 5

# '-': stdout holds that output alone; the command's stdout goes to stderr.
"$GREENOPS" run --no-db --sources nvml --repeat 3 --export-csv - -- sh -c "echo hello; sleep 0.2" \
	>"$SCRATCH/s.csv" 2>"$SCRATCH/s.err"
eq "--export-csv -: exit 0" "$?" 0
eq "--export-csv -: no command output in it" "$(grep -c hello "$SCRATCH/s.csv")" 0
eq "--export-csv -: the command's output on stderr" "$(grep -c '^hello$' "$SCRATCH/s.err")" 3
check "--export-csv -: header and 3 rows" pc count "$SCRATCH/s.csv" false 3
eq "--export-csv -: nothing else" "$(wc -l <"$SCRATCH/s.csv")" 4
"$GREENOPS" run --no-db --sources nvml --repeat 2 --export-json - -- sh -c "echo hello; sleep 0.1" \
	>"$SCRATCH/s.json" 2>"$SCRATCH/s.err"
check "--export-json -: stdout is the JSON alone" pc json_only "$SCRATCH/s.json"
eq "--export-json -: the command's output on stderr" "$(grep -c '^hello$' "$SCRATCH/s.err")" 2
"$GREENOPS" run --no-db --sources nvml -o - -- sh -c "echo hello" >"$SCRATCH/o.out" 2>"$SCRATCH/o.err"
contains "-o -: the summary on stdout" "$SCRATCH/o.out" "^ greenops: energy of 'sh -c echo hello'"
eq "-o -: without the command's output" "$(grep -c '^hello$' "$SCRATCH/o.out")" 0
eq "-o -: which is on stderr" "$(grep -c '^hello$' "$SCRATCH/o.err")" 1
"$GREENOPS" run --no-db --sources nvml -q -o "$SCRATCH/q.txt" -- true 2>"$SCRATCH/q.err"
contains "-o with -q: the summary is still written" "$SCRATCH/q.txt" "greenops: energy of 'true'"

# Without --repeat: one execution, one row, statistics of one (no sd).
"$GREENOPS" run --no-db --sources nvml --units 3 --export-csv "$SCRATCH/one.csv" --export-json "$SCRATCH/one.json" \
	-- sleep 0.3 2>/dev/null
eq "one execution: exit 0" "$?" 0
check "one execution: one row" pc count "$SCRATCH/one.csv" false 1
check "one execution: no warmup row" pc count "$SCRATCH/one.csv" true 0
check "one execution: energy P x duration" pc energy "$SCRATCH/one.csv" "$P"
check "one execution: per unit" pc per_unit "$SCRATCH/one.csv" 3
check "one execution: JSON mean is the row, sd null" pc stats "$SCRATCH/one.csv" "$SCRATCH/one.json" 1
eq "one execution: count 1" "$(jget "$SCRATCH/one.json" repeat.count)" 1

# A failing execution: its row has its status; the statistics are over those before it.
rm -f "$SCRATCH/count"
"$GREENOPS" run --no-db --sources nvml --repeat 5 --export-csv "$SCRATCH/f.csv" --export-json "$SCRATCH/f.json" \
	-- sh -c "n=\$(cat '$SCRATCH/count' 2>/dev/null | wc -l); echo x >>'$SCRATCH/count'; [ \$n -lt 2 ] || exit 3; sleep 0.2" \
	2>/dev/null
eq "failing execution: greenops exits 3" "$?" 3
check "failing execution: 3 rows" pc count "$SCRATCH/f.csv" false 3
eq "failing execution: the last row has status 3" "$(awk -F, 'END { print $3 }' "$SCRATCH/f.csv")" 3
check "failing execution: statistics over the 2 that exited 0" pc stats "$SCRATCH/f.csv" "$SCRATCH/f.json" 2

# Unusable paths: exit 2, one line naming the path, the command never run.
bad() {
	local name=$1 pattern=$2
	shift 2
	rm -f "$SCRATCH/ran"
	"$GREENOPS" run --no-db --sources nvml "$@" -- touch "$SCRATCH/ran" 2>"$SCRATCH/b.err"
	eq "$name exits 2" "$?" 2
	contains "$name: one line naming it" "$SCRATCH/b.err" "^greenops run: $pattern"
	eq "$name runs nothing" "$(test -e "$SCRATCH/ran" && echo ran || echo not)" not
}
for opt in --export-csv --export-json --export-markdown --output -o; do
	bad "$opt in a missing folder" "cannot write .*'$SCRATCH/none/x'" "$opt" "$SCRATCH/none/x"
done
bad "--export-csv naming a folder" "cannot write --export-csv '$SCRATCH': it is a folder" --export-csv "$SCRATCH"
bad "two outputs on stdout" "--json - and --export-csv - cannot both use stdout" --json - --export-csv -
bad "-o - and --export-json -" "--export-json - and --output - cannot both use stdout" -o - --export-json -
bad "exports with --min-duration" "--export-csv, --export-json and --export-markdown .* not with --min-duration" \
	--min-duration 1 --export-csv "$SCRATCH/m.csv"

"$GREENOPS" help run >"$SCRATCH/help.txt" 2>&1
for opt in "--export-csv FILE" "--export-json FILE" "--export-markdown FILE" "-o, --output FILE"; do
	contains "help lists $opt" "$SCRATCH/help.txt" "^  $opt"
done
done_testing
