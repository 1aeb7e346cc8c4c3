#!/usr/bin/env bash
# Fuzzes one of greenops's readers with libFuzzer (clang, ASan + UBSan) for a while.
#   bench/fuzz.sh TARGET [SECONDS] [--merge]   (default 180 s)
# TARGET: onnx (ONNX reader and MAC counter), sweep_plan (sweep plans), sse (server-sent
# events and OpenAI chunks), control (control-socket lines on a running monitor), csv
# (analyze's CSV reader), dataset (serve-bench's datasets: JSONL prompts, conversations). The entry point is
# bench/fuzz_TARGET.c, its dictionary bench/fuzz_TARGET.dict where there is one. Seeds come
# from the target's corpus folder; findings are copied to its regress folder, which the test
# suite replays on every run; --merge adds inputs that reach new code to the corpus.
set -eu
cd "$(dirname "$0")/.."
target=${1:?usage: bench/fuzz.sh TARGET [SECONDS] [--merge]}
secs=${2:-180}
merge=${3:-}
fixtures=tests/fixtures/fuzz/$target
extra_seeds=
pkgs=jansson
maxlen=4096
case $target in
onnx)
	make --no-print-directory build/gen/onnx/onnx.pb-c.c >/dev/null
	srcs="src/model/*.c src/base/util.c build/gen/onnx/onnx.pb-c.c"
	pkgs=libprotobuf-c fixtures=tests/fixtures/onnx maxlen=65536
	;;
sweep_plan)
	srcs="src/sweep/plan.c src/base/util.c"
	pkgs=yaml-0.1 fixtures=tests/fixtures/sweep extra_seeds="examples/*.yaml"
	;;
sse) srcs="src/loadgen/sse.c src/base/util.c" ;;
control) srcs="src/meter/*.c src/sources/*.c src/base/*.c" ;;
csv) srcs="src/analysis/table.c src/base/util.c" maxlen=8192 ;;
dataset) srcs="src/loadgen/dataset.c src/base/util.c" pkgs="jansson gsl" maxlen=8192 ;;
*)
	echo "bench/fuzz.sh: unknown target '$target' (onnx, sweep_plan, sse, control, csv, dataset)" >&2
	exit 2
	;;
esac
out=build/fuzz-$target
mkdir -p "$out/corpus" "$out/artifacts" "$fixtures/corpus" "$fixtures/regress"
flags="-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
# shellcheck disable=SC2086 # the source lists are globs
clang $flags -Iinclude -Isrc -Ibuild/gen $(pkg-config --cflags $pkgs) "bench/fuzz_$target.c" $srcs \
	$(pkg-config --libs $pkgs) -ldl -lpthread -lm -o "$out/fuzz_$target"
# shellcheck disable=SC2086
cp -n "$fixtures"/corpus/* $extra_seeds "$out/corpus/" 2>/dev/null || true
dict=
[ -f "bench/fuzz_$target.dict" ] && dict=-dict=bench/fuzz_$target.dict
status=0
"$out/fuzz_$target" -max_total_time="$secs" -max_len="$maxlen" -timeout=10 -rss_limit_mb=2048 \
	$dict -artifact_prefix="$out/artifacts/" -print_final_stats=1 "$out/corpus" 2>"$out/log" || status=$?
tail -n 25 "$out/log"
found=0
for f in "$out"/artifacts/*; do
	[ -f "$f" ] || continue
	cp "$f" "$fixtures/regress/$(basename "$f")"
	found=$((found + 1))
done
if [ "$merge" = --merge ]; then
	"$out/fuzz_$target" -merge=1 "$fixtures/corpus" "$out/corpus" 2>>"$out/log"
fi
echo "fuzz_$target: ${secs} s, exit $status, $found finding(s) copied to $fixtures/regress/"
[ "$status" -eq 0 ] && [ "$found" -eq 0 ]
