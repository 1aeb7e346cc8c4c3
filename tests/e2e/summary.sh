# The summary `greenops run` prints: figures with SI prefixes and significant digits (no
# exponents, no "0.000 Wh"), a price in the named currency, units from --units and from the
# command told apart, and notes about absent sensors said once, briefly.
. "$(dirname "$0")/lib.sh"
export GREENOPS_NVML_LIBRARY=/nonexistent/libnvidia-ml.so.1 GREENOPS_SYSFS_ROOT="$SCRATCH/empty"
mkdir -p "$SCRATCH/empty"
cat >"$SCRATCH/units.py" <<'P'
import os, socket
s = socket.socket(socket.AF_UNIX); s.connect(os.environ["GREENOPS_CONTROL"])
s.sendall(b"units 1160\n"); s.close()
P
"$GREENOPS" run --units 100 --price 0.3 --currency EUR --json "$SCRATCH/u.json" \
	-- python3 "$SCRATCH/units.py" 2>"$SCRATCH/u.err"
eq "the run exits 0" "$?" 0
eq "the units add up" "$(jget "$SCRATCH/u.json" units)" 1260.0
contains "the summary says how the units were added" "$SCRATCH/u.err" \
	"1260 units \(100 from --units \+ 1160 reported by the command\)"
if grep -Eq '[0-9]e[-+][0-9]' "$SCRATCH/u.err"; then
	not_ok "no figure in exponent notation" "$(grep -E '[0-9]e[-+][0-9]' "$SCRATCH/u.err")"
else
	ok "no figure in exponent notation"
fi
if grep -q '= 0\.000 Wh' "$SCRATCH/u.err"; then not_ok "no '= 0.000 Wh'"; else ok "no '= 0.000 Wh'"; fi
contains "energy per unit with an SI prefix" "$SCRATCH/u.err" " [0-9.]+ (mJ|µJ|J)/unit"
contains "CO2e with an SI prefix" "$SCRATCH/u.err" " [0-9.]+ (mg|µg|g) CO2e"
contains "the price in the currency given" "$SCRATCH/u.err" " 0\.0[0-9]* EUR +at 0\.3 EUR per kWh"
"$GREENOPS" show last --json "$SCRATCH/show.json" >/dev/null
eq "the currency is stored with the run" "$(jget "$SCRATCH/show.json" currency)" EUR
"$GREENOPS" run --currency "" -- true 2>"$SCRATCH/c.err"
eq "an empty currency is refused" "$?" 2

# Absent sensors: one short line; `greenops list` tells them in full.
notes=$(sed -n '/^  notes:/,$p' "$SCRATCH/u.err" | grep -c .)
check "the notes block is short ($notes lines)" test "$notes" -le 3
contains "absent sources are named once" "$SCRATCH/u.err" "no sensor from nvml"
contains "estimates are named as such" "$SCRATCH/u.err" "cpu-estimate, ram-estimate: estimated, not measured"
n=$(grep -c 'nvml' "$SCRATCH/u.err")
eq "nvml is mentioned once" "$n" 1
"$GREENOPS" list >"$SCRATCH/list.out" 2>&1
contains "greenops list tells why nvml is absent" "$SCRATCH/list.out" "libnvidia-ml"

# A note about what CUDA_VISIBLE_DEVICES selects is not an absent sensor.
CUDA_VISIBLE_DEVICES=0 GREENOPS_NVML_LIBRARY="$BUILD_ABS/tests/libfake-nvml.so" \
	"$GREENOPS" run --no-db -- true 2>"$SCRATCH/cvd.err"
contains "CUDA_VISIBLE_DEVICES: the selection is noted" "$SCRATCH/cvd.err" "CUDA_VISIBLE_DEVICES=0: measuring gpu0 only"
if grep -q 'no sensor from.*CUDA' "$SCRATCH/cvd.err"; then
	not_ok "CUDA_VISIBLE_DEVICES is not named as an absent sensor" "$(grep 'no sensor' "$SCRATCH/cvd.err")"
else
	ok "CUDA_VISIBLE_DEVICES is not named as an absent sensor"
fi
done_testing
