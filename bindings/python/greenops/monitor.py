"""Measure energy inside a Python program, without `greenops run`: a Monitor loads libgreenops
with ctypes and gives each window's energy back to the program.

    m = greenops.Monitor(sources="nvml")
    m.start()
    m.begin_window("epoch")
    train_one_epoch()
    w = m.end_window("epoch")          # w.energy_j, w.domains["gpu0"].method, w.uncertainty_j
    with m.window("eval") as e:
        evaluate()
    print(e.energy_j)
    result = m.stop()                   # the whole span: result.energy_j, result.windows
    m.close()

A window's figures are final when end_window returns: libgreenops waits until every sensor has
been read past the window's end (on NVIDIA GPUs, the counter's next update: 0.1 to 0.2 s) and
gives the figures stop() will give for that window. Where a sensor was not read past the end in
time (a window among many short ones, whose edges get no counter readings of their own), the
figures are provisional (`final` is False) and stop()'s result has the exact ones.

The library is found through the `library` argument, $GREENOPS_LIBRARY, a libgreenops.so next to
this package, the system's library path (`make install` puts it in PREFIX/lib), and the lib
folder beside a `greenops` program on PATH.
"""

import contextlib
import ctypes
import ctypes.util
import json
import math
import os
import shutil
import threading

__all__ = ["Monitor", "MonitorError", "WindowResult", "DomainEnergy", "Result", "load_library"]


class MonitorError(RuntimeError):
    """A libgreenops call failed; the message is one line naming what and why."""


class _Options(ctypes.Structure):
    _fields_ = [
        ("interval_ms", ctypes.c_uint),
        ("sources", ctypes.c_char_p),
        ("idle", ctypes.c_int),
        ("idle_seconds", ctypes.c_double),
        ("idle_watts", ctypes.c_double),
        ("idle_values", ctypes.c_void_p),
        ("n_idle_values", ctypes.c_size_t),
        ("cpu_tdp_w", ctypes.c_double),
        ("anchor_period_s", ctypes.c_double),
    ]


class _Domain(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char * 32),
        ("source", ctypes.c_char * 16),
        ("kind", ctypes.c_char * 16),
        ("label", ctypes.c_char * 128),
        ("method", ctypes.c_int),
        ("summed", ctypes.c_bool),
        ("energy_j", ctypes.c_double),
        ("dynamic_energy_j", ctypes.c_double),
        ("idle_power_w", ctypes.c_double),
        ("avg_power_w", ctypes.c_double),
        ("peak_power_w", ctypes.c_double),
        ("uncertainty_j", ctypes.c_double),
        ("integrated_energy_j", ctypes.c_double),
        ("update_period_s", ctypes.c_double),
        ("n_warnings", ctypes.c_size_t),
        ("warnings", ctypes.POINTER(ctypes.c_char_p)),
        ("n_sensor_notes", ctypes.c_size_t),
    ]


class _Window(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("start_s", ctypes.c_double),
        ("end_s", ctypes.c_double),
        ("units", ctypes.c_double),
        ("energy_j", ctypes.c_double),
        ("dynamic_energy_j", ctypes.c_double),
        ("energy_per_unit_j", ctypes.c_double),
        ("uncertainty_j", ctypes.c_double),
        ("open", ctypes.c_bool),
        ("n_domains", ctypes.c_size_t),
        ("domains", ctypes.POINTER(_Domain)),
        ("n_warnings", ctypes.c_size_t),
        ("warnings", ctypes.POINTER(ctypes.c_char_p)),
    ]


def _candidates(library):
    if library:
        yield str(library), "the library argument"
        return
    env = os.environ.get("GREENOPS_LIBRARY")
    if env:
        yield env, "$GREENOPS_LIBRARY"
        return
    here = os.path.dirname(os.path.abspath(__file__))
    for name in ("libgreenops.so.0", "libgreenops.so"):
        path = os.path.join(here, name)
        if os.path.exists(path):
            yield path, "next to the package"
    yield "libgreenops.so.0", "the system's library path"
    found = ctypes.util.find_library("greenops")
    if found:
        yield found, "the system's library path"
    prog = shutil.which("greenops")
    if prog:
        bindir = os.path.dirname(os.path.realpath(prog))
        for path in (os.path.join(bindir, "..", "lib", "libgreenops.so.0"),
                     os.path.join(bindir, "libgreenops.so")):  # installed; the build folder
            if os.path.exists(path):
                yield os.path.normpath(path), f"beside {prog}"


