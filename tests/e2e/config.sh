# The configuration file (docs/CONFIG.md): found under $XDG_CONFIG_HOME or named by
# GREENOPS_CONFIG, off with an empty GREENOPS_CONFIG or --no-config; a run takes its database,
# cost of energy and measuring options from it; a flag beats the environment, which beats the
# file, which beats the built-in default, and `greenops config` says which gave each value; an
# unknown key or a malformed line stops every verb with the file, line and key named.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fake_nvml.sh"

fake_nvml_setup
export FAKE_NVML_IDLE_W=150
unset GREENOPS_DB # lib.sh's: the database here comes from the file
CONF="$XDG_CONFIG_HOME/greenops/config.toml"

# origin KEY: the origin column `greenops config` gives KEY (ARGS: flags for config)
origin() {
	local key=$1
	shift
	"$GREENOPS" config "$@" | awk -v k="$key" '$1 == k { print $2 }'
}
value() {
	local key=$1
	shift
	"$GREENOPS" config "$@" | awk -v k="$key" '$1 == k { print $3 }'
}

# No file: every setting is the built-in default.
"$GREENOPS" config >"$SCRATCH/none.txt"
eq "no file: config exits 0" "$?" 0
contains "no file: said so" "$SCRATCH/none.txt" "^# configuration file: $CONF, absent$"
eq "no file: every origin is default" "$(awk '!/^#/ && $2 != "default"' "$SCRATCH/none.txt")" ""
eq "no file: nine settings" "$(grep -vc '^#' "$SCRATCH/none.txt")" 9
eq "no file: carbon intensity 475" "$(value cost.carbon_intensity)" 475

mkdir -p "$(dirname "$CONF")"
cat >"$CONF" <<EOF
# greenops settings for this machine
database = "$SCRATCH/configured.db"

[cost]
carbon_intensity = 300 # the local grid
pue = 1.2
price_per_kwh = 0.25
currency = "EUR"

[measure]
sources = [
	"nvml", # the GPU alone
]
interval_ms = 50
EOF

eq "file: the database from line 2" "$(origin database)" "file:$CONF:2"
eq "file: its path" "$(value database)" "$SCRATCH/configured.db"
eq "file: carbon intensity from line 5" "$(origin cost.carbon_intensity)" "file:$CONF:5"
eq "file: carbon intensity 300" "$(value cost.carbon_intensity)" 300
eq "file: currency from line 8" "$(origin cost.currency)" "file:$CONF:8"
eq "file: sources from line 11" "$(origin measure.sources)" "file:$CONF:11"
eq "file: interval from line 14" "$(origin measure.interval_ms)" "file:$CONF:14"
eq "file: idle is still the default" "$(origin measure.idle)" default

# A run with no flag takes everything from the file: stored in the configured database, the
# summary in EUR at 300 g/kWh and PUE 1.2, sampled every 50 ms from nvml alone.
"$GREENOPS" run --json "$SCRATCH/a.json" -- sleep 0.2 2>"$SCRATCH/a.err"
eq "run with the file: exit 0" "$?" 0
check "the run is stored in the configured database" test -s "$SCRATCH/configured.db"
contains "the summary prints the configured currency" "$SCRATCH/a.err" " EUR +at 0.25 EUR per kWh$"
contains "and the configured intensity and PUE" "$SCRATCH/a.err" "CO2e  at 300 g/kWh, PUE 1.20$"
eq "only the configured source" "$(jget "$SCRATCH/a.json" domains.0.source)/$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["domains"]))' "$SCRATCH/a.json")" nvml/1
"$GREENOPS" show last --json "$SCRATCH/s.json" >/dev/null 2>&1
eq "show (configured database) finds the run" "$?" 0
eq "stored with the configured currency" "$(jget "$SCRATCH/s.json" currency)" EUR
eq "stored with the configured intensity" "$(jget "$SCRATCH/s.json" carbon_g_per_kwh)" 300.0
eq "stored with the configured PUE" "$(jget "$SCRATCH/s.json" pue)" 1.2
eq "stored with the configured interval" "$(jget "$SCRATCH/s.json" options.interval_ms)" 50

# The environment beats the file; a flag beats both.
eq "GREENOPS_DB beats the file" "$(GREENOPS_DB="$SCRATCH/env.db" origin database)" "env:GREENOPS_DB"
GREENOPS_DB="$SCRATCH/env.db" "$GREENOPS" run -q -- true
check "a run stores into GREENOPS_DB then" test -s "$SCRATCH/env.db"
eq "--db beats GREENOPS_DB" "$(GREENOPS_DB="$SCRATCH/env.db" origin database --db "$SCRATCH/flag.db")" "flag:--db"
GREENOPS_DB="$SCRATCH/env.db" "$GREENOPS" run -q --db "$SCRATCH/flag.db" -- true
check "a run stores into --db then" test -s "$SCRATCH/flag.db"
eq "--currency beats the file" "$(origin cost.currency --currency USD)" "flag:--currency"
"$GREENOPS" run --no-db --currency USD --pue 1.5 -- true 2>"$SCRATCH/f.err"
contains "the run's summary uses the flag's currency" "$SCRATCH/f.err" " USD +at 0.25 USD per kWh$"
contains "and the flag's PUE, the file's intensity" "$SCRATCH/f.err" "at 300 g/kWh, PUE 1.50$"
eq "a bad flag value is refused by config too" "$("$GREENOPS" config --pue 0.5 2>&1 >/dev/null | head -1)" \
	"greenops config: invalid value '0.5' for --pue (expected a number from 1 to 10)"

