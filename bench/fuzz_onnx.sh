#!/usr/bin/env bash
# Fuzzes the ONNX reader and MAC counter with libFuzzer (clang, ASan + UBSan) for a while.
# Seeds: tests/fixtures/onnx/corpus (models from onnx_gen); findings are copied to
# tests/fixtures/onnx/regress/, which test_onnx reads on every test run.
#   bench/fuzz_onnx.sh [SECONDS] [--merge]   (default 180 s; --merge adds inputs that reach
#                                            new code to the committed corpus)
set -eu
cd "$(dirname "$0")/.."
secs=${1:-180}
merge=${2:-}
out=build/fuzz
mkdir -p "$out/corpus" "$out/artifacts" tests/fixtures/onnx/regress
make --no-print-directory build/gen/onnx/onnx.pb-c.c >/dev/null
flags="-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
clang $flags -Iinclude -Isrc -Ibuild/gen $(pkg-config --cflags libprotobuf-c) \
	bench/fuzz_onnx.c src/model/*.c src/base/util.c build/gen/onnx/onnx.pb-c.c \
	$(pkg-config --libs libprotobuf-c) -lm -o "$out/fuzz_onnx"
cp -n tests/fixtures/onnx/corpus/* "$out/corpus/" 2>/dev/null || true
status=0
"$out/fuzz_onnx" -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
	-dict=bench/fuzz_onnx.dict -artifact_prefix="$out/artifacts/" -print_final_stats=1 \
	"$out/corpus" 2>"$out/log" || status=$?
tail -n 25 "$out/log"
found=0
for f in "$out"/artifacts/*; do
	[ -f "$f" ] || continue
	cp "$f" tests/fixtures/onnx/regress/"$(basename "$f")"
	found=$((found + 1))
done
if [ "$merge" = --merge ]; then
	"$out/fuzz_onnx" -merge=1 tests/fixtures/onnx/corpus "$out/corpus" 2>>"$out/log"
fi
echo "fuzz_onnx: ${secs} s, exit $status, $found finding(s) copied to tests/fixtures/onnx/regress/"
[ "$status" -eq 0 ] && [ "$found" -eq 0 ]
