#!/usr/bin/env bash
# Reading a large ONNX model (default ~500 MB: 2048x2048 MatMul layers with raw_data weights):
# wall time and peak RSS of `greenops macs`, warm and with the file evicted from the page cache,
# against protobuf-c unpacking the whole model. Targets: under 1 s and under 100 MB.
#   bench/macs_large.sh [MB]
set -eu
cd "$(dirname "$0")/.."
mb=${1:-500}
make --no-print-directory -j2 build/greenops build/tests/onnx_gen build/bench/macs_read >/dev/null
dir=$(mktemp -d /tmp/macs_large.XXXXXX)
trap 'rm -rf "$dir"' EXIT
model="$dir/large.onnx"
echo "generating: $(build/tests/onnx_gen large "$model" "$mb"), $(stat -c %s "$model") bytes"

# Drops this one file's pages from the page cache (nothing else is touched).
evict() {
	python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
os.close(fd)' "$1"
}

# measure LABEL cold|warm RUNS CMD...: median wall time and largest peak RSS of the runs.
measure() {
	local label=$1 mode=$2 runs=$3
	shift 3
	local times="" rss=0
	for _ in $(seq "$runs"); do
		[ "$mode" = cold ] && evict "$model"
		local t0 t1
		t0=$(date +%s%N)
		/usr/bin/time -f %M -o "$dir/rss" "$@" >/dev/null
		t1=$(date +%s%N)
		times="$times $(((t1 - t0) / 1000))"
		local r
		r=$(tail -n 1 "$dir/rss")
		[ "$r" -gt "$rss" ] && rss=$r
	done
	local med
	med=$(printf '%s\n' $times | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
	printf '%-44s %5s  %9.3f s  %8.1f MB\n' "$label" "$mode" "$(awk -v u="$med" 'BEGIN {print u / 1e6}')" \
		"$(awk -v k="$rss" 'BEGIN {print k / 1024}')"
}

cat "$model" >/dev/null # warm
printf '%-44s %5s  %11s  %11s\n' "what" "cache" "median time" "peak RSS"
measure "greenops macs --json (payloads skipped)" warm 5 build/greenops macs "$model" --json /dev/null
measure "greenops macs --json (payloads skipped)" cold 3 build/greenops macs "$model" --json /dev/null
measure "reader only (payloads skipped)" warm 5 build/bench/macs_read "$model" strip
measure "protobuf-c unpack of the whole model" warm 3 build/bench/macs_read "$model" plain
measure "protobuf-c unpack of the whole model" cold 1 build/bench/macs_read "$model" plain
build/greenops macs "$model" --summary | tail -n 5
