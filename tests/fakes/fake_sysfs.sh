# Builders of fake powercap trees for end-to-end tests and benchmarks (bash).
# fake_rapl_zone ROOT ZONE NAME RANGE_UJ [MAX_POWER_UW] [ENERGY_UJ]
fake_rapl_zone() {
	local d="$1/class/powercap/$2"
	mkdir -p "$d"
	echo "$3" >"$d/name"
	echo "$4" >"$d/max_energy_range_uj"
	echo "${6:-1}" >"$d/energy_uj"
	if [ -n "${5:-}" ] && [ "$5" != 0 ]; then echo "$5" >"$d/constraint_0_max_power_uw"; fi
}

# wait_for_file FILE [SECONDS]: polls until FILE exists; fails after SECONDS (default 10).
wait_for_file() {
	local i=0 n=$((${2:-10} * 100))
	while [ ! -e "$1" ]; do
		i=$((i + 1))
		[ "$i" -gt "$n" ] && return 1
		sleep 0.01
	done
}
