#!/bin/sh
# Copies build/greenops and the shared libraries it needs (all but the C library's own)
# into one folder (default bench/carry/), so it runs on a machine without development packages:
#   bench/carry.sh [BINARY [FOLDER]]; LD_LIBRARY_PATH=bench/carry bench/carry/greenops ...
set -eu
cd "$(dirname "$0")/.."
bin=${1:-build/greenops}
dest=${2:-bench/carry}
case "$dest" in bench/carry | bench/carry/*) ;; *) echo "carry.sh: '$dest' is not under bench/carry (the ignored folder)" >&2; exit 2 ;; esac
rm -rf "$dest"
mkdir -p "$dest"
cp "$bin" "$dest/greenops"
ldd "$bin" | awk '/=>/ { print $3 }' | while read -r lib; do
	case "$(basename "$lib")" in
	libc.so* | libm.so* | libdl.so* | libpthread.so* | ld-linux* | librt.so*) ;;
	*) cp -L "$lib" "$dest/" ;;
	esac
done
echo "bench/carry: $(ls "$dest" | wc -l) files, $(du -sh "$dest" | cut -f1)"
