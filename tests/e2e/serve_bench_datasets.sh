#!/usr/bin/env bash
# End-to-end tests of serve-bench's datasets against the mock OpenAI server, which logs every
# request it received (--log-requests): ShareGPT-style conversations sent one request each
# (the prompts and estimated output lengths sent), --output-len over the estimates, multi-turn
# sessions (each turn carries the server's earlier answers and is sent only after the previous
# answer ended, plus the think time; a failed turn ends its session; latency by turn index),
# the example file, and malformed files (one line naming the file and the entry, exit 1).
. "$(dirname "$0")/lib.sh"
MOCK="$TESTS_DIR/mock/openai_mock.py"
. "$(dirname "$0")/lib_serve_bench.sh"
PIDS=""
trap 'for p in $PIDS; do kill "$p" 2>/dev/null; done; rm -rf "$SCRATCH"' EXIT
FIX="$TESTS_DIR/fixtures/datasets/chat.json"
EXAMPLE="$TESTS_DIR/../examples/chat_sample.json"

sb() { "$GREENOPS" serve-bench --model mock --no-db --no-energy --cooldown 0 "$@"; }

# reqlog LOG: the mock's requests after the up-front check request, as JSON lines
# {n, t, t_end, body}, in arrival order.
reqlog() {
	python3 -c 'import json, sys
reqs, ends = [], {}
for line in open(sys.argv[1]):
    d = json.loads(line)
    if "t_end" in d: ends[d["n"]] = d["t_end"]
    else: reqs.append(d)
for d in reqs[1:]:
    d["t_end"] = ends.get(d["n"])
    print(json.dumps(d))' "$1"
}

# What vLLM's reading of the fixture gives, computed here from the file: per kept conversation
# (2 turns or more, a question and an answer after it, both of 4 estimated tokens or more),
# the first question and ceil(characters / 4) of the first answer after it.
expected_single() {
	python3 -c 'import json, sys
def est(t): return (len(t) + 3) // 4
for c in json.load(open(sys.argv[1])):
    t = c["conversations"]
    q = next((i for i, m in enumerate(t) if m["from"] == "human"), None)
    a = None if q is None else next((i for i in range(q + 1, len(t)) if t[i]["from"] == "gpt"), None)
    if len(t) < 2 or a is None: continue
    if est(t[q]["value"]) < 4 or est(t[a]["value"]) < 4: continue
    print(json.dumps([t[q]["value"], est(t[a]["value"])]))' "$1"
}

start_mock tagged --ttft-ms 5 --gap-ms 1 --tag-tokens --log-requests "$SCRATCH/single.req"
URL="http://127.0.0.1:$PORT"

# 1. ShareGPT, single turn, completions, file order: one request per kept conversation.
expected_single "$FIX" >"$SCRATCH/want1"
eq "the fixture keeps 4 of its 6 conversations" "$(wc -l <"$SCRATCH/want1")" 4
sb --base-url "$URL" --dataset "$FIX" --dataset-order file --rate 20 --num-requests 4 \
	--json "$SCRATCH/s1.json" 2>"$SCRATCH/s1.err"
eq "sharegpt single turn exits 0" "$?" 0
reqlog "$SCRATCH/single.req" | python3 -c 'import json, sys
for l in sys.stdin:
    b = json.loads(l)["body"]
    print(json.dumps([b["prompt"], b["max_tokens"]]))' >"$SCRATCH/got1"
if cmp -s "$SCRATCH/want1" "$SCRATCH/got1"; then
	ok "prompts and estimated output lengths sent, in file order"
else
	not_ok "prompts and estimated output lengths sent, in file order" "want: $(cat "$SCRATCH/want1")" \
		"got: $(cat "$SCRATCH/got1")"
fi
eq "4 completed" "$(jget "$SCRATCH/s1.json" runs.0.completed)" 4
eq "read as sharegpt" "$(jget "$SCRATCH/s1.json" config.dataset_info.format)" sharegpt
eq "2 conversations skipped (short, then length)" \
	"$(pyq "$SCRATCH/s1.json" 'd["config"]["dataset_info"]["skipped_short"] + 10 * d["config"]["dataset_info"]["skipped_length"]')" 11
contains "estimated output lengths labelled in the JSON" "$SCRATCH/s1.json" '"output_len": "estimated: 4 characters per token"'
contains "and on stderr" "$SCRATCH/s1.err" "4 of 6 conversations kept .*output lengths estimated"

