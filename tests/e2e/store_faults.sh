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
"$GREENOPS" runs --db "$SCRATCH/utf.db" --json >"$SCRATCH/utf-runs.json"
eq "bad UTF-8: runs --json keeps the tags" "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))[0]["tags"]))' "$SCRATCH/utf-runs.json")" 2

done_testing
