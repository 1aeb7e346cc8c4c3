#!/bin/sh
# Copies build/greenops and the shared libraries it needs (all but the C library's own)
# into bench/carry/, so it runs on a machine without development packages:
#   LD_LIBRARY_PATH=bench/carry bench/carry/greenops ...
set -eu
cd "$(dirname "$0")/.."
bin=${1:-build/greenops}
dest=bench/carry
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
