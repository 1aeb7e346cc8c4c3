#!/usr/bin/env bash
# greenops top against the fake NVML at a steady 150 W: on a terminal (a detached tmux session
# of fixed size) the screen is redrawn in place, shows the fake's power and a growing energy,
# and q or Ctrl-C end it with the terminal as it was; in a pipe it writes plain lines (or JSON)
# per update; SIGTERM stops it cleanly; bad flags are named.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fake_nvml.sh"

fake_nvml_setup
export FAKE_NVML_IDLE_W=150
# within NAME VALUE: VALUE within 3% of the fake's 150 W
within() { near "$1" "$2" 150 4.5; }

# --- bad flags: one line naming the flag, exit 2, nothing on stdout ---
for args in "-d abc|--delay" "--delay 0.01|--delay" "-n 0|--iterations" "--iterations 2.5|--iterations" \
	"--rotate 0.5|--rotate" "--interval 0|--interval" "-n|option '-n' needs a value" \
	"--no-such-flag|unknown option '--no-such-flag'" "--idle 10|--idle" "extra|unexpected argument 'extra'"; do
	flags=${args%%|*} says=${args#*|}
	"$GREENOPS" top $flags >"$SCRATCH/bad.out" 2>"$SCRATCH/bad.err" </dev/null
	rc=$?
	eq "top $flags exits 2" "$rc" 2
	first=$(head -n 1 "$SCRATCH/bad.err")
	case $first in
	"greenops top: "*"$says"*) ok "top $flags: the first line names $says" ;;
	*) not_ok "top $flags: the first line names $says" "$(cat "$SCRATCH/bad.err")" ;;
	esac
	eq "top $flags: nothing else but the pointer to the help" "$(sed -n '2,$p' "$SCRATCH/bad.err")" "see 'greenops help top'"
	eq "top $flags: nothing on stdout" "$(wc -c <"$SCRATCH/bad.out")" 0
done
"$GREENOPS" help watch >"$SCRATCH/watch.help"
contains "watch is another name for top" "$SCRATCH/watch.help" '^usage: greenops top '

# --- not a terminal: a header, then one line per domain per update ---
"$GREENOPS" top --sources nvml -n 3 -d 0.5 >"$SCRATCH/plain.out" 2>"$SCRATCH/plain.err" </dev/null
eq "top -n 3 in a pipe exits 0" "$?" 0
eq "a header once" "$(head -n 1 "$SCRATCH/plain.out" | tr -s ' ')" "time domain source power_w energy_j"
eq "then three lines, one per update" "$(sed 1d "$SCRATCH/plain.out" | grep -cE \
	'^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z +gpu0 +nvml +[0-9.]+ +[0-9.]+$')" 3
eq "and nothing else" "$(wc -l <"$SCRATCH/plain.out")" 4
for k in 2 3 4; do
	within "update $((k - 1)): power is the fake's (W)" "$(awk -v k=$k 'NR == k { print $4 }' "$SCRATCH/plain.out")"
