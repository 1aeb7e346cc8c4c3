#!/usr/bin/env bash
# End-to-end tests of `greenops serve-bench` against the mock OpenAI server (tests/mock):
# the acceptance numbers (TTFT 40 ms, 16 tokens 10 ms apart, 20 req/s, 100 requests), injected
# failures of every kind, chat and CRLF streams, sweeps, concurrency limits and bad input.
. "$(dirname "$0")/lib.sh"
MOCK="$TESTS_DIR/mock/openai_mock.py"
. "$(dirname "$0")/lib_serve_bench.sh"
PIDS=""
trap 'for p in $PIDS; do kill "$p" 2>/dev/null; done; rm -rf "$SCRATCH"' EXIT

sb() { "$GREENOPS" serve-bench --model mock --no-db --cooldown 0 "$@"; }

# 1. The acceptance run: 100 requests at 20/s, TTFT 40 ms, 16 tokens 10 ms apart.
start_mock plain --ttft-ms 40 --gap-ms 10 --tokens 16 --log "$SCRATCH/arrivals.log"
sb --base-url "http://127.0.0.1:$PORT" --rate 20 --num-requests 100 --output-len 16 --seed 1 \
	--json "$SCRATCH/a.json" --requests "$SCRATCH/a.csv" 2>"$SCRATCH/a.err"
eq "plain run exits 0" "$?" 0
J="$SCRATCH/a.json"
check_acceptance "" "$J"
e2el_model=$(pyq "$J" 'd["runs"][0]["ttft_ms"]["median"] + 15 * d["runs"][0]["tpot_ms"]["median"]')
near "E2EL median = TTFT + 15 x TPOT" "$(jget "$J" runs.0.e2el_ms.median)" "$e2el_model" 5
near "ITL median 10 ms" "$(jget "$J" runs.0.itl_ms.median)" 10 2
# The server's own clock agrees: arrivals at the mock span the schedule (the first line is
# the up-front check request).
srv=$(python3 -c 'import sys; t=[float(x) for x in open(sys.argv[1])][1:]; print((len(t)-1)/(t[-1]-t[0]))' "$SCRATCH/arrivals.log")
sched=$(jget "$J" runs.0.schedule_rate)
near "server-side arrival rate matches the schedule" "$(awk -v a="$srv" -v b="$sched" 'BEGIN{print a/b}')" 1 0.05
energy=$(jget "$J" runs.0.energy_j)
if [ "$energy" = null ]; then
	contains "missing energy is null with a warning" "$SCRATCH/a.err" "warning: energy not measured"
else
	check "measured energy is positive" awk -v e="$energy" 'BEGIN { exit !(e > 0) }'
fi
check "a steady-state window was found" test "$(jget "$J" runs.0.steady_state.completed)" -gt 50
eq "requests CSV has a row per request" "$(($(wc -l <"$SCRATCH/a.csv") - 1))" 100
contains "comparison table on stderr" "$SCRATCH/a.err" "TTFT p50"

# 1b. The same sweep stored in the results database: the run, its rate and every request.
"$GREENOPS" serve-bench --model mock --cooldown 0 --db "$SCRATCH/sb.db" --base-url "http://127.0.0.1:$PORT" \
	--rate 20 --num-requests 30 --output-len 16 --seed 1 --quiet 2>"$SCRATCH/db.err"
eq "serve-bench with a database exits 0" "$?" 0
"$GREENOPS" export-csv bench-runs --db "$SCRATCH/sb.db" -o "$SCRATCH/br.csv"
eq "one bench run stored" "$(($(wc -l <"$SCRATCH/br.csv") - 1))" 1
"$GREENOPS" export-csv requests --db "$SCRATCH/sb.db" -o "$SCRATCH/rq.csv"
eq "every request stored" "$(($(wc -l <"$SCRATCH/rq.csv") - 1))" 30
"$GREENOPS" runs --db "$SCRATCH/sb.db" >"$SCRATCH/runs.txt"
contains "the sweep is listed as a run" "$SCRATCH/runs.txt" "serve-bench"

# 2. Every 10th request fails, in each way a server can fail.
for mode in http500 event drop; do
	start_mock "f$mode" --ttft-ms 40 --gap-ms 10 --tokens 16 --fail-every 10 --fail-mode "$mode"
	sb --base-url "http://127.0.0.1:$PORT" --rate 20 --num-requests 100 --output-len 16 \
		--json "$SCRATCH/f$mode.json" 2>"$SCRATCH/f$mode.err"
	eq "$mode: failures do not change the exit status" "$?" 0
	check_failures "$mode" "$mode" "$SCRATCH/f$mode.json" "$SCRATCH/f$mode.err"