def _declare(lib):
    c = ctypes
    vp, i64 = c.c_void_p, c.c_int64
    for name, res, args in [
        ("gops_version", c.c_char_p, []),
        ("gops_options_init", None, [c.POINTER(_Options)]),
        ("gops_monitor_new", c.c_int, [c.POINTER(vp), c.POINTER(_Options)]),
        ("gops_monitor_error", c.c_char_p, [vp]),
        ("gops_monitor_notes", c.c_size_t, [vp, c.POINTER(c.POINTER(c.c_char_p))]),
        ("gops_monitor_start", c.c_int, [vp]),
        ("gops_monitor_stop", c.c_int, [vp]),
        ("gops_monitor_begin_window", c.c_int, [vp, c.c_char_p, i64]),
        ("gops_monitor_end_window", c.c_int, [vp, c.c_char_p, i64]),
        ("gops_monitor_add_units", c.c_int, [vp, c.c_char_p, c.c_double]),
        ("gops_monitor_tag", c.c_int, [vp, c.c_char_p, c.c_char_p]),
        ("gops_monitor_result", vp, [vp]),
        ("gops_monitor_window_result", c.c_int,
         [vp, c.c_char_p, i64, c.POINTER(c.POINTER(_Window)), c.POINTER(c.c_bool)]),
        ("gops_window_result_free", None, [c.POINTER(_Window)]),
        ("gops_monitor_free", None, [vp]),
        ("gops_result_to_json", vp, [vp, c.c_int, c.c_int]),
        ("gops_now_ns", i64, []),
    ]:
        f = getattr(lib, name)
        f.restype, f.argtypes = res, args
    return lib


_libs = {}
_libs_lock = threading.Lock()


def load_library(library=None):
    """Loads libgreenops (see the module's help for where it is looked for)."""
    tried = []
    for path, how in _candidates(library):
        with _libs_lock:
            if path in _libs:
                return _libs[path]
        try:
            lib = ctypes.CDLL(path)
            _declare(lib)
        except (OSError, AttributeError) as e:
            tried.append(f"{path} ({how}): {e}")
            continue
        with _libs_lock:
            _libs[path] = lib
        return lib
    raise MonitorError("greenops: cannot load libgreenops: " + ("; ".join(tried) or "nowhere to look")
                       + " (set GREENOPS_LIBRARY or pass library=)")


_libc = ctypes.CDLL(None)
_libc.free.argtypes = [ctypes.c_void_p]
_libc.free.restype = None


def _num(x):
    """A figure, None where the library says not measured (NaN)."""
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x


def _strv(p, n):
    return [p[i].decode("utf-8", "replace") for i in range(n)]


class DomainEnergy:
    """One domain's energy in a window (gpu0, package-0, ...): joules, how, how sure."""

    __slots__ = ("name", "source", "kind", "label", "method", "summed", "energy_j",
                 "dynamic_energy_j", "avg_power_w", "peak_power_w", "uncertainty_j", "warnings")

    def __repr__(self):
        return (f"DomainEnergy({self.name!r}, {self.energy_j!r} J ± {self.uncertainty_j!r}, "
                f"{self.method})")


_METHODS = {0: "none", 1: "counter", 2: "integrated", 3: "estimated", 4: "counter+integrated"}


