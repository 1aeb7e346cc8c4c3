# Sourced by serve_bench.sh and serve_bench_h2.sh (after lib.sh; each sets MOCK, and PY when
# the mock needs a particular interpreter): starting a mock, the checks of the acceptance
# run, and those of a run with injected failures.

# start_mock NAME ARGS...: starts $MOCK logging to $SCRATCH/NAME.log (a later --log wins),
# waits for the port it prints, sets $PORT and $MOCK_PID
start_mock() {
	local name=$1
	shift
	: >"$SCRATCH/$name.port"
	"${PY:-python3}" "$MOCK" --log "$SCRATCH/$name.log" "$@" >"$SCRATCH/$name.port" 2>"$SCRATCH/$name.err" &
	MOCK_PID=$!
	PIDS="$PIDS $MOCK_PID"
	for _ in $(seq 200); do
		PORT=$(awk '/^PORT/ {print $2}' "$SCRATCH/$name.port")
		[ -n "$PORT" ] && return 0
		kill -0 "$MOCK_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "mock $name did not start: $(cat "$SCRATCH/$name.err")" >&2
	return 1
}

pyq() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

# check_failures LABEL MODE JSON STDERR: 100 requests at 20/s of 16 tokens, every 10th failing
# in MODE (http500, event, drop): 10 failed with the reason, the other 90 measured.
check_failures() {
	local label=$1 mode=$2 j=$3 err=$4 reason
	eq "$label: 10 failed" "$(jget "$j" runs.0.failed)" 10
	eq "$label: 90 completed" "$(jget "$j" runs.0.completed)" 90
	eq "$label: the rest measured (1440 tokens)" "$(jget "$j" runs.0.total_output_tokens)" 1440
	# Which requests the TTFT figures hold is exact; how late a loaded machine delivers them is
	# not, but never earlier than the mock's 40 ms (its default TTFT).
	eq "$label: TTFT taken over the 90 that completed" "$(jget "$j" runs.0.ttft_ms.n)" 90
	check "$label: TTFT median of the rest not below the mock's 40 ms" \
		awk -v m="$(jget "$j" runs.0.ttft_ms.median)" 'BEGIN { exit !(m >= 40) }'
	case $mode in
	http500) reason="http 500" ;;
	event) reason="error event" ;;
	drop) reason="connection dropped" ;;
	esac
	eq "$label: reason '$reason' counted" "$(pyq "$j" "d['runs'][0]['errors'].get('$reason')")" 10
	contains "$label: reason shown on stderr" "$err" "failed: 10 x $reason"
}

# check_acceptance PREFIX JSON: the acceptance run (TTFT 40 ms, 16 tokens 10 ms apart, 20
# req/s, 100 requests): all of them measured, token counts from usage, TTFT median 40-60 ms,
# TPOT median 10-12 ms, achieved rate within 5% of the schedule's. PREFIX begins each name.
check_acceptance() {
	local p=$1 j=$2
	eq "${p}100 completed" "$(jget "$j" runs.0.completed)" 100
	eq "${p}no failure" "$(jget "$j" runs.0.failed)" 0
	eq "${p}1600 output tokens" "$(jget "$j" runs.0.total_output_tokens)" 1600
	eq "${p}token counts come from usage" "$(jget "$j" runs.0.output_tokens_approximate)" False
	near "${p}TTFT median 40-60 ms" "$(jget "$j" runs.0.ttft_ms.median)" 50 10
	near "${p}TPOT median 10-12 ms" "$(jget "$j" runs.0.tpot_ms.median)" 11 1
	near "${p}achieved rate within 5% of the schedule's own rate" \
		"$(pyq "$j" 'd["runs"][0]["achieved_rate"] / d["runs"][0]["schedule_rate"]')" 1 0.05
}