done
contains "error message kept" "$SCRATCH/fevent.json" "injected failure"

# 3. No usage from the server: chunks counted, marked approximate. Chat, CRLF and comments.
start_mock nousage --ttft-ms 5 --gap-ms 2 --tokens 16 --no-usage --crlf --comments
sb --base-url "http://127.0.0.1:$PORT/v1" --endpoint chat --rate 50 --num-requests 40 \
	--json "$SCRATCH/n.json" 2>"$SCRATCH/n.err"
eq "chat run exits 0" "$?" 0
eq "chat: 40 completed" "$(jget "$SCRATCH/n.json" runs.0.completed)" 40
eq "chat: chunks counted" "$(jget "$SCRATCH/n.json" runs.0.total_output_tokens)" 640
eq "chat: count marked approximate" "$(jget "$SCRATCH/n.json" runs.0.output_tokens_approximate)" True
eq "chat: input tokens unknown" "$(jget "$SCRATCH/n.json" runs.0.total_input_tokens)" null

# 4. A sweep with warmup, a concurrency limit, and inf.
start_mock sweep --ttft-ms 20 --gap-ms 2 --tokens 8
sb --base-url "http://127.0.0.1:$PORT" --rate 10,40,inf --num-requests 30 --warmup 5 \
	--json "$SCRATCH/s.json" --percentiles 95,99.9 --slo ttft:1000,e2el:5000 2>"$SCRATCH/s.err"
eq "sweep exits 0" "$?" 0
eq "three runs" "$(pyq "$SCRATCH/s.json" 'len(d["runs"])')" 3
eq "inf run named" "$(jget "$SCRATCH/s.json" runs.2.rate)" inf
eq "warmup not counted" "$(jget "$SCRATCH/s.json" runs.1.completed)" 30
check "extra percentile present" test "$(pyq "$SCRATCH/s.json" 'd["runs"][0]["ttft_ms"]["p99.9"]')" != None
eq "every request meets a loose SLO" "$(jget "$SCRATCH/s.json" runs.1.slo_attainment)" 1.0
contains "saturation line on stderr" "$SCRATCH/s.err" "saturation:"
sb --base-url "http://127.0.0.1:$PORT" --rate inf --num-requests 12 --max-concurrency 2 \
	--json "$SCRATCH/c.json" 2>/dev/null
check "a concurrency limit shows as client queueing" \
	awk -v q="$(jget "$SCRATCH/c.json" runs.0.queue_ms.median)" 'BEGIN { exit !(q > 20) }'
check "queueing is not lateness" \
	awk -v q="$(jget "$SCRATCH/c.json" runs.0.lateness_ms.median)" 'BEGIN { exit !(q < 5) }'

# 5. --max-failures, bad input, an unreachable server.
start_mock halffail --ttft-ms 2 --gap-ms 1 --tokens 4 --fail-every 2
sb --base-url "http://127.0.0.1:$PORT" --rate 100 --num-requests 50 --max-failures 3 \
	--json "$SCRATCH/m.json" 2>"$SCRATCH/m.err"
eq "--max-failures exceeded exits 1" "$?" 1
contains "--max-failures says so" "$SCRATCH/m.err" "more than 3 requests failed"
eq "partial results written" "$(jget "$SCRATCH/m.json" max_failures_exceeded)" True
sb --base-url "http://127.0.0.1:$PORT" --rate abc --num-requests 5 2>"$SCRATCH/b1.err"
eq "bad rate is a usage error" "$?" 2
contains "bad rate named" "$SCRATCH/b1.err" "invalid rate 'abc'"
sb --base-url "http://127.0.0.1:$PORT" --rate 5 2>"$SCRATCH/b2.err"
eq "no count or duration is a usage error" "$?" 2
printf '{"prompt": "ok"}\n{"prompt": }\n' >"$SCRATCH/bad.jsonl"
sb --base-url "http://127.0.0.1:$PORT" --rate 5 --num-requests 5 --dataset "$SCRATCH/bad.jsonl" 2>"$SCRATCH/b3.err"
eq "malformed dataset fails" "$?" 1
contains "malformed line named" "$SCRATCH/b3.err" "bad.jsonl' line 2"
python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' >"$SCRATCH/free"
sb --base-url "http://127.0.0.1:$(cat "$SCRATCH/free")" --rate 5 --num-requests 5 2>"$SCRATCH/b4.err"
eq "unreachable server fails" "$?" 1
contains "unreachable server named" "$SCRATCH/b4.err" "first request to 'http://127.0.0.1:[0-9]+/v1/completions' failed"