# 2. --output-len overrides every estimate; shuffled by --seed, the same prompts go out.
: >"$SCRATCH/single.req"
sb --base-url "$URL" --endpoint chat --dataset "$FIX" --seed 3 --output-len 5 --rate 20 \
	--num-requests 4 --json "$SCRATCH/s2.json" 2>"$SCRATCH/s2.err"
eq "--output-len run exits 0" "$?" 0
reqlog "$SCRATCH/single.req" | python3 -c 'import json, sys
for l in sys.stdin:
    b = json.loads(l)["body"]
    assert len(b["messages"]) == 1 and b["messages"][0]["role"] == "user"
    print(b["max_tokens"], b["messages"][0]["content"])' | sort >"$SCRATCH/got2"
python3 -c 'import json, sys
for l in open(sys.argv[1]): print(5, json.loads(l)[0])' "$SCRATCH/want1" | sort >"$SCRATCH/want2"
if cmp -s "$SCRATCH/want2" "$SCRATCH/got2"; then
	ok "--output-len is every max_tokens; chat sends the question as one user message"
else
	not_ok "--output-len is every max_tokens; chat sends the question as one user message" \
		"want: $(cat "$SCRATCH/want2")" "got: $(cat "$SCRATCH/got2")"
fi
contains "lengths from --output-len are not labelled estimated" "$SCRATCH/s2.json" '"output_len": "--output-len"'

# 3. Multi-turn: 4 sessions in file order (c1: 1 turn, c2: 2, c4: 4, c5: 1; no length
# filter), think time 0.15 s.
start_mock multi --ttft-ms 5 --gap-ms 1 --tag-tokens --log-requests "$SCRATCH/multi.req"
sb --base-url "http://127.0.0.1:$PORT" --endpoint chat --dataset "$FIX" --dataset-order file --multi-turn \
	--think-time 0.15 --rate 10 --num-requests 4 --json "$SCRATCH/m.json" --requests "$SCRATCH/m.csv" \
	2>"$SCRATCH/m.err"
eq "multi-turn exits 0" "$?" 0
reqlog "$SCRATCH/multi.req" >"$SCRATCH/multi.jsonl"
eq "8 requests: every turn of the 4 sessions" "$(wc -l <"$SCRATCH/multi.jsonl")" 8
# Each request's assistant messages are the mock's own earlier answers, whole: the answer of
# the request that sent exactly the messages before it; that answer ended before this request
# arrived, by the think time at least; user turns and max_tokens follow the conversation.
python3 - "$SCRATCH/multi.jsonl" "$FIX" >"$SCRATCH/multi.check" <<'EOF'
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
convs = json.load(open(sys.argv[2]))
est = lambda t: (len(t) + 3) // 4
by_msgs = {json.dumps(r["body"]["messages"]): r for r in reqs}
carried = followups = after = think = turns_ok = 0
gaps = []
for r in reqs:
    m = r["body"]["messages"]
    if len([x for x in m if x["role"] == "assistant"]) == 0:
        continue
    followups += 1
    prev = by_msgs.get(json.dumps(m[:-2]))
    want = "".join(" r%dt%d" % (prev["n"], i) for i in range(prev["body"]["max_tokens"])) if prev else None
    carried += prev is not None and m[-2] == {"role": "assistant", "content": want}
    if prev is not None:
        gaps.append(r["t"] - prev["t_end"])
        after += r["t"] > prev["t_end"]
        think += r["t"] - prev["t_end"] >= 0.15
# The user turns and max_tokens of every request match a prefix of a conversation.
for r in reqs:
    m = r["body"]["messages"]
    users = [x["content"] for x in m if x["role"] != "assistant"]
    for c in convs:
        t = c["conversations"]
        qs = [x["value"] for x in t if x["from"] in ("human", "system")]
        if users == qs[:len(users)]:
            # the answer after the last question of this turn
            k = max(i for i, x in enumerate(t) if x["value"] == users[-1])
            a = next((x["value"] for x in t[k + 1:] if x["from"] == "gpt"), None)
            turns_ok += a is not None and r["body"]["max_tokens"] == est(a)
            break
