"""Background work for the session: a tiny task runner and an observer hub (no widgets).

The panel must never block the kernel, so diagnoses, comparisons and inference run in a
daemon thread. A :class:`Task` records its state, its result, and its error — always a
:class:`~workbench.core.errors.WorkbenchError`, never a raw traceback: an unexpected exception is
wrapped in one whose ``details`` hold the traceback, for whoever expands them.

:class:`EventHub` lets views observe the session. Callbacks run on whichever thread emits
(often a worker), so a view must only assign traits or call ``Output.append_stdout``.
"""

from __future__ import annotations

import contextlib
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from workbench.core.errors import WorkbenchError

__all__ = ["EventHub", "Listener", "Task", "TaskState", "as_workbench_error"]

Listener = Callable[[str, Any], None]
TaskState = str  # "idle" | "running" | "done" | "failed"


def as_workbench_error(err: BaseException, doing: str) -> WorkbenchError:
    """Return ``err`` if it is a WorkbenchError, else wrap it with its traceback as details."""
    if isinstance(err, WorkbenchError):
        return err
    lines = traceback.format_exception(type(err), err, err.__traceback__)
    details = [line for chunk in lines for line in chunk.rstrip("\n").splitlines()]
    wrapped = WorkbenchError(
        f"Unexpected error while {doing}.",
        expected=f"{doing} to finish or fail with an explained error",
        found=f"{type(err).__name__}: {err}",
        fix="this is a bug in the workbench or a library it uses; the details below say "
        "where it happened — please report them",
        details=details[-40:],
    )
    wrapped.__cause__ = err
    return wrapped


class EventHub:
    """Named events with listeners. ``on`` returns an unsubscribe function.

    A listener that raises is counted in ``listener_errors`` (and the last error kept), so
    a view's bug cannot break a build thread.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: dict[str, list[Listener]] = {}
        self.listener_errors = 0
        self.last_listener_error: BaseException | None = None

    def on(self, event: str, callback: Listener) -> Callable[[], None]:
        """Call ``callback(event, payload)`` on every ``emit(event, ...)`` ("*" = all)."""
        with self._lock:
            self._listeners.setdefault(event, []).append(callback)

        def off() -> None:
            with self._lock:
                listeners = self._listeners.get(event, [])
                if callback in listeners:
                    listeners.remove(callback)

        return off

    def emit(self, event: str, payload: Any = None) -> None:
        with self._lock:
            targets = [*self._listeners.get(event, ()), *self._listeners.get("*", ())]
        for callback in targets:
            try:
                callback(event, payload)
            except Exception as err:  # a view's bug must not break the worker thread
                self.listener_errors += 1
                self.last_listener_error = err


class Task:
    """One piece of background work: ``state``, ``result``, ``error``, timing.

    Args:
        name: What the task does, in words ("diagnosing the model"); used in messages.
        on_change: Called with the task whenever its state changes (from the worker thread).
    """

    def __init__(self, name: str, on_change: Callable[[Task], None] | None = None) -> None:
        self.name = name
        self.state: TaskState = "idle"
        self.result: Any = None
        self.error: WorkbenchError | None = None
        self.started: float | None = None
        self.finished: float | None = None
        self._on_change = on_change
        self.phase = ""  # what the work is doing now ("per-layer drift"); set by report()
        self.progress: tuple[int, int] | None = None  # (done, total) of the phase's steps
        self._last_report = 0.0
        self._done = threading.Event()
        self._done.set()
        self._thread: threading.Thread | None = None

    @property
    def busy(self) -> bool:
        return self.state == "running"

    @property
    def elapsed(self) -> float:
        if self.started is None:
            return 0.0
        return (self.finished or time.perf_counter()) - self.started

    def start(self, work: Callable[[], Any]) -> Task:
        """Run ``work()`` in a daemon thread; refuses to start while already running."""
        if self.busy:
            raise WorkbenchError(
                f"Already {self.name}.",
                expected="one run at a time",
                found=f"{self.name} still running ({self.elapsed:.1f} s so far)",
                fix="wait for it to finish (the button is enabled again when it does)",
            )
        self.start_sync()
        self._thread = threading.Thread(
            target=self._run, args=(work,), name=f"workbench: {self.name}", daemon=True
        )
        self._thread.start()
        threading.Thread(target=self._heartbeat, name=f"workbench: {self.name} (clock)",
                         daemon=True).start()
        return self

    def report(self, phase: str, done: int = 0, total: int = 0) -> None:
        """Say what the work is doing (from the worker); views hear at most ~4 times a second.

        ``total`` 0 means the phase has no countable steps (no progress bar).
        """
        changed = phase != self.phase
        self.phase, self.progress = phase, (done, total) if total else None
        now = time.perf_counter()
        if changed or now - self._last_report >= 0.25 or (total and done >= total):
            self._last_report = now
            self._notify()

    def _heartbeat(self) -> None:
        """While running, notify once a second so views can show the elapsed time tick."""
        while not self._done.wait(1.0):
            if time.perf_counter() - self._last_report >= 1.0:
                self._notify()

    def run_here(self, work: Callable[[], Any]) -> Any:
        """Run ``work()`` on this thread with the same bookkeeping; returns the result."""
        self.start_sync()
        self._run(work)
        if self.error is not None:
            raise self.error
        return self.result

    def start_sync(self) -> None:
        self.state, self.result, self.error = "running", None, None
        self.started, self.finished = time.perf_counter(), None
        self.phase, self.progress = "", None
        self._done.clear()
        self._notify()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the task is not running; True if it ended (never raises its error)."""
        return self._done.wait(timeout)

    def wait(self, timeout: float | None = None) -> Any:
        """Block until done; return the result or raise the WorkbenchError."""
        if not self._done.wait(timeout):
            raise TimeoutError(f"{self.name} still running after {timeout} s")
        if self.error is not None:
            raise self.error
        return self.result

    def _run(self, work: Callable[[], Any]) -> None:
        try:
            result = work()
        except Exception as err:  # every failure becomes an explained WorkbenchError
            self.error = as_workbench_error(err, self.name)
            self.state = "failed"
        else:
            self.result = result
            self.state = "done"
        self.finished = time.perf_counter()
        # Views update before waiters wake, so a test that waits sees the final widgets.
        self._notify()
        self._done.set()

    def _notify(self) -> None:
        if self._on_change is not None:
            # Listeners are guarded by EventHub; this is a last resort for a bare callback.
            with contextlib.suppress(Exception):
                self._on_change(self)