# 6. Trace replay from the dataset's timestamps.
printf '{"prompt": "a b", "timestamp": 10.0}\n{"prompt": "c", "timestamp": 10.2}\n{"prompt": "d", "timestamp": 10.4}\n' >"$SCRATCH/t.jsonl"
sb --base-url "http://127.0.0.1:$PORT" --rate trace --dataset "$SCRATCH/t.jsonl" --output-len 4 \
	--json "$SCRATCH/t.json" 2>/dev/null
near "trace replay keeps the trace's rate" "$(jget "$SCRATCH/t.json" runs.0.schedule_rate)" 5 0.01

# 8. The reference LLM server's HTTP side (no model: --engine fake), where aiohttp exists.
if python3 -c 'import aiohttp' 2>/dev/null; then
	: >"$SCRATCH/llm.port"
	python3 "$TESTS_DIR/../workloads/llm/server.py" --engine fake --model-size tiny --port 0 \
		--fake-step-ms 2 --max-batch 8 >"$SCRATCH/llm.port" 2>"$SCRATCH/llm.err" &
	PIDS="$PIDS $!"
	for _ in $(seq 200); do PORT=$(awk '/^PORT/ {print $2}' "$SCRATCH/llm.port"); [ -n "$PORT" ] && break; sleep 0.05; done
	for ep in completions chat; do
		sb --base-url "http://127.0.0.1:$PORT" --endpoint "$ep" --rate 40 --num-requests 30 --input-len 5 \
			--output-len 6 --json "$SCRATCH/llm-$ep.json" 2>/dev/null
		eq "reference server ($ep): all completed" "$(jget "$SCRATCH/llm-$ep.json" runs.0.completed)" 30
		eq "reference server ($ep): usage counts tokens" "$(jget "$SCRATCH/llm-$ep.json" runs.0.total_output_tokens)" 180
		eq "reference server ($ep): prompt = words" "$(jget "$SCRATCH/llm-$ep.json" runs.0.total_input_tokens)" 150
	done
	contains "reference server says its weights are random" "$SCRATCH/llm.err" "random weights"
else
	ok "reference LLM server not tried: no aiohttp here # skip"
fi

# 7. Ctrl-C mid-run: the run stops, partial results are written, exit 130.
start_mock slow --ttft-ms 5 --gap-ms 5 --tokens 4 --log "$SCRATCH/slow.log"
"$GREENOPS" serve-bench --model mock --no-db --base-url "http://127.0.0.1:$PORT" --rate 10 --num-requests 1000 \
	--json "$SCRATCH/i.json" 2>"$SCRATCH/i.err" &
sbpid=$!
for _ in $(seq 200); do [ "$(wc -l <"$SCRATCH/slow.log" 2>/dev/null || echo 0)" -ge 6 ] && break; sleep 0.05; done
kill -INT "$sbpid"
wait "$sbpid"
eq "interrupted run exits 130" "$?" 130
eq "interrupted run says so" "$(jget "$SCRATCH/i.json" interrupted)" True
check "interrupted run kept what it measured" test "$(jget "$SCRATCH/i.json" runs.0.completed)" -ge 4
check "requests never sent are not failures" test "$(jget "$SCRATCH/i.json" runs.0.not_sent)" -gt 900
# 9. Above 1,600 requests/s connections for 10 ms of the rate are opened before the sweep
# (GET /v1/models) and kept: at 16,000 req/s, 160 (10 per multi handle, more than the 8 each
# keeps anyway). 200 requests of 40 ms each, all under way at once: 40 open new connections
# (72 when only 8 per handle survive the warm-up; a loaded machine that is late with a few
# warm-up requests opens a few more; without the warm-up all 200 would).
start_mock warm --ttft-ms 40 --gap-ms 1 --tokens 2
sb --base-url "http://127.0.0.1:$PORT" --rate 16000 --num-requests 200 --output-len 2 --no-energy \
	--json "$SCRATCH/w.json" 2>"$SCRATCH/w.err"