class WindowResult:
    """A window's figures: energy_j (the summed domains, J; None when nothing was measured),
    uncertainty_j, start_s/end_s (seconds from the monitor's start), duration_s, units,
    energy_per_unit_j, domains (name -> DomainEnergy), energy_by_domain (name -> J), warnings,
    and final (False: provisional, see Monitor.end_window). Inside `with m.window(...) as w`
    the figures are None until the block ends."""

    def __init__(self, name):
        self.name = name
        self.start_s = self.end_s = self.duration_s = None
        self.energy_j = self.dynamic_energy_j = self.uncertainty_j = None
        self.units = self.energy_per_unit_j = None
        self.domains = {}
        self.warnings = []
        self.final = False

    @property
    def energy(self):
        """The window's energy in joules (energy_j)."""
        return self.energy_j

    @property
    def energy_by_domain(self):
        return {k: d.energy_j for k, d in self.domains.items()}

    def _fill(self, w, final):
        self.start_s, self.end_s = w.start_s, w.end_s
        self.duration_s = w.end_s - w.start_s
        self.energy_j = _num(w.energy_j)
        self.dynamic_energy_j = _num(w.dynamic_energy_j)
        self.uncertainty_j = _num(w.uncertainty_j)
        self.units = _num(w.units)
        self.energy_per_unit_j = _num(w.energy_per_unit_j)
        self.warnings = _strv(w.warnings, w.n_warnings)
        self.final = bool(final)
        self.domains = {}
        for i in range(w.n_domains):
            s = w.domains[i]
            d = DomainEnergy()
            d.name = s.name.decode()
            d.source, d.kind = s.source.decode(), s.kind.decode()
            d.label = s.label.decode("utf-8", "replace")
            d.method = _METHODS.get(s.method, "none")
            d.summed = bool(s.summed)
            d.energy_j, d.dynamic_energy_j = _num(s.energy_j), _num(s.dynamic_energy_j)
            d.avg_power_w, d.peak_power_w = _num(s.avg_power_w), _num(s.peak_power_w)
            d.uncertainty_j = _num(s.uncertainty_j)
            d.warnings = _strv(s.warnings, s.n_warnings)
            self.domains[d.name] = d

    def __repr__(self):
        if self.energy_j is None:
            return f"WindowResult({self.name!r}, not measured)"
        return (f"WindowResult({self.name!r}, {self.energy_j:.3f} J ± {self.uncertainty_j:.3f} "
                f"over {self.duration_s:.3f} s{'' if self.final else ', provisional'})")


class Result:
    """The whole span after stop(): the JSON object of docs/CONTRACTS.md as `data`, with its
    main figures as attributes (energy_j, uncertainty_j, duration_s, domains, windows,
    warnings); result["key"] reads data."""

    def __init__(self, data):
        self.data = data
        self.energy_j = data.get("energy_j")
        self.uncertainty_j = data.get("uncertainty_j")
        self.duration_s = data.get("duration_s")
        self.domains = data.get("domains", [])
        self.windows = data.get("windows", [])
        self.warnings = data.get("warnings", [])

    def __getitem__(self, key):
        return self.data[key]

    def __repr__(self):
        return f"Result({self.energy_j!r} J over {self.duration_s!r} s, {len(self.windows)} windows)"


def _name(name):
    if not isinstance(name, str) or not name:
        raise ValueError(f"greenops window name {name!r} must be a non-empty string")
    return name.encode()


