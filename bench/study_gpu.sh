#!/usr/bin/env bash
# On the GPU machine: the short plans of the study's three experiments (examples/quick_*.yaml) one
# after another, each sweep stopped at its share of a time budget (what it measured is kept),
# with the card, driver and software recorded first; everything is packed into one archive and
# the figures that matter are printed last.
#   LD_LIBRARY_PATH=bench/carry/study GREENOPS=bench/carry/study/greenops \
#       bash bench/study_gpu.sh OUTDIR [CNN_S LADDER_S LLM_S]   (defaults 190 170 120 seconds; 0 skips one)
set -u
cd "$(dirname "$0")/.."
OUT=${1:?usage: bench/study_gpu.sh OUTDIR [CNN_S LADDER_S LLM_S]}
T1=${2:-190} T2=${3:-170} T3=${4:-120}
export GREENOPS=${GREENOPS:-$PWD/bench/carry/greenops} PYTHONUNBUFFERED=1
R=$OUT/study
mkdir -p "$R"
{
	date -u +'%Y-%m-%d %H:%M:%S UTC'
	nvidia-smi -L
	nvidia-smi --query-gpu=name,driver_version,power.limit,memory.total --format=csv,noheader
	python3 -c 'import torch, torchvision; print("torch", torch.__version__, "torchvision", torchvision.__version__, "cuda", torch.version.cuda)'
	python3 -c 'import transformers; print("transformers", transformers.__version__)' 2>&1 | tail -1
	echo "HF cache: ${HF_HOME:-~/.cache/huggingface}"
	ls "${HF_HOME:-$HOME/.cache/huggingface}/hub" 2>&1 | head -20
	"$GREENOPS" --version 2>&1 | head -1
} >"$R/machine.txt" 2>&1
cat "$R/machine.txt"
# The ladder plan one input size at a time (224x224 first, 60% of its time), so that a cut
# leaves whole ladders up to their out-of-memory rather than the low rungs of all of them.
for s in 224 32; do
	sed "s/^  size: .*/  size: [$s]/" examples/quick_batch_ladder.yaml >"examples/quick_batch_ladder_$s.yaml"
done
T2a=$((T2 * 6 / 10))
for job in "cnn-profile $T1 cnn-profile" "batch-ladder $T2a batch-ladder-224 examples/quick_batch_ladder_224.yaml" \
	"batch-ladder $((T2 - T2a)) batch-ladder-32 examples/quick_batch_ladder_32.yaml" "llm-rates $T3 llm-rates"; do
	set -- $job
	[ "$2" -gt 0 ] || continue
	t0=$(date +%s)
	plan=(--quick)
	[ $# -ge 4 ] && plan=(--plan "$4")
	mkdir -p "$R/$3"
	bash examples/study.sh "${plan[@]}" --out "$R/$3" --time-limit "$2" "$1" >"$R/$3/$1.txt" 2>&1
	echo "$3: $(($(date +%s) - t0)) s" | tee -a "$R/machine.txt"
done
tar -C "$OUT" -czf "$OUT/study.tar.gz" study
{
	cat "$R/machine.txt"
	for d in cnn-profile batch-ladder-224 batch-ladder-32 llm-rates; do
		n=${d%-[0-9]*}
		[ -f "$R/$d/$n-sweep.txt" ] || continue
		echo "== $d"
		grep -E '^sweep [0-9]+ ' "$R/$d/$n-sweep.txt"
		grep -E 'oom:' "$R/$d/$n-sweep.txt" | cut -c1-60
		grep -E '^(x |macs_per_param|rate |batch )' "$R/$d/$n.txt" | grep -E '^x |spearman' | sort -u
		grep -E '^== greenops analyze.*--optimum|lowest mean|no gain|no further gain|^cheapest' "$R/$d/$n.txt" | sed 's/^== greenops analyze.*--where arch=/  /; s/ --optimum.*//'
	done
} | tee "$OUT/summary.txt"
