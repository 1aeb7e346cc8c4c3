#!/usr/bin/env python3
"""Slow HTTP clients for the exporter's tests: opens N connections to ADDR, sends the start of
a request on each and then one more header line every half second (slowloris: a connection
that is never idle but never finishes its request), for at most SECONDS. Writes STATUS after
the requests have started and after every round: "<closed by the server> <still open>
<seconds since the start>"; the last line goes to stdout too."""
import os
import socket
import sys
import time


def main():
    addr, n, secs, status = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    host, port = addr.rsplit(":", 1)
    live = []
    for _ in range(n):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect((host, int(port)))
        except BlockingIOError:
            pass
        live.append(s)
    t0, closed = time.time(), 0

    def report():
        line = "%d %d %.1f" % (closed, len(live), time.time() - t0)
        with open(status + ".tmp", "w") as f:
            f.write(line + "\n")
        os.replace(status + ".tmp", status)
        return line

    first = b"GET /metrics HTTP/1.1\r\nHost: x\r\n"
    sent = set()
    while live and time.time() - t0 < secs:
        for s in list(live):
            gone = False
            try:
                gone = s.recv(4096) == b""
            except BlockingIOError:
                pass
            except OSError as e:
                gone = e.errno not in (107,)  # ENOTCONN: still connecting
            if not gone:
                try:
                    s.send(b"X: y\r\n" if s in sent else first)
                    sent.add(s)
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError as e:
                    gone = e.errno not in (107,)
            if gone:
                live.remove(s)
                s.close()
                closed += 1
        report()
        time.sleep(0.5)
    print(report())


main()
