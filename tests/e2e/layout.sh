#!/usr/bin/env bash
# The layout of docs/ARCHITECTURE.md holds: each part of src/ includes only what its arrows
# allow, a source's header is its own, the library sets no environment variable, the
# metering files include each other without a circle. Each rule is then broken in a copy of
# the tree, to show that it can fail.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$TESTS_DIR/.." && pwd)
RULES="$TESTS_DIR/e2e/layout_rules.py"

describe() {
	case $1 in
	folders) echo "every folder under src/ has arrows" ;;
	arrows) echo "each part includes only what its arrows allow" ;;
	library-tool) echo "src/base, sources, meter and store include no part of the tool" ;;
	sources) echo "no file includes another source's header" ;;
	env) echo "no setenv/putenv in the library folders" ;;
	circle) echo "no include circle among the metering files" ;;
	esac
}

for rule in folders arrows library-tool sources env circle; do
	python3 "$RULES" "$ROOT" "$rule" >"$SCRATCH/$rule.out" 2>&1
	eq "$(describe $rule)" "$(cat "$SCRATCH/$rule.out")" ""

	copy="$SCRATCH/broken-$rule"
	mkdir -p "$copy"
	cp -r "$ROOT/src" "$copy/src"
	[ -d "$ROOT/contrib" ] && cp -r "$ROOT/contrib" "$copy/contrib"
	python3 "$RULES" "$copy" break "$rule" && python3 "$RULES" "$copy" "$rule" >"$SCRATCH/$rule.broken" 2>&1
	n=$(grep -c . "$SCRATCH/$rule.broken")
	check "... and a tree that breaks it fails ($n found: $(head -1 "$SCRATCH/$rule.broken"))" test "$n" -gt 0
	rm -rf "$copy"
done
done_testing
