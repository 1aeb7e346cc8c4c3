"""Mark phases of a program measured by `greenops run` (standard library only), or measure
energy inside the program itself with greenops.Monitor (libgreenops through ctypes; see
greenops.monitor).

    import greenops
    with greenops.window("epoch", units=len(dataset)):
        train_one_epoch()
    greenops.units(batch_size)          # add units to the innermost open window
    greenops.tag("model", "resnet18")

Under `greenops run`, lines go to the control socket named in $GREENOPS_CONTROL, stamped
with this process's CLOCK_MONOTONIC time (the clock greenops uses), so the moment of a
window edge is the moment the call was made. An edge is sent at once when none was sent in
the last 100 ms, and so is the end of a window that lasted a second or more: greenops reads
the GPU's energy counter around such edges, and the update before the edge can only be read
until the next one (100 ms on NVIDIA GPUs). Faster lines go in small batches (at most 64
lines, or 100 ms, then a background flush; at exit; `flush()` sends at once): a loop marking
thousands of windows a second then costs greenops a few wake-ups a second instead of one per
line. Outside greenops every call is a no-op and
one warning is printed. For GPU work, synchronise the device at window edges (the
`sync` argument takes a callable such as torch.cuda.synchronize), or the window measures
when kernels were queued rather than when they ran.
"""

import atexit
import contextlib
import os
import socket
import sys
import threading
import time

from .monitor import DomainEnergy, Monitor, MonitorError, Result, WindowResult, load_library

__version__ = "0.1.0"
__all__ = ["window", "begin", "end", "units", "tag", "flush", "active",
           "Monitor", "MonitorError", "WindowResult", "DomainEnergy", "Result", "load_library"]

_lock = threading.Lock()
_sock = None
_pid = None
_warned = False
_buf = []
_buf_since = 0.0
_MAX_LINES = 64
_MAX_AGE_S = 0.1


def _connect():
    global _sock, _pid, _warned
    if _sock is not None and _pid == os.getpid():
        return _sock
    path = os.environ.get("GREENOPS_CONTROL")
    if not path:
        if not _warned:
            _warned = True
            print("greenops: not running under 'greenops run': windows are not measured",
                  file=sys.stderr)
        return None
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
    except OSError as e:
        if not _warned:
            _warned = True
            print(f"greenops: cannot connect to '{path}': {e}: windows are not measured",
                  file=sys.stderr)
        return None
    # A forked worker gets a connection of its own, and none of its parent's unsent lines.
    _sock, _pid = s, os.getpid()
    _buf.clear()
    return s


def _flush_locked():
    global _warned
    if not _buf or _sock is None or _pid != os.getpid():
        _buf.clear()
        return
    data = "".join(_buf).encode()
    _buf.clear()
    try:
        _sock.sendall(data)
    except OSError as e:
        if not _warned:
            _warned = True
            print(f"greenops: control socket failed: {e}", file=sys.stderr)


_last_flush = 0.0
_flusher = None
_flusher_pid = None
_wake = threading.Condition(_lock)
_opened = {}  # window name -> begin times (monotonic s) of its open windows


def _flusher_main():
    with _lock:
        while True:
            if _buf:
                due = _buf_since + _MAX_AGE_S - time.monotonic()
                if due <= 0:
                    _flush_now_locked()
                    continue
                _wake.wait(due)
            else:
                _wake.wait()


def _flush_now_locked():
    global _last_flush
    _last_flush = time.monotonic()
    _flush_locked()


def _send(line, now=False):
    global _buf_since, _flusher, _flusher_pid
    with _lock:
        if _connect() is None:
            return False
        t = time.monotonic()
        if not _buf:
            _buf_since = t
        _buf.append(line + "\n")
        if now or len(_buf) >= _MAX_LINES or t - _last_flush >= _MAX_AGE_S:
            _flush_now_locked()
        elif _flusher is None or _flusher_pid != os.getpid():
            # Nothing waits longer than _MAX_AGE_S for the next call.
            _flusher = threading.Thread(target=_flusher_main, name="greenops-flush", daemon=True)
            _flusher_pid = os.getpid()
            _flusher.start()
        else:
            _wake.notify()
        return True


def flush():
    """Sends every line not sent yet."""
    with _lock:
        _flush_locked()


atexit.register(flush)


def _check_name(name):
    name = str(name)
    if not name or any(c.isspace() for c in name):
        raise ValueError(f"greenops window name {name!r} must be non-empty without spaces")
    return name


def active():
    """True when running under greenops with a reachable control socket."""
    return _connect() is not None


def begin(name, sync=None):
    if sync:
        sync()
    name = _check_name(name)
    t = time.monotonic_ns()
    _opened.setdefault(name, []).append(t / 1e9)
    _send(f"begin {name} {t}")


def end(name, sync=None):
    if sync:
        sync()
    name = _check_name(name)
    t = time.monotonic_ns()
    began = _opened.get(name) or [t / 1e9]
    long_window = t / 1e9 - began.pop() >= 1.0
    _send(f"end {name} {t}", now=long_window)


def units(n, name=None):
    """Count units of work (samples, requests, tokens) for a window or the run."""
    if n < 0:
        raise ValueError("units must be non-negative")
    _send(f"units {n}" + (f" {_check_name(name)}" if name else ""))


def tag(key, value):
    key, value = str(key), str(value)
    if not key or "=" in key or any(c.isspace() for c in key + value):
        raise ValueError(f"greenops tag {key!r}={value!r}: no spaces, no '=' in the key")
    _send(f"tag {key}={value}", now=True)


@contextlib.contextmanager
def window(name, units=None, sync=None):
    """Measure the energy of the block; `units` counts its work (energy per unit)."""
    name = _check_name(name)
    begin(name, sync)
    try:
        yield
    finally:
        if units is not None:
            _send(f"units {units} {name}")
        end(name, sync)