eq "prewarmed run exits 0" "$?" 0
eq "prewarmed run: 200 completed" "$(jget "$SCRATCH/w.json" runs.0.completed)" 200
check "prewarmed run: at most 72 of 200 requests opened a connection" \
	test "$(jget "$SCRATCH/w.json" runs.0.connections_opened)" -le 72
sb --base-url "http://127.0.0.1:$PORT" --rate 1000 --num-requests 20 --output-len 2 --no-energy \
	--json "$SCRATCH/w2.json" 2>"$SCRATCH/w2.err"
check "below 1,600 req/s nothing is opened ahead: concurrent requests open connections" \
	test "$(jget "$SCRATCH/w2.json" runs.0.connections_opened)" -ge 10
# 10. A server that closes kept-alive connections once idle (as uvicorn does after 5 s): here
# after 20 ms, with arrivals about 50 ms apart, so most requests find their connection closed.
# Every request still completes, on new connections, and the closed sockets waiting in
# libcurl's cache do not keep the client busy (a socket reported ready over and over would
# use the whole core: about 50,000 us of CPU per request here).
start_mock idle --ttft-ms 2 --gap-ms 1 --tokens 4 --idle-close-ms 20
sb --base-url "http://127.0.0.1:$PORT" --rate 20 --num-requests 60 --output-len 4 --no-energy --seed 3 \
	--json "$SCRATCH/ic.json" 2>"$SCRATCH/ic.err"
eq "idle-closing server: run exits 0" "$?" 0
eq "idle-closing server: 60 completed" "$(jget "$SCRATCH/ic.json" runs.0.completed)" 60
eq "idle-closing server: no failure" "$(jget "$SCRATCH/ic.json" runs.0.failed)" 0
check "idle-closing server: closed connections were replaced" \
	test "$(jget "$SCRATCH/ic.json" runs.0.connections_opened)" -ge 20
check "idle-closing server: under 10,000 us of client CPU per request" \
	awk -v c="$(jget "$SCRATCH/ic.json" runs.0.client_cpu_us_per_request)" 'BEGIN { exit !(c < 10000) }'
# 11. An overloaded server: at most 4 responses at once (16 tokens 10 ms apart: about 23 req/s
# at most). At 10 req/s it keeps up; at 80 req/s it cannot, and the sweep must say so: the
# steady window ends at the first completion after the last arrival, not at the end of the
# drain, and the queueing delay (TTFT) grows over the arrival period.
start_mock overload --ttft-ms 20 --gap-ms 10 --tokens 16 --max-batch 4
sb --base-url "http://127.0.0.1:$PORT" --rate 10,80 --num-requests 40 --output-len 16 --no-energy --seed 2 \
	--json "$SCRATCH/ov.json" 2>"$SCRATCH/ov.err"
eq "overloaded server: run exits 0" "$?" 0
eq "overloaded server: 10 req/s keeps up" "$(jget "$SCRATCH/ov.json" runs.0.keeps_up)" True
eq "overloaded server: 80 req/s does not keep up" "$(jget "$SCRATCH/ov.json" runs.1.keeps_up)" False
eq "overloaded server: its queueing delay grows" "$(jget "$SCRATCH/ov.json" runs.1.queueing.grows)" True
check "overloaded server: completions in the steady window are under 60% of its arrivals" \
	awk -v r="$(jget "$SCRATCH/ov.json" runs.1.steady_state.completion_ratio)" 'BEGIN { exit !(r < 0.6) }'
check "overloaded server: the steady window ends before the drain (under half the run)" \
	awk -v e="$(jget "$SCRATCH/ov.json" runs.1.steady_state.end_s)" -v d="$(jget "$SCRATCH/ov.json" runs.1.duration_s)" \
	'BEGIN { exit !(e < d / 2) }'
eq "overloaded server: saturation at 80 req/s" "$(jget "$SCRATCH/ov.json" saturation.throughput_saturated_at_rate)" 80.0
contains "overloaded server: said on stderr" "$SCRATCH/ov.err" "completions fall behind arrivals from 80 req/s"
# 12. Energy of each request, on the fake NVML (a constant 60 W here) and the mock with known
# token timing: 20 requests sent at once, every response streamed over 2 s after a 100 ms
# TTFT; class A has 200-word prompts and 33 tokens, class B 50-word prompts and 17 tokens.
# The attribution adds up to the run's energy exactly (and its dynamic part, with 20 W of
# idle, to the dynamic energy), and, in flight together, A decodes twice B's tokens in the
# same time and prefills four times B's prompt: twice and four times the energy.
. "$(dirname "$0")/fake_nvml.sh"
fake_nvml_setup
python3 -c '
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(10):
        f.write(json.dumps({"prompt": " ".join(["w"] * 200), "output_len": 33}) + "\n")
        f.write(json.dumps({"prompt": " ".join(["w"] * 50), "output_len": 17}) + "\n")
