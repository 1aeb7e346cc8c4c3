# greenops report end to end: a sweep of the embedded CNN (two architectures x two batch sizes,
# repeated), a batch-size ladder with a configuration that runs out of memory, and a serve-bench
# sweep against the mock server inside a service, all against the fake NVML; the report of each
# is one self-contained HTML file plus SVG and PNG figures, and headless Chromium loads it with
# no error and draws every chart. run --plot draws with the same libraries. Where node,
# rsvg-convert or Chromium are not installed, what needs them is skipped with the reason.
. "$(dirname "$0")/lib.sh"

export GREENOPS_NVML_LIBRARY="$FAKE_NVML" FAKE_NVML_SCRIPT="$SCRATCH/gpu.script" FAKE_NVML_IDLE_W=60
: >"$FAKE_NVML_SCRIPT"
DB="$SCRATCH/r.db"
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
skip() { ok "$1 # SKIP $2"; }

if ! command -v node >/dev/null; then
	echo "ok 1 # SKIP node is not installed (scripts/deps.sh installs nodejs): greenops report needs it"
	echo "1..1"
	exit 0
fi
if [ ! -f "$BUILD_ABS/report/node_modules/vega/build/vega.min.js" ]; then
	if command -v npm >/dev/null; then
		not_ok "the build installed the plotting libraries into $BUILD_ABS/report (npm ci failed?)"
		done_testing
		exit 1
	fi
	echo "ok 1 # SKIP npm is not installed (scripts/deps.sh installs it): the build could not fetch vega"
	echo "1..1"
	exit 0
fi

# Debian 12's node is 18: every package of the lock file must admit it (npm ci only warns).
node -e '
const fs = require("fs"), semver = require(process.argv[1] + "/node_modules/semver");
const lock = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const bad = Object.entries(lock.packages).filter(([p, i]) => p && i.engines && i.engines.node &&
	!semver.satisfies("18.19.0", i.engines.node));
for (const [p, i] of bad) console.log(p + " " + i.version + " wants node " + i.engines.node);
process.exit(bad.length ? 1 : 0);' "$BUILD_ABS/report" "$TESTS_DIR/../report/package-lock.json" >"$SCRATCH/engines.out" 2>&1
eq "every package of report/package-lock.json runs on node 18 (Debian 12) $(head -3 "$SCRATCH/engines.out" | tr '\n' ' ')" "$?" 0

# chrome_dom HTML OUT: the page's DOM after its scripts ran (virtual time: no waiting on a busy machine)
chrome_dom() {
	timeout 180 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$SCRATCH/chrome-profile-$RANDOM" --enable-logging=stderr --v=0 \
		--virtual-time-budget=30000 --dump-dom "file://$1" >"$2" 2>"$2.log"
}

# check_page NAME HTML: loaded, no errors recorded by the page, each of its charts drawn as SVG
check_page() {
	local name=$1 html=$2 n
	n=$(grep -c '<div class="fig" id="fig[0-9]*">' "$html")
	if [ -z "$CHROMIUM" ]; then
		skip "$name: loads in headless Chromium" "chromium is not installed (scripts/deps.sh installs it)"
		return
	fi
	chrome_dom "$html" "$SCRATCH/dom.html"
	eq "$name: chromium exits 0" "$?" 0
	contains "$name: all $n charts rendered" "$SCRATCH/dom.html" "<body[^>]* data-rendered=\"$n\""
	contains "$name: the page finished" "$SCRATCH/dom.html" 'data-done="1"'
	contains "$name: no error recorded by the page" "$SCRATCH/dom.html" '<pre id="report-errors"></pre>'
	eq "$name: an SVG per chart" "$(grep -o '<svg[^>]*class="marks"' "$SCRATCH/dom.html" | wc -l)" "$n"
	contains "$name: lines are drawn" "$SCRATCH/dom.html" 'class="mark-line role-mark'
	if grep -E 'Uncaught|CONSOLE.*(Error|error)' "$SCRATCH/dom.html.log" >/dev/null; then
		not_ok "$name: no console errors" "$(grep -E 'Uncaught|CONSOLE' "$SCRATCH/dom.html.log" | head -5)"
	else
		ok "$name: no console errors"
	fi
}