class Monitor:
    """Samples the machine's energy sensors from start() to stop() and measures named windows
    inside that span. sources: "nvml,powercap" or a list of names (None: every sensor found);
    interval_ms: the sampling period (None: 100 ms); library: the libgreenops to load.
    Usable as a context manager (started on entry, stopped and freed on exit)."""

    def __init__(self, sources=None, interval_ms=None, library=None):
        self._lib = lib = load_library(library)
        self._lock = threading.Lock()
        self._m = None
        self._result = None
        opts = _Options()
        lib.gops_options_init(ctypes.byref(opts))
        if sources is not None:
            if not isinstance(sources, str):
                sources = ",".join(sources)
            self._sources = sources.encode()  # kept alive for the monitor's lifetime
            opts.sources = self._sources
        if interval_ms is not None:
            if isinstance(interval_ms, bool) or not isinstance(interval_ms, int) or interval_ms <= 0:
                raise ValueError(f"greenops interval_ms {interval_ms!r} must be a positive whole number")
            opts.interval_ms = interval_ms
        m = ctypes.c_void_p()
        r = lib.gops_monitor_new(ctypes.byref(m), ctypes.byref(opts))
        if r < 0:
            msg = lib.gops_monitor_error(m).decode("utf-8", "replace")
            lib.gops_monitor_free(m)
            raise MonitorError(f"greenops: cannot open the sensors: {msg}")
        self._m = m
        self._started = self._stopped = False

    # --- lifecycle ---

    @property
    def notes(self):
        """What opening the sensors found missing (absent libraries, hidden GPUs, ...)."""
        p = ctypes.POINTER(ctypes.c_char_p)()
        n = self._lib.gops_monitor_notes(self._handle(), ctypes.byref(p))
        return _strv(p, n)

    @property
    def library_version(self):
        return self._lib.gops_version().decode()

    def _handle(self):
        if self._m is None:
            raise MonitorError("greenops: the monitor is closed")
        return self._m

    def _check(self, r, what):
        if r < 0:
            msg = self._lib.gops_monitor_error(self._m).decode("utf-8", "replace")
            raise MonitorError(f"greenops: {what}: {msg}")
        return r

    def start(self):
        with self._lock:
            self._check(self._lib.gops_monitor_start(self._handle()), "start")
            self._started = True
        return self

    def stop(self):
        """Ends the span and returns its Result (every window of it included)."""
        with self._lock:
            if self._stopped:
                return self._result
            self._check(self._lib.gops_monitor_stop(self._handle()), "stop")
            self._stopped = True
            res = self._lib.gops_monitor_result(self._m)
            p = self._lib.gops_result_to_json(res, 0, 0) if res else None
            if not p:
                raise MonitorError("greenops: stop: the result could not be written as JSON")
            try:
                self._result = Result(json.loads(ctypes.string_at(p).decode()))
            finally:
                _libc.free(p)
            return self._result

    @property
    def result(self):
        """stop()'s Result; None while running."""
        return self._result

    def close(self):
        """Frees the monitor (stopping its sampling thread); stop() first to keep its result."""
        with self._lock:
            if self._m is not None:
                self._lib.gops_monitor_free(self._m)
                self._m = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self):
        if not self._started:
            self.start()
        return self

    def __exit__(self, *exc):
        try:
            if self._started and not self._stopped:
                self.stop()
        finally:
            self.close()
        return False

    # --- windows ---

    def now_ns(self):
        """The library's clock (CLOCK_MONOTONIC, ns), the one window edges are stamped with."""
        return self._lib.gops_now_ns()

    def begin_window(self, name, sync=None):
        """Opens the window `name` now (after calling `sync`, e.g. torch.cuda.synchronize)."""
        b = _name(name)
        if sync:
            sync()
        with self._lock:
            self._check(self._lib.gops_monitor_begin_window(self._handle(), b, 0),
                        f"begin window '{name}'")

    def end_window(self, name, sync=None, result=True):
        """Closes the most recent open window `name` now and returns its WindowResult, final
        once libgreenops has read every sensor past the end (it waits for that: one counter
        update, 0.1 to 0.2 s on NVIDIA GPUs). result=False returns None at once: the window's
        figures are then in stop()'s result only (for windows too many to wait for)."""
        b = _name(name)
        if sync:
            sync()
        with self._lock:
            t = self._lib.gops_now_ns()
            self._check(self._lib.gops_monitor_end_window(self._handle(), b, t),
                        f"end window '{name}'")
            if not result:
                return None
            w = WindowResult(name)
            self._fetch(w, b, t)
            return w

    def _fetch(self, w, b, t):
        p = ctypes.POINTER(_Window)()
        final = ctypes.c_bool(False)
        self._check(self._lib.gops_monitor_window_result(self._m, b, t, ctypes.byref(p),
                                                         ctypes.byref(final)),
                    f"figures of window '{w.name}'")
        try:
            w._fill(p.contents, final.value)
        finally:
            self._lib.gops_window_result_free(p)

    @contextlib.contextmanager
    def window(self, name, units=None, sync=None):
        """Measures the block: `with m.window("epoch") as w: ...`, then w.energy_j. `units`
        counts its work (w.energy_per_unit_j)."""
        b = _name(name)
        w = WindowResult(name)
        self.begin_window(name, sync)
        try:
            yield w
        finally:
            if units is not None:
                self.add_units(units, name)
            if sync:
                sync()
            with self._lock:
                t = self._lib.gops_now_ns()
                self._check(self._lib.gops_monitor_end_window(self._handle(), b, t),
                            f"end window '{name}'")
                self._fetch(w, b, t)

    def add_units(self, n, window=None):
        """Counts units of work (samples, tokens) for the open window `window` (None: the
        innermost open one, or the whole span)."""
        with self._lock:
            self._check(self._lib.gops_monitor_add_units(
                self._handle(), _name(window) if window is not None else None, float(n)),
                "units")

    def tag(self, key, value):
        with self._lock:
            self._check(self._lib.gops_monitor_tag(self._handle(), str(key).encode(),
                                                   str(value).encode()), "tag")
