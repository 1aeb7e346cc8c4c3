# A deliberate wait is announced: `greenops run --idle measure:S` and `greenops idle` count
# down on a terminal (a pseudo-terminal from script(1) here) and say once what they do
# otherwise.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fake_nvml.sh"
fake_nvml_setup

"$GREENOPS" run --no-db --sources nvml --idle measure:1 -- true 2>"$SCRATCH/run.err"
eq "run --idle measure exits 0" "$?" 0
contains "without a terminal: one line says what it waits for" "$SCRATCH/run.err" \
	"^greenops run: measuring idle power before the command starts for 1 s$"

script -qfec "'$GREENOPS' run --no-db --sources nvml --idle measure:2.5 -- true" /dev/null \
	>"$SCRATCH/tty.out" 2>&1
contains "on a terminal: the seconds left are shown" "$SCRATCH/tty.out" \
	"measuring idle power before the command starts, 3 s left"
contains "... and counted down" "$SCRATCH/tty.out" "starts, 1 s left"
contains "... and the summary follows" "$SCRATCH/tty.out" "greenops: energy of 'true'"

"$GREENOPS" run --no-db -q --sources nvml --idle measure:1 -- true 2>"$SCRATCH/q.err"
eq "--quiet: nothing on stderr" "$(cat "$SCRATCH/q.err")" ""

script -qfec "'$GREENOPS' idle --no-db --force --sources nvml --duration 2" /dev/null \
	>"$SCRATCH/idle.out" 2>&1
contains "idle counts down on a terminal" "$SCRATCH/idle.out" "greenops idle: measuring idle power, 2 s left"
"$GREENOPS" idle --no-db --force --sources nvml --duration 1 >/dev/null 2>"$SCRATCH/idle.err"
contains "idle without a terminal: one line" "$SCRATCH/idle.err" "^greenops idle: measuring idle power for 1 s$"
done_testing
