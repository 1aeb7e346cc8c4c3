#!/usr/bin/env bash
# Two `make test` at once, as CI meets them on a shared machine: each in its own fresh clone of
# this repository's HEAD (its own build folder, its own everything), started together. Prints
# the load, each run's summary line ("N passed, N failed") and, for a run that failed, the
# sections of the tests that failed. Exits 0 only when both runs end with 0 failed.
#   bench/parallel_tests.sh [REV]     (REV: what to test, default HEAD; commit first)
set -u
repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel) || exit 2
rev=$(git -C "$repo" rev-parse --verify "${1:-HEAD}^{commit}") || exit 2
work=$(mktemp -d "${TMPDIR:-/tmp}/greenops-parallel.XXXXXX") || exit 2
trap 'rm -rf "$work"' EXIT

for i in 1 2; do
	git clone -q --shared --no-checkout "$repo" "$work/$i" && git -C "$work/$i" checkout -q "$rev" || exit 2
done
echo "testing $(git -C "$repo" log -1 --format='%h %s' "$rev" | cut -c1-100)"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
start=$(date +%s)
for i in 1 2; do
	(
		cd "$work/$i" && make test >"$work/$i.log" 2>&1
		echo $? >"$work/$i.rc"
	) &
done
wait
echo "both done in $(($(date +%s) - start)) s; load after: $(cut -d' ' -f1-3 /proc/loadavg)"

status=0
for i in 1 2; do
	summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$work/$i.log" | tail -n 1)
	rc=$(cat "$work/$i.rc" 2>/dev/null || echo '?')
	echo "run $i: ${summary:-no summary line} (make test exit $rc)"
	case "$summary" in
	*" 0 failed") [ "$rc" = 0 ] || status=1 ;;
	*)
		status=1
		if [ -z "$summary" ]; then
			tail -n 30 "$work/$i.log" | sed "s/^/  run $i: /"
		else
			# Every failed test's section, as tests/run.sh printed it.
			awk '/^--- / { on = 1 } /^[a-z0-9_.]+: [0-9]+ passed$/ { on = 0 } on' "$work/$i.log" |
				sed "s/^/  run $i: /"
		fi
		;;
	esac
done
exit $status
