#!/usr/bin/env bash
# serve-bench's per-request attribution against ground truth, on a GPU machine with the
# reference server (workloads/llm/server.py): two request classes measured alone, then the
# same requests mixed in one run.
#   prefill-heavy: PROMPT_P-word prompts, 1 output token
#   decode-heavy:  PROMPT_D-word prompts, OUT_D output tokens
# Alone, a class's dynamic energy per request (energy above idle / completed requests) is the
# ground truth; inside the mixed run (both classes at the same rates as alone, interleaved), the
# attribution's mean dynamic energy per request of each class is compared with it, and so is
# the ratio between the classes (which does not depend on how batching changes the total).
#   LD_LIBRARY_PATH=bench/carry/w GREENOPS=bench/carry/w/greenops bash bench/attribution_gpu.sh OUT [SIZE]
# Environment: RATE_P, RATE_D (req/s, default 4 and 2), SECONDS_ (arrivals per run, default 12),
# PROMPT_P (default 1024), PROMPT_D (default 32), OUT_D (default 128), IDLE_S (default 8).
set -u
cd "$(dirname "$0")/.."
OUT=${1:?usage: bench/attribution_gpu.sh OUT [SIZE]}
SIZE=${2:-1b}
G=${GREENOPS:-build/greenops}
RATE_P=${RATE_P:-4} RATE_D=${RATE_D:-2} S=${SECONDS_:-12}
PROMPT_P=${PROMPT_P:-1024} PROMPT_D=${PROMPT_D:-32} OUT_D=${OUT_D:-128} IDLE_S=${IDLE_S:-8}
mkdir -p "$OUT"
SPID=""
trap '[ -n "$SPID" ] && kill "$SPID" 2>/dev/null' EXIT

# SERVER_CMD (a server that prints "PORT n" when it listens) replaces the reference server:
# the check of this script itself against tests/mock/openai_mock.py and the fake NVML.
${SERVER_CMD:-python3 workloads/llm/server.py --model-size "$SIZE" --port 0 --max-batch 64} \
	>"$OUT/server.port" 2>"$OUT/server.log" &
SPID=$!
PORT=""
for _ in $(seq 1800); do
	PORT=$(awk '/^PORT/ {print $2}' "$OUT/server.port")
	[ -n "$PORT" ] && break
	kill -0 "$SPID" 2>/dev/null || break
	sleep 0.1
done
[ -n "$PORT" ] || { echo "attribution: the server did not start" >&2; tail -5 "$OUT/server.log" >&2; exit 1; }
MODEL=$(python3 -c 'import json,sys,urllib.request; print(json.load(urllib.request.urlopen(sys.argv[1]))["data"][0]["id"])' \
	"http://127.0.0.1:$PORT/v1/models")

# The classes as datasets with their arrival times (a Poisson schedule per class, seeded), so
# that the mixed run replays exactly the two schedules of the runs alone, merged.
python3 - "$OUT" "$S" "$RATE_P" "$RATE_D" "$PROMPT_P" "$PROMPT_D" "$OUT_D" <<'PY'
import json, random, sys
out, s, rp, rd, pp, pd, od = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
def sched(rate, seed):
    r, t, ts = random.Random(seed), 0.0, []
    while True:
        t += r.expovariate(rate)
        if t >= s:
            return ts
        ts.append(t)
def words(r, n):
    return " ".join("w%d" % r.randrange(100000) for _ in range(n))
r = random.Random(7)
P = [{"timestamp": t, "prompt": words(r, pp), "output_len": 1} for t in sched(rp, 1)]
D = [{"timestamp": t, "prompt": words(r, pd), "output_len": od} for t in sched(rd, 2)]
for name, rows in (("prefill", P), ("decode", D), ("mixed", sorted(P + D, key=lambda x: x["timestamp"]))):
    with open(f"{out}/{name}.jsonl", "w") as f:
        for x in rows:
            f.write(json.dumps(x) + "\n")
