# greenops export scraped by a real Prometheus (Debian's prometheus), started here on
# 127.0.0.1 with a 1 s scrape interval and deploy/greenops-rules.yml loaded: PromQL's
# rate() over the energy counter answers the fake NVML's power, the recording rules evaluate
# to the host's total, and promtool accepts the rules, the configuration and the metrics page.
# Skipped, with the reason, where Prometheus is not installed.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/e2e/fake_nvml.sh"

for cmd in prometheus promtool curl; do
	if ! command -v "$cmd" >/dev/null; then
		echo "ok 1 # SKIP $cmd is not installed (scripts/deps.sh installs prometheus as root)"
		echo "1..1"
		exit 0
	fi
done
DEPLOY=$(cd "$TESTS_DIR/../deploy" && pwd)
D="$SCRATCH/prom"
mkdir -p "$D"
PIDS=
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	rm -rf "$SCRATCH"
}
trap cleanup EXIT

check "promtool accepts deploy/greenops-rules.yml" promtool check rules "$DEPLOY/greenops-rules.yml"
# Debian's Prometheus is built without Kubernetes service discovery: there, the file is
# checked without its DaemonSet job (the one job that uses it).
if promtool check config --syntax-only "$DEPLOY/prometheus.yml" >"$D/promcheck.out" 2>&1; then
	ok "promtool accepts deploy/prometheus.yml"
elif grep -q 'field kubernetes_sd_configs not found' "$D/promcheck.out"; then
	sed '/^  # The DaemonSet/,$d' "$DEPLOY/prometheus.yml" >"$D/prometheus-no-k8s.yml"
	cp "$DEPLOY/greenops-rules.yml" "$D/"
	check "promtool accepts deploy/prometheus.yml (without the Kubernetes job: this build has no Kubernetes discovery)" \
		promtool check config --syntax-only "$D/prometheus-no-k8s.yml"
else
	not_ok "promtool accepts deploy/prometheus.yml" "$(cat "$D/promcheck.out")"
fi

fake_nvml_setup
export FAKE_NVML_GPUS=2
fakegpu 0 250
fakegpu 1 50

# The exporter on a free port; its "listening on" line says which.
"$GREENOPS" export --listen 127.0.0.1:0 --host promtest --sources nvml 2>"$D/export.err" &
PIDS="$PIDS $!"
ADDR=
for _ in $(seq 300); do
	ADDR=$(sed -n 's/^greenops export: listening on //p' "$D/export.err")
	[ -n "$ADDR" ] && break
	sleep 0.1
done
check "the exporter listens" test -n "$ADDR"
curl -sf "http://$ADDR/metrics" >"$D/metrics"
check "promtool accepts the metrics page" sh -c "promtool check metrics <'$D/metrics'"

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$D/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $DEPLOY/greenops-rules.yml
scrape_configs:
  - job_name: greenops
    static_configs:
      - targets: ["$ADDR"]
EOF
check "promtool accepts the test's configuration" promtool check config "$D/prometheus.yml"
prometheus --config.file="$D/prometheus.yml" --storage.tsdb.path="$D/data" \
	--web.listen-address="127.0.0.1:$PORT" >"$D/prometheus.log" 2>&1 &
PIDS="$PIDS $!"
for _ in $(seq 300); do
	curl -sf "http://127.0.0.1:$PORT/-/ready" >/dev/null && break
	sleep 0.1
done
check "prometheus is ready" curl -sf "http://127.0.0.1:$PORT/-/ready" -o /dev/null

# query PROMQL [TIME]: the first value of the answer, empty when there is none yet;
# query_time PROMQL: the evaluation time of that value
query() {
	curl -sf "http://127.0.0.1:$PORT/api/v1/query" --data-urlencode "query=$1" ${2:+--data-urlencode "time=$2"} |
		sed -n 's/.*"value":\[[0-9.]*,"\([^"]*\)"\].*/\1/p'
}
query_time() {
	curl -sf "http://127.0.0.1:$PORT/api/v1/query" --data-urlencode "query=$1" |
		sed -n 's/.*"value":\[\([0-9.]*\),.*/\1/p'
}
# rate() divides by the whole window: wait until scrapes cover the 30 s of it.
n=0
for _ in $(seq 600); do
	n=$(query 'count_over_time(greenops_energy_joules_total{domain="gpu0"}[30s])')
	[ "${n:-0}" -ge 30 ] && break
	sleep 0.5
