# greenops export end to end against the fake NVML: the metrics page (HELP/TYPE lines,
# labels, values), energy growing at the fake GPUs' power across sampler rotations, fresh
# power readings, a lost GPU, method labels for integrated and estimated domains, clean
# shutdown on SIGTERM and SIGINT, and errors for bad flags and a busy port.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/e2e/fake_nvml.sh"

EPID=
trap '[ -n "$EPID" ] && kill "$EPID" 2>/dev/null; rm -rf "$SCRATCH"' EXIT

# start_exporter LOG ARGS...: starts greenops export on a free port and waits for its
# "listening on ADDR:PORT" line; sets EPID and ADDR. The rest of stderr goes on into LOG,
# copied by CATPID, which ends once the exporter has exited and LOG is complete.
start_exporter() {
	local log=$1 line fifo="$SCRATCH/stderr.$RANDOM"
	shift
	mkfifo "$fifo"
	"$GREENOPS" export --listen 127.0.0.1:0 --host testhost "$@" 2>"$fifo" &
	EPID=$!
	exec 3<"$fifo"
	ADDR=
	: >"$log"
	while IFS= read -r -t 30 line <&3; do
		echo "$line" >>"$log"
		case $line in
		*"listening on "*)
			ADDR=${line##*listening on }
			break
			;;
		esac
	done
	cat <&3 >>"$log" &
	CATPID=$!
	exec 3<&-
	rm -f "$fifo"
	[ -n "$ADDR" ]
}

scrape() { curl -sf --max-time 5 "http://$ADDR/metrics" >"$1"; }
# value FILE METRIC DOMAIN: the sample of METRIC for DOMAIN
value() { awk -v m="$2" -v d="domain=\"$3\"" 'index($0, m "{") == 1 && index($0, d) { print $NF; exit }' "$1"; }
now_s() { awk -v ns="$(date +%s%N)" 'BEGIN { printf "%.6f", ns / 1e9 }'; }
# timed_scrape FILE: scrape, leaving in $took how long it took (s): on a busy machine the
# exporter answers late and its sampler runs late, and the limits below grow by that much.
timed_scrape() { local a b r; a=$(now_s); scrape "$1"; r=$?; b=$(now_s); took=$(awk -v a="$a" -v b="$b" 'BEGIN { print b - a }'); return $r; }

fake_nvml_setup
export FAKE_NVML_GPUS=2
fakegpu 0 300
fakegpu 1 100

start_exporter "$SCRATCH/e1.log" --sources nvml --rotate 1 --interval 25
check "the exporter says where it listens" test -n "$ADDR"
contains "the line names the port it got" "$SCRATCH/e1.log" '^greenops export: listening on 127\.0\.0\.1:[1-9][0-9]*$'

t1=$(now_s)
timed_scrape "$SCRATCH/m1"
took1=$took
eq "scrape succeeds" "$?" 0
for fam in "greenops_energy_joules_total counter" "greenops_power_watts gauge" "greenops_sensor_up gauge" \
	"greenops_sample_age_seconds gauge"; do
	set -- $fam
	contains "HELP line for $1" "$SCRATCH/m1" "^# HELP $1 [A-Z]"
	contains "TYPE line for $1 ($2)" "$SCRATCH/m1" "^# TYPE $1 $2$"
done
contains "energy series carry domain, source, kind, method, summed, host" "$SCRATCH/m1" \
	'^greenops_energy_joules_total\{domain="gpu0",source="nvml",kind="gpu",method="counter",summed="true",host="testhost"\} [0-9.e+-]+$'
contains "second GPU too" "$SCRATCH/m1" '^greenops_energy_joules_total\{domain="gpu1",'
eq "gpu0 power is the fake's 300 W" "$(value "$SCRATCH/m1" greenops_power_watts gpu0)" 300
eq "gpu1 power is the fake's 100 W" "$(value "$SCRATCH/m1" greenops_power_watts gpu1)" 100
eq "sensor up" "$(value "$SCRATCH/m1" greenops_sensor_up gpu0)" 1
e1=$(value "$SCRATCH/m1" greenops_energy_joules_total gpu0)
f1=$(value "$SCRATCH/m1" greenops_energy_joules_total gpu1)

# Scrape until at least two rotations have happened; every reading must be fresh and every
# counter must only grow.
ages_ok=1 mono_ok=1 prev=$e1 rot=0 n=0
deadline=$(($(date +%s) + 20))
while [ "$rot" -lt 2 ] && [ "$(date +%s)" -lt "$deadline" ]; do
	timed_scrape "$SCRATCH/m2" || break
	n=$((n + 1))
	for d in gpu0 gpu1; do
		a=$(value "$SCRATCH/m2" greenops_sample_age_seconds $d)
		awk -v a="$a" -v t="$took" 'BEGIN { exit !(a >= 0 && a <= 0.1 + t) }' ||
			{ ages_ok=0; echo "# $d age $a (scrape took $took s)"; }
	done
	e=$(value "$SCRATCH/m2" greenops_energy_joules_total gpu0)
	awk -v a="$e" -v b="$prev" 'BEGIN { exit !(a >= b) }' || { mono_ok=0; echo "# energy went from $prev to $e"; }
	prev=$e
	rot=$(awk '/^greenops_exporter_rotations_total/ { print $NF }' "$SCRATCH/m2")
	sleep 0.2
