# greenops merge: runs measured into separate databases (as on the nodes of a cluster) gathered
# into one with their domains, windows and tags; a second merge copies nothing; hosts stay
# apart; a missing or bad input is one line and leaves the destination as it was.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/e2e/fake_nvml.sh"

fake_nvml_setup
export FAKE_NVML_GPUS=2
fakegpu 0 120
fakegpu 1 80
A="$SCRATCH/node-a.db" B="$SCRATCH/node-b.db" ALL="$SCRATCH/all.db"
run_into() { # DB TAG: a short measured run with a window, into DB
	"$GREENOPS" run --db "$1" --sources nvml --tag "job=$2" -q -- \
		sh -c 'printf "begin step\n" | python3 -c "import os,socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(os.environ[\"GREENOPS_CONTROL\"]); s.sendall(sys.stdin.buffer.read())"; sleep 0.3'
}
run_into "$A" 7
eq "first run into node a" "$?" 0
run_into "$A" 8
run_into "$B" 7
eq "a run into node b" "$?" 0
# node b is another machine: its host row says so.
python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("UPDATE hosts SET hostname = ?, machine_id = ?", ("node-b", "b" * 32)); c.commit()' "$B"

"$GREENOPS" merge --into "$ALL" "$A" "$B" 2>"$SCRATCH/m1.err"
eq "merge exits 0" "$?" 0
contains "says what it copied from a" "$SCRATCH/m1.err" "^greenops merge: $A: 2 runs copied, 0 already in $ALL$"
contains "and from b" "$SCRATCH/m1.err" "^greenops merge: $B: 1 run copied, 0 already in $ALL$"
"$GREENOPS" runs --db "$ALL" --json - --limit 0 >"$SCRATCH/runs.json"
eq "three runs in the merged database" "$(grep -c '"id":' "$SCRATCH/runs.json")" 3
eq "from two hosts" "$(grep -o '"host": "[^"]*"' "$SCRATCH/runs.json" | sort -u | wc -l)" 2
"$GREENOPS" runs --db "$ALL" --tag job=7 --json - >"$SCRATCH/job7.json"
eq "tags came along: job=7 on both nodes" "$(grep -c '"id":' "$SCRATCH/job7.json")" 2

# Domains and windows are the same figures as in the node's own database.
"$GREENOPS" show last --db "$B" --json - >"$SCRATCH/b.json"
id=$(python3 -c 'import json,sys; r=[x for x in json.load(open(sys.argv[1])) if x["host"] == "node-b"]; print(r[0]["id"])' "$SCRATCH/runs.json")
"$GREENOPS" show "$id" --db "$ALL" --json - >"$SCRATCH/b_all.json"
check "node b's run is whole in the merged database: energy, domains, windows" python3 -c '
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert a["energy_j"] == b["energy_j"], (a["energy_j"], b["energy_j"])
assert [(d["name"], d["energy_j"]) for d in a["domains"]] == [(d["name"], d["energy_j"]) for d in b["domains"]]
assert [(w["name"], w["energy_j"]) for w in a["windows"]] == [(w["name"], w["energy_j"]) for w in b["windows"]]
assert len(a["windows"]) == 1 and len(a["domains"]) == 2
' "$SCRATCH/b.json" "$SCRATCH/b_all.json"

"$GREENOPS" merge --into "$ALL" "$A" "$B" 2>"$SCRATCH/m2.err"
eq "merging again exits 0" "$?" 0
contains "and copies nothing" "$SCRATCH/m2.err" "^greenops merge: $A: 0 runs copied, 2 already in "
"$GREENOPS" runs --db "$ALL" --json - --limit 0 >"$SCRATCH/runs2.json"
eq "still three runs" "$(grep -c '"id":' "$SCRATCH/runs2.json")" 3

run_into "$A" 9
"$GREENOPS" merge --into "$ALL" "$A" 2>"$SCRATCH/m3.err"
contains "a later merge adds only the new run" "$SCRATCH/m3.err" ": 1 run copied, 2 already in "

# Bad input: one line naming it; the destination is untouched.
before=$(md5sum <"$ALL")
"$GREENOPS" merge --into "$ALL" "$SCRATCH/nosuch.db" 2>"$SCRATCH/e1.err"
eq "a missing database exits 1" "$?" 1
contains "and is named" "$SCRATCH/e1.err" "^greenops merge: cannot merge '$SCRATCH/nosuch.db': no such database$"
echo "not a database" >"$SCRATCH/junk.db"
"$GREENOPS" merge --into "$ALL" "$SCRATCH/junk.db" 2>"$SCRATCH/e2.err"
eq "a file that is not a database exits 1" "$?" 1
contains "and is named" "$SCRATCH/e2.err" "junk\.db"
eq "the destination is unchanged" "$(md5sum <"$ALL")" "$before"
"$GREENOPS" merge --into "$ALL" 2>"$SCRATCH/e3.err"
eq "no input: exit 2" "$?" 2
contains "no input: says so" "$SCRATCH/e3.err" "^greenops merge: no database to merge"
"$GREENOPS" merge --frob "$A" 2>"$SCRATCH/e4.err"
eq "unknown option: exit 2" "$?" 2
contains "unknown option named" "$SCRATCH/e4.err" "unknown option '--frob'"
done_testing
