#!/usr/bin/env python3
"""The mock OpenAI-compatible server of openai_mock.py, over HTTP/2 cleartext (h2c, prior knowledge).

Same flags and responses; many streams share one connection, with HTTP/2 flow control both ways.
--fail-mode drop resets the failing stream (RST_STREAM) mid-response; the connection stays up.
--log appends one line per request: arrival time, connection number, stream id, streams open.
Needs the h2 package (Debian: python3-h2). Binds port 0 and prints "PORT <n>" when ready.
"""
import asyncio
import json
import os
import sys
import time

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from openai_mock import completion, make_parser, serve  # noqa: E402

STATE = {"count": 0, "conns": 0}


def parse_args():
    return make_parser(__doc__, "append one line per request: CLOCK_MONOTONIC s, connection "
                       "number, stream id, streams open on it").parse_args()


class StreamGone(Exception):
    """The client reset the stream or closed the connection while we were sending."""


class Conn(asyncio.Protocol):
    def __init__(self, args, log):
        self.a = args
        self.log = log
        self.nl = b"\r\n" if args.crlf else b"\n"
        self.h2 = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
        self.streams = {}  # stream id -> {"headers", "body", "task"}
        self.window = None  # set when a WINDOW_UPDATE or SETTINGS may have opened a window
        self.writable = None  # set while the transport's buffer is below its high mark
        self.closed = False

    # --- asyncio.Protocol

    def connection_made(self, transport):
        STATE["conns"] += 1
        self.id = STATE["conns"]
        self.transport = transport
        self.window = asyncio.Event()
        self.writable = asyncio.Event()
        self.writable.set()
        self.h2.initiate_connection()
        self.flush()

    def connection_lost(self, exc):
        self.closed = True
        self.window.set()
        self.writable.set()
        for st in self.streams.values():
            if st.get("task"):
                st["task"].cancel()

    def pause_writing(self):
        self.writable.clear()

    def resume_writing(self):
        self.writable.set()

    def data_received(self, data):
        try:
            events = self.h2.receive_data(data)
        except h2.exceptions.ProtocolError:
            # Not HTTP/2 (an HTTP/1.1 client, say): h2 has queued a GOAWAY saying why.
            self.flush()
            self.transport.close()
            return
        for ev in events:
            if isinstance(ev, h2.events.RequestReceived):
                self.streams[ev.stream_id] = {"headers": dict(ev.headers), "body": bytearray()}
            elif isinstance(ev, h2.events.DataReceived):
                st = self.streams.get(ev.stream_id)
                if st is not None:
                    st["body"] += ev.data
                # Give the window back at once: bodies larger than 64 KiB need it, per stream
                # and for the connection (h2 sends WINDOW_UPDATE once enough has been consumed).
                self.h2.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                st = self.streams.get(ev.stream_id)
                if st is not None:
                    st["task"] = asyncio.ensure_future(self.request(ev.stream_id, st))
            elif isinstance(ev, h2.events.StreamReset):
                st = self.streams.pop(ev.stream_id, None)
                if st is not None and st.get("task"):
                    st["task"].cancel()
            elif isinstance(ev, (h2.events.WindowUpdated, h2.events.RemoteSettingsChanged)):
                self.window.set()
            elif isinstance(ev, h2.events.ConnectionTerminated):
                self.flush()
                self.transport.close()
                return
        self.flush()

    # --- sending

    def flush(self):
        out = self.h2.data_to_send()
        if out and not self.closed:
            self.transport.write(out)

    def check(self, sid):
        if self.closed or sid not in self.streams:
            raise StreamGone()

    async def send(self, sid, data, end=False):
        """Sends DATA frames within the stream's and the connection's flow-control windows."""
        view = memoryview(data)
        while True:
            self.check(sid)
            if not self.writable.is_set():
                await self.writable.wait()
                continue
            if not view:
                if end:
                    self.h2.end_stream(sid)
                    self.flush()
                return
            n = min(self.h2.local_flow_control_window(sid), self.h2.max_outbound_frame_size, len(view))
            if n <= 0:
                self.window.clear()
                await self.window.wait()
                continue
            last = n == len(view)
            self.h2.send_data(sid, view[:n].tobytes(), end_stream=end and last)
            self.flush()
            view = view[n:]
            if last:
                return

    async def respond(self, sid, status, ctype, data):
        self.check(sid)
        self.h2.send_headers(sid, [(":status", str(status)), ("content-type", ctype),
                                   ("content-length", str(len(data)))])
        await self.send(sid, data, end=True)

    # --- one request

    async def request(self, sid, st):
        try:
            await self.route(sid, st)
        except (StreamGone, asyncio.CancelledError):
            pass
        except h2.exceptions.StreamClosedError:
            pass
        finally:
            self.streams.pop(sid, None)

    async def route(self, sid, st):
        hd = st["headers"]
        method, path = hd.get(":method"), hd.get(":path")
        if method == "GET" and path in ("/health", "/v1/models"):
            return await self.respond(sid, 200, "application/json", json.dumps(
                {"object": "list", "data": [{"id": "mock", "object": "model"}]}).encode())
        if method != "POST" or path not in ("/v1/completions", "/v1/chat/completions"):
            return await self.respond(sid, 404, "application/json", json.dumps(
                {"error": {"message": "no route %s %s" % (method, path)}}).encode())
        t0 = time.monotonic()
        STATE["count"] += 1
        nth = STATE["count"]
        if self.log:
            self.log.write("%.6f %d %d %d\n" % (t0, self.id, sid, len(self.streams)))
        async for kind, v in completion(self.a, bytes(st["body"]), path, nth, self.nl):
            if kind == "json":
                return await self.respond(sid, v[0], "application/json", json.dumps(v[1]).encode())
            if kind == "stream":
                self.check(sid)
                self.h2.send_headers(sid, [(":status", "200"), ("content-type", "text/event-stream"),
                                           ("cache-control", "no-cache")])
                self.flush()
            elif kind == "data":
                await self.send(sid, v)
            elif kind == "drop":
                self.check(sid)
                self.h2.reset_stream(sid, error_code=h2.errors.ErrorCodes.INTERNAL_ERROR)
                self.flush()
                return
            else:
                await self.send(sid, v, end=True)
                return


if __name__ == "__main__":
    ARGS = parse_args()
    LOG = open(ARGS.log, "a", buffering=1) if ARGS.log else None
    serve(lambda: asyncio.get_running_loop().create_server(lambda: Conn(ARGS, LOG), ARGS.host, ARGS.port,
                                                           backlog=1024))
