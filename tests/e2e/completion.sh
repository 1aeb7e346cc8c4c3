#!/usr/bin/env bash
# Shell completion and the manual page: bash and zsh complete the verbs and each verb's options
# from greenops's own help texts, and greenops(1) renders without roff warnings and holds every
# verb and the options of run.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$TESTS_DIR/.." && pwd)
BIN=$(dirname "$GREENOPS")
export PATH="$BIN:$PATH"

# --- bash ---
# bcomp WORD...: the completions bash offers for the last word of `greenops WORD...`
bcomp() {
	bash -c '. "$1"; shift; COMP_WORDS=(greenops "$@"); COMP_CWORD=$#; _greenops; printf "%s\n" "${COMPREPLY[@]}"' \
		_ "$ROOT/contrib/completion/greenops.bash" "$@"
}
bcomp "" >"$SCRATCH/verbs"
for v in run list idle sweep report serve-bench analyze; do
	contains "bash: verb $v" "$SCRATCH/verbs" "^$v\$"
done
bcomp se >"$SCRATCH/se"
eq "bash: 'se' completes to serve-bench" "$(cat "$SCRATCH/se")" serve-bench
bcomp sw >"$SCRATCH/sw"
eq "bash: 'sw' completes to sweep" "$(cat "$SCRATCH/sw")" sweep
bcomp run --re >"$SCRATCH/re"
eq "bash: run --re completes to --repeat" "$(cat "$SCRATCH/re")" --repeat
bcomp run --json out.json --mi >"$SCRATCH/mi"
eq "bash: options after an option's value" "$(cat "$SCRATCH/mi")" --min-duration
bcomp serve-bench --ra >"$SCRATCH/ra"
contains "bash: serve-bench's own options (--rate)" "$SCRATCH/ra" '^--rate$'
bcomp run -- ech >"$SCRATCH/cmd"
contains "bash: after --, the measured command is completed as a command" "$SCRATCH/cmd" '^echo$'
bcomp help rep >"$SCRATCH/help"
eq "bash: help completes verbs" "$(cat "$SCRATCH/help")" report

# --- zsh: the function run with the completion system's builtins standing in ---
if command -v zsh >/dev/null; then
	zcomp() {
		zsh -f -c '
			_describe() { local a; for a in ${(P)2}; do print -r -- ${a%%:*}; done }
			compadd() { [[ $1 == -a ]] && print -rl -- ${(P)2} }
			_files() { print -r -- "(files)" }
			_normal() { print -r -- "(command line from ${words[1]})" }
			source "$1"; shift
			words=(greenops "$@"); CURRENT=$#words; PREFIX=${words[-1]}
			_greenops' _ "$ROOT/contrib/completion/_greenops" "$@" | grep -- "^${@: -1}"
	}
	zcomp "" >"$SCRATCH/zverbs"
	contains "zsh: verb serve-bench" "$SCRATCH/zverbs" '^serve-bench$'
	eq "zsh: run --wa completes to --warmup" "$(zcomp run --wa)" --warmup
	zsh -n "$ROOT/contrib/completion/_greenops"
	eq "zsh: the script parses" "$?" 0
else
	not_ok "zsh is installed (scripts/deps.sh installs it as root)"
fi

# --- the manual page ---
man1="$BUILD_ABS/greenops.1"
if [ -s "$man1" ]; then
	groff -ww -z -man "$man1" >"$SCRATCH/groff" 2>&1
	eq "greenops.1 renders with no roff warning" "$(cat "$SCRATCH/groff")" ""
	MANWIDTH=100 man -l "$man1" 2>/dev/null | col -b >"$SCRATCH/man.txt"
	for v in $("$GREENOPS" --help | awk '/^verbs:/ { on = 1; next } on && NF { print $1 }'); do
		contains "greenops.1 has a section for $v" "$SCRATCH/man.txt" "^   $v\$"
	done
	contains "greenops.1 has run's --repeat" "$SCRATCH/man.txt" '--repeat N'
	contains "greenops.1 keeps the help texts' characters (±)" "$SCRATCH/man.txt" '±'
else
	not_ok "make builds $man1"
fi
done_testing
