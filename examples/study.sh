#!/usr/bin/env bash
# One of the three experiments of "Green MLOps to Green GenOps" (arXiv 2503.23934) end to end on
# an NVIDIA machine with PyTorch: the idle power first (the sweep's cool-downs wait for it), the
# ONNX exports that tag the CNNs with their MACs, the sweep, then the analyses of greenops.
#   examples/study.sh [--quick | --plan FILE] [--out DIR] [--time-limit S] cnn-profile|batch-ladder|llm-rates
# --quick runs the short plans examples/quick_*.yaml (minutes instead of hours); --plan another
# plan of the same experiment. --time-limit stops
# the sweep after S seconds as Ctrl-C would (what was measured is kept; --resume goes on) and
# analyses what it has. Results: DIR/NAME.db (all runs), DIR/NAME-sweep.log, DIR/NAME-sweep.json
# (analyze --sweep), DIR/NAME-*.json (the correlations and optima below), DIR/NAME-runs.csv.
# Environment: GREENOPS (default: greenops on PATH, else build/greenops, else bench/carry/greenops),
# IDLE_S (idle measurement, default 30, or 5 with --quick), IDLE_ARGS (more options of greenops
# idle), SLO (llm-rates: the TTFT p99 bound in ms for the cheapest rate, default 2000).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
usage() {
	echo "usage: examples/study.sh [--quick | --plan FILE] [--out DIR] [--time-limit S] cnn-profile|batch-ladder|llm-rates" >&2
	exit 2
}
QUICK=0 OUT=study-results LIMIT=0 NAME="" PLAN=""
while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1 ;;
	--out) [ $# -ge 2 ] || usage; OUT=$2; shift ;;
	--plan) [ $# -ge 2 ] || usage; PLAN=$2; shift ;;
	--time-limit)
		[ $# -ge 2 ] || usage
		case $2 in '' | *[!0-9]*) echo "study.sh: --time-limit '$2': whole seconds" >&2; exit 2 ;; esac
		LIMIT=$2
		shift
		;;
	cnn-profile | batch-ladder | llm-rates) NAME=$1 ;;
	*) echo "study.sh: unknown argument '$1'" >&2; usage ;;
	esac
	shift
