#!/usr/bin/env python3
"""The open loop of vLLM's serving benchmark, as a reference client for bench/serve_capacity.sh.

Each request is sent the way vLLM's benchmark request function for OpenAI completions sends
it (benchmarks/backend_request_func.py, `async_request_openai_completions`): an aiohttp
ClientSession per request, a streamed POST, the body read line by line from
`response.content`, each `data: ` line parsed with json.loads, the time of each text-carrying
event kept, usage read from the last event. Arrivals are Poisson with absolute deadlines
(vLLM sleeps each gap after the previous send, so its lateness accumulates; a deadline
schedule is the fairer reference). Written from that description, not copied.

Usage: vllm_request_func.py URL RATE DURATION_S
Prints one line, as bench/raw_bare and bench/curl_bare do:
  schedule_rate achieved_rate lateness_p99_ms cpu_us_per_request events_per_response -
and a reason on stderr when requests failed.
"""
import asyncio
import json
import random
import resource
import sys
import time

import aiohttp

BODY = {"model": "bench", "prompt": "a b c d e f g h", "max_tokens": 16, "temperature": 0.0,
        "stream": True, "stream_options": {"include_usage": True}}
TIMEOUT = aiohttp.ClientTimeout(total=6 * 60 * 60)


async def request(url, out):
    """One request, in the manner of vLLM's request function: returns (ok, events)."""
    events = 0
    ttft = 0.0
    start = time.perf_counter()
    last = start
    itl = []
    try:
        async with aiohttp.ClientSession(trust_env=True, timeout=TIMEOUT) as session:
            async with session.post(url, json=BODY, headers={"Content-Type": "application/json"}) as resp:
                if resp.status != 200:
                    out.append((False, 0, "http %d" % resp.status))
                    return
                async for raw in resp.content:
                    line = raw.strip()
                    if not line:
                        continue
                    events += 1  # every event, as raw_bare and curl_bare count them
                    data = line.decode("utf-8")
                    if data.startswith("data: "):
                        data = data[len("data: "):]
                    if data == "[DONE]":
                        continue
                    obj = json.loads(data)
                    choices = obj.get("choices")
                    if choices and choices[0].get("text"):
                        now = time.perf_counter()
                        if ttft == 0.0:
                            ttft = now - start
                        else:
                            itl.append(now - last)
                        last = now
                    elif obj.get("usage"):
                        obj["usage"].get("completion_tokens")
        out.append((ttft > 0, events, "" if ttft > 0 else "no tokens"))
    except Exception as e:  # a failed request is a result, as in vLLM's function
        out.append((False, 0, "%s: %s" % (type(e).__name__, e)))


async def main(url, rate, duration):
    rng = random.Random(0)
    offsets, t = [], 0.0
    while t < duration:
        offsets.append(t)
        t += rng.expovariate(rate)
    loop = asyncio.get_running_loop()
    out, late, starts, tasks = [], [], [], []
    cpu0 = time.process_time()
    t0 = loop.time() + 0.05
    for off in offsets:
        delay = t0 + off - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        now = loop.time()
        late.append((now - (t0 + off)) * 1000)
        starts.append(now)
        tasks.append(asyncio.create_task(request(url, out)))
        if now - (t0 + off) > 10:  # hopelessly behind: stop sending, as serve-bench would
            break
    await asyncio.gather(*tasks)
    cpu = time.process_time() - cpu0
    n = len(starts)
    sched = (len(offsets) - 1) / (offsets[-1] - offsets[0])
    achieved = (n - 1) / (starts[-1] - starts[0]) if n > 1 and starts[-1] > starts[0] else 0
    late.sort()
    p99 = late[min(len(late) - 1, int(0.99 * (len(late) - 1) + 0.5))]
    ok = [o for o in out if o[0]]
    events = sum(o[1] for o in ok) / len(ok) if ok else 0
    failed = [o for o in out if not o[0]]
    if failed or n < len(offsets):
        print("%d failed (e.g. %s), %d not sent" % (len(failed), failed[0][2] if failed else "-",
                                                   len(offsets) - n), file=sys.stderr)
    print("%.1f %.1f %.3f %.1f %.2f -" % (sched, achieved, p99, cpu * 1e6 / max(1, n), events))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print(__doc__.split("\n\n")[2], file=sys.stderr)
        sys.exit(2)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(main(sys.argv[1], float(sys.argv[2]), float(sys.argv[3])))
