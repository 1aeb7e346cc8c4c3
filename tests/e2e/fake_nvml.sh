# Shell helpers for end-to-end tests that drive the fake libnvidia-ml (docs/NVML.md); source it
# after lib.sh. Run directly, as the test runner does, it checks itself against the fake.
#   fake_nvml_setup [VARIANT]   load build/tests/libfake-nvml[-VARIANT].so (noenergy, nofield, ...)
#                               through GREENOPS_NVML_LIBRARY, with a fresh FAKE_NVML_SCRIPT under
#                               $SCRATCH; other FAKE_NVML_* and CUDA_VISIBLE_DEVICES are unset
#   fakegpu GPU EVENT [+MS]     append "<date +%s%N> GPU EVENT" to the script, MS milliseconds
#                               ahead when given; GPU is an index or '*'; EVENT is a power in
#                               watts, lost, reset, notsup, freeze, thaw, noperm, errors, ok,
#                               'procs N' or 'util N'

fake_nvml_setup() {
	local lib="$BUILD_ABS/tests/libfake-nvml${1:+-$1}.so" v
	if [ ! -f "$lib" ]; then
		echo "fake_nvml_setup: $lib is missing (make tests builds it)" >&2
		return 1
	fi
	for v in $(compgen -e FAKE_NVML_); do unset "$v"; done
	unset CUDA_VISIBLE_DEVICES
	export GREENOPS_NVML_LIBRARY="$lib"
	FAKE_NVML_SCRIPT=$(mktemp "$SCRATCH/nvml-script.XXXXXX") || return 1
	export FAKE_NVML_SCRIPT
}

