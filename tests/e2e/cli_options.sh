# Option handling shared by every verb: a missing value is named as such, not as an unknown
# option; the flags that several verbs share take the same arguments.
. "$(dirname "$0")/lib.sh"

for args in "run --units" "idle --duration" "list --sources" "runs --limit" "show --db" \
	"export-csv -o" "export-csv runs --db" "analyze --db" "macs --batch" "top --delay"; do
	set -- $args
	"$GREENOPS" "$@" 2>"$SCRATCH/o.err" </dev/null
	rc=$?
	opt=$(eval echo "\${$#}")
	eq "$args: a missing value exits 2" "$rc" 2
	contains "$args: says the value is missing" "$SCRATCH/o.err" "option '$opt' needs a value"
done
for verb in run idle list runs show export-csv analyze macs top; do
	"$GREENOPS" $verb --no-such-flag 2>"$SCRATCH/o.err" </dev/null
	contains "$verb: an unknown option is named" "$SCRATCH/o.err" "unknown option '--no-such-flag'"
done

# --json takes FILE or - in every verb that has it.
"$GREENOPS" run -q -- true
"$GREENOPS" runs --json "$SCRATCH/runs.json" >"$SCRATCH/runs.out"
eq "runs --json FILE exits 0" "$?" 0
eq "runs --json FILE writes the runs there" \
	"$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$SCRATCH/runs.json")" 1
contains "... and the table on stdout" "$SCRATCH/runs.out" "^ +ID +STARTED"
"$GREENOPS" runs --json - >"$SCRATCH/runs2.json"
eq "runs --json - writes JSON alone on stdout" \
	"$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$SCRATCH/runs2.json")" 1
for verb in list show runs; do
	"$GREENOPS" help $verb | grep -q -- "--json FILE"
	eq "$verb: help says --json FILE" "$?" 0
done

# Every verb's help names the same default database.
for verb in run idle runs show export-csv analyze; do
	line=$("$GREENOPS" help $verb | grep -A1 -- '--db PATH' | tr -s ' \n' ' ')
	case $line in
	*'default $GREENOPS_DB, else config, else ~/.local/share/greenops/greenops.db'*) ok "$verb: help names the default database" ;;
	*) not_ok "$verb: help names the default database" "$line" ;;
	esac
done
done_testing
