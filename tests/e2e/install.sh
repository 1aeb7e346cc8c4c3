# make install and make uninstall into a scratch prefix: greenops.pc names the prefix it was
# installed under, and uninstall leaves no file behind.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$TESTS_DIR/.." && pwd)
inst() { make -s -C "$ROOT" BUILD="$BUILD_ABS" PREFIX="$1" "$2" >"$SCRATCH/make.log" 2>&1; }

for p in "$SCRATCH/one" "$SCRATCH/two"; do
	inst "$p" install
	eq "install under $(basename "$p") succeeds" "$?" 0
	contains "greenops.pc names prefix $(basename "$p")" "$p/lib/pkgconfig/greenops.pc" "^prefix=$p\$"
	"$p/bin/greenops" --version >/dev/null
	eq "the installed binary runs" "$?" 0
	for f in share/man/man1/greenops.1 share/bash-completion/completions/greenops share/zsh/site-functions/_greenops; do
		check "installs $f" test -s "$p/$f"
	done
done
PKG_CONFIG_PATH="$SCRATCH/two/lib/pkgconfig" pkg-config --cflags greenops >"$SCRATCH/cflags" 2>&1
contains "pkg-config finds the headers under the prefix" "$SCRATCH/cflags" "-I$SCRATCH/two/include"
for p in "$SCRATCH/one" "$SCRATCH/two"; do
	inst "$p" uninstall
	eq "uninstall from $(basename "$p") succeeds" "$?" 0
	left=$(find "$p" -type f -o -type l | head -5)
	eq "uninstall leaves no file in $(basename "$p")" "$left" ""
done
done_testing
