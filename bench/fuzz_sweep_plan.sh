#!/usr/bin/env bash
# Fuzzes the sweep plan reader with libFuzzer (clang, ASan + UBSan) for a while.
# Seeds: tests/fixtures/sweep/corpus (the examples and test plans); findings are copied to
# tests/fixtures/sweep/regress/, which test_sweep_plan reads on every test run.
#   bench/fuzz_sweep_plan.sh [SECONDS] [--merge]   (default 180 s; --merge adds inputs that
#                                                  reach new code to the committed corpus)
set -eu
cd "$(dirname "$0")/.."
secs=${1:-180}
merge=${2:-}
out=build/fuzz-sweep
mkdir -p "$out/corpus" "$out/artifacts" tests/fixtures/sweep/regress
flags="-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
clang $flags -Iinclude -Isrc $(pkg-config --cflags yaml-0.1) \
	bench/fuzz_sweep_plan.c src/sweep/plan.c src/base/util.c \
	$(pkg-config --libs yaml-0.1) -lm -o "$out/fuzz_sweep_plan"
cp -n tests/fixtures/sweep/corpus/* examples/*.yaml "$out/corpus/" 2>/dev/null || true
status=0
"$out/fuzz_sweep_plan" -max_total_time="$secs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
	-dict=bench/fuzz_sweep_plan.dict -artifact_prefix="$out/artifacts/" -print_final_stats=1 \
	"$out/corpus" 2>"$out/log" || status=$?
tail -n 25 "$out/log"
found=0
for f in "$out"/artifacts/*; do
	[ -f "$f" ] || continue
	cp "$f" tests/fixtures/sweep/regress/"$(basename "$f")"
	found=$((found + 1))
done
if [ "$merge" = --merge ]; then
	"$out/fuzz_sweep_plan" -merge=1 tests/fixtures/sweep/corpus "$out/corpus" 2>>"$out/log"
fi
echo "fuzz_sweep_plan: ${secs} s, exit $status, $found finding(s) copied to tests/fixtures/sweep/regress/"
[ "$status" -eq 0 ] && [ "$found" -eq 0 ]
