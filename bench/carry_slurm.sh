#!/bin/sh
# Copies Debian's Slurm and munge (daemons, clients, plugins) and every library they need,
# the C library's own excepted, into a folder under bench/carry, for a machine that has no
# Slurm: bench/carry_slurm.sh [FOLDER] (default bench/carry/slurm).
set -eu
cd "$(dirname "$0")/.."
dest=${1:-bench/carry/slurm}
case "$dest" in bench/carry/*) ;; *) echo "carry_slurm.sh: '$dest' is not under bench/carry" >&2; exit 2 ;; esac
rm -rf "$dest"
mkdir -p "$dest/bin" "$dest/lib" "$dest/plugins"
for b in /usr/sbin/slurmctld /usr/sbin/slurmd /usr/sbin/slurmstepd /usr/sbin/munged /usr/bin/srun \
	/usr/bin/sbatch /usr/bin/sinfo /usr/bin/squeue /usr/bin/scontrol; do
	cp -L "$b" "$dest/bin/"
done
cp -L /usr/lib/x86_64-linux-gnu/slurm-wlm/*.so "$dest/plugins/"
for f in "$dest"/bin/* "$dest"/plugins/*; do ldd "$f" 2>/dev/null; done | awk '/=>/ { print $3 }' | sort -u |
	while read -r lib; do
		case "$(basename "$lib")" in
		libc.so* | libm.so* | libdl.so* | libpthread.so* | ld-linux* | librt.so* | libresolv.so*) ;;
		*) [ -f "$lib" ] && cp -L "$lib" "$dest/lib/" ;;
		esac
	done
echo "$dest: $(find "$dest" -type f | wc -l) files, $(du -sh "$dest" | cut -f1)"
