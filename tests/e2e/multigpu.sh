# greenops run of a job with one process per GPU (as torchrun starts it) on the fake NVML with
# four GPUs at different powers: each GPU is its own domain with its own energy, the total is
# their sum, every worker's GPU is counted once however many processes there are, and
# CUDA_VISIBLE_DEVICES given to greenops narrows the measurement to the job's GPUs.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/e2e/fake_nvml.sh"

fake_nvml_setup
export FAKE_NVML_GPUS=4
fakegpu 0 300
fakegpu 1 200
fakegpu 2 100
fakegpu 3 50

# Four workers, each told its GPU the way torchrun's ranks are (LOCAL_RANK); greenops sees
# the parent's environment, so all four GPUs.
"$GREENOPS" run --no-db --sources nvml --json "$SCRATCH/r.json" -q -- sh -c '
	for r in 0 1 2 3; do LOCAL_RANK=$r CUDA_VISIBLE_DEVICES=$r sleep 2 & done; wait'
eq "the four-process job ran" "$?" 0
eval "$(python3 - "$SCRATCH/r.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print("DUR=%s TOTAL=%s N=%d" % (r["duration_s"], r["energy_j"], len(r["domains"])))
for d in r["domains"]:
    print("%s=%s" % (d["name"].upper(), d["energy_j"]))
print("SUM=%s" % sum(d["energy_j"] for d in r["domains"] if d["summed"]))
PY
)"
eq "one domain per GPU" "$N" 4
for g in "GPU0 300" "GPU1 200" "GPU2 100" "GPU3 50"; do
	set -- $g
	near "$1 is its own power x the job's duration within 2% (J)" "${!1}" \
		"$(awk -v w="$2" -v d="$DUR" 'BEGIN { print w * d }')" "$(awk -v w="$2" -v d="$DUR" 'BEGIN { print 0.02 * w * d }')"
done
near "the total is the sum of the GPUs (J)" "$TOTAL" "$SUM" 0.001
near "the total is 650 W x duration within 2%, not four times it (J)" "$TOTAL" \
	"$(awk -v d="$DUR" 'BEGIN { print 650 * d }')" "$(awk -v d="$DUR" 'BEGIN { print 13 * d }')"

"$GREENOPS" run --no-db --sources nvml -- sh -c 'sleep 0.5 & sleep 0.5 & wait' 2>"$SCRATCH/summary.txt"
for g in gpu0 gpu1 gpu2 gpu3; do
	contains "the summary has a line for $g" "$SCRATCH/summary.txt" "$g"
done

# A job given GPUs 1 and 3: measuring the job's GPUs only.
CUDA_VISIBLE_DEVICES=1,3 "$GREENOPS" run --no-db --sources nvml --json "$SCRATCH/r13.json" -q -- sh -c \
	'sleep 1 & sleep 1 & wait'
eq "CUDA_VISIBLE_DEVICES=1,3: the job's two GPUs" \
	"$(python3 -c 'import json,sys; print(" ".join(d["name"] for d in json.load(open(sys.argv[1]))["domains"]))' "$SCRATCH/r13.json")" \
	"gpu1 gpu3"
done_testing