# GREENOPS_CONFIG names another file; empty, or --no-config, reads none.
printf '[cost]\ncurrency = "CHF"\n' >"$SCRATCH/other.toml"
eq "GREENOPS_CONFIG=FILE is read instead" "$(GREENOPS_CONFIG="$SCRATCH/other.toml" origin cost.currency)" "file:$SCRATCH/other.toml:2"
eq "and only it" "$(GREENOPS_CONFIG="$SCRATCH/other.toml" origin cost.carbon_intensity)" default
eq "GREENOPS_CONFIG= reads none" "$(GREENOPS_CONFIG= origin cost.currency)" default
eq "--no-config reads none" "$("$GREENOPS" --no-config config | awk '$1 == "cost.currency" { print $2 }')" default
"$GREENOPS" --no-config run --no-db -- true 2>"$SCRATCH/n.err"
contains "--no-config: the run has the built-in intensity" "$SCRATCH/n.err" "at 475 g/kWh, PUE 1.00$"
GREENOPS_CONFIG="$SCRATCH/missing.toml" "$GREENOPS" config >/dev/null 2>"$SCRATCH/m.err"
eq "GREENOPS_CONFIG naming a missing file: exit 2" "$?" 2
contains "which is named" "$SCRATCH/m.err" "^greenops: cannot read the configuration '$SCRATCH/missing.toml': No such file"

# Errors: exit 2, one line with the file, the line and the key, the command never run.
bad() {
	local name=$1 text=$2 pattern=$3
	printf '%b' "$text" >"$SCRATCH/bad.toml"
	rm -f "$SCRATCH/ran"
	GREENOPS_CONFIG="$SCRATCH/bad.toml" "$GREENOPS" run --no-db -- touch "$SCRATCH/ran" 2>"$SCRATCH/bad.err"
	eq "$name: exit 2" "$?" 2
	contains "$name: named" "$SCRATCH/bad.err" "^greenops: $SCRATCH/bad.toml:$pattern"
	eq "$name: one line" "$(wc -l <"$SCRATCH/bad.err")" 1
	eq "$name: nothing run" "$(test -e "$SCRATCH/ran" && echo ran || echo not)" not
}
bad "a misspelt key" '[cost]\npue = 1.1\nprise = 3\n' "3: unknown key 'cost.prise' \(keys of \[cost\]: carbon_intensity, pue, price_per_kwh, currency\)"
bad "an unknown table" '[costs]\npue = 1.1\n' "2: unknown key 'costs.pue' \(tables: "
bad "a malformed line" '# ok\n\n[measure]\ninterval_ms 50\n' "4: key 'measure.interval_ms': expected '='"
bad "a string for a number" '[cost]\npue = "1.2"\n' "2: key 'cost.pue': expected a number"
bad "a number out of range" '[cost]\npue = 0.5\n' "2: key 'cost.pue': expected a number from 1 to 10"
bad "an unknown source" '[measure]\nsources = ["nvml", "rapl"]\n' "2: key 'measure.sources': unknown source 'rapl'"
bad "sources as a string" '[measure]\nsources = "nvml"\n' "2: key 'measure.sources': expected an array of strings"
bad "a bad idle policy" '[measure]\nidle = "sometimes"\n' "2: key 'measure.idle': expected none, stored"
bad "a relative database" 'database = "results.db"\n' "1: key 'database': expected an absolute path"
bad "a key twice" '[cost]\npue = 1.1\npue = 1.2\n' "3: key 'cost.pue': defined twice \(first on line 2\)"
bad "an unquoted currency" '[cost]\ncurrency = EUR\n' "2: key 'cost.currency': 'EUR' is not a value"
printf '[measure]\nidle = 40\n' >"$SCRATCH/idle.toml"
eq "idle as watts" "$(GREENOPS_CONFIG="$SCRATCH/idle.toml" value measure.idle)" 40
printf 'database = "~/x.db"\n' >"$SCRATCH/home.toml"
eq "a database under ~/" "$(HOME=/home/someone GREENOPS_CONFIG="$SCRATCH/home.toml" value database)" /home/someone/x.db

# A broken file does not hide the help.
printf 'nonsense\n' >"$SCRATCH/bad.toml"
GREENOPS_CONFIG="$SCRATCH/bad.toml" "$GREENOPS" help run >/dev/null 2>&1
eq "help works with a broken file" "$?" 0
"$GREENOPS" --help >"$SCRATCH/help.txt"
contains "--help lists config" "$SCRATCH/help.txt" "^  config +show the settings"
contains "--help lists --no-config" "$SCRATCH/help.txt" "^  --no-config"
done_testing