print(f"prefill class: {len(P)} requests, decode class: {len(D)}")
PY

# Idle power once, with the server loaded and waiting (its CUDA context is part of serving's
# idle: --force, since a process holds the GPU); every run subtracts the same figure.
"$G" idle --force --duration "$IDLE_S" --sources nvml --no-db --json "$OUT/idle.json" >"$OUT/idle.txt" 2>&1
IDLE_W=$(python3 -c 'import json,sys; print(sum(d["mean_w"] for d in json.load(open(sys.argv[1]))["domains"]))' \
	"$OUT/idle.json" 2>/dev/null)
[ -n "$IDLE_W" ] || IDLE_W=measure:$IDLE_S
echo "idle: $IDLE_W"

status=0
for cls in warm prefill decode mixed; do
	ds=$cls
	[ $cls = warm ] && ds=decode # kernels compiled, caches warm before the measured runs
	"$G" serve-bench --base-url "http://127.0.0.1:$PORT" --model "$MODEL" --rate trace \
		--dataset "$OUT/$ds.jsonl" --ignore-eos --timeout 300 --cooldown 0 --sources nvml \
		--idle "$IDLE_W" --no-db --json "$OUT/$cls.json" --requests "$OUT/$cls.csv" \
		>"$OUT/$cls.txt" 2>&1 || status=1
done
kill "$SPID" 2>/dev/null
wait "$SPID" 2>/dev/null
SPID=""

python3 - "$OUT" "$PROMPT_P" <<'PY' | tee "$OUT/attribution.txt"
import csv, json, statistics, sys
out, pp = sys.argv[1], int(sys.argv[2])
def run(name):
    return json.load(open(f"{out}/{name}.json"))["runs"][0]
def rows(name):
    return [x for x in csv.DictReader(open(f"{out}/{name}.csv")) if x["ok"] == "1" and x["warmup"] == "0"]
alone = {}
for c in ("prefill", "decode"):
    r = run(c)
    n = r["completed"]
    alone[c] = (r["dynamic_energy_j"] / n, r["energy_j"] / n, n, r["dynamic_energy_j"], r["energy_j"], r["duration_s"] if "duration_s" in r else float("nan"))
m = run("mixed")
mr = rows("mixed")
cls = lambda x: "prefill" if int(x["tokens_in"]) >= pp // 2 else "decode"
att = {c: [float(x["dynamic_energy_j"]) for x in mr if cls(x) == c] for c in ("prefill", "decode")}
print("class     alone: n  J dyn/request   mixed: n  attributed J dyn/request   error")
for c in ("prefill", "decode"):
    a = alone[c][0]
    b = statistics.mean(att[c]) if att[c] else float("nan")
    print(f"{c:8s} {alone[c][2]:9d} {a:14.3f} {len(att[c]):10d} {b:25.3f} {100 * (b / a - 1):+8.1f}%")
ra = alone["decode"][0] / alone["prefill"][0]
rb = statistics.mean(att["decode"]) / statistics.mean(att["prefill"])
print(f"ratio decode/prefill: alone {ra:.2f}, attributed in the mixed run {rb:.2f} ({100 * (rb / ra - 1):+.1f}%)")
sa = alone["prefill"][3] + alone["decode"][3]
print(f"dynamic energy: the two runs alone {sa:.1f} J, the mixed run {m['dynamic_energy_j']:.1f} J "
      f"(unattributed {m['attribution']['unattributed_dynamic_energy_j']:.1f} J)")
pt = alone["prefill"][3] / sum(int(x["tokens_in"]) for x in rows("prefill"))
dt = alone["decode"][3] / sum(int(x["tokens_out"]) for x in rows("decode"))
print(f"alone: {pt * 1e3:.3f} mJ per prompt token, {dt * 1e3:.3f} mJ per decoded token: "
      f"a prefill weight of {pt / dt:.3f} would match (serve-bench's default is 1)")
PY
exit $status
