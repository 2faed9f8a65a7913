"""BuildJob: one engine build as a background ``Task``.

A build is a task like any other (same states, same ``wait`` / ``join`` / ``cancel``) that
also owns a ``LogBus``, so two builds running at once keep their
logs apart, and the progress events TensorRT reports. TensorRT is imported only inside the
worker thread (by ``workbench.backends.trt.build.build_engine``), so importing this
module never loads it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from workbench.app.session.tasks import Task, TaskKind, TaskState, as_workbench_error
from workbench.core.errors import BuildCancelled
from workbench.core.logbus import LogBus, LogRecord
from workbench.settings.settings import BuildSettings

if TYPE_CHECKING:
    from workbench.backends.trt.progress import ProgressEvent
    from workbench.engines.card import EngineArtifact
    from workbench.inspection.loading import ModelSource

__all__ = ["BuildJob"]


class BuildJob(Task["EngineArtifact"]):
    """Run ``build_engine(source, settings)`` in a daemon thread.

    Args:
        source: The ONNX model (path, bytes or ModelProto).
        settings: Build settings (``log_severity`` sets the bus filter unless ``min_severity``).
        min_severity: Least severe log level kept on this job's bus.
        on_log: Called with each accepted LogRecord (from the build thread).
        on_progress: Called with each ProgressEvent (from the build thread).
        on_done: Called with the job once it has ended, whatever the outcome, before
            ``join`` / ``wait`` return.
        start: Start the thread immediately (default) or call ``start`` later.

    State goes ``IDLE`` → ``RUNNING`` → ``DONE`` | ``CANCELLED`` | ``FAILED``
    (``TaskState``). ``result`` holds the EngineArtifact,
    ``error`` the WorkbenchError (BuildCancelled when cancelled).

    Cancel ends the job at once: TensorRT only looks at the cancel flag between steps, and
    TensorRT-RTX spends seconds inside one step ("Determining refit engines"), so waiting
    for it would leave the user watching a build they stopped. The job is CANCELLED
    (``on_done`` called, waiters woken) when ``cancel`` returns; TensorRT's thread stops
    at its next step and its result is discarded (``worker_alive`` says whether it still
    runs).
    """

    def __init__(self, source: ModelSource, settings: BuildSettings | None = None, *,
                 min_severity: str | None = None,
                 on_log: Callable[[LogRecord], None] | None = None,
                 on_progress: Callable[[ProgressEvent], None] | None = None,
                 on_done: Callable[[BuildJob], None] | None = None,
                 start: bool = True) -> None:
        super().__init__("building the engine", TaskKind.BUILD,
                         on_change=self._changed, work=self._build)
        self.source = source
        self.settings = settings or BuildSettings()
        self.log = LogBus(min_severity or self.settings.log_severity)
        if on_log is not None:
            self.log.subscribe(on_log)
        self.progress: list[ProgressEvent] = []
        self._on_progress = on_progress
        self._on_done = on_done
        self._lock = threading.Lock()
        self._closed = False  # the first of the worker and cancel() ends the job
        self._cancel_fraction = 0.0
        self._hide = frozenset() if self.settings.refit else _refit_phases()
        # Created means scheduled: joiners (the panel's progress ticker, attached before
        # start()) wait for the build rather than seeing an idle task as finished.
        self._ended.clear()
        if start:
            self.start()

    def start(self, work: object = None) -> BuildJob:
        """Start the build (once; later calls return the job unchanged)."""
        if self.started is None:
            super().start()
        return self

    # -- progress ------------------------------------------------------------------------

    def _progress(self, event: ProgressEvent) -> None:
        if self._closed:
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
        if self.state is TaskState.DONE:
            return 1.0
        if self.cancel_requested:
            return self._cancel_fraction  # TensorRT closing its phases is not progress
        with self._lock:
            return self.progress[-1].fraction if self.progress else 0.0

    @property
    def phase(self) -> str:
        """What runs now, e.g. "Optimizing graph (12/30)" ('' before the first event).

        With refit off, TensorRT-RTX's "Determining refit engines" is shown as the phase
        around it (see ``REFIT_PHASES``).
        """
        with self._lock:
            return self.progress[-1].label(self._hide) if self.progress else ""

    def cancel(self) -> None:
        """Stop the build: a running job ends now, CANCELLED.

        TensorRT is told to stop at its next step; until then its thread runs on in the
        background (``worker_alive``) and whatever it returns is discarded.
        """
        if self.cancel_requested:
            return
        self._cancel_fraction = self.fraction
        super().cancel()
        if self.busy:  # not started: start() runs the thread, which stops before building
            phase = self.phase
            self._end(None, BuildCancelled(
                "The build was cancelled.",
                found="cancel was requested" + (f" during: {phase}" if phase else ""),
                fix="start the build again when ready"))

    @property
    def worker_alive(self) -> bool:
        """Whether TensorRT's thread still runs (after a cancel, until its next step)."""
        return self._thread is not None and self._thread.is_alive()

    def artifact(self, timeout: float | None = None) -> EngineArtifact:
        """Wait for the build and return its EngineArtifact, or raise its error."""
        return self.wait(timeout)

    # -- the work ------------------------------------------------------------------------

    def _build(self) -> EngineArtifact:
        from workbench.backends.trt.build import build_engine  # runs in the worker thread

        return build_engine(self.source, self.settings, on_log=self.log,
                            on_progress=self._progress, cancel=self.cancel_event)

    def _run(self, work: Callable[[], EngineArtifact]) -> None:
        try:
            result = work()
        except Exception as err:  # every failure becomes an explained WorkbenchError
            self._end(None, err)
        else:
            self._end(result, None)

    def _end(self, result: EngineArtifact | None, err: BaseException | None) -> None:
        """Task's ending, once: from the worker, or earlier from ``cancel``."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if err is None and self.cancel_requested:  # built after TensorRT's last check
            err = BuildCancelled("The build was cancelled.",
                                 found="cancel was requested as the build finished")
        if err is not None:
            self.error = as_workbench_error(err, self.name)
            self._failed(err)
            cancelled = isinstance(err, BuildCancelled)
            self._finish(TaskState.CANCELLED if cancelled else TaskState.FAILED)
        else:
            self.result = result
            self._finish(TaskState.DONE)

    def _failed(self, err: BaseException) -> None:
        if self.error is not err:  # an unexpected bug: say so on the build's own log
            self.log.push("ERROR", f"{type(err).__name__}: {err}", "workbench")

    def _changed(self, task: Task[EngineArtifact]) -> None:
        if self.done and self._on_done is not None:
            try:
                self._on_done(self)
            except Exception:  # the session's handler must not kill the thread silently
                self.log.push("ERROR", "on_done callback failed", "workbench")

    def __repr__(self) -> str:
        return f"BuildJob(state={self.state.value!r}, fraction={self.fraction:.2f})"


def _refit_phases() -> frozenset[str]:
    from workbench.backends.trt.progress import REFIT_PHASES  # pure Python; no TensorRT

    return REFIT_PHASES