fakegpu() {
	if [ $# -lt 2 ] || [ -z "${FAKE_NVML_SCRIPT:-}" ]; then
		echo "usage: fakegpu GPU WATTS|lost|reset|notsup|procs N|util N [+MS] (after fake_nvml_setup)" >&2
		return 2
	fi
	local gpu=$1 ahead=0 last
	shift
	last=${*: -1}
	case $last in
	+[0-9]*)
		ahead=${last#+}
		set -- "${@:1:$(($# - 1))}"
		;;
	esac
	printf '%s %s %s\n' "$(($(date +%s%N) + ahead * 1000000))" "$gpu" "$*" >>"$FAKE_NVML_SCRIPT"
}

# --- self-test: the helpers write what the fake reads, and the fake acts on it ---
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	. "$(dirname "$0")/lib.sh"

	# Prints what NVML says about each GPU once field 186 shows WANT_W on gpu0 (or 3 s passed):
	# "gpuN handle=RC power_w=W energy=RC step_mj=D" (D: counter change over one period).
	probe() {
		local preload=""
		# A sanitized build's fake needs its runtime loaded first, even in python
		if readelf -d "$GREENOPS_NVML_LIBRARY" 2>/dev/null | grep -q 'NEEDED.*libasan'; then
			preload=$(${CC:-cc} -print-file-name=libasan.so)
		fi
		LD_PRELOAD=$preload ASAN_OPTIONS=detect_leaks=0 python3 - "$GREENOPS_NVML_LIBRARY" "$1" <<'EOF'
import ctypes as C, sys, time
lib = C.CDLL(sys.argv[1]); want = float(sys.argv[2])
class Value(C.Union):
    _fields_ = [("d", C.c_double), ("ui", C.c_uint), ("ull", C.c_ulonglong)]
class Field(C.Structure):
    _fields_ = [("fieldId", C.c_uint), ("scopeId", C.c_uint), ("timestamp", C.c_longlong),
                ("latencyUsec", C.c_longlong), ("valueType", C.c_int), ("nvmlReturn", C.c_int),
                ("value", Value)]
assert C.sizeof(Field) == 40
assert lib.nvmlInit_v2() == 0
n = C.c_uint(); lib.nvmlDeviceGetCount_v2(C.byref(n))
def power(dev):
    f = Field(fieldId=186)
    rc = lib.nvmlDeviceGetFieldValues(dev, 1, C.byref(f))
    return f.value.ui / 1000 if rc == 0 and f.nvmlReturn == 0 else -1
def energy(dev):
    if not hasattr(lib, "nvmlDeviceGetTotalEnergyConsumption"):
        return "missing", 0
    e = C.c_ulonglong(); rc = lib.nvmlDeviceGetTotalEnergyConsumption(dev, C.byref(e))
    return rc, e.value
devs = []
for i in range(n.value):
    d = C.c_void_p(); devs.append((lib.nvmlDeviceGetHandleByIndex_v2(i, C.byref(d)), d))
end = time.time() + 3
while devs[0][0] == 0 and power(devs[0][1]) != want and time.time() < end:
    time.sleep(0.005)
for i, (rc, d) in enumerate(devs):
    w = power(d) if rc == 0 else -1
    erc, e0 = energy(d) if rc == 0 else (rc, 0)
    step = 0
    if erc == 0:
        e1 = e0
        while e1 == e0 and time.time() < end + 1:
            erc, e1 = energy(d)
        # The smallest of a few consecutive changes: one period's, even where a busy machine
        # kept this process from looking for a period or two.
        steps = []
        for k in range(5):
            e0 = e1
            while e1 == e0 and time.time() < end + 2 + k:
                erc, e1 = energy(d)
            steps.append(e1 - e0)
        step = min(steps)
    print("gpu%d handle=%d power_w=%g energy=%s step_mj=%d" % (i, rc, w, erc, step))
lib.nvmlShutdown()
EOF
	}

	fake_nvml_setup
	check "setup points GREENOPS_NVML_LIBRARY at the fake" test "$GREENOPS_NVML_LIBRARY" = "$FAKE_NVML"
	check "setup makes a fresh script under \$SCRATCH" test -f "$FAKE_NVML_SCRIPT" -a ! -s "$FAKE_NVML_SCRIPT"
	export FAKE_NVML_GPUS=2 FAKE_NVML_PERIOD_MS=50
	before=$(date +%s%N)
	fakegpu 0 300
	fakegpu 1 lost +600000
	after=$(date +%s%N)
	read -r t gpu ev <"$FAKE_NVML_SCRIPT"
	check "fakegpu stamps the line with date +%s%N" test "$t" -ge "$before" -a "$t" -le "$after"
	eq "fakegpu writes GPU and event" "$gpu $ev" "0 300"
	t2=$(awk 'NR == 2 { print $1 }' "$FAKE_NVML_SCRIPT")
	near "fakegpu +MS stamps ahead (ms)" "$(((t2 - t) / 1000000))" 600000 "$(((after - before) / 1000000 + 1))"
	contains "fakegpu writes multi-word events" <(fakegpu '*' procs 3 && tail -n 1 "$FAKE_NVML_SCRIPT") '^[0-9]+ \* procs 3$'

	probe 300 >"$SCRATCH/probe1"
	contains "the fake follows the script: 300 W on gpu0" "$SCRATCH/probe1" '^gpu0 handle=0 power_w=300 energy=0 step_mj=15000$'
	contains "gpu1 stays at the idle 60 W until its line's time" "$SCRATCH/probe1" '^gpu1 handle=0 power_w=60 energy=0 step_mj=3000$'

	fakegpu 1 lost
	fakegpu 0 notsup
	probe 300 >"$SCRATCH/probe2"
	contains "lost: gpu1 is GPU_IS_LOST (15)" "$SCRATCH/probe2" '^gpu1 handle=15 '
	contains "notsup: gpu0's counter is NOT_SUPPORTED (3)" "$SCRATCH/probe2" '^gpu0 handle=0 power_w=300 energy=3 '

	fake_nvml_setup noenergy
	export FAKE_NVML_PERIOD_MS=50
	probe 60 >"$SCRATCH/probe3"
	contains "noenergy variant has no counter symbol" "$SCRATCH/probe3" '^gpu0 handle=0 power_w=60 energy=missing '
	check "fake_nvml_setup fails on an unknown variant" eval '! fake_nvml_setup nosuch 2>/dev/null'
	done_testing
fi