done
# Energy between the first and last update, over the time between them: the fake's power too.
rate=$(python3 -c 'import sys, datetime as D
rows = [l.split() for l in open(sys.argv[1]).read().splitlines()[1:]]
t = [D.datetime.fromisoformat(r[0].replace("Z", "+00:00")).timestamp() for r in rows]
e = [float(r[4]) for r in rows]
print("%.2f" % ((e[-1] - e[0]) / (t[-1] - t[0])))' "$SCRATCH/plain.out")
within "energy grows at the fake's power between updates (W)" "$rate"
contains "a last line with each domain's energy and the total" "$SCRATCH/plain.err" \
	'^greenops top: 3 updates in [0-9.]+ s; energy since start: gpu0 [0-9.]+ k?J; total [0-9.]+ k?J \([0-9.]+ W average\)$'
within "... whose average is the fake's power (W)" "$(sed -n 's/.*(\([0-9.]*\) W average)$/\1/p' "$SCRATCH/plain.err")"

# --rotate 1: fresh samplers under the view, the energy carried over without a gap or a step
"$GREENOPS" top --sources nvml -n 5 -d 0.6 --rotate 1 >"$SCRATCH/rot.out" 2>/dev/null </dev/null
eq "top --rotate 1 exits 0" "$?" 0
eq "... energy only grows, at the fake's power, across the rotations" "$(python3 -c 'import sys, datetime as D
rows = [l.split() for l in open(sys.argv[1]).read().splitlines()[1:]]
t = [D.datetime.fromisoformat(r[0].replace("Z", "+00:00")).timestamp() for r in rows]
e = [float(r[4]) for r in rows]
rates = [(e[i + 1] - e[i]) / (t[i + 1] - t[i]) for i in range(len(e) - 1)]
bad = [round(r, 1) for r in rates if abs(r - 150) > 15]
print(len(rows), bad or "ok")' "$SCRATCH/rot.out")" "5 ok"

# --json: one object per update
"$GREENOPS" top --sources nvml -n 2 -d 0.5 --json >"$SCRATCH/top.jsonl" 2>/dev/null </dev/null
eq "top --json exits 0" "$?" 0
eq "two lines, each one JSON object of one domain" "$(python3 -c 'import json, sys
print(" ".join(str(len(json.loads(l)["domains"])) for l in open(sys.argv[1])))' "$SCRATCH/top.jsonl")" "1 1"
within "--json: gpu0's power (W)" "$(python3 -c 'import json, sys
print(json.loads(open(sys.argv[1]).readlines()[-1])["domains"][0]["power_w"])' "$SCRATCH/top.jsonl")"
eq "--json: gpu0 is summed and the total is its energy" "$(python3 -c 'import json, sys
o = json.loads(open(sys.argv[1]).readlines()[-1]); d = o["domains"][0]
print(d["summed"], d["up"], o["energy_j"] == d["energy_j"] > 0)' "$SCRATCH/top.jsonl")" "True True True"

# SIGTERM: stops at once, the last line written, exit 0
"$GREENOPS" top --sources nvml -d 0.2 >"$SCRATCH/term.out" 2>"$SCRATCH/term.err" </dev/null &
pid=$!
for _ in $(seq 300); do
	[ "$(wc -l <"$SCRATCH/term.out")" -ge 2 ] && break
	sleep 0.1
done
kill -TERM "$pid"
wait "$pid"
eq "SIGTERM ends top with status 0" "$?" 0
contains "... after its last line" "$SCRATCH/term.err" '^greenops top: [0-9]+ updates? in [0-9.]+ s; energy since start: gpu0 '

# --- a terminal: tmux ---
if ! command -v tmux >/dev/null; then
	ok "top on a terminal # SKIP tmux not found (scripts/deps.sh installs it as root)"
	done_testing
	exit
fi
# one tmux server per run, each on its own socket (a killed server lets go of it late)
tm() { tmux -S "$SCRATCH/tmux-$how.sock" -f /dev/null "$@"; }
trap 'for how in q C-c; do tm kill-server 2>/dev/null; done; rm -rf "$SCRATCH"' EXIT
# The pane runs greenops top, then records its status and whether the terminal's settings are
# what they were before, and stays open with what it showed (tmux may drop the last output of
# a pane whose process ends) until the server is killed.
cat >"$SCRATCH/pane.sh" <<EOF
before=\$(stty -g)
"$GREENOPS" top --sources nvml -d 0.5
rc=\$?
[ "\$(stty -g)" = "\$before" ] && echo same >"\$1.stty" || echo changed >"\$1.stty"
echo \$rc >"\$1.rc"
exec tail -f /dev/null
EOF
# wait_pane PATTERN [FILE]: polls the pane until a line matches PATTERN (30 s at most); the
# screen that matched goes to FILE.
wait_pane() {
	local i
	for i in $(seq 300); do
		tm capture-pane -p -t top >"$SCRATCH/pane" 2>/dev/null
		if grep -Eq -- "$1" "$SCRATCH/pane"; then
			[ -n "${2:-}" ] && cp "$SCRATCH/pane" "$2"
			return 0
		fi
		sleep 0.1
	done
	echo "# the pane never showed '$1'; it holds:"
	sed 's/^/#   /' "$SCRATCH/pane"
	return 1
}
# wait_file FILE: polls until FILE exists (30 s at most)
wait_file() {
	local i
	for i in $(seq 300); do
		[ -s "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
# joules SCREEN: gpu0's energy on a screen, in J
joules() { awk '$1 == "gpu0" { v = $7; u = $8; print (u == "kJ" ? v * 1000 : u == "MJ" ? v * 1e6 : v) }' "$1"; }

for how in q C-c; do
	tm new-session -d -s top -x 100 -y 20 "bash $SCRATCH/pane.sh $SCRATCH/$how"
	if ! wait_pane '^gpu0 +nvml +[0-9.]+ W +[0-9.]+ W +[0-9.]+ k?J ' "$SCRATCH/$how.1"; then
		not_ok "top ($how) shows gpu0 on the terminal"
		tm kill-server
		continue
	fi
	ok "top ($how) draws its screen: gpu0 with power and energy"
	e1=$(joules "$SCRATCH/$how.1")
	# an update: the energy shown changes (30 s at most)
	for _ in $(seq 300); do
		tm capture-pane -p -t top >"$SCRATCH/$how.2"
		e2=$(joules "$SCRATCH/$how.2")
		[ -n "$e2" ] && [ "$e2" != "$e1" ] && break
		sleep 0.1
	done
	eq "top ($how): alternate screen while it runs" "$(tm display -p -t top '#{alternate_on}')" 1
	check "top ($how): the energy grew across an update ($e1 J, then $e2 J)" \
		awk -v a="$e1" -v b="$e2" 'BEGIN { exit !(b > a) }'
	for s in 1 2; do
		eq "top ($how) screen $s: the header on line 1" "$(head -n 1 "$SCRATCH/$how.$s" | awk '{ print $1, $2 }')" "greenops top"
		eq "top ($how) screen $s: the titles on line 3, gpu0 on line 4, the total on line 5" \
			"$(awk 'NR >= 3 && NR <= 5 { print $1 }' "$SCRATCH/$how.$s" | tr '\n' ' ')" "DOMAIN gpu0 total "
		eq "top ($how) screen $s: one header (redrawn, not scrolled)" "$(grep -c '^greenops top ' "$SCRATCH/$how.$s")" 1
		within "top ($how) screen $s: gpu0's power is the fake's (W)" "$(awk '$1 == "gpu0" { print $3 }' "$SCRATCH/$how.$s")"
	done
	contains "top ($how): the header names the host" "$SCRATCH/$how.2" "^greenops top +[0-9-]+ [0-9:]+ +$(uname -n) "
	contains "top ($how): a bar of power against the peak" "$SCRATCH/$how.2" '^gpu0 .*\[#+ *\]$'
	case $how in
	q) tm send-keys -t top q ;;
	C-c) tm send-keys -t top C-c ;;
	esac
	if wait_file "$SCRATCH/$how.rc"; then
		eq "top ($how) exits 0" "$(cat "$SCRATCH/$how.rc")" 0
		eq "top ($how): the terminal's settings are restored" "$(cat "$SCRATCH/$how.stty")" same
		wait_pane '^greenops top: [0-9]+ updates? in ' "$SCRATCH/$how.3"
		eq "top ($how): back on the main screen" "$(tm display -p -t top '#{alternate_on}')" 0
		eq "top ($how): the cursor shown again" "$(tm display -p -t top '#{cursor_flag}')" 1
		contains "top ($how): the last line gives the total" "$SCRATCH/$how.3" \
			'^greenops top: [0-9]+ updates in [0-9.]+ s; energy since start: gpu0 [0-9.]+ k?J; total '
	else
		not_ok "top ($how) ends" "$(tm capture-pane -p -t top)"
	fi
	tm kill-server
done
done_testing
