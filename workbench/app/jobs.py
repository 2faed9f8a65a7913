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
        with self._lock:
            self.progress.append(event)
        if self._on_progress is not None:
            try:
                self._on_progress(event)
            except Exception:  # a view's bug must not stop the build
                self.log.push("WARNING", "progress callback failed", "workbench")

    @property
    def fraction(self) -> float:
        """Estimated fraction of the build done (0..1)."""
        if self.state == "built":
            return 1.0
        with self._lock:
            return self.progress[-1].fraction if self.progress else 0.0

    @property
    def phase(self) -> str:
        """The innermost phase running now ('' before the first event)."""
        with self._lock:
            return self.progress[-1].phase if self.progress else ""

    @property
    def elapsed(self) -> float:
        if self.started is None:
            return 0.0
        return (self.finished or time.time()) - self.started

    # -- control -------------------------------------------------------------------------

    def cancel(self) -> None:
        """Ask TensorRT to stop at its next step; the job ends in state 'cancelled'."""
        self._cancel.set()

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
            self.result = build_engine(self.source, self.settings, on_log=self.log,
                                       on_progress=self._progress, cancel=self._cancel)
            self.state = "built"
        except BuildCancelled as err:
            self.error, self.state = err, "cancelled"
        except WorkbenchError as err:
            self.error, self.state = err, "failed"
        except Exception as err:  # an unexpected bug still ends the job, visibly
            self.error, self.state = err, "failed"
            self.log.push("ERROR", f"{type(err).__name__}: {err}", "workbench")
        finally:
            self.finished = time.time()
            self._done.set()
            if self._on_done is not None:
                try:
                    self._on_done(self)
                except Exception:  # the session's handler must not kill the thread silently
                    self.log.push("ERROR", "on_done callback failed", "workbench")

    def __repr__(self) -> str:
        return f"BuildJob(state={self.state!r}, fraction={self.fraction:.2f})"
