"""The TensorRT logger (pushes to a LogBus, never raises) and the stderr capture.

TensorRT reports most problems through its ILogger, but some (failing CUDA probes, Myelin
internal errors) are written straight to file descriptor 2. fd 2 belongs to the whole
process, so ``StderrCapture`` is one process-wide multiplexer: while at least one build
is active, fd 2 is redirected into a pipe; a reader thread copies every byte through to the
real stderr (nothing is hidden) and hands each line to *every* active build. A line written
while two builds run is therefore attributed to both — fd 2 carries no thread identity.
Each build's window is closed with a sync marker, so it sees exactly the lines written
before its build call returned.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import threading
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

from workbench.core.logbus import SEVERITIES, LogBus

__all__ = ["NOISE", "STDERR", "StderrCapture", "make_logger"]

_KEEP_ALWAYS = ("INTERNAL_ERROR", "ERROR")

# Messages dropped from every bus, each with the reason it is noise here:
# - TensorRT keeps the first ILogger given to a Builder as its process-wide "global" logger
#   and warns when a later Builder gets another one. Each build and parse deliberately has
#   its own logger (so two builds at once keep their logs apart); the builder still logs to
#   the logger it was given, so the warning changes nothing and appeared in every build
#   after the first.
NOISE = ("logger passed into createInferBuilder differs",)


def make_logger(trt: ModuleType, bus: LogBus, keep: Callable[[str, str], bool] | None = None
                ) -> Any:
    """An ``trt.ILogger`` that pushes every accepted message to ``bus``.

    Error lines are also kept in ``logger.errors`` whatever the bus filter says (a BuildError
    must carry them); ``keep(severity, text)`` may keep other lines in ``logger.kept``
    (the build keeps the VERBOSE layer report this way).
    """
    return _define_logger(trt)(bus, keep)


@functools.cache  # one class per TensorRT module
def _define_logger(trt: ModuleType) -> type:
    base: Any = trt.ILogger

    class BusLogger(base):
        def __init__(self, bus: LogBus, keep: Callable[[str, str], bool] | None) -> None:
            base.__init__(self)
            self.bus = bus
            self.keep = keep
            self.errors: list[str] = []
            self.kept: list[str] = []
            self.failures = 0

        def log(self, severity: Any, msg: str) -> None:
            try:
                if any(noise in msg for noise in NOISE):
                    return
                name = SEVERITIES[int(severity)]
                if name in _KEEP_ALWAYS:
                    self.errors.append(msg)
                if self.keep is not None and self.keep(name, msg):
                    self.kept.append(msg)
                if self.bus.accepts(name):  # filter before any other work
                    self.bus.push(name, msg)
            except Exception:  # an exception here would unwind through TensorRT's C++
                self.failures += 1

    return BusLogger


class StderrCapture:
    """Process-wide fd-2 multiplexer; use ``capture`` around each build."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sinks: dict[int, Callable[[str], None]] = {}
        self._ids = itertools.count()
        self._saved_fd: int | None = None
        self._write_fd: int | None = None
        self._reader: threading.Thread | None = None
        self._syncs: dict[str, threading.Event] = {}

    @contextlib.contextmanager
    def capture(self, sink: Callable[[str], None]) -> Iterator[None]:
        """Call ``sink(line)`` for every line written to fd 2 while the block runs."""
        key = self._attach(sink)
        try:
            yield
        finally:
            self._detach(key)

    def _attach(self, sink: Callable[[str], None]) -> int:
        with self._lock:
            key = next(self._ids)
            if not self._sinks:
                self._start()
            self._sinks[key] = sink
            return key

    def _start(self) -> None:
        read_fd, write_fd = os.pipe()
        self._saved_fd = os.dup(2)
        os.dup2(write_fd, 2)
        self._write_fd = write_fd
        self._reader = threading.Thread(target=self._pump, args=(read_fd, self._saved_fd),
                                        name="workbench-stderr", daemon=True)
        self._reader.start()

    def _detach(self, key: int) -> None:
        self._sync()  # every line written so far reaches this sink before it leaves
        with self._lock:
            self._sinks.pop(key, None)
            if self._sinks or self._saved_fd is None or self._write_fd is None:
                return
            os.dup2(self._saved_fd, 2)
            os.close(self._write_fd)  # the reader sees EOF once fd 2 no longer points here
            reader, saved = self._reader, self._saved_fd
            self._saved_fd = self._write_fd = self._reader = None
        if reader is not None:
            reader.join(timeout=5)
        os.close(saved)

    def _sync(self) -> None:
        with self._lock:
            if self._write_fd is None:
                return
            token = f"\x00workbench-sync-{next(self._ids)}\x00"
            event = self._syncs[token] = threading.Event()
            os.write(self._write_fd, (token + "\n").encode())
        event.wait(timeout=5)

    def _pump(self, read_fd: int, out_fd: int) -> None:
        pending = b""
        with os.fdopen(read_fd, "rb", buffering=0) as pipe:
            while chunk := pipe.read(65536):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for raw in lines:
                    self._dispatch(raw.decode(errors="replace"), out_fd)
        if pending:
            self._dispatch(pending.decode(errors="replace"), out_fd)

    def _dispatch(self, line: str, out_fd: int) -> None:
        event = self._syncs.pop(line, None)
        if event is not None:
            event.set()
            return
        with contextlib.suppress(OSError):
            os.write(out_fd, (line + "\n").encode())
        with self._lock:
            sinks = tuple(self._sinks.values())
        for sink in sinks:
            with contextlib.suppress(Exception):  # a sink must not stop the pump
                sink(line)


STDERR = StderrCapture()
