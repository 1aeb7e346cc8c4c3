# The Slurm SPANK plugin against a real single-node Slurm (Debian's slurm-wlm and munge),
# started here on 127.0.0.1 with a configuration in the scratch folder and the fake NVML at a
# known power: a two-task step is measured once on its node, its energy is the fake's power
# times the step's duration, srun steps inside a batch script are not added twice, job options
# reach the plugin, and merging the node's database keeps the job whole. Skipped, with the
# reason, where Slurm, munge or the plugin are not there.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/e2e/fake_nvml.sh"

PLUGIN="$BUILD_ABS/greenops_spank.so"
skip_all() {
	echo "ok 1 # SKIP $1"
	echo "1..1"
	exit 0
}
for cmd in slurmctld slurmd srun sbatch sinfo munged; do
	command -v "$cmd" >/dev/null || skip_all "$cmd is not installed (scripts/deps.sh installs slurm-wlm and munge as root)"
done
[ -f "$PLUGIN" ] || skip_all "$PLUGIN was not built (no /usr/include/slurm/spank.h: libslurm-dev)"
[ "$(id -u)" -eq 0 ] || skip_all "slurmd must run as root to start job steps"
# slurmd is not built with the sanitizers, so it cannot load a plugin that is.
nm -D "$PLUGIN" 2>/dev/null | grep -q '__asan_init' && skip_all "$PLUGIN is a sanitizer build, which slurmd (not one) cannot load"

D="$SCRATCH/slurm"
mkdir -p "$D/state" "$D/spool" "$D/locks"
chmod 700 "$D"
PIDS=
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
	done
	[ -n "${KEEP_SLURM_LOGS:-}" ] && cp -r "$D" "$KEEP_SLURM_LOGS"; rm -rf "$SCRATCH"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# munge, on a socket of its own with a fresh key.
head -c 1024 /dev/urandom >"$D/munge.key"
chmod 400 "$D/munge.key"
munged -F -f --socket="$D/munge.sock" --key-file="$D/munge.key" --log-file="$D/munged.log" \
	--pid-file="$D/munged.pid" --seed-file="$D/munged.seed" 2>"$D/munged.err" &
PIDS="$PIDS $!"

fake_nvml_setup
export FAKE_NVML_GPUS=2
fakegpu 0 150
fakegpu 1 50
WATTS=200

CPUS=$(nproc)
[ "$CPUS" -ge 2 ] || CPUS=2
cat >"$D/slurm.conf" <<EOF
ClusterName=greenops-test
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$D/munge.sock
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/slurmctld.log
SlurmdLogFile=$D/slurmd.log
SlurmdDebug=verbose
ProctrackType=proctrack/pgid
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
PlugStackConfig=$D/plugstack.conf
NodeName=gnode1 NodeHostname=$(hostname) NodeAddr=127.0.0.1 CPUs=$CPUS State=UNKNOWN
PartitionName=test Nodes=gnode1 Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
EOF
# The line a site adds to its plugstack.conf (docs/FLEET.md), with this test's folders.
echo "required $PLUGIN db=$D/%h.db lockdir=$D/locks sources=nvml interval=20" >"$D/plugstack.conf"
export SLURM_CONF="$D/slurm.conf"
NODEDB="$D/$(hostname -s).db"

for _ in $(seq 100); do [ -S "$D/munge.sock" ] && break; sleep 0.1; done
check "munged is up" test -S "$D/munge.sock"
slurmctld -D -i >"$D/slurmctld.out" 2>&1 &
PIDS="$PIDS $!"
slurmd -D -N gnode1 >"$D/slurmd.out" 2>&1 &
PIDS="$PIDS $!"
state=
for _ in $(seq 300); do
	state=$(sinfo -h -n gnode1 -o %t 2>/dev/null)
	[ "$state" = idle ] && break
	sleep 0.1