' "$SCRATCH/classes.jsonl"
start_mock attrib --ttft-ms 100 --stream-ms 2000
sb --base-url "http://127.0.0.1:$PORT" --rate inf --num-requests 20 --dataset "$SCRATCH/classes.jsonl" \
	--sources nvml --idle 20 --json "$SCRATCH/at.json" --requests "$SCRATCH/at.csv" 2>"$SCRATCH/at.err"
eq "attribution: run exits 0" "$?" 0
eq "attribution: labelled attributed" "$(jget "$SCRATCH/at.json" runs.0.attribution.label)" attributed
eq "attribution: shaped by the power timeline" "$(jget "$SCRATCH/at.json" runs.0.attribution.power)" timeline
eq "attribution: a distribution over the 20 requests" "$(jget "$SCRATCH/at.json" runs.0.attributed_energy_j.n)" 20
python3 - "$SCRATCH/at.json" "$SCRATCH/at.csv" >"$SCRATCH/at.check" <<'PY'
import csv, json, statistics, sys
r = json.load(open(sys.argv[1]))["runs"][0]
rows = list(csv.DictReader(open(sys.argv[2])))
a = r["attribution"]
total = sum(float(x["energy_j"]) for x in rows)
parts = sum(float(x["prefill_energy_j"]) + float(x["decode_energy_j"]) for x in rows)
dyn = a["attributed_dynamic_energy_j"]["mean"] * 20 + a["unattributed_dynamic_energy_j"]
print("sum %.12g" % ((total + r["unattributed_energy_j"]) / r["energy_j"]))
print("parts %.12g" % (parts / total))
print("totals %.12g" % ((r["prefill_energy_j"] + r["decode_energy_j"]) / total))
print("dynamic %.12g" % (dyn / r["dynamic_energy_j"]))
rows_dyn = sum(float(x["dynamic_energy_j"]) for x in rows) + a["unattributed_dynamic_energy_j"]
print("rowsdyn %.12g" % (rows_dyn / r["dynamic_energy_j"]))
print("idle %.12g" % ((a["idle_energy_j"] + r["dynamic_energy_j"]) / r["energy_j"]))
med = lambda n, k: statistics.median(float(x[k]) for x in rows if x["tokens_out"] == n)
print("decode %.6f" % (med("33", "decode_energy_j") / med("17", "decode_energy_j")))
print("prefill %.6f" % (med("33", "prefill_energy_j") / med("17", "prefill_energy_j")))
# How far the prefills failed to coincide: the spread of the sends, against the 100 ms TTFT.
sent = [float(x["sent_s"]) for x in rows]
print("misaligned %.6f" % ((max(sent) - min(sent)) / 0.1))
PY
got() { awk -v k="$1" '$1 == k {print $2}' "$SCRATCH/at.check"; }
near "attribution: requests + unattributed = the run's energy" "$(got sum)" 1 1e-9
near "attribution: prefill + decode = each request's energy" "$(got parts)" 1 1e-9
near "attribution: the prefill and decode totals add up" "$(got totals)" 1 1e-9
near "attribution: dynamic shares + unattributed = the run's dynamic energy" "$(got dynamic)" 1 1e-9
near "attribution: the requests' dynamic column + unattributed = the run's dynamic energy" "$(got rowsdyn)" 1 1e-6
near "attribution: idle + dynamic = the run's energy" "$(got idle)" 1 1e-9
near "attribution: twice the tokens decoded in the same time, twice the decode energy" "$(got decode)" 2 0.1
# Four times only where the prefills run together: a loaded client that sends the 20 requests
# spread out shares each prefill's power among fewer of them, by as much as that spread is of
# the 100 ms TTFT (the margin grows with the measured spread).
near "attribution: four times the prompt, four times the prefill energy (sends $(got misaligned) of a TTFT apart)" \
	"$(got prefill)" 4 "$(awk -v m="$(got misaligned)" 'BEGIN { print 0.3 + 4 * m }')"
unset GREENOPS_NVML_LIBRARY FAKE_NVML_SCRIPT
done_testing