done
[ -n "$NAME" ] || usage
if [ -z "$PLAN" ]; then
	PLAN=$ROOT/examples/${NAME//-/_}.yaml
	[ "$QUICK" = 1 ] && PLAN=$ROOT/examples/quick_${NAME//-/_}.yaml
fi

G=${GREENOPS:-}
if [ -z "$G" ]; then
	if command -v greenops >/dev/null; then G=$(command -v greenops)
	elif [ -x "$ROOT/build/greenops" ]; then G=$ROOT/build/greenops
	elif [ -x "$ROOT/bench/carry/greenops" ]; then G=$ROOT/bench/carry/greenops
		export LD_LIBRARY_PATH="$ROOT/bench/carry${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
	else echo "study.sh: no greenops found (set GREENOPS)" >&2; exit 1
	fi
fi
IDLE_S=${IDLE_S:-$([ "$QUICK" = 1 ] && echo 5 || echo 30)}
mkdir -p "$OUT" || exit 1
DB=$OUT/$NAME.db
say() { printf '== %s\n' "$*" >&2; }

"$G" sweep --dry-run "$PLAN" >"$OUT/$NAME-plan.txt" 2>&1 || { cat "$OUT/$NAME-plan.txt" >&2; exit 1; }
values() { grep -o " $1=[^ ]*" "$OUT/$NAME-plan.txt" | cut -d= -f2 | sort -u | sort -n; }

if [ "$NAME" = cnn-profile ]; then
	# The plan's `model: "DIR/{arch}_32.onnx"` says where the exports go.
	ONNX_DIR=$(sed -n 's|^model: *"\(.*\)/{arch}_32\.onnx".*|\1|p' "$PLAN")
	[ -n "$ONNX_DIR" ] || { echo "study.sh: $PLAN: no 'model: \"DIR/{arch}_32.onnx\"' line" >&2; exit 1; }
	archs=$(values arch | paste -sd,)
	say "ONNX exports at 32x32 into $ONNX_DIR: $archs"
	python3 "$ROOT/workloads/pytorch/cnn.py" --arch "$archs" --size 32 --export-onnx "$ONNX_DIR" || exit 1
	for a in ${archs//,/ }; do
		"$G" macs "$ONNX_DIR/${a}_32.onnx" --json - 2>/dev/null | tr -d '\n' && echo
	done >"$OUT/$NAME-macs.jsonl"
fi

say "idle power (${IDLE_S} s once the machine is quiet)"
# shellcheck disable=SC2086
"$G" idle --db "$DB" --duration "$IDLE_S" --settle 2 --timeout 120 ${IDLE_ARGS:-} --json "$OUT/$NAME-idle.json" >&2 ||
	say "no idle baseline: the cool-downs do not wait for idle, and there is no dynamic energy"

say "sweep $PLAN${LIMIT:+ (at most $LIMIT s)}"
if [ "$LIMIT" -gt 0 ]; then
	timeout -s TERM -k 30 "$LIMIT" "$G" sweep "$PLAN" --db "$DB" >"$OUT/$NAME-sweep.log" 2>&1
else
	"$G" sweep "$PLAN" --db "$DB" >"$OUT/$NAME-sweep.log" 2>&1
fi
rc=$?
tail -3 "$OUT/$NAME-sweep.log" >&2
ID=$(sed -n 's/^sweep \([0-9][0-9]*\) .*/\1/p' "$OUT/$NAME-sweep.log" | tail -1)
[ -n "$ID" ] || { echo "study.sh: the sweep stored nothing (exit $rc): $OUT/$NAME-sweep.log" >&2; exit 1; }

SUBJECT=()
[ "$NAME" = llm-rates ] && SUBJECT=(--subject-to "ttft_p99_ms<=${SLO:-2000}")
"$G" analyze --sweep "$ID" --db "$DB" "${SUBJECT[@]}" --json "$OUT/$NAME-sweep.json" >"$OUT/$NAME-sweep.txt" 2>&1
cat "$OUT/$NAME-sweep.txt"

# Every run of the sweep as one CSV row (its parameters and metrics), for per-group analyses.
python3 - "$OUT/$NAME-sweep.json" "$OUT/$NAME-runs.csv" <<'PY'
import csv, json, sys
runs = json.load(open(sys.argv[1])).get("run_list", [])
params = sorted({k for r in runs for k in r["params"]})
keys = params + sorted({k for r in runs for k in r["metrics"]} - set(params))
with open(sys.argv[2], "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["run_id", "state", "failure"] + keys)
    for r in runs:
        vals = {**r["params"], **r["metrics"]}
        w.writerow([r["run_id"] or "", r["state"], r["failure"] or ""] + [vals.get(k, "") for k in keys])
PY

an() { # an JSON_NAME ARGS...: one analysis, its table shown, its JSON kept
	local j=$1
	shift
	say "greenops analyze $*"
	"$G" analyze "$@" --json "$OUT/$NAME-$j.json" 2>&1 | grep -v '^$'
}
CORR=(--method spearman,pearson,kendall)
case $NAME in
cnn-profile)
	for w in train infer; do
		an "$w" --db "$DB" --table windows --where "sweep=$ID" --where "name=$w" \
			--x macs_per_param,macs,params --y energy_per_unit_j,energy_j "${CORR[@]}"
	done
	;;
batch-ladder)
	an all --db "$DB" --table windows --where "sweep=$ID" --where name=epoch --x batch --y energy_per_unit_j "${CORR[@]}"
	for a in $(values arch); do
		for s in $(values size); do
			an "$a-$s" --db "$DB" --table windows --where "sweep=$ID" --where name=epoch --where "arch=$a" \
				--where "size=$s" --optimum --x batch --y energy_per_unit_j
		done
	done
	;;
llm-rates)
	for s in $(values size); do
		an "$s" --csv "$OUT/$NAME-runs.csv" --where state=ok --where "size=$s" --x rate \
			--y energy_per_unit_j,energy_per_output_token_j "${CORR[@]}"
	done
	;;
esac
say "sweep $ID of $PLAN: $OUT/$NAME.db"
[ "$rc" = 0 ] || say "the sweep was stopped (exit $rc): go on with: $G sweep $PLAN --db $DB --resume=$ID"
exit 0
