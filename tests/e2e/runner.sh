# tests/run.sh itself: each test program's result is printed as it ends, not after all of them.
. "$(dirname "$0")/lib.sh"
RUNNER="$TESTS_DIR/run.sh"
mkdir -p "$SCRATCH/tree/b/tests" "$SCRATCH/tree/tests/e2e"
OUT="$SCRATCH/tree/out"
cat >"$SCRATCH/tree/b/tests/test_fast" <<'T'
#!/bin/sh
echo "ok 1 - fast"
T
# The slow test waits (up to a minute) until the runner has printed the fast one's result.
cat >"$SCRATCH/tree/b/tests/test_slow" <<T
#!/bin/sh
for i in \$(seq 600); do
	grep -q '^test_fast: 1 passed' "$OUT" && { echo "ok 1 - saw the fast result first"; exit 0; }
	sleep 0.1
done
echo "not ok 1 - the fast result was not printed while the slow test ran"
T
cat >"$SCRATCH/tree/b/tests/test_bad" <<'T'
#!/bin/sh
echo "ok 1 - one"
echo "not ok 2 - two"
T
chmod +x "$SCRATCH"/tree/b/tests/test_*
(cd "$SCRATCH/tree" && TEST_JOBS=3 bash "$RUNNER" b >"$OUT" 2>&1)
eq "the runner fails when a test fails" "$?" 1
contains "the slow test saw the fast result printed" "$OUT" "^test_slow: 1 passed"
contains "a failing test's log is shown" "$OUT" "^not ok 2 - two"
contains "the summary counts all" "$OUT" "^3 passed, 1 failed$"
done_testing