print("followups", followups)
print("carried", carried)
print("after", after)
print("think", think)
print("turns_ok", turns_ok)
print("system_first", sum(1 for r in reqs if r["body"]["messages"][0]["role"] == "system"))
print("max_gap_ok", int(max(gaps) < 1.5) if gaps else 0)
EOF
val() { awk -v k="$1" '$1 == k {print $2}' "$SCRATCH/multi.check"; }
eq "4 later turns (c2: 1, c4: 3)" "$(val followups)" 4
eq "each later turn carries the server's own earlier answers, whole" "$(val carried)" 4
eq "each later turn arrived after the previous answer ended" "$(val after)" 4
eq "... by the think time (0.15 s) at least" "$(val think)" 4
eq "... and not long after it" "$(val max_gap_ok)" 1
eq "user turns and estimated max_tokens follow the conversations" "$(val turns_ok)" 8
eq "c2's system message leads both its turns" "$(val system_first)" 2
J="$SCRATCH/m.json"
eq "multi-turn: 8 completed" "$(jget "$J" runs.0.completed)" 8
eq "multi-turn: 4 sessions" "$(jget "$J" runs.0.sessions)" 4
eq "multi-turn: turn indexes 0-3" "$(pyq "$J" 'len(d["runs"][0]["turns"])')" 4
eq "sessions by turn index: 4, 2, 1, 1" "$(pyq "$J" '",".join(str(t["sessions"]) for t in d["runs"][0]["turns"])')" "4,2,1,1"
check "mean TTFT per turn index, each at least the mock's 5 ms" \
	python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["runs"][0]["turns"]; sys.exit(not all(x["ttft_ms_mean"] >= 5 for x in t))' "$J"
check "the schedule's rate counts sessions, not turns" \
	python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["runs"][0]; sys.exit(not r["schedule_rate"] < 100)' "$J"
contains "TTFT by turn on stderr" "$SCRATCH/m.err" "4 sessions; TTFT mean by turn \(ms\): 0: [0-9.]+, 1: [0-9.]+, 2: [0-9.]+, 3: [0-9.]+"
eq "--requests: session and turn of each request" \
	"$(python3 -c 'import csv,sys; print(" ".join(r["session"] + "." + r["turn"] for r in csv.DictReader(open(sys.argv[1]))))' "$SCRATCH/m.csv")" \
	"0.0 1.0 1.1 2.0 2.1 2.2 2.3 3.0"

# 4. A failed turn ends its session: request 1 is the check, 2 the first turn, 3 the second
# (fails); the last two turns are never sent.
python3 -c 'import json, sys; c = json.load(open(sys.argv[1])); json.dump([c[3]], open(sys.argv[2], "w"))' \
	"$FIX" "$SCRATCH/one.json"
start_mock fail3 --ttft-ms 5 --gap-ms 1 --fail-every 3 --log-requests "$SCRATCH/fail.req"
sb --base-url "http://127.0.0.1:$PORT" --endpoint chat --dataset "$SCRATCH/one.json" --multi-turn --rate 10 \
	--num-requests 1 --json "$SCRATCH/f.json" 2>"$SCRATCH/f.err"
eq "a failing session still exits 0" "$?" 0
eq "failed turn: 1 completed, 1 failed, 2 not sent" \
	"$(pyq "$SCRATCH/f.json" '"%d %d %d" % (d["runs"][0]["completed"], d["runs"][0]["failed"], d["runs"][0]["not_sent"])')" "1 1 2"
eq "the server saw 3 requests" "$(grep -c '"body"' "$SCRATCH/fail.req")" 3

# 5. The example file reads, single and multi-turn; OpenAI "messages" JSONL with assistant
# turns is multi-turn too.
start_mock plain --ttft-ms 5 --gap-ms 1
sb --base-url "http://127.0.0.1:$PORT" --endpoint chat --dataset "$EXAMPLE" --rate 50 --num-requests 6 \
	--json "$SCRATCH/e1.json" 2>/dev/null
eq "examples/chat_sample.json: 6 requests" "$(jget "$SCRATCH/e1.json" config.dataset_info.requests)" 6
sb --base-url "http://127.0.0.1:$PORT" --endpoint chat --dataset "$EXAMPLE" --multi-turn --rate 50 \
	--num-requests 6 --json "$SCRATCH/e2.json" 2>/dev/null
eq "examples/chat_sample.json: 12 turns in 6 sessions" \
	"$(pyq "$SCRATCH/e2.json" '"%d %d" % (d["config"]["dataset_info"]["turns"], d["runs"][0]["sessions"])')" "12 6"