# check_figures DIR NAME...: each figure written as SVG drawn by vega, and as PNG
check_figures() {
	local dir=$1 f
	shift
	for f in "$@"; do
		check "figure $f.svg is vega's SVG" grep -q '<svg.*class="marks"' "$dir/figures/$f.svg"
		if command -v rsvg-convert >/dev/null; then
			check "figure $f.png is a PNG" sh -c "head -c 8 '$dir/figures/$f.png' | od -An -c | grep -q 'P   N   G'"
		else
			skip "figure $f.png" "rsvg-convert is not installed (scripts/deps.sh installs librsvg2-bin)"
		fi
	done
}

# --- a sweep of the CNN ----------------------------------------------------------------------
cat >"$SCRATCH/cnn.yaml" <<PLAN
name: cnn-batch
command: ["$BUILD_ABS/cnn-demo", --arch, "{arch}", --batch, "{batch}", --seconds, "0.3"]
parameters:
  arch: [small, wide]
  batch: [1, 16]
repetitions: 2
units: windows
options: [--sources, nvml, --idle, none]
PLAN
"$GREENOPS" sweep "$SCRATCH/cnn.yaml" --db "$DB" >"$SCRATCH/s.out" 2>&1
eq "the CNN sweep exits 0" "$?" 0
contains "8 ok runs" "$SCRATCH/s.out" '8 runs: 8 ok, 0 failed'

"$GREENOPS" report --sweep 1 --db "$DB" -o "$SCRATCH/rep" >"$SCRATCH/rep.out" 2>"$SCRATCH/rep.err"
eq "report exits 0" "$?" 0
eq "report prints the HTML's path" "$(cat "$SCRATCH/rep.out")" "$SCRATCH/rep/report.html"
eq "report is quiet when all went well" "$(cat "$SCRATCH/rep.err")" ""
check_figures "$SCRATCH/rep" energy-arch energy-batch correlations power-timeline
check "the HTML loads nothing from outside" sh -c "! grep -Eq '<script[^>]+src=|<link[^>]+href=\"http' '$SCRATCH/rep/report.html'"
contains "the HTML names the cheapest configuration" "$SCRATCH/rep/report.html" 'Cheapest: <b>arch=(small|wide), batch=(1|16)</b>'
contains "the batch-size curve marks the cheapest with its value" "$SCRATCH/rep/figures/energy-batch.svg" '>cheapest: [0-9.]+ [mµ]?J<'
contains "the batch-size axis says what it counts" "$SCRATCH/rep/figures/energy-batch.svg" '>batch size \(samples per batch\)<'
contains "the energy axis has its unit" "$SCRATCH/rep/figures/energy-batch.svg" '>energy per unit \([mµ]?J\)<'
contains "repetitions give error bars" "$SCRATCH/rep/figures/energy-batch.svg" 'error bars: its 95% interval'
contains "the timeline labels its windows legibly (one band per run of batches)" "$SCRATCH/rep/figures/power-timeline.svg" '>batch( ×[0-9]+)?<'
contains "the timeline's axes have units" "$SCRATCH/rep/figures/power-timeline.svg" '>power \(W\)<'
check_page "CNN sweep report" "$SCRATCH/rep/report.html"

# --- five batch sizes x three repetitions, the largest out of memory -------------------------
cat >"$SCRATCH/ladder.yaml" <<PLAN
name: batch-ladder
command: ["$TESTS_DIR/fixtures/sweep/fake_train.sh", "--batch", "{batch}"]
parameters:
  batch: [64, 128, 256, 512, 1024]
repetitions: 3
units: "{batch} * 10"
options: [--sources, nvml, --idle, none]
PLAN
FAKE_OOM_AT=1024 "$GREENOPS" sweep "$SCRATCH/ladder.yaml" --db "$DB" >"$SCRATCH/l.out" 2>&1
contains "the ladder: 12 ok, 3 out of memory" "$SCRATCH/l.out" '15 runs: 12 ok, 3 failed \(3 oom\)'
"$GREENOPS" report --sweep 2 --db "$DB" -o "$SCRATCH/ladder" >/dev/null 2>"$SCRATCH/ladder.err"
eq "its report exits 0" "$?" 0
check_figures "$SCRATCH/ladder" energy-batch
contains "the table keeps the failures with their class and line" "$SCRATCH/ladder/report.html" \
	'<td>1024</td><td>3</td><td>0</td>.*<td class="fail">oom: torch.OutOfMemoryError: CUDA out of memory'
