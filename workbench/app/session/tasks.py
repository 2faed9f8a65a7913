"""Background work for the session: ONE task abstraction and an observer hub (no widgets).

The panel must never block the kernel, so loading, diagnoses, builds, comparisons and
inference run in daemon threads. Every one of them is a ``Task`` (a build is the
subclass ``BuildJob``, which adds a log bus and progress) with
one set of states, ``TaskState``::

    IDLE ──start()──▶ RUNNING ──▶ DONE | FAILED | CANCELLED

A task's error is always a ``WorkbenchError``, never a raw
traceback: an unexpected exception is wrapped in one whose ``details`` hold the traceback,
for whoever expands them. A ``BuildCancelled`` ends the task in
CANCELLED.

``EventHub`` lets views observe the session (``Event`` names what happened).
Callbacks run on whichever thread emits (often a worker), so a view must only assign traits
or call ``Output.append_stdout``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from workbench.core.errors import BuildCancelled, WorkbenchBug, WorkbenchError
from workbench.core.records import Choice

_log = logging.getLogger("workbench.app")

__all__ = ["Event", "EventHub", "Listener", "Task", "TaskKind", "TaskSpec", "TaskState",
           "as_workbench_error", "background", "current_task", "progress_reporter",
           "task_spec"]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])
_running = threading.local()  # the Task whose work runs on this thread (see current_task)


class TaskState(Choice):
    """Where a task is. Equal to its value, so ``task.state == "done"`` also works."""

    IDLE = "idle"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def ended(self) -> bool:
        return self in (TaskState.DONE, TaskState.FAILED, TaskState.CANCELLED)


class TaskKind(Choice):
    """The session's task slots: one per kind of work, so views know what finished."""

    LOAD = "load"
    DIAGNOSE = "diagnose"
    FOLD = "fold"
    REDUCE = "reduce"
    FREEZE = "freeze"  # fixing an input that decides an If, then folding (opens the copy)
    FLOAT_BIASES = "float_biases"  # int32 Q/DQ biases folded to float (opens the copy)
    BUILD = "build"
    RUN = "run"
    COMPARE = "compare"
    KEEP_SEARCH = "keep_search"
    MASK_FIX = "mask_fix"  # clamping mask constants, verified by re-running
    SHARE = "share"  # the session report or a bug bundle
    ENGINES = "engines"  # saving or checking a large plan
    QUANTIZE = "quantize"  # INT8/FP8 Q/DQ: quantize, compare against FP32, exclusion search

    @property
    def group(self) -> str:
        """Kinds in one group exclude each other (fold and reduce replace the diagnosis)."""
        return "triage" if self in TRIAGE else self.value


TRIAGE: frozenset[TaskKind] = frozenset({TaskKind.DIAGNOSE, TaskKind.FOLD, TaskKind.REDUCE,
                                         TaskKind.FLOAT_BIASES})


class Event(Choice):
    """What a session announces (``session.on(Event.BUILD, callback)``)."""

    MODEL = "model"  # a model was loaded (payload: LoadedModel or None)
    TASK = "task"  # a background task changed state (payload: the Task)
    BUILD = "build"  # a build started or ended (payload: the BuildJob)
    ENGINES = "engines"  # the saved-engines folder changed (payload: list of entries)
    GRAPH = "graph"  # the Netron view started or stopped (payload: GraphView or None)
    FEEDS = "feeds"  # sizes/ranges for generated inputs changed (payload: FeedOptions)
    KEEP_SEARCH = "keep_search"  # a keep-list trial starts (payload: (k, budget, keep list))
    USE_KEEP_FP32 = "use_keep_fp32"  # carry a keep list to the build (payload: (list, prec.))
    VIEW_ERROR = "view_error"  # a listener (a view) raised (payload: its WorkbenchBug)
    ANY = "*"  # subscribe only: every event


Listener = Callable[[str, Any], None]


@dataclass(frozen=True)
class TaskSpec:
    """How ``session.start(method, ...)`` runs a part's method: in the slot of ``kind``,
    named ``doing`` (text, or made from the call's arguments), with or without a model."""

    kind: TaskKind
    doing: str | Callable[..., str]
    needs_model: bool = True

    def name(self, *args: Any, **kwargs: Any) -> str:
        return self.doing if isinstance(self.doing, str) else self.doing(*args, **kwargs)


def background(kind: TaskKind, doing: str | Callable[..., str], *,
               needs_model: bool = True) -> Callable[[F], F]:
    """Mark a part's method as work ``session.start`` may run in a background Task."""
    def mark(method: F) -> F:
        vars(method)["workbench_task"] = TaskSpec(kind, doing, needs_model)
        return method
    return mark


