#!/usr/bin/env python3
"""A mock OpenAI-compatible server for serve-bench's tests (stdlib asyncio only).

Streams /v1/completions and /v1/chat/completions as vLLM does (chunked SSE, usage chunk,
data: [DONE]) with a configurable time to first token, inter-token gap and length, and
injects failures on every Nth request. Binds port 0 and prints "PORT <n>" when ready.
"""
import argparse
import asyncio
import json
import sys
import time

STATE = {"count": 0}


def make_parser(description, log_help):
    """The flags both mocks take (this one and openai_mock_h2.py)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--ttft-ms", type=float, default=40.0, help="time to the first token")
    p.add_argument("--gap-ms", type=float, default=10.0, help="gap between tokens")
    p.add_argument("--stream-ms", type=float, default=0,
                   help="stream every response over this long after its first token, whatever its "
                        "length (the gap is stream-ms / (tokens - 1)); 0: use --gap-ms")
    p.add_argument("--tokens", type=int, default=0,
                   help="tokens per response (0: the request's max_tokens, else 16)")
    p.add_argument("--fail-every", type=int, default=0, help="every Nth request fails")
    p.add_argument("--fail-mode", choices=["http500", "event", "drop"], default="http500")
    p.add_argument("--no-usage", action="store_true", help="never send a usage chunk")
    p.add_argument("--usage-tokens", type=int, default=None,
                   help="completion_tokens the usage chunk claims (default: the tokens sent)")
    p.add_argument("--crlf", action="store_true", help="end SSE lines with CRLF")
    p.add_argument("--comments", action="store_true", help="send ': ping' comment lines")
    p.add_argument("--idle-close-ms", type=float, default=0,
                   help="close a kept-alive connection idle this long (as uvicorn's keep-alive timeout)")
    p.add_argument("--max-batch", type=int, default=0,
                   help="stream at most this many responses at once; the others wait, as in an "
                        "overloaded server's queue (0: no limit)")
    p.add_argument("--log", help=log_help)
    p.add_argument("--log-requests",
                   help="append two JSON lines per completion request: {n, t, body} when it arrives "
                        "(body: the request as parsed) and {n, t_end} when its response is finished "
                        "(CLOCK_MONOTONIC s)")
    p.add_argument("--tag-tokens", action="store_true",
                   help="token i of request n reads ' r<n>t<i>' instead of ' tok<i>', so that an "
                        "answer can be recognised where a later request quotes it")
    return p


def parse_args():
    return make_parser(__doc__, "append one line per request: arrival time (CLOCK_MONOTONIC s)").parse_args()


def chunked(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def count_words(body) -> int:
    if isinstance(body.get("prompt"), str):
        return len(body["prompt"].split())
    n = 0
    for m in body.get("messages") or []:
        c = m.get("content")
        if isinstance(c, str):
            n += len(c.split())
    return n


def sse_event(obj, nl) -> bytes:
    data = obj if isinstance(obj, str) else json.dumps(obj, separators=(",", ":"))
    return b"data: " + data.encode() + nl + nl


async def completion(a, body, path, nth, nl):
    """What one completion request gets, whatever the transport, as (kind, value) pairs:
    ("json", (status, obj)) a whole JSON reply and nothing more; ("stream", None) an event
    stream begins; ("data", bytes) its next bytes; ("drop", None) cut it here; ("end", bytes)
    its last bytes. Tokens are timed here, so both mocks pace them alike."""
    try:
        req = json.loads(body)
    except ValueError:
        yield "json", (400, {"error": {"message": "body is not JSON"}})
        return
    fail = a.fail_every > 0 and nth % a.fail_every == 0
    if fail and a.fail_mode == "http500":
        yield "json", (500, {"error": {"message": "injected failure %d" % nth, "type": "server_error"}})
        return
    chat = path.endswith("chat/completions")
    ntok = a.tokens or int(req.get("max_tokens") or 16)
    usage = not a.no_usage and (req.get("stream_options") or {}).get("include_usage")
    prompt_tokens = count_words(req)
    gap_ms = a.stream_ms / max(1, ntok - 1) if a.stream_ms > 0 else a.gap_ms
    loop = asyncio.get_running_loop()
    start = loop.time()
    if not req.get("stream"):
        await asyncio.sleep(a.ttft_ms / 1000 + (ntok - 1) * a.gap_ms / 1000)
        text = "".join(" tok%d" % i for i in range(ntok))
        choice = ({"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "length"}
                  if chat else {"index": 0, "text": text, "finish_reason": "length"})
        yield "json", (200, {"id": "cmpl-%d" % nth, "choices": [choice],
                             "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": ntok,
                                       "total_tokens": prompt_tokens + ntok}})
        return
    yield "stream", None
    base = {"id": "cmpl-%d" % nth, "created": int(time.time()), "model": req.get("model", "mock"),
            "object": "chat.completion.chunk" if chat else "text_completion"}
    if chat:
        yield "data", sse_event(dict(base, choices=[
            {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]), nl)
    first = None
    for i in range(ntok):
        # The first token TTFT after the request, token i at first + i * gap: timer
        # lateness only ever adds to TTFT, and does not accumulate over the tokens, so
        # TPOT is the gap plus the last token's lateness / (n - 1).
        deadline = start + a.ttft_ms / 1000 if first is None else first + i * gap_ms / 1000
        delay = deadline - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        if first is None:
            first = loop.time()
        if fail and i == ntok // 2:
            if a.fail_mode == "drop":
                yield "drop", None
                return
            yield "end", sse_event({"error": {"message": "injected failure %d" % nth,
                                              "type": "server_error", "code": 500}}, nl) + sse_event("[DONE]", nl)
            return
        finish = "length" if i == ntok - 1 else None
        word = " r%dt%d" % (nth, i) if getattr(a, "tag_tokens", False) else " tok%d" % i
        choice = ({"index": 0, "delta": {"content": word}, "finish_reason": finish} if chat
                  else {"index": 0, "text": word, "logprobs": None, "finish_reason": finish})
        out = sse_event(dict(base, choices=[choice]), nl)
        if a.comments:
            out = b": ping" + nl + out
        yield "data", out
    tail = b""
    if usage:
        claimed = ntok if a.usage_tokens is None else a.usage_tokens
        tail += sse_event(dict(base, choices=[], usage={
            "prompt_tokens": prompt_tokens, "completion_tokens": claimed,
            "total_tokens": prompt_tokens + claimed}), nl)
    yield "end", tail + sse_event("[DONE]", nl)


class Handler:
    def __init__(self, args):
        self.a = args
        self.nl = b"\r\n" if args.crlf else b"\n"
        self.log = open(args.log, "a", buffering=1) if args.log else None
        self.req_log = open(args.log_requests, "a", buffering=1) if args.log_requests else None
        self.batch = None  # the --max-batch semaphore, made inside the event loop

    async def serve(self, reader, writer):
        try:
            served = 0
            while True:
                if served and self.a.idle_close_ms > 0:
                    try:
                        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"),
                                                      self.a.idle_close_ms / 1000.0)
                    except asyncio.TimeoutError:
                        break
                else:
                    head = await reader.readuntil(b"\r\n\r\n")
                served += 1
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                n = int(headers.get("content-length", "0"))
                body = await reader.readexactly(n) if n else b""
                keep = await self.route(method, path, body, writer)
                if not keep:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            try:
                writer.close()
            except Exception:
                pass

    def plain(self, writer, status, obj):
        data = json.dumps(obj).encode()
        writer.write(b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                     % (status, len(data), data))

    async def route(self, method, path, body, writer):
        if method == "GET" and path in ("/health", "/v1/models"):
            self.plain(writer, 200, {"object": "list", "data": [{"id": "mock", "object": "model"}]})
            await writer.drain()
            return True
        if method != "POST" or path not in ("/v1/completions", "/v1/chat/completions"):
            self.plain(writer, 404, {"error": {"message": "no route %s %s" % (method, path)}})
            await writer.drain()
            return True
        t0 = time.monotonic()
        STATE["count"] += 1
        nth = STATE["count"]
        if self.log:
            self.log.write("%.6f\n" % t0)
        if self.req_log:
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
            self.req_log.write(json.dumps({"n": nth, "t": t0, "path": path, "body": parsed}) + "\n")
        if self.a.max_batch > 0:
            if self.batch is None:
                self.batch = asyncio.Semaphore(self.a.max_batch)
            async with self.batch:
                keep = await self.respond(body, path, nth, writer)
        else:
            keep = await self.respond(body, path, nth, writer)
        if self.req_log:
            self.req_log.write(json.dumps({"n": nth, "t_end": time.monotonic()}) + "\n")
        return keep

    async def respond(self, body, path, nth, writer):
        async for kind, v in completion(self.a, body, path, nth, self.nl):
            if kind == "json":
                self.plain(writer, *v)
            elif kind == "stream":
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                             b"Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n")
                continue
            elif kind == "data":
                writer.write(chunked(v))
            elif kind == "drop":
                writer.transport.abort()
                return False
            else:
                writer.write(chunked(v) + b"0\r\n\r\n")
            await writer.drain()
        return True


def serve(start):
    """Both mocks' main loop: awaits start() (a listening asyncio server), prints "PORT n" for
    the tests, and serves until interrupted."""
    async def run():
        server = await start()
        print("PORT %d" % server.sockets[0].getsockname()[1], flush=True)
        async with server:
            await server.serve_forever()
    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    ARGS = parse_args()
    HANDLER = Handler(ARGS)
    serve(lambda: asyncio.start_server(HANDLER.serve, ARGS.host, ARGS.port, backlog=1024))