done
t2=$(now_s)
timed_scrape "$SCRATCH/m3"
took3=$took
eq "the sampler was replaced twice (--rotate 1)" "$([ "$rot" -ge 2 ] && echo yes)" yes
eq "every power reading served was at most 100 ms old, plus the scrape's own delay ($n scrapes)" "$ages_ok" 1
eq "the energy counter never went back across rotations" "$mono_ok" 1
e3=$(value "$SCRATCH/m3" greenops_energy_joules_total gpu0)
f3=$(value "$SCRATCH/m3" greenops_energy_joules_total gpu1)
dt=$(awk -v a="$t1" -v b="$t2" 'BEGIN { print b - a }')
# 5% of the rate, plus the scrapes' own lengths: each reading's moment is known only within it.
slack=$(awk -v a="$took1" -v b="$took3" -v t="$dt" 'BEGIN { print (a + b) / t }')
near "gpu0 energy grew at 300 W between scrapes (W)" "$(awk -v a="$e1" -v b="$e3" -v t="$dt" 'BEGIN { print (b - a) / t }')" 300 \
	"$(awk -v s="$slack" 'BEGIN { print 15 + 300 * s }')"
near "gpu1 energy grew at 100 W between scrapes (W)" "$(awk -v a="$f1" -v b="$f3" -v t="$dt" 'BEGIN { print (b - a) / t }')" 100 \
	"$(awk -v s="$slack" 'BEGIN { print 5 + 100 * s }')"

# A power change shows up within a few sampling periods.
fakegpu 0 200
seen=
deadline=$(($(date +%s) + 5))
while [ -z "$seen" ] && [ "$(date +%s)" -lt "$deadline" ]; do
	scrape "$SCRATCH/m4" && [ "$(value "$SCRATCH/m4" greenops_power_watts gpu0)" = 200 ] && seen=1
done
eq "a new power level is served" "$seen" 1

# A lost GPU goes down; its counter stays where it was.
fakegpu 1 lost
down=
deadline=$(($(date +%s) + 5))
while [ -z "$down" ] && [ "$(date +%s)" -lt "$deadline" ]; do
	scrape "$SCRATCH/m5" && [ "$(value "$SCRATCH/m5" greenops_sensor_up gpu1)" = 0 ] && down=1
done
eq "lost GPU: sensor_up 0" "$down" 1
f5=$(value "$SCRATCH/m5" greenops_energy_joules_total gpu1)
check "lost GPU: its energy is still served, not reset" awk -v a="$f5" -v b="$f3" 'BEGIN { exit !(a >= b) }'
eq "gpu0 still up" "$(value "$SCRATCH/m5" greenops_sensor_up gpu0)" 1

# HTTP details.
eq "unknown path is 404" "$(curl -s -o /dev/null -w '%{http_code}' "http://$ADDR/nope")" 404
eq "POST is 405" "$(curl -s -X POST -o /dev/null -w '%{http_code}' "http://$ADDR/metrics")" 405
contains "content type of the text format" <(curl -sI "http://$ADDR/metrics") '^Content-Type: text/plain; version=0\.0\.4'

# A second exporter on the same port: a one-line error, exit 1.
"$GREENOPS" export --listen "$ADDR" --sources nvml 2>"$SCRATCH/busy.err"
eq "busy port exits 1" "$?" 1
eq "busy port message" "$(cat "$SCRATCH/busy.err")" "greenops export: cannot listen on $ADDR: Address already in use"

# SIGTERM: clean stop, exit 0, the port is closed.
kill -TERM "$EPID"
wait "$EPID"
eq "SIGTERM: exit 0" "$?" 0
EPID=
wait "$CATPID"
contains "SIGTERM: says it stopped, with the energy" "$SCRATCH/e1.log" '^greenops export: stopped by Terminated after [0-9]+ scrapes; energy since start: gpu0 [0-9.]+ J'
check "the port is closed after the stop" eval '! curl -s --max-time 2 "http://$ADDR/metrics" >/dev/null'

# Method labels: NVML without the counter is integrated; the CPU/RAM model is estimated.
fake_nvml_setup noenergy
fakegpu 0 150
start_exporter "$SCRATCH/e2.log" --sources nvml,estimate --interval 20
check "second exporter started" test -n "$ADDR"
scrape "$SCRATCH/m6"
contains "NVML without its counter: method integrated" "$SCRATCH/m6" '^greenops_energy_joules_total\{domain="gpu0",source="nvml",kind="gpu",method="integrated",'
contains "the CPU model is labelled estimated" "$SCRATCH/m6" '^greenops_power_watts\{domain="cpu-estimate",source="estimate",kind="estimate",method="estimated",'
eq "rotation off by default within a short run" "$(awk '/^greenops_exporter_rotations_total/ { print $NF }' "$SCRATCH/m6")" 0
kill -INT "$EPID"
wait "$EPID"
eq "SIGINT: exit 0" "$?" 0
EPID=
wait "$CATPID"
contains "SIGINT: says it stopped" "$SCRATCH/e2.log" '^greenops export: stopped by Interrupt'