done
check "prometheus scraped the exporter every second for 30 s (${n:-0} scrapes)" test "${n:-0}" -ge 30
near "rate(greenops_energy_joules_total[30s]) of gpu0 is the fake's 250 W within 5% (W)" \
	"$(query 'rate(greenops_energy_joules_total{domain="gpu0",host="promtest"}[30s])')" 250 12.5
near "rate() of gpu1 is the fake's 50 W within 5% (W)" \
	"$(query 'rate(greenops_energy_joules_total{domain="gpu1"}[30s])')" 50 2.5
# The recording rules over 1 minute: against the expression they record, at the rule's own
# evaluation time (a full minute of data would double this test's time). Within 5%: on a busy
# machine a scrape can land in the database after the rule was evaluated.
rule='host:greenops_energy_joules:rate1m{host="promtest"}'
ts=$(query_time "$rule")
v=$(query "$rule" "$ts")
check "the recording rule host:greenops_energy_joules:rate1m has a value" test -n "$v"
want=$(query 'sum by (host) (rate(greenops_energy_joules_total{summed="true",host="promtest"}[1m]))' "$ts")
near "it is the sum of the summed domains' rates at its evaluation time (W)" "$v" "$want" \
	"$(awk -v w="$want" 'BEGIN { print 0.05 * w }')"
eq "its measured-only twin is the same here (all measured)" \
	"$(query 'host:greenops_energy_joules_measured:rate1m{host="promtest"}' "$ts")" "$v"
want=$(query 'rate(greenops_energy_joules_total{domain="gpu0"}[1m])' "$ts")
near "the per-domain rule domain:greenops_energy_joules:rate1m is rate() of gpu0 (W)" \
	"$(query 'domain:greenops_energy_joules:rate1m{domain="gpu0"}' "$ts")" "$want" \
	"$(awk -v w="$want" 'BEGIN { print 0.05 * w }')"
eq "no alert fires" "$(query 'count(ALERTS{alertstate="firing"})')" ""

# The Kubernetes DaemonSet's container: its args as the kubelet passes them (NODE_NAME
# substituted; port 0 instead of 9464, which may be taken here), answering its probes.
args=$(sed -n 's/^ *args: *\(\[.*\]\).*/\1/p' "$DEPLOY/kubernetes/daemonset.yaml" |
	python3 -c 'import json, sys; print("\n".join(a.replace("$(NODE_NAME)", "k8s-node").replace(":9464", ":0") for a in json.load(sys.stdin)))')
mapfile -t K8S_ARGS <<<"$args"
eq "the DaemonSet runs greenops export" "${K8S_ARGS[0]}" export
"$GREENOPS" "${K8S_ARGS[@]}" 2>"$D/k8s.err" &
KPID=$!
PIDS="$PIDS $KPID"
KADDR=
for _ in $(seq 300); do
	KADDR=$(sed -n 's/^greenops export: listening on //p' "$D/k8s.err")
	[ -n "$KADDR" ] && break
	sleep 0.1
done
check "the DaemonSet's exporter listens on every interface" test "${KADDR%:*}" = 0.0.0.0
KPORT=${KADDR##*:}
eq "its readiness probe (/metrics) gets 200" "$(curl -s -o "$D/k8s.metrics" -w '%{http_code}' "http://127.0.0.1:$KPORT/metrics")" 200
eq "its liveness probe (/) gets 200" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$KPORT/")" 200
contains "its series carry the node's name" "$D/k8s.metrics" '^greenops_energy_joules_total\{domain="gpu0",.*host="k8s-node"\}'
done_testing
