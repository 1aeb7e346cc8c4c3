# greenops analyze end to end: correlations from a CSV file against SciPy's published
# examples, dropped rows, undefined coefficients, the optimum search, the results database
# (runs measured against the fake NVML, tags as columns), and errors naming file and line.
. "$(dirname "$0")/lib.sh"

FIX="$TESTS_DIR/fixtures/analyze"
EX="$FIX/scipy_examples.csv"

# --- correlations from CSV -----------------------------------------------------------------
"$GREENOPS" analyze --csv "$EX" --x a --y b --method pearson,spearman,kendall --json "$SCRATCH/p.json" >"$SCRATCH/p.out" 2>"$SCRATCH/p.err"
eq "analyze exits 0" "$?" 0
# scipy.stats.pearsonr documentation example: statistic=-0.828503883588428, pvalue=0.021280260007523286
near "pearson rho as SciPy" "$(jget "$SCRATCH/p.json" correlations.0.rho)" -0.828503883588428 1e-12
near "pearson p as SciPy" "$(jget "$SCRATCH/p.json" correlations.0.p_value)" 0.021280260007523286 1e-12
# Fisher z: tanh(atanh(r) -+ 1.959963984540054 / 2) = [-0.97392125528698, -0.20060647400569]
near "pearson 95% CI low" "$(jget "$SCRATCH/p.json" correlations.0.ci_low)" -0.97392125528698 1e-9
near "pearson 95% CI high" "$(jget "$SCRATCH/p.json" correlations.0.ci_high)" -0.20060647400569 1e-9
eq "n counts the pairs" "$(jget "$SCRATCH/p.json" correlations.0.n)" 7
eq "methods in the order asked" "$(jget "$SCRATCH/p.json" correlations.1.method) $(jget "$SCRATCH/p.json" correlations.2.method)" "spearman kendall"
# Spearman of 1..7 against the ranks [7,6,2,5,4,3,1]: 1 - 6*100/336
near "spearman rho by hand" "$(jget "$SCRATCH/p.json" correlations.1.rho)" -0.785714285714286 1e-12
contains "table has a header" "$SCRATCH/p.out" '^x +y +method +n +dropped +rho +p-value +95% CI$'
contains "table has the pearson row" "$SCRATCH/p.out" '^a +b +pearson +7 +0 +-0\.829 +0\.0213 +\[-0\.974, -0\.201\]$'
# Seven pairs are a small sample (a warning of its own); nothing else is warned.
eq "no warnings for defined coefficients" "$(grep -v 'only 7 pairs' "$SCRATCH/p.err")" ""

# scipy.stats.spearmanr docs: spearmanr([1,2,3,4,5],[5,6,7,8,7]) = 0.8207826816681233, p 0.0885870053135438;
# columns c and d hold it, with two rows missing a value (empty, NA) that must be dropped.
"$GREENOPS" analyze --csv "$EX" --x c --y d --json "$SCRATCH/s.json" >/dev/null 2>&1
eq "spearman is the default method" "$(jget "$SCRATCH/s.json" correlations.0.method)" spearman
near "spearman with a tie as SciPy" "$(jget "$SCRATCH/s.json" correlations.0.rho)" 0.8207826816681233 1e-12
near "spearman p as SciPy" "$(jget "$SCRATCH/s.json" correlations.0.p_value)" 0.0885870053135438 1e-12
eq "rows missing x or y are dropped" "$(jget "$SCRATCH/s.json" correlations.0.n)/$(jget "$SCRATCH/s.json" correlations.0.dropped)" 5/2

# scipy.stats.kendalltau docs/tests (R cor.test exact=FALSE): tau -0.47140452079103173, p 0.28274545993277478
"$GREENOPS" analyze --csv "$EX" --x e --y f --method kendall --confidence 0.9 --json "$SCRATCH/k.json" >"$SCRATCH/k.out" 2>&1
near "kendall tau-b with ties as SciPy" "$(jget "$SCRATCH/k.json" correlations.0.rho)" -0.47140452079103173 1e-12
near "kendall p as SciPy (asymptotic)" "$(jget "$SCRATCH/k.json" correlations.0.p_value)" 0.28274545993277478 1e-12
eq "kendall interval method is named" "$(jget "$SCRATCH/k.json" correlations.0.ci_method)" "fisher-z, var 0.437/(n-4)"
eq "confidence level recorded" "$(jget "$SCRATCH/k.json" correlations.0.confidence)" 0.9
contains "the table says 90% CI" "$SCRATCH/k.out" '90% CI'

