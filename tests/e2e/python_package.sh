#!/usr/bin/env bash
# The Python package: `pip install ./bindings/python` into a fresh virtual environment with no
# package index (its build backend is the standard library's), a greenops.Monitor in the
# program measuring two windows of the fake GPU at 200 W, and the same package marking a window
# under `greenops run`.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fake_nvml.sh"
SRC="$TESTS_DIR/../bindings/python"
VENV="$SCRATCH/venv"
PY="$VENV/bin/python"

python3 -m venv "$VENV" 2>"$SCRATCH/venv.err"
eq "a fresh virtual environment (python3-venv)" "$?" 0
"$PY" -m pip install --no-index --no-cache-dir --disable-pip-version-check "$SRC" \
	>"$SCRATCH/pip.out" 2>&1
eq "pip install --no-index ./bindings/python" "$?" 0 || cat "$SCRATCH/pip.out" | sed 's/^/#   /'

# The wheel itself: every file listed in RECORD with its sha256 and size, and the metadata.
"$PY" -m pip wheel --no-index --no-cache-dir --disable-pip-version-check -w "$SCRATCH/wheel" "$SRC" \
	>"$SCRATCH/wheel.out" 2>&1
eq "pip wheel builds it" "$?" 0
"$PY" - "$SCRATCH"/wheel/greenops-*-py3-none-any.whl >"$SCRATCH/record.out" 2>&1 <<'PY'
import base64, hashlib, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
names = set(z.namelist())
listed = set()
for line in z.read("greenops-0.1.0.dist-info/RECORD").decode().splitlines():
    path, digest, size = line.rsplit(",", 2)
    listed.add(path)
    if path.endswith("RECORD"):
        continue
    data = z.read(path)
    want = "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    assert digest == want and int(size) == len(data), f"{path}: {digest} {size}, is {want} {len(data)}"
assert names == listed, f"not in RECORD: {names - listed}, missing: {listed - names}"
meta = z.read("greenops-0.1.0.dist-info/METADATA").decode()
assert "Name: greenops" in meta and "Version: 0.1.0" in meta, meta
assert "greenops/__init__.py" in names and "greenops/monitor.py" in names, names
print("record ok", len(names))
PY
contains "its RECORD hashes every file, METADATA names it" "$SCRATCH/record.out" '^record ok'

# The sdist and the editable install through the same backend (no bytecode left in the tree).
export PYTHONDONTWRITEBYTECODE=1
(cd "$SRC" && "$PY" -c 'import sys, greenops_build; print(greenops_build.build_sdist(sys.argv[1]))' \
	"$SCRATCH/sdist") >"$SCRATCH/sdist.out" 2>&1
tar -tzf "$SCRATCH/sdist/greenops-0.1.0.tar.gz" >"$SCRATCH/sdist.list" 2>&1
eq "the sdist holds PKG-INFO, pyproject.toml, the backend and the package" \
	"$(grep -cE '^greenops-0\.1\.0/(PKG-INFO|pyproject\.toml|greenops_build\.py|greenops/__init__\.py|greenops/monitor\.py)$' "$SCRATCH/sdist.list")" 5
python3 -m venv "$SCRATCH/venv-e" 2>/dev/null &&
	"$SCRATCH/venv-e/bin/python" -m pip install --no-index --no-cache-dir --disable-pip-version-check -e "$SRC" \
		>"$SCRATCH/pip-e.out" 2>&1
eq "pip install -e (editable)" "$?" 0
unset PYTHONDONTWRITEBYTECODE
eq "... imports the source folder's package" \
	"$(cd "$SCRATCH" && PYTHONDONTWRITEBYTECODE=1 "$SCRATCH/venv-e/bin/python" -c 'import greenops, os; print(os.path.dirname(greenops.__file__))')" \
	"$(cd "$SRC/greenops" && pwd)"

# Standalone: a Monitor on libgreenops, the fake GPU at 200 W; the script times each window itself.
# A sanitized build's library loads into Python only after its runtime (make asan).
san=()
readelf -d "$BUILD_ABS/libgreenops.so" | grep -q 'NEEDED.*libasan' &&
	san=(LD_PRELOAD="$(${CC:-cc} -print-file-name=libasan.so)" ASAN_OPTIONS=detect_leaks=0)
fake_nvml_setup
export FAKE_NVML_IDLE_W=200
cat >"$SCRATCH/measure.py" <<'PY'
import json, os, sys, time
import greenops
out = {"file": greenops.__file__}
m = greenops.Monitor(sources="nvml", interval_ms=100)
m.start()
t0 = time.monotonic_ns()
m.begin_window("short")
time.sleep(0.5)
t1 = time.monotonic_ns()
a = m.end_window("short")
waited = (time.monotonic_ns() - t1) / 1e9
with m.window("long", units=1000) as b:
    t2 = time.monotonic_ns()
    time.sleep(1.0)
    t3 = time.monotonic_ns()
