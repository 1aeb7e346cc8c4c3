# analyze on small samples and mistyped columns: a coefficient from fewer than 10 pairs
# carries a warning, and an unknown column's message lists the tags first and the nearest name.
. "$(dirname "$0")/lib.sh"
export GREENOPS_NVML_LIBRARY=/nonexistent/libnvidia-ml.so.1 GREENOPS_SYSFS_ROOT="$SCRATCH/empty"
mkdir -p "$SCRATCH/empty"

printf 'x,y\n1,2\n2,3\n3,4\n' >"$SCRATCH/three.csv"
"$GREENOPS" analyze --csv "$SCRATCH/three.csv" --x x --y y --json "$SCRATCH/t.json" >"$SCRATCH/t.out" 2>"$SCRATCH/t.err"
eq "3 pairs: exits 0" "$?" 0
contains "3 pairs: a small-sample warning" "$SCRATCH/t.err" \
	"warning: x vs y: only 3 pairs: the p-value and interval are rough below 10 pairs, and no interval is defined"
contains "3 pairs: the warning is in the JSON" "$SCRATCH/t.json" '"warning": "x vs y: only 3 pairs'
seq 1 12 | awk 'BEGIN { print "x,y" } { print $1 "," ($1 * $1) }' >"$SCRATCH/twelve.csv"
"$GREENOPS" analyze --csv "$SCRATCH/twelve.csv" --x x --y y >/dev/null 2>"$SCRATCH/w.err"
eq "12 pairs: no warning" "$(cat "$SCRATCH/w.err")" ""

for b in 1 2 4; do
	"$GREENOPS" run -q --tag batch=$b --tag model_family=resnet --tag learning_rate=0.1 -- true
done
"$GREENOPS" analyze --x batchsize --y energy_j 2>"$SCRATCH/c.err"
eq "unknown column: exits 1" "$?" 1
contains "unknown column: the tags are listed" "$SCRATCH/c.err" "columns: (batch|learning_rate|model_family), (batch|learning_rate|model_family), (batch|learning_rate|model_family), "
"$GREENOPS" analyze --x bacth --y energy_j 2>"$SCRATCH/d.err"
contains "a near miss: did you mean" "$SCRATCH/d.err" "has no column 'bacth'; did you mean 'batch'\?"
done_testing