done
eq "slurmctld and slurmd are up, the node idle" "$state" idle
if [ "$state" != idle ]; then
	tail -n 20 "$D/slurmctld.log" "$D/slurmd.log" "$D"/*.out | sed 's/^/# /'
	done_testing
	exit
fi

# jobvars FILE: one python3 start (slow on a loaded machine) reads what the checks need from
# greenops slurm --json into shell variables: N_STEPS, STEPS (sorted names), ENERGY, NODE_J,
# GPU0, GPU1, and per step S_<name>_{DUR,TASKS,NODE,INSIDE}.
jobvars() {
	eval "$(python3 - "$1" <<'PY'
import json, sys, shlex
j = json.load(open(sys.argv[1]))
out = {"N_STEPS": len(j["steps"]), "STEPS": " ".join(sorted(s["step"] for s in j["steps"])),
       "ENERGY": j["energy_j"], "NODE_J": j["nodes"][0].get("energy_j")}
for i, g in enumerate(j["nodes"][0]["gpus"]):
    out["GPU%d" % i] = g["energy_j"]
for s in j["steps"]:
    for k, v in (("DUR", s["duration_s"]), ("TASKS", s["tasks"]), ("NODE", s["node"]), ("INSIDE", s["inside_step"])):
        out["S_%s_%s" % (s["step"], k)] = v
for k, v in out.items():
    print("%s=%s" % (k, shlex.quote(str(v))))
PY
	)"
}
# wait_runs JOB N: slurmstepd stores a step's run when the step ends on the node, which can be
# after srun or squeue already report the job done; wait (30 s at most) until N runs of JOB are
# in the node's database.
wait_runs() {
	for _ in $(seq 300); do
		[ "$("$GREENOPS" runs --db "$NODEDB" --tag "slurm.job=$1" --json - 2>/dev/null | grep -c '"id":')" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
now_s() { awk -v ns="$(date +%s%N)" 'BEGIN { printf "%.6f", ns / 1e9 }'; }

# One step, two tasks on one node: one measurement, not two.
t0=$(now_s)
srun -N1 -n2 --greenops-tag=exp=two-tasks sh -c 'echo "$SLURM_JOB_ID"; sleep 2' >"$D/job1.out" 2>"$D/job1.err"
eq "srun with the plugin exits 0" "$?" 0
t1=$(now_s)
JOB1=$(sort -u "$D/job1.out")
check "the job ran two tasks" test "$(wc -l <"$D/job1.out")" -eq 2
check "the node stored the step" wait_runs "$JOB1" 1
"$GREENOPS" slurm "$JOB1" --db "$NODEDB" --json >"$D/job1.json" 2>"$D/job1.slurm.err"
rc=$?
eq "greenops slurm reads the job" "$rc" 0
[ "$rc" -eq 0 ] || sed 's/^/# /' "$D/job1.slurm.err"
jobvars "$D/job1.json"
eq "one measurement on the node for two tasks" "$N_STEPS" 1
eq "the step is step 0" "$STEPS" 0
eq "it had two tasks" "$S_0_TASKS" 2
eq "it is tagged with the node's name" "$S_0_NODE" gnode1
dur=$S_0_DUR
e=$ENERGY
check "the step lasted the tasks' 2 s, within srun's own time ($dur s)" \
	awk -v d="$dur" -v w="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" 'BEGIN { exit !(d >= 2 && d <= w) }'
near "job energy is ${WATTS} W x duration within 2% (J)" "$e" "$(awk -v d="$dur" -v w=$WATTS 'BEGIN { print w * d }')" \
	"$(awk -v d="$dur" -v w=$WATTS 'BEGIN { print 0.02 * w * d }')"
near "gpu0: 150 W x duration within 2% (J)" "$GPU0" "$(awk -v d="$dur" 'BEGIN { print 150 * d }')" \
	"$(awk -v d="$dur" 'BEGIN { print 0.02 * 150 * d }')"
near "gpu1: 50 W x duration within 2% (J)" "$GPU1" "$(awk -v d="$dur" 'BEGIN { print 50 * d }')" \
	"$(awk -v d="$dur" 'BEGIN { print 0.02 * 50 * d }')"
eq "the node's total is the job's" "$NODE_J" "$e"
"$GREENOPS" runs --db "$NODEDB" --tag "slurm.job=$JOB1" --tag exp=two-tasks --json - >"$D/runs1.json"
eq "greenops runs --tag slurm.job finds it, with the job's --greenops-tag" "$(grep -c '"id":' "$D/runs1.json")" 1
"$GREENOPS" slurm "$JOB1" --db "$NODEDB" >"$D/job1.txt"
contains "the table names the job, its step and node" "$D/job1.txt" "^job $JOB1: 1 step run on 1 node"
contains "the table has a row per GPU" "$D/job1.txt" '^gnode1 +gpu1 '

# A batch script with an srun step inside: the step is listed, the batch step counts.
# (sbatch --wait polls every few seconds; squeue is asked more often.)
sbatch --parsable -o "$D/job2.out" --wrap "srun -n1 sleep 1; sleep 0.5" >"$D/job2.sub" 2>&1
eq "sbatch exits 0" "$?" 0
JOB2=$(cut -d';' -f1 "$D/job2.sub")
for _ in $(seq 600); do
	[ -z "$(squeue -h -j "$JOB2" 2>/dev/null)" ] && break
	sleep 0.1
done
check "the batch job finished" test -z "$(squeue -h -j "$JOB2" 2>/dev/null)"
check "the node stored both of its steps" wait_runs "$JOB2" 2
"$GREENOPS" slurm "$JOB2" --db "$NODEDB" --json >"$D/job2.json"
jobvars "$D/job2.json"
eq "batch job: two steps stored" "$STEPS" "0 batch"
eq "the srun step is marked as within the batch step" "$S_0_INSIDE" batch
near "the job's energy is the batch step's alone: ${WATTS} W x its duration within 2% (J)" "$ENERGY" \
	"$(awk -v d="$S_batch_DUR" -v w=$WATTS 'BEGIN { print w * d }')" \
	"$(awk -v d="$S_batch_DUR" -v w=$WATTS 'BEGIN { print 0.02 * w * d }')"

# --greenops-off: the job runs, nothing is measured.
srun -n1 --greenops-off sh -c 'echo "$SLURM_JOB_ID"' >"$D/job3.out"
eq "srun --greenops-off exits 0" "$?" 0
"$GREENOPS" slurm "$(cat "$D/job3.out")" --db "$NODEDB" 2>"$D/job3.err" >/dev/null
eq "--greenops-off: no step stored (exit 1)" "$?" 1
contains "--greenops-off: says nothing is stored" "$D/job3.err" "^greenops slurm: no step of job $(cat "$D/job3.out") is stored in "
srun -n1 --greenops-interval=abc true >/dev/null 2>"$D/job4.err"
check "a bad --greenops-interval is refused by srun" test "$?" -ne 0
contains "with the option named" "$D/job4.err" "invalid value 'abc' for --greenops-interval"

# Merging the node's database into another keeps the job whole; merging again adds nothing.
"$GREENOPS" merge --into "$D/all.db" "$NODEDB" 2>"$D/merge.err"
eq "merge exits 0" "$?" 0
contains "merge says what it copied" "$D/merge.err" "^greenops merge: $NODEDB: 3 runs copied, 0 already in $D/all.db$"
"$GREENOPS" merge --into "$D/all.db" "$NODEDB" 2>"$D/merge2.err"
contains "merging again copies nothing" "$D/merge2.err" ": 0 runs copied, 3 already in "
"$GREENOPS" slurm "$JOB1" --db "$D/all.db" --json >"$D/job1m.json"
jobvars "$D/job1m.json"
eq "the merged database gives the same job energy" "$ENERGY" "$e"
"$GREENOPS" slurm "$JOB1" --db "$NODEDB" --db "$D/all.db" --json >"$D/job1d.json"
jobvars "$D/job1d.json"
eq "the same runs given twice are counted once" "$ENERGY" "$e"

check "no lock file is left behind" test -z "$(ls "$D/locks")"
grep -q 'greenops' "$D/slurmd.log" && grep 'greenops' "$D/slurmd.log" | head -n 5 | sed 's/^/# /'
done_testing
