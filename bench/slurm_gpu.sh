#!/usr/bin/env bash
# The SPANK plugin on a GPU node against `greenops run`: starts a one-node Slurm from carried
# Debian binaries (bench/carry_slurm.sh), runs the same bf16 matmul workload alternately under
# `greenops run` and as an srun step measured by the plugin, and prints each run's energy.
# Beside it, the exporter's CPU and memory at two sampling intervals (deploy/check_exporter.py).
#   bench/slurm_gpu.sh CARRY OUT   (CARRY holds gops/ from carry.sh and slurm/ from carry_slurm.sh)
set -u
C=$(cd "$1" && pwd)
OUT=$2
mkdir -p "$OUT"
G="$C/gops"
S="$C/slurm"
L="env LD_LIBRARY_PATH=$G:$S/lib"
export PATH="$S/bin:$PATH"
D=$(mktemp -d /tmp/gs.XXXX)
chmod 700 "$D"
mkdir -p "$D/state" "$D/spool" "$D/locks"
PIDS=
trap 'for p in $PIDS; do kill $p 2>/dev/null; done; sleep 1; cp "$D"/*.log "$D"/*.out "$OUT"/ 2>/dev/null' EXIT
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# The exporter's cost on these quiet cores, both intervals at once, for 60 s.
EXPORTERS=
for iv in 25 100 200; do
	python3 deploy/check_exporter.py --greenops "$G/greenops" --libs "$G" --seconds "${EXPORT_SECONDS:-60}" --every 5 -- \
		--sources nvml --interval $iv >"$OUT/exporter_$iv.log" 2>&1 &
	EXPORTERS="$EXPORTERS $!"
done

cat >"$D/w.py" <<'EOF'
import torch, time
a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
for _ in range(50):
    a @ a
torch.cuda.synchronize()
t = time.time()
for _ in range(7000):
    a @ a
torch.cuda.synchronize()
print("matmul %.2f s" % (time.time() - t))
EOF

# WORKLOAD replaces the matmul (a smoke test of the script on a machine without a GPU).
W=${WORKLOAD:-python3 $D/w.py}
head -c 1024 /dev/urandom >"$D/munge.key"
chmod 400 "$D/munge.key"
$L munged -F -f --socket="$D/munge.sock" --key-file="$D/munge.key" --log-file="$D/munged.log" \
	--pid-file="$D/munged.pid" --seed-file="$D/munged.seed" >"$D/munged.out" 2>&1 &
PIDS="$PIDS $!"
cat >"$D/slurm.conf" <<EOF
ClusterName=gpu-check
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$D/munge.sock
PluginDir=$S/plugins
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldLogFile=$D/slurmctld.log
SlurmdLogFile=$D/slurmd.log
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
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
NodeName=gpunode NodeHostname=$(hostname) NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=p Nodes=gpunode Default=YES MaxTime=INFINITE State=UP
EOF
echo "required $G/greenops_spank.so db=$D/node.db lockdir=$D/locks sources=nvml interval=100" >"$D/plugstack.conf"
export SLURM_CONF="$D/slurm.conf"
for _ in $(seq 50); do [ -S "$D/munge.sock" ] && break; sleep 0.1; done
$L slurmctld -D -i >"$D/slurmctld.out" 2>&1 &
PIDS="$PIDS $!"
$L slurmd -D -N gpunode -d "$S/bin/slurmstepd" >"$D/slurmd.out" 2>&1 &
PIDS="$PIDS $!"
state=
for _ in $(seq 200); do
	state=$($L sinfo -h -n gpunode -o %t 2>/dev/null)
	[ "$state" = idle ] && break
	sleep 0.1
done
echo "slurm node state: ${state:-none} (id: $(id -u))"
if [ "$state" = idle ]; then
	for i in 1 2; do
		$L "$G/greenops" run --no-db --sources nvml --json "$OUT/run$i.json" -q -- env -u LD_LIBRARY_PATH $W >"$OUT/run$i.out" 2>&1
		$L srun -n1 sh -c 'echo "$SLURM_JOB_ID"; exec env -u LD_LIBRARY_PATH '"$W" >"$OUT/step$i.out" 2>&1
		job=$(head -n 1 "$OUT/step$i.out")
		$L "$G/greenops" slurm "$job" --db "$D/node.db" --json >"$OUT/step$i.json" 2>>"$OUT/slurm.err"
	done
	python3 - "$OUT" <<'EOF'
import json, sys, os
o = sys.argv[1]
print("%-8s %10s %10s %9s" % ("what", "energy J", "span s", "mean W"))
rows = {}
for i in (1, 2):
    r = json.load(open(os.path.join(o, "run%d.json" % i)))
    s = json.load(open(os.path.join(o, "step%d.json" % i)))["steps"][0]
    for name, e, d in (("run%d" % i, r["energy_j"], r["duration_s"]), ("step%d" % i, s["energy_j"], s["duration_s"])):
        rows[name] = e
        print("%-8s %10.1f %10.3f %9.1f" % (name, e, d, e / d))
for i in (1, 2):
    print("step%d vs run%d: %+.2f%%" % (i, i, 100 * (rows["step%d" % i] / rows["run%d" % i] - 1)))
m_run, m_step = (rows["run1"] + rows["run2"]) / 2, (rows["step1"] + rows["step2"]) / 2
print("mean step vs mean run: %+.2f%%; run2 vs run1: %+.2f%%" % (100 * (m_step / m_run - 1), 100 * (rows["run2"] / rows["run1"] - 1)))
EOF
else
	tail -n 15 "$D/slurmctld.out" "$D/slurmd.out" "$D/slurmctld.log" "$D/slurmd.log" 2>/dev/null
fi
for p in $EXPORTERS; do wait "$p"; done
grep -H "exporter:" "$OUT"/exporter_*.log
