"""BuildJob: one engine build in a background thread, with its own log, progress and cancel.

Each job owns a :class:`~workbench.core.logbus.LogBus`, so two builds running at once keep their
logs apart. TensorRT is imported only inside the worker thread (by
:func:`workbench.backends.trt.build.build_engine`), so importing this module never loads it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from workbench.build.settings import BuildSettings
from workbench.core.errors import BuildCancelled, WorkbenchError
from workbench.core.logbus import LogBus, LogRecord

if TYPE_CHECKING:
    from workbench.backends.trt.progress import ProgressEvent
    from workbench.build.engines import EngineArtifact

__all__ = ["STATES", "BuildJob"]

STATES: tuple[str, ...] = ("running", "built", "cancelled", "failed")


class BuildJob:
    """Run ``build_engine(source, settings)`` in a daemon thread.

    Args:
        source: The ONNX model (path, bytes or ModelProto).
        settings: Build settings (``log_severity`` sets the bus filter unless ``min_severity``).
        min_severity: Least severe log level kept on this job's bus.
        on_log: Called with each accepted LogRecord (from the build thread).
        on_progress: Called with each ProgressEvent (from the build thread).
        on_done: Called with the job once it has finished, whatever the outcome.
        start: Start the thread immediately (default) or call :meth:`start` later.

    State goes ``running`` → ``built`` | ``cancelled`` | ``failed``. ``result`` holds the
    EngineArtifact, ``error`` the WorkbenchError (BuildCancelled when cancelled).

    Cancel ends the job at once: TensorRT only looks at the cancel flag between steps, and
    TensorRT-RTX spends seconds inside one step ("Determining refit engines"), so waiting
    for it would leave the user watching a build they stopped. The job is finished
    (``cancelled``, ``on_done`` called) when :meth:`cancel` returns; TensorRT's thread stops
    at its next step and its result is discarded (``worker_alive`` says whether it still
    runs).
    """

    def __init__(self, source: Any, settings: BuildSettings | None = None, *,
                 min_severity: str | None = None,
                 on_log: Callable[[LogRecord], None] | None = None,
                 on_progress: Callable[[ProgressEvent], None] | None = None,
                 on_done: Callable[[BuildJob], None] | None = None,
                 start: bool = True) -> None:
        self.source = source
        self.settings = settings or BuildSettings()
        self.log = LogBus(min_severity or self.settings.log_severity)
        if on_log is not None:
            self.log.subscribe(on_log)
        self.progress: list[ProgressEvent] = []
        self.state = "running"
        self.result: EngineArtifact | None = None
        self.error: BaseException | None = None
        self.started: float | None = None
        self.finished: float | None = None
        self._on_progress = on_progress
        self._on_done = on_done
        self._cancel = threading.Event()
        self._cancel_fraction = 0.0
        self._hide = frozenset() if self.settings.refit else _refit_phases()
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="workbench-build", daemon=True)
        if start:
            self.start()

    def start(self) -> BuildJob:
        if self.started is None:
            self.started = time.time()
            self._thread.start()
        return self

    # -- progress ------------------------------------------------------------------------

    def _progress(self, event: ProgressEvent) -> None:
        if self._done.is_set():
            return  # a cancelled job's TensorRT winding down: not progress any more
        with self._lock:
            self.progress.append(event)
        if self._on_progress is not None:
            try:
                self._on_progress(event)
            except Exception:  # a view's bug must not stop the build
                self.log.push("WARNING", "progress callback failed", "workbench")

    @property
    def fraction(self) -> float:
        """Estimated fraction of the build done (0..1); where it stood when cancelled."""
        if self.state == "built":
            return 1.0
        if self._cancel.is_set():
            return self._cancel_fraction  # TensorRT closing its phases is not progress
        with self._lock:
            return self.progress[-1].fraction if self.progress else 0.0

    @property
    def phase(self) -> str:
        """What runs now, e.g. "Optimizing graph (12/30)" ('' before the first event).

        With refit off, TensorRT-RTX's "Determining refit engines" is shown as the phase
        around it (see :data:`~workbench.backends.trt.progress.REFIT_PHASES`).
        """
        with self._lock:
            return self.progress[-1].label(self._hide) if self.progress else ""

    @property
    def elapsed(self) -> float:
        if self.started is None:
            return 0.0
        return (self.finished or time.time()) - self.started

    # -- control -------------------------------------------------------------------------

    def cancel(self) -> None:
        """Stop the build: the job ends now in state 'cancelled' (if still running).

        TensorRT is told to stop at its next step; until then its thread runs on in the
        background (``worker_alive``) and whatever it returns is discarded.
        """
        if self._cancel.is_set():
            return
        self._cancel_fraction = self.fraction
        self._cancel.set()
        if self.started is None:
            return  # not started: start() runs the thread, which stops before building
        phase = self.phase
        self._finish("cancelled", None, BuildCancelled(
            "The build was cancelled.",
            found="cancel was requested" + (f" during: {phase}" if phase else ""),
            fix="start the build again when ready"))

    @property
    def worker_alive(self) -> bool:
        """Whether TensorRT's thread still runs (after a cancel, until its next step)."""
        return self._thread.is_alive()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the build ends; True if it has ended."""
        return self._done.wait(timeout)

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def artifact(self, timeout: float | None = None) -> EngineArtifact:
        """Wait for the build and return its EngineArtifact, or raise its error."""
        if not self.wait(timeout):
            raise TimeoutError(f"the build is still running after {timeout} s")
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result

    def _run(self) -> None:
        from workbench.backends.trt.build import build_engine  # runs in the worker thread

        try:
            result = build_engine(self.source, self.settings, on_log=self.log,
                                  on_progress=self._progress, cancel=self._cancel)
            self._finish("built", result, None)
        except BuildCancelled as err:
            self._finish("cancelled", None, err)
        except WorkbenchError as err:
            self._finish("failed", None, err)
        except Exception as err:  # an unexpected bug still ends the job, visibly
            if not self._done.is_set():
                self.log.push("ERROR", f"{type(err).__name__}: {err}", "workbench")
            self._finish("failed", None, err)

    def _finish(self, state: str, result: EngineArtifact | None,
                error: BaseException | None) -> None:
        """End the job once: the first of the worker and :meth:`cancel` wins."""
        with self._lock:
            if self._done.is_set():
                return
            if self._cancel.is_set() and state == "built":
                state, result = "cancelled", None  # cancelled after TensorRT's last check
                error = BuildCancelled("The build was cancelled.",
                                       found="cancel was requested as the build finished")
            self.state, self.result, self.error = state, result, error
            self.finished = time.time()
            self._done.set()
        if self._on_done is not None:
            try:
                self._on_done(self)
            except Exception:  # the session's handler must not kill the thread silently
                self.log.push("ERROR", "on_done callback failed", "workbench")

    def __repr__(self) -> str:
        return f"BuildJob(state={self.state!r}, fraction={self.fraction:.2f})"


def _refit_phases() -> frozenset[str]:
    from workbench.backends.trt.progress import REFIT_PHASES  # pure Python; no TensorRT

    return REFIT_PHASES
