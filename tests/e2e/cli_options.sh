# Option handling shared by every verb: a missing value is named as such, not as an unknown
# option; the flags that several verbs share take the same arguments.
. "$(dirname "$0")/lib.sh"

for args in "run --units" "idle --duration" "list --sources" "runs --limit" "show --db" \
	"export-csv -o" "export-csv runs --db" "analyze --db" "macs --batch"; do
	set -- $args
	"$GREENOPS" "$@" 2>"$SCRATCH/o.err" </dev/null
	rc=$?
	opt=$(eval echo "\${$#}")
	eq "$args: a missing value exits 2" "$rc" 2
	contains "$args: says the value is missing" "$SCRATCH/o.err" "option '$opt' needs a value"
done
for verb in run idle list runs show export-csv analyze macs; do
	"$GREENOPS" $verb --no-such-flag 2>"$SCRATCH/o.err" </dev/null
	contains "$verb: an unknown option is named" "$SCRATCH/o.err" "unknown option '--no-such-flag'"
done
done_testing