r = m.stop()
m.close()
for w, length in ((a, (t1 - t0) / 1e9), (b, (t3 - t2) / 1e9)):
    out[w.name] = {"energy_j": w.energy_j, "measured_s": length, "duration_s": w.duration_s,
                   "final": w.final, "method": w.domains["gpu0"].method,
                   "uncertainty_j": w.uncertainty_j, "per_unit": w.energy_per_unit_j}
out["waited_s"] = waited
out["stop"] = {w["name"]: w["energy_j"] for w in r.windows}
out["run_j"] = r.energy_j
json.dump(out, sys.stdout)
PY
(cd "$SCRATCH" && env "${san[@]}" GREENOPS_LIBRARY="$BUILD_ABS/libgreenops.so" "$PY" measure.py >"$SCRATCH/m.json" 2>"$SCRATCH/m.err")
eq "the Monitor script ran" "$?" 0 || sed 's/^/#   /' "$SCRATCH/m.err"
contains "the installed package was imported, not the source folder" "$SCRATCH/m.json" '"file": "[^"]*/venv/lib/[^"]*/site-packages/greenops/__init__.py"'
for w in short long; do
	e=$(jget "$SCRATCH/m.json" "$w.energy_j")
	s=$(jget "$SCRATCH/m.json" "$w.measured_s")
	want=$(awk -v s="$s" 'BEGIN { print 200 * s }')
	echo "# $w: $e J over the script's $s s (truth $want J)"
	near "window '$w': 200 W x its measured length, within 3%" "$e" "$want" "$(awk -v w="$want" 'BEGIN { print 0.03 * w }')"
	eq "window '$w' is final when end_window returns" "$(jget "$SCRATCH/m.json" "$w.final")" True
	eq "window '$w' was measured by the counter" "$(jget "$SCRATCH/m.json" "$w.method")" counter
	# The result's JSON keeps ten significant digits.
	near "window '$w' equals stop()'s figure for it" "$e" "$(jget "$SCRATCH/m.json" "stop.$w")" 0.00001
done
near "units give energy per unit" "$(jget "$SCRATCH/m.json" long.per_unit)" \
	"$(awk -v e="$(jget "$SCRATCH/m.json" long.energy_j)" 'BEGIN { printf "%.12g", e / 1000 }')" 0.000001
waited=$(jget "$SCRATCH/m.json" waited_s)
check "end_window waited at most a second for the final figure ($waited s)" \
	awk -v w="$waited" 'BEGIN { exit !(w < 1.0) }'

# A library that is not there: one line naming it.
(cd "$SCRATCH" && "$PY" -c 'import greenops; greenops.Monitor(library="/nonexistent/libgreenops.so")' \
	>/dev/null 2>"$SCRATCH/nolib.err")
check "a missing library fails" test $? -ne 0
contains "... with one line naming it" "$SCRATCH/nolib.err" \
	'^greenops.monitor.MonitorError: greenops: cannot load libgreenops: /nonexistent/libgreenops.so \(the library argument\)'
(cd "$SCRATCH" && env "${san[@]}" GREENOPS_LIBRARY="$BUILD_ABS/libgreenops.so" "$PY" -c \
	'import greenops; greenops.Monitor(sources="nvml,nonsense")' >/dev/null 2>"$SCRATCH/bad.err")
contains "an unknown source: one line" "$SCRATCH/bad.err" "^greenops.monitor.MonitorError: greenops: cannot open the sensors: unknown source 'nonsense'"

# Under `greenops run`: the installed package marks a window through the control socket.
cat >"$SCRATCH/child.py" <<'PY'
import time, greenops
with greenops.window("step"):
    time.sleep(1.0)
PY
(cd "$SCRATCH" && "$GREENOPS" run --no-db -q --sources nvml --json "$SCRATCH/run.json" -- "$PY" child.py)
eq "greenops run with the installed package" "$?" 0
eq "one window" "$(jget "$SCRATCH/run.json" windows.0.name)/$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["windows"]))' "$SCRATCH/run.json")" "step/1"
len=$(window_s "$SCRATCH/run.json" 0)
want=$(awk -v s="$len" 'BEGIN { print 200 * s }')
near "its energy is 200 W x its length, within 3%" "$(jget "$SCRATCH/run.json" windows.0.energy_j)" "$want" \
	"$(awk -v w="$want" 'BEGIN { print 0.03 * w }')"
done_testing