# A constant column has no coefficient: null and a warning, never 0.
printf 'x,k,y\n1,5,2\n2,5,1\n3,5,4\n4,5,3\n' >"$SCRATCH/const.csv"
"$GREENOPS" analyze --csv "$SCRATCH/const.csv" --x x --y k,y --json "$SCRATCH/c.json" >/dev/null 2>"$SCRATCH/c.err"
eq "constant column still exits 0" "$?" 0
eq "constant column: rho is null" "$(jget "$SCRATCH/c.json" correlations.0.rho)" null
eq "constant column: p is null" "$(jget "$SCRATCH/c.json" correlations.0.p_value)" null
contains "constant column warns" "$SCRATCH/c.err" "^greenops analyze: warning: x vs k: 'k' is constant over the 4 pairs: spearman rho undefined$"
near "the other pair is still computed (1 - 6*4/60)" "$(jget "$SCRATCH/c.json" correlations.1.rho)" 0.6 1e-12
printf 'x,y\n1,2\n2,1\n,7\n' >"$SCRATCH/two.csv"
"$GREENOPS" analyze --csv "$SCRATCH/two.csv" --x x --y y --json "$SCRATCH/two.json" >/dev/null 2>"$SCRATCH/two.err"
eq "two pairs: rho null" "$(jget "$SCRATCH/two.json" correlations.0.rho)" null
contains "two pairs: warned" "$SCRATCH/two.err" "2 complete pairs \(3 needed\)"

# --json - puts JSON alone on stdout and the table on stderr.
"$GREENOPS" analyze --csv "$EX" --x a --y b --json - >"$SCRATCH/j.out" 2>"$SCRATCH/j.err"
check "--json - writes valid JSON on stdout" python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$SCRATCH/j.out"
contains "--json - moves the table to stderr" "$SCRATCH/j.err" '^a +b +spearman'

# --- optimum ------------------------------------------------------------------------------
"$GREENOPS" analyze --csv "$FIX/batch_sweep.csv" --optimum --x batch --y energy_per_unit_j --where model=resnet18 \
	--json "$SCRATCH/o.json" >"$SCRATCH/o.out" 2>&1
eq "optimum exits 0" "$?" 0
eq "--where kept resnet18's 15 runs" "$(jget "$SCRATCH/o.json" optima.0.n)" 15
eq "lowest mean at batch 64" "$(jget "$SCRATCH/o.json" optima.0.best.x)" 64.0
near "its mean (0.300+0.304+0.302)/3" "$(jget "$SCRATCH/o.json" optima.0.best.mean)" 0.302 1e-12
near "its sd" "$(jget "$SCRATCH/o.json" optima.0.best.sd)" 0.002 1e-12
eq "no further gain past batch 32 (0.307 is within 2% of 0.302)" "$(jget "$SCRATCH/o.json" optima.0.plateau.x)" 32.0
eq "the 2% rule applied (larger than the sd)" "$(jget "$SCRATCH/o.json" optima.0.tolerance_rule)" "2%"
contains "optimum is printed" "$SCRATCH/o.out" '^no further gain past batch = 32: its mean 307.0 mJ is within 6.04 mJ \(2%\) of the lowest$'
contains "the table shows energy in joules with a prefix" "$SCRATCH/o.out" '^ +64 +3 +302.0 mJ +2.00 mJ +<- lowest$'
"$GREENOPS" analyze --csv "$FIX/batch_sweep.csv" --optimum --x batch --y energy_per_unit_j --json "$SCRATCH/o2.json" >/dev/null 2>&1
eq "without --where vgg16's run joins batch 32" "$(jget "$SCRATCH/o2.json" optima.0.n)" 16