# The deployment material queries only what the exporter serves.
DEPLOY="$TESTS_DIR/../deploy"
for m in $(grep -oh 'greenops_[a-z_]*_\(total\|watts\|up\|seconds\)\b' "$DEPLOY"/*.yml "$DEPLOY"/grafana-dashboard.json | sort -u); do
	contains "deploy/ uses $m, which is served" "$SCRATCH/m1" "^# TYPE $m (counter|gauge)$"
done
contains "deploy/ selects summed=\"true\", which is served" "$SCRATCH/m1" 'summed="true"'
contains "deploy/ selects method=\"estimated\", which is served" "$SCRATCH/m6" 'method="estimated"'
check "the dashboard is valid JSON" python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$DEPLOY/grafana-dashboard.json"

# Slow clients (slowloris: a request begun and never finished, one header line every half
# second, so the connection is never idle). 80 of them held every connection of the exporter
# (64), and a scrape waited for as long as they trickled. Now: many connections are allowed,
# so a scrape is answered while all 80 still hold theirs; and each is shut down once it has
# held a request 10 s, so even more of them than the exporter accepts cannot keep a scrape out.
start_exporter "$SCRATCH/slow.log" --sources estimate
python3 "$TESTS_DIR/mock/slow_clients.py" "$ADDR" 80 40 "$SCRATCH/slow.status" >"$SCRATCH/slow.out" &
SLOWPID=$!
for _ in $(seq 200); do [ -s "$SCRATCH/slow.status" ] && break; sleep 0.1; done
curl -s -o "$SCRATCH/slow.m" -w '%{http_code}' --max-time 30 "http://$ADDR/metrics" >"$SCRATCH/slow.code"
held=$(cut -d' ' -f2 "$SCRATCH/slow.status")
eq "80 slow clients: a scrape is answered" "$(cat "$SCRATCH/slow.code")" 200
eq "80 slow clients: ... while every one of them still holds its connection" "$held" 80
wait "$SLOWPID"
eq "80 slow clients: each connection is shut down after holding its request 10 s" "$(cut -d' ' -f1 "$SCRATCH/slow.out")" 80
python3 "$TESTS_DIR/mock/slow_clients.py" "$ADDR" 600 60 "$SCRATCH/slow2.status" >"$SCRATCH/slow2.out" &
SLOWPID=$!
for _ in $(seq 200); do [ -s "$SCRATCH/slow2.status" ] && break; sleep 0.1; done
curl -s -o "$SCRATCH/slow2.m" -w '%{http_code}' --max-time 45 "http://$ADDR/metrics" >"$SCRATCH/slow2.code"
eq "600 slow clients, more than it accepts: a scrape is answered" "$(cat "$SCRATCH/slow2.code")" 200
kill "$SLOWPID" 2>/dev/null
wait "$SLOWPID" 2>/dev/null
kill -TERM "$EPID"
wait "$EPID"
wait "$CATPID"
EPID=
contains "slow clients: the exporter says how many it cut" "$SCRATCH/slow.log" "^greenops export: [0-9]+ connections closed for holding a request more than 10 s$"

# Bad flags: one line, exit 2.
bad() { # NAME PATTERN ARGS...
	local name=$1 pat=$2
	shift 2
	"$GREENOPS" export "$@" 2>"$SCRATCH/bad.err" </dev/null
	eq "$name: exit 2" "$?" 2
	contains "$name: message" "$SCRATCH/bad.err" "$pat"
}
bad "no port" "^greenops export: invalid value 'localhost' for --listen \(expected ADDR:PORT" --listen localhost
bad "port out of range" "invalid value '127.0.0.1:99999' for --listen" --listen 127.0.0.1:99999
bad "unterminated IPv6" "invalid value '\[::1:9464' for --listen" --listen '[::1:9464'
bad "unresolvable address" "invalid value '999.1.1.1:9464' for --listen: " --listen 999.1.1.1:9464
bad "bad interval" "invalid value 'abc' for --interval" --interval abc
bad "idle does not apply" "--idle does not apply to export" --idle none
bad "bad rotate" "invalid value '0.5' for --rotate" --rotate 0.5
bad "unknown flag" "unknown option '--frob'" --frob
"$GREENOPS" export --listen 127.0.0.1:0 --sources nvml,bogus 2>"$SCRATCH/src.err"
eq "unknown source exits 1" "$?" 1
contains "unknown source named" "$SCRATCH/src.err" "unknown source 'bogus'"
done_testing