contains "the summary counts them" "$SCRATCH/ladder/report.html" '15 runs \(12 ok, 3 failed, 0 skipped\)'
contains "the ladder's batch axis is logarithmic" "$SCRATCH/ladder/figures/energy-batch.svg" '>1024<|>512<'
check_page "batch ladder report" "$SCRATCH/ladder/report.html"

# --- a serve-bench sweep --------------------------------------------------------------------
cat >"$SCRATCH/llm.yaml" <<PLAN
name: llm
serve_bench: [--base-url, "http://127.0.0.1:{port}", --model, mock, --rate, "{rate}", --num-requests, "12",
              --output-len, "6", --cooldown, "0", --sources, nvml, --idle, none, --quiet]
parameters: {gap: [2, 20], rate: [4, 16]}
service:
  command: [python3, "$TESTS_DIR/mock/openai_mock.py", --port, "{port}", --gap-ms, "{gap}"]
  parameters: [gap]
  ready: {log: "PORT", timeout: 60}
PLAN
"$GREENOPS" sweep "$SCRATCH/llm.yaml" --db "$DB" >"$SCRATCH/l.out" 2>&1
eq "the serve-bench sweep exits 0" "$?" 0
"$GREENOPS" report --sweep 3 --db "$DB" -o "$SCRATCH/llm" --subject-to 'ttft_p99_ms<=5000' >/dev/null 2>"$SCRATCH/l.err"
eq "its report exits 0" "$?" 0
check_figures "$SCRATCH/llm" energy-per-request-rate energy-per-token-rate latency-rate energy-gap
contains "the constraint is stated" "$SCRATCH/llm/report.html" 'subject to <code>ttft_p99_ms&lt;=5000</code>'
contains "the rate axis has its unit" "$SCRATCH/llm/figures/energy-per-request-rate.svg" '>request rate \(requests/s\)<'
contains "latency in ms against the rate" "$SCRATCH/llm/figures/latency-rate.svg" '>latency \(ms\)<'
check_page "serve-bench sweep report" "$SCRATCH/llm/report.html"

# --- one run --------------------------------------------------------------------------------
"$GREENOPS" run --db "$DB" -q --sources nvml --idle none --samples -- "$BUILD_ABS/cnn-demo" --batch 4 --seconds 0.3 >/dev/null 2>&1
"$GREENOPS" report --run last --db "$DB" -o "$SCRATCH/run" >/dev/null 2>"$SCRATCH/run.err"
eq "a run's report exits 0" "$?" 0
check_figures "$SCRATCH/run" power-timeline
check_page "run report" "$SCRATCH/run/report.html"

# --- run --plot: the same timeline, drawn by vega -----------------------------------------------
"$GREENOPS" run --no-db -q --sources nvml --idle none --plot "$SCRATCH/p.svg" -- "$BUILD_ABS/cnn-demo" --batch 4 --seconds 0.3 >/dev/null 2>"$SCRATCH/p.err"
eq "run --plot exits 0" "$?" 0
check "--plot writes vega's SVG" grep -q '<svg.*class="marks"' "$SCRATCH/p.svg"
contains "--plot shades the windows" "$SCRATCH/p.svg" '>batch( ×[0-9]+)?<'
"$GREENOPS" run --no-db -q --sources nvml --idle none --plot "$SCRATCH/p.png" -- true >/dev/null 2>&1
if command -v rsvg-convert >/dev/null; then
	check "--plot FILE.png writes a PNG" sh -c "head -c 8 '$SCRATCH/p.png' | od -An -c | grep -q 'P   N   G'"
fi

# --- errors ---------------------------------------------------------------------------------
"$GREENOPS" report --sweep 7 --db "$DB" -o "$SCRATCH/none" >/dev/null 2>"$SCRATCH/e.err"
eq "an unknown sweep is an error" "$?" 1
contains "naming it" "$SCRATCH/e.err" '^greenops report: there is no sweep 7$'
"$GREENOPS" report --db "$DB" >/dev/null 2>"$SCRATCH/e2.err"
eq "report needs --sweep or --run" "$?" 2
"$GREENOPS" report --run 9999 --db "$DB" -o "$SCRATCH/none" >/dev/null 2>"$SCRATCH/e3.err"
eq "an unknown run is an error" "$?" 1
contains "naming it" "$SCRATCH/e3.err" '^greenops report: there is no run 9999$'

done_testing