printf '%s\n' '{"messages": [{"role": "user", "content": "one"}, {"role": "assistant", "content": "two"}, {"role": "user", "content": "three"}, {"role": "assistant", "content": "four"}]}' >"$SCRATCH/msgs.jsonl"
sb --base-url "http://127.0.0.1:$PORT" --endpoint chat --dataset "$SCRATCH/msgs.jsonl" --multi-turn --rate 10 \
	--num-requests 1 --json "$SCRATCH/e3.json" 2>/dev/null
eq "OpenAI messages JSONL: 2 turns sent" "$(jget "$SCRATCH/e3.json" runs.0.completed)" 2

# 6. Malformed files: exit 1, one line naming the file and where.
bad() {
	local name=$1 where=$2
	shift 2
	printf '%s\n' "$@" >"$SCRATCH/$name"
	sb --base-url "http://127.0.0.1:$PORT" --endpoint chat --rate 5 --num-requests 2 \
		--dataset "$SCRATCH/$name" 2>"$SCRATCH/$name.err"
	eq "$name: exit 1" "$?" 1
	eq "$name: one line" "$(wc -l <"$SCRATCH/$name.err")" 1
	contains "$name: names the file and $where" "$SCRATCH/$name.err" "$name' $where"
}
Q='{"from": "human", "value": "q"}'
A='{"from": "gpt", "value": "a"}'
bad badjson.json "entry 2 \(line 3\): not JSON" "[" "{\"conversations\": [$Q, $A]}," "{\"conversations\": [$Q, }" "]"
bad noturns.json "entry 1 \(line 2\): 'conversations' has no turns" "[" '{"conversations": []}' "]"
bad notarray.json "entry 1 \(line 1\): 'conversations' must be an array" '[{"conversations": "hello"}]'
bad wrongtype.jsonl "line 2: turn 2 of 'conversations' needs 'from' and 'value' strings" \
	"{\"conversations\": [$Q, $A]}" "{\"conversations\": [$Q, {\"from\": \"gpt\", \"value\": 7}]}"
bad badrole.jsonl "line 1: turn 1 has the unknown role 'robot'" '{"conversations": [{"from": "robot", "value": "x"}]}'
bad nocomma.json "line 2: expected ',' or ']' after entry 1" "[{\"conversations\": [$Q, $A]}" "{\"conversations\": [$Q, $A]}]"
bad allshort.json "holds no request: all 1 conversations were skipped" "[{\"conversations\": [$Q]}]"

# 7. Options that do not go together.
sb --base-url "http://127.0.0.1:$PORT" --dataset "$FIX" --multi-turn --rate 5 --num-requests 2 2>"$SCRATCH/o1.err"
eq "--multi-turn without chat: usage error" "$?" 2
contains "--multi-turn without chat: says so" "$SCRATCH/o1.err" "--multi-turn needs --endpoint chat"
sb --base-url "http://127.0.0.1:$PORT" --dataset "$FIX" --think-time 1 --rate 5 --num-requests 2 2>"$SCRATCH/o2.err"
eq "--think-time without --multi-turn: usage error" "$?" 2
sb --base-url "http://127.0.0.1:$PORT" --dataset "$FIX" --dataset-format csv --rate 5 --num-requests 2 2>"$SCRATCH/o3.err"
eq "unknown --dataset-format: usage error" "$?" 2
# A value that is no number is named once; one too large says so.
sb --base-url "http://127.0.0.1:$PORT" --dataset "$FIX" --num-requests 99999999999 --dataset-min-len x \
	--rate 5 2>"$SCRATCH/o4.err"
eq "--dataset-min-len x: usage error" "$?" 2
eq "--dataset-min-len x: one error, no other" "$(grep -c 'greenops serve-bench:' "$SCRATCH/o4.err")" 1
contains "--dataset-min-len x: the value named" "$SCRATCH/o4.err" "invalid value 'x' for --dataset-min-len"
sb --base-url "http://127.0.0.1:$PORT" --dataset "$FIX" --dataset-max-len 200000000 --rate 5 \
	--num-requests 2 2>"$SCRATCH/o5.err"
eq "--dataset-max-len too large: usage error" "$?" 2
contains "--dataset-max-len too large: says so" "$SCRATCH/o5.err" "dataset-max-len is too large"

done_testing