# --- errors: one line naming the file and the place; 1 for data, 2 for flags ----------------
err_case() { # NAME EXPECTED_RC PATTERN ARGS...
	local name=$1 want=$2 pat=$3
	shift 3
	"$GREENOPS" analyze "$@" >"$SCRATCH/e.out" 2>"$SCRATCH/e.err"
	eq "$name: exit $want" "$?" "$want"
	contains "$name: message" "$SCRATCH/e.err" "$pat"
}
err_case "wrong field count" 1 "^greenops analyze: '.*bad_fields.csv' line 4: 3 fields, the header has 2$" --csv "$FIX/bad_fields.csv" --x x --y y
eq "wrong field count: one line" "$(wc -l <"$SCRATCH/e.err")" 1
err_case "not a number" 1 "'.*bad_number.csv' line 3, column 'y': 'abc' is not a finite number$" --csv "$FIX/bad_number.csv" --x x --y y
err_case "unterminated quote" 1 "'.*unterminated.csv' line 3: the quoted field opened here never ends$" --csv "$FIX/unterminated.csv" --x x --y y
err_case "missing column" 1 "has no column 'nosuch' \(columns: a, b, c, d, e, f, label\)$" --csv "$EX" --x nosuch --y a
err_case "text column" 1 "line 2, column 'label': 'first' is not a finite number$" --csv "$EX" --x label --y a
err_case "missing file" 1 "^greenops analyze: cannot read '/nonexistent/x.csv': No such file or directory$" --csv /nonexistent/x.csv --x a --y b
err_case "unknown method" 2 "unknown method 'foo' in --method" --csv "$EX" --x a --y b --method foo
err_case "no --y" 2 "--x and --y are both needed" --csv "$EX" --x a
err_case "bad confidence" 2 "invalid value '95' for --confidence" --csv "$EX" --x a --y b --confidence 95
err_case "bad --where" 2 "invalid value 'model' for --where" --csv "$EX" --x a --y b --where model
err_case "both sources" 2 "--db and --csv exclude each other" --csv "$EX" --db "$SCRATCH/x.db" --x a --y b
err_case "unknown flag" 2 "unknown option '--frob'" --csv "$EX" --x a --y b --frob
err_case "--where on a missing column" 1 "has no column 'model'" --csv "$EX" --x a --y b --where model=x
err_case "--method with --optimum" 2 "--method does not apply to --optimum" --csv "$EX" --x a --y b --optimum --method pearson

# --- from the results database ---------------------------------------------------------------
. "$TESTS_DIR/e2e/fake_nvml.sh"
fake_nvml_setup
export FAKE_NVML_IDLE_W=100
for d in 0.2 0.4 0.6 0.8; do
	"$GREENOPS" run -q --sources nvml --tag dur=$d --tag model=m1 -- sleep $d || not_ok "run dur=$d"