def task_spec(method: Callable[..., Any]) -> TaskSpec | None:
    """The ``background`` mark of ``method`` (a function or a bound method), if any."""
    spec = getattr(method, "workbench_task", None)
    return spec if isinstance(spec, TaskSpec) else None


def current_task() -> Task[Any] | None:
    """The Task whose work runs on this thread (None on the caller's own thread)."""
    task: Task[Any] | None = getattr(_running, "task", None)
    return task


def progress_reporter() -> Callable[[str, int, int], None] | None:
    """``current_task().report`` (what the work is doing, for the panel), or None."""
    task = current_task()
    return task.report if task is not None else None


def as_workbench_error(err: BaseException, doing: str, fix: str | None = None
                       ) -> WorkbenchError:
    """Return ``err`` if it is a WorkbenchError, else a ``WorkbenchBug`` that says so,
    with the traceback as details (the last guard of every panel and CLI flow)."""
    if isinstance(err, WorkbenchError):
        return err
    lines = traceback.format_exception(type(err), err, err.__traceback__)
    details = [line for chunk in lines for line in chunk.rstrip("\n").splitlines()]
    wrapped = WorkbenchBug(
        f"This is a workbench bug: an unexpected error while {doing}.",
        expected=f"{doing} to finish or fail with an explained error",
        found=f"{type(err).__name__}: {' '.join(str(err).split())[:300]}",
        fix=fix or "press 'Bug bundle' (below the tabs, or `session.bundle(path)`) to zip "
        "this traceback, the versions and the model, and report it; the details below say "
        "where it happened",
        details=details[-40:],
    )
    wrapped.__cause__ = err
    return wrapped


