#!/usr/bin/env bash
# End-to-end tests of the results database against awkward contents and awkward timing: more
# distinct tag keys than SQLite allows columns, a database that may only be read, two runs
# creating the same new file at once, a command that cannot be executed, bytes that are not
# UTF-8 in names and tags.
. "$(dirname "$0")/lib.sh"

run() { "$GREENOPS" run --sources estimate "$@"; }

# 1. 32 runs of 63 tags each and a batch tag: 2,017 distinct keys, more than the 2,000
#    columns SQLite allows in a result. export-csv and analyze --db read every run.
DB="$SCRATCH/tags.db"
for r in $(seq 0 31); do
	args=()
	for i in $(seq 63); do args+=(--tag "k${r}_$i=$((r * 100 + i))"); done
	run --db "$DB" --tag "batch=$r" "${args[@]}" -- true >/dev/null 2>"$SCRATCH/tags.err" || break
done
eq "32 runs with 2,017 tag keys stored" "$("$GREENOPS" runs --db "$DB" --limit 0 | grep -c ' completed$')" 32
"$GREENOPS" export-csv runs --db "$DB" -o "$SCRATCH/tags.csv" 2>"$SCRATCH/export.err"
eq "export-csv runs with 2,017 tag keys exits 0" "$?" 0
eq "a column per tag key" "$(head -1 "$SCRATCH/tags.csv" | tr ',' '\n' | grep -c '^tag\.')" 2017
run7=$(python3 -c 'import csv,sys
rows = list(csv.DictReader(open(sys.argv[1])))
r = [x for x in rows if x["tag.batch"] == "7"][0]
print(r["tag.k7_5"], sum(1 for k, v in r.items() if k.startswith("tag.") and v))' "$SCRATCH/tags.csv")
eq "a run's row holds its own tag values, and only those" "$run7" "705 64"
"$GREENOPS" export-csv windows --db "$DB" -o "$SCRATCH/tagsw.csv" 2>>"$SCRATCH/export.err"
eq "export-csv windows with 2,017 tag keys exits 0" "$?" 0
"$GREENOPS" analyze --db "$DB" --x batch --y duration_s --json "$SCRATCH/an.json" >/dev/null 2>"$SCRATCH/an.err"
eq "analyze --db with 2,017 tag keys exits 0" "$?" 0
eq "analyze --db sees every run" "$(jget "$SCRATCH/an.json" correlations.0.n)" 32

# 2. A command found but not executable: greenops exits 126 (as a shell does) and the stored
#    run says 126 too; one that is not found: 127 in both.
csvcol() { python3 -c 'import csv,sys; print(list(csv.DictReader(open(sys.argv[1])))[-1][sys.argv[2]])' "$1" "$2"; }
printf '#!/bin/sh\necho hi\n' >"$SCRATCH/noexec.sh"
chmod 644 "$SCRATCH/noexec.sh"
run --db "$SCRATCH/exec.db" -- "$SCRATCH/noexec.sh" >/dev/null 2>"$SCRATCH/noexec.err"
eq "not executable: greenops exits 126" "$?" 126
contains "not executable: one line naming the command" "$SCRATCH/noexec.err" "cannot run '.*noexec.sh': Permission denied"
"$GREENOPS" export-csv runs --db "$SCRATCH/exec.db" -o "$SCRATCH/exec.csv"
eq "not executable: the stored run says 126" "$(csvcol "$SCRATCH/exec.csv" exit_status)" 126
eq "not executable: the stored run failed" "$(csvcol "$SCRATCH/exec.csv" status)" failed
run --db "$SCRATCH/exec.db" -- "$SCRATCH/no-such-command" >/dev/null 2>&1
eq "not found: greenops exits 127" "$?" 127
"$GREENOPS" export-csv runs --db "$SCRATCH/exec.db" -o "$SCRATCH/exec.csv"
eq "not found: the stored run says 127" "$(csvcol "$SCRATCH/exec.csv" exit_status)" 127

# 3. Bytes that are not UTF-8 in a window name (control socket) and in tags (control socket
#    and --tag): the JSON keeps the window's name and the tags, each bad byte shown as U+FFFD,
#    and the database holds the same text.
run --db "$SCRATCH/utf.db" -q --json "$SCRATCH/utf.json" --tag "$(printf 'cli\xff')=$(printf 'v\xc3')" -- python3 -c '
import os, socket
s = socket.socket(socket.AF_UNIX); s.connect(os.environ["GREENOPS_CONTROL"])
s.sendall(b"begin caf\xe9\nunits 2 caf\xe9\nend caf\xe9\ntag k\xed\xa0\x80=\xf0\x9f\x98\nbegin ok\nend ok\n")'
eq "bad UTF-8: the run exits 0" "$?" 0
eq "bad UTF-8: no control line counted malformed" "$(jget "$SCRATCH/utf.json" malformed_control_lines)" 0
eq "bad UTF-8: the window keeps a name, the bad byte as U+FFFD" "$(jget "$SCRATCH/utf.json" windows.0.name)" "caf$(printf '\xef\xbf\xbd')"
eq "bad UTF-8: units reached the window by the same name" "$(jget "$SCRATCH/utf.json" windows.0.units)" 2.0
tags=$(python3 -c 'import json,sys; print(ascii(sorted(json.load(open(sys.argv[1]))["tags"].items())))' "$SCRATCH/utf.json")
eq "bad UTF-8: tags from --tag and the socket kept, repaired" "$tags" "[('cli\ufffd', 'v\ufffd'), ('k\ufffd\ufffd\ufffd', '\ufffd\ufffd\ufffd')]"
dbtext=$(python3 -c 'import sqlite3,sys
c = sqlite3.connect(sys.argv[1])
print(c.execute("select name from windows order by position").fetchone()[0] + "|" + ascii(sorted(c.execute("select key, value from run_tags").fetchall())))' "$SCRATCH/utf.db")
eq "bad UTF-8: the database holds the same text" "$dbtext" "caf$(printf '\xef\xbf\xbd')|[('cli\ufffd', 'v\ufffd'), ('k\ufffd\ufffd\ufffd', '\ufffd\ufffd\ufffd')]"
"$GREENOPS" runs --db "$SCRATCH/utf.db" --json - >"$SCRATCH/utf-runs.json"
eq "bad UTF-8: runs --json keeps the tags" "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))[0]["tags"]))' "$SCRATCH/utf-runs.json")" 2

# 4. Two runs creating the same new database at once. The race is made certain: another
#    process holds the new file's write lock (as the first run does while it switches the file
#    to WAL and creates the tables) while greenops run switches it to WAL; SQLite's busy handler
#    does not cover that step, so the run failed at once with "database is locked". Held until
#    greenops exits or 3 s have passed, then released: the run must wait for it and store.
DB="$SCRATCH/race.db"
python3 -c '
import os, sqlite3, sys, time
db = sys.argv[1]
c = sqlite3.connect(db, isolation_level=None)
c.execute("BEGIN IMMEDIATE")
open(db + ".held", "w").close()
while not os.path.exists(db + ".pid"):
    time.sleep(0.01)
pid, t = int(open(db + ".pid").read()), time.time()
while time.time() - t < 3:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        break
    time.sleep(0.02)
c.execute("COMMIT")' "$DB" &
holder=$!
while [ ! -e "$DB.held" ] && kill -0 "$holder" 2>/dev/null; do sleep 0.01; done
run --db "$DB" -q -- true 2>"$SCRATCH/race.err" &
echo $! >"$DB.pid.tmp" && mv "$DB.pid.tmp" "$DB.pid"
wait $!
eq "new database locked by another process: the run waits and exits 0" "$?" 0
wait "$holder"
eq "new database locked by another process: nothing on stderr" "$(cat "$SCRATCH/race.err")" ""
eq "new database locked by another process: the run is stored" "$("$GREENOPS" runs --db "$DB" | grep -c ' completed$')" 1
# and four runs started together on one new file all store
DB="$SCRATCH/race4.db"
for i in 1 2 3 4; do run --db "$DB" -q -- true 2>"$SCRATCH/race4.$i.err" & done
wait
eq "four runs started at once on a new database: all stored" "$("$GREENOPS" runs --db "$DB" | grep -c ' completed$')" 4
eq "four runs started at once on a new database: no error" "$(cat "$SCRATCH"/race4.*.err)" ""

# 5. A database that may only be read (a read-only mount; without the privilege to mount one,
#    a file and folder without write permission): the verbs that read work, run refuses in one
#    line. They failed with "attempt to write a readonly database" (switching to WAL, the
#    schema check and the host record all wrote).
mkdir "$SCRATCH/ro"
run --db "$SCRATCH/ro/r.db" --tag k=v -- true >/dev/null 2>&1
readonly_do() { # readonly_do CMD...: CMD with $SCRATCH/ro read-only
	if [ "$(id -u)" -eq 0 ]; then
		unshare -m sh -c 'mount --bind -o ro "$0" "$0" && exec "$@"' "$SCRATCH/ro" "$@"
	else
		chmod a-w "$SCRATCH/ro/r.db" "$SCRATCH/ro" && "$@"
		local rc=$?
		chmod u+w "$SCRATCH/ro" "$SCRATCH/ro/r.db"
		return $rc
	fi
}
if [ "$(id -u)" -ne 0 ] || unshare -m true 2>/dev/null; then
	readonly_do "$GREENOPS" runs --db "$SCRATCH/ro/r.db" >"$SCRATCH/ro.out" 2>"$SCRATCH/ro.err"
	eq "read-only database: runs exits 0" "$?" 0
	contains "read-only database: runs lists the run" "$SCRATCH/ro.out" ' completed$'
	readonly_do "$GREENOPS" show --db "$SCRATCH/ro/r.db" last >"$SCRATCH/ro.out" 2>>"$SCRATCH/ro.err"
	eq "read-only database: show exits 0" "$?" 0
	readonly_do "$GREENOPS" export-csv runs --db "$SCRATCH/ro/r.db" >"$SCRATCH/ro.csv" 2>>"$SCRATCH/ro.err"
	eq "read-only database: export-csv exits 0" "$?" 0
	eq "read-only database: export-csv writes the run" "$(grep -c 'completed' "$SCRATCH/ro.csv")" 1
	eq "read-only database: nothing on stderr" "$(cat "$SCRATCH/ro.err")" ""
	readonly_do "$GREENOPS" run --db "$SCRATCH/ro/r.db" -q -- true >/dev/null 2>"$SCRATCH/ro-run.err"
	eq "read-only database: run exits 1" "$?" 1
	eq "read-only database: run says why in one line" "$(grep -c "greenops run: cannot .*'$SCRATCH/ro/r.db'" "$SCRATCH/ro-run.err")" 1
else
	ok "# SKIP read-only database: running as root without the privilege to mount"
fi

done_testing