done
"$GREENOPS" run -q --sources nvml --tag dur=9 --tag model=m1 -- sh -c 'kill -TERM $$'
"$GREENOPS" analyze --x dur --y energy_j,avg_power_w --method spearman,pearson --json "$SCRATCH/db.json" >"$SCRATCH/db.out" 2>"$SCRATCH/db.err"
eq "db: exits 0" "$?" 0
eq "db: tags are columns, killed run left out" "$(jget "$SCRATCH/db.json" correlations.0.n)" 4
contains "db: says what it left out" "$SCRATCH/db.err" "^greenops analyze: 1 run not completed left out"
near "db: energy rises with duration (spearman 1)" "$(jget "$SCRATCH/db.json" correlations.0.rho)" 1 1e-12
eq "db: perfect rank correlation has p 0" "$(jget "$SCRATCH/db.json" correlations.0.p_value)" 0.0
# On a busy machine `sleep 0.2` lasts longer than 0.2 s by a varying margin, so the nominal
# durations are not exactly linear in energy: the expected Pearson coefficient is that of the
# measured durations (energy = 100 W x duration_s at the fake's constant power).
"$GREENOPS" export-csv runs -o "$SCRATCH/db_runs.csv"
expected_r=$(python3 -c 'import csv, statistics, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["status"] == "completed"]
print(statistics.correlation([float(r["tag.dur"]) for r in rows], [float(r["duration_s"]) for r in rows]))' \
	"$SCRATCH/db_runs.csv")
near "db: energy vs duration is linear at 100 W (pearson as of the measured durations)" \
	"$(jget "$SCRATCH/db.json" correlations.1.rho)" "$expected_r" 0.005
eq "db: source is the database" "$(jget "$SCRATCH/db.json" source)" "$GREENOPS_DB"
"$GREENOPS" analyze --x dur --y avg_power_w --optimum --json "$SCRATCH/dbo.json" >/dev/null 2>&1
near "db: avg_power_w = energy_j / duration_s is the fake's 100 W" "$(jget "$SCRATCH/dbo.json" optima.0.groups.0.mean)" 100 8
"$GREENOPS" analyze --x dur --y energy_j --where status=interrupted --json "$SCRATCH/dbi.json" >/dev/null 2>"$SCRATCH/dbi.err"
eq "db: --where status= chooses the status" "$(jget "$SCRATCH/dbi.json" correlations.0.n)" 1
# Windows: one row each, with their run's tags. Epochs of 100 units at the fake's 100 W last
# 0.1 s and 0.3 s: energy per unit rises with the epoch's duration.
PYW='import sys, time; sys.path.insert(0, sys.argv[1]); import greenops
for d in (0.1, 0.3):
    with greenops.window("epoch", units=100):
        time.sleep(d)'
"$GREENOPS" run -q --sources nvml --tag dur=w -- python3 -c "$PYW" "$TESTS_DIR/../bindings/python" || not_ok "windowed run"
"$GREENOPS" analyze --table windows --where name=epoch --x duration_s --y energy_per_unit_j --method pearson \
	--json "$SCRATCH/w.json" >/dev/null 2>"$SCRATCH/w.err"
eq "windows: exit 0" "$?" 0
eq "windows: the two epochs are the rows" "$(jget "$SCRATCH/w.json" correlations.0.n)" 2
"$GREENOPS" analyze --table windows --where name=epoch --x duration_s --y energy_per_unit_j --optimum \
	--json "$SCRATCH/wo.json" >/dev/null 2>&1
# (A loaded machine stretches the 0.1 s sleep: the expected figure is of the window's measured
# duration.)
bx=$(jget "$SCRATCH/wo.json" optima.0.best.x)
check "windows: the shorter epoch is the cheaper per unit ($bx s)" awk -v x="$bx" 'BEGIN { exit !(x >= 0.1 && x < 0.3) }'
# Within 2%, or within the window's own stated uncertainty where a loaded machine read its
# edges late (per unit: over its 100 units).
"$GREENOPS" export-csv windows -o "$SCRATCH/w.csv"
wu=$(python3 -c 'import csv, sys
r = [w for w in csv.DictReader(open(sys.argv[1])) if w["name"] == "epoch"]
print(min(r, key=lambda w: float(w["duration_s"]))["uncertainty_j"])' "$SCRATCH/w.csv")
near "windows: energy per unit of the shorter epoch (100 W x its duration / 100)" "$(jget "$SCRATCH/wo.json" optima.0.best.mean)" "$bx" \
	"$(awk -v x="$bx" -v u="$wu" 'BEGIN { t = 0.02 * x; if (u / 100 > t) t = u / 100; print t }')"
err_case "db: unknown table" 2 "unknown table 'samples' for --table" --table samples --x a --y b
err_case "db: text tag used as a number" 1 "run [0-9]+, column 'tag.model': 'm1' is not a finite number$" --x model --y energy_j
err_case "db: nothing matches" 1 "has no runs to analyze that match --where$" --x dur --y energy_j --where model=m2
err_case "db: no database" 1 "no results database at '$SCRATCH/none.db'" --db "$SCRATCH/none.db" --x dur --y energy_j
err_case "db: --table with --csv" 2 "--table applies to --db" --csv "$EX" --table runs --x a --y b
done_testing