class EventHub:
    """Named events with listeners. ``on`` returns an unsubscribe function.

    A listener that raises cannot break the thread that emits (often a build): its error
    is logged (logger ``workbench.app``), counted in ``listener_errors``, kept as a
    ``WorkbenchBug`` in ``view_bug`` (with when, for the Bug bundle), and announced with
    ``Event.VIEW_ERROR`` so the panel shows it in its error box.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: dict[str, list[Listener]] = {}
        self.listener_errors = 0
        self.last_listener_error: BaseException | None = None
        self.view_bug: tuple[float, WorkbenchError] | None = None

    def on(self, event: Event | str, callback: Listener) -> Callable[[], None]:
        """Call ``callback(event, payload)`` on every ``emit(event, ...)`` (``Event.ANY``: all)."""
        key = str(event)
        with self._lock:
            self._listeners.setdefault(key, []).append(callback)

        def off() -> None:
            with self._lock:
                listeners = self._listeners.get(key, [])
                if callback in listeners:
                    listeners.remove(callback)

        return off

    def emit(self, event: Event | str, payload: Any = None) -> None:
        key = str(event)
        with self._lock:
            targets = [*self._listeners.get(key, ()), *self._listeners.get(Event.ANY.value, ())]
        for callback in targets:
            try:
                callback(key, payload)
            except Exception as err:  # a view's bug must not break the worker thread
                self._listener_failed(key, err)

    def _listener_failed(self, key: str, err: Exception) -> None:
        self.listener_errors += 1
        self.last_listener_error = err
        _log.error("a listener of the %r event failed", key, exc_info=err)
        bug = as_workbench_error(err, f"showing the {key!r} event in the panel")
        self.view_bug = (time.time(), bug)
        if key != Event.VIEW_ERROR.value:  # a failing error view must not loop
            self.emit(Event.VIEW_ERROR, bug)


class Task(Generic[T]):
    """One piece of background work: ``state``, ``result``, ``error``, timing, cancel.

    Args:
        name: What the task does, in words ("diagnosing the model"); used in messages.
        kind: The session slot it belongs to (None for a free-standing task).
        on_change: Called with the task whenever its state changes (from the worker
            thread); the final call happens before ``join`` / ``wait`` return.
        work: What ``start`` runs when it is given nothing.
    """

    def __init__(self, name: str, kind: TaskKind | None = None,
                 on_change: Callable[[Task[T]], None] | None = None,
                 work: Callable[[], T] | None = None) -> None:
        self.name = name
        self.kind = kind
        self.state = TaskState.IDLE
        self.result: T | None = None
        self.error: WorkbenchError | None = None
        self.started: float | None = None
        self.finished: float | None = None
        self._on_change = on_change
        self._work = work
        self.activity = ""  # what the work is doing now ("per-layer drift"); set by report()
        self.steps: tuple[int, int] | None = None  # (done, total) of the activity's steps
        self._last_report = 0.0
        self._beat = threading.Lock()
        self._stop_beat = threading.Event()
        self._beat_thread: threading.Thread | None = None
        self._cancel = threading.Event()
        self._ended = threading.Event()
        self._ended.set()
        self._thread: threading.Thread | None = None

    @property
    def busy(self) -> bool:
        return self.state is TaskState.RUNNING

    @property
    def done(self) -> bool:
        """True once the last run ended (DONE, FAILED or CANCELLED)."""
        return self.state.ended

    @property
    def elapsed(self) -> float:
        if self.started is None:
            return 0.0
        return (self.finished or time.time()) - self.started

    def start(self, work: Callable[[], T] | None = None) -> Task[T]:
        """Run ``work()`` (or the task's own work) in a daemon thread; refuses while running."""
        job = self._begin(work)
        self._thread = threading.Thread(
            target=self._run, args=(job,), name=f"workbench: {self.name}", daemon=True
        )
        self._stop_beat.clear()
        # a build has its own progress monitor and ticker: no clock thread for it
        self._beat_thread = None if self.kind is TaskKind.BUILD else threading.Thread(
            target=self._heartbeat, name=f"workbench: {self.name} (clock)", daemon=True)
        if self._beat_thread is not None:
            self._beat_thread.start()
        self._thread.start()
        return self

    def report(self, phase: str, done: int = 0, total: int = 0) -> None:
        """Say what the work is doing (from the worker); views hear at most ~4 times a second.

        ``total`` 0 means the phase has no countable steps (no progress bar).
        """
        changed = phase != self.activity
        self.activity, self.steps = phase, (done, total) if total else None
        now = time.monotonic()
        if changed or now - self._last_report >= 0.25 or (total and done >= total):
            self._last_report = now
            self._notify()

    def _heartbeat(self) -> None:
        """While running, notify once a second so views can show the elapsed time tick."""
        while not self._stop_beat.wait(1.0) and self.busy:
            with self._beat:
                if self.busy and time.monotonic() - self._last_report >= 1.0:
                    self._notify()

    def run_here(self, work: Callable[[], T] | None = None) -> T:
        """Run on this thread with the same bookkeeping; returns the result or raises."""
        self._run(self._begin(work))
        return self.wait(0)

    def cancel(self) -> None:
        """Ask the work to stop (work that takes ``cancel_event`` honours it)."""
        self._cancel.set()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    @property
    def cancel_event(self) -> threading.Event:
        return self._cancel

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the task is not running; True if it ended (never raises its error)."""
        return self._ended.wait(timeout)

    def wait(self, timeout: float | None = None) -> T:
        """Block until it ends; return the result or raise its WorkbenchError."""
        if not self._ended.wait(timeout):
            raise TimeoutError(f"{self.name} still running after {timeout} s")
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]  # DONE always sets it

    # -- internals ----------------------------------------------------------------------

    def _begin(self, work: Callable[[], T] | None) -> Callable[[], T]:
        job = work if work is not None else self._work
        if job is None:
            raise WorkbenchError(f"Nothing to run for {self.name}.",
                                 fix="pass the work to start(), or to Task(work=...)")
        if self.busy:
            raise WorkbenchError(
                f"Already {self.name}.",
                expected="one run at a time",
                found=f"{self.name} still running ({self.elapsed:.1f} s so far)",
                fix="wait for it to finish (the button is enabled again when it does)",
            )
        self.state, self.result, self.error = TaskState.RUNNING, None, None
        self.started, self.finished = time.time(), None
        self.activity, self.steps = "", None
        self._ended.clear()
        self._notify()
        return job

    def _run(self, work: Callable[[], T]) -> None:
        outer = current_task()
        _running.task = self
        try:
            result = work()
        except Exception as err:  # every failure becomes an explained WorkbenchError
            self.error = as_workbench_error(err, self.name)
            self._failed(err)
            cancelled = isinstance(err, BuildCancelled)
            final = TaskState.CANCELLED if cancelled else TaskState.FAILED
        else:
            self.result = result
            final = TaskState.DONE
        finally:
            _running.task = outer
        self._finish(final)

    def _finish(self, final: TaskState) -> None:
        """End the run in ``final`` state: stop the clock, tell views, then wake waiters."""
        with self._beat:  # the heartbeat never announces a running task after it ended
            self.state = final
        self._stop_beat.set()
        beat = self._beat_thread
        if beat is not None and beat is not threading.current_thread():
            beat.join()  # gone before anyone sees the task end
        self.finished = time.time()
        # Views update before waiters wake, so a test that waits sees the final widgets.
        try:
            self._notify()
        finally:
            self._ended.set()

    def _failed(self, err: BaseException) -> None:
        """Hook for subclasses: an error ended the work (before the state changes)."""

    def _notify(self) -> None:
        if self._on_change is not None:
            # Listeners are guarded by EventHub; this is a last resort for a bare callback.
            with contextlib.suppress(Exception):
                self._on_change(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, state={self.state.value!r})"
