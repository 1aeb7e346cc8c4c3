# bash completion for greenops. The verbs and each verb's options are read from greenops's own
# help texts when asked, so they never fall out of step with the installed binary.
# Installed as share/bash-completion/completions/greenops by `make install`.
_greenops() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]} g=${COMP_WORDS[0]} i verb=
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		--) # after `--`, the measured command: complete it as a command line
			if ((i == COMP_CWORD - 1)); then
				mapfile -t COMPREPLY < <(compgen -c -- "$cur")
			else
				mapfile -t COMPREPLY < <(compgen -f -- "$cur")
			fi
			return
			;;
		-*) ;;
		*) [ -z "$verb" ] && verb=${COMP_WORDS[i]} ;;
		esac
	done
	if [ -z "$verb" ]; then
		local verbs
		verbs=$("$g" --help 2>/dev/null | awk '/^verbs:/ { on = 1; next } on && NF { print $1 }')
		mapfile -t COMPREPLY < <(compgen -W "$verbs help --help --version" -- "$cur")
		return
	fi
	if [ "$verb" = help ]; then
		mapfile -t COMPREPLY < <(compgen -W "$("$g" --help 2>/dev/null | awk '/^verbs:/ { on = 1; next } on && NF { print $1 }')" -- "$cur")
		return
	fi
	case $cur in
	-*)
		mapfile -t COMPREPLY < <(compgen -W "$("$g" help "$verb" 2>&1 | grep -oE -- '--[a-z0-9][a-z0-9-]*' | sort -u)" -- "$cur")
		;;
	*)
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		;;
	esac
}
complete -F _greenops -o filenames greenops
