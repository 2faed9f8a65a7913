"""What every part of the session shares: ``SessionState``.

The parts of a ``WorkbenchSession`` (triage, builds,
engines, runs, precision, quant, graph, share) each hold a reference to one SessionState,
not to the session: the folders, the current model, the event hub, the task slots and the
files derived from the model. Loading a model here clears every part's per-model state
(each part registers its reset with ``SessionState.on_new_model``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from workbench.app.session.jobs import BuildJob
from workbench.app.session.tasks import (
    TRIAGE,
    Event,
    EventHub,
    Listener,
    Task,
    TaskKind,
    background,
)
from workbench.core.errors import ModelLoadError, WorkbenchError

if TYPE_CHECKING:
    from workbench.inspection.summary import ModelSummary

T = TypeVar("T")

__all__ = ["LoadedModel", "SessionState", "find_samples_dir"]


def find_samples_dir(folder: str | Path | None = None) -> Path | None:
    """The sample-models folder: ``folder`` if given, else beside the package or the cwd."""
    if folder is not None:
        return Path(folder).expanduser()
    package_root = Path(__file__).resolve().parent.parent
    for candidate in (
        package_root / "sample_models",
        Path.cwd() / "sample_models",
        Path.cwd().parent / "sample_models",
    ):
        if candidate.is_dir():
            return candidate
    return None


@dataclass(frozen=True)
class LoadedModel:
    """The current model: its path (external data) or uploaded bytes, and its summary.

    A model opened from a file keeps no bytes: an inline 0.5 GB model would cost its size
    for as long as it stays open. ``data`` reads the file when asked (Netron, a digest).
    """

    label: str
    path: Path | None
    summary: ModelSummary
    upload: bytes | None = field(default=None, repr=False)  # a model given as bytes

    @property
    def data(self) -> bytes:
        """The .onnx bytes: the upload's, or the file's, read now."""
        if self.upload is not None or self.path is None:
            return self.upload or b""
        return self.path.read_bytes()


class SessionState:
    """Folders, the current model, events, task slots and derived files of one session.

    Args:
        engines_dir: Where saved engines live (default ``./engines``).
        samples_dir: Folder of sample models for the picker (default: found automatically).
        work_dir: Where derived files go (folded / reduced models); default ``./workbench_out``.
    """

    def __init__(self, engines_dir: str | Path | None = None,
                 samples_dir: str | Path | None = None,
                 work_dir: str | Path | None = None) -> None:
        self.events = EventHub()
        self.engines_dir = Path(engines_dir) if engines_dir is not None else Path("engines")
        self.samples_dir = find_samples_dir(samples_dir)
        self.work_dir = Path(work_dir) if work_dir is not None else Path("workbench_out")
        self.model: LoadedModel | None = None
        self.load_error: WorkbenchError | None = None
        # One slot per kind; keys are TaskKind (equal to their text: tasks["diagnose"]).
        self.tasks: dict[TaskKind, Task[Any]] = {}
        self.derived: dict[str, Path] = {}  # "folded"/"reduced"/"masks-clamped" -> file
        self._resets: list[Callable[[], None]] = []

    def on_new_model(self, reset: Callable[[], None]) -> None:
        """Call ``reset`` whenever a model is loaded (a part clears its per-model state)."""
        self._resets.append(reset)

    # -- events and tasks -------------------------------------------------------------

    def on(self, event: Event | str, callback: Listener) -> Callable[[], None]:
        """Subscribe to an ``Event``; returns an unsubscribe function."""
        return self.events.on(event, callback)

    def task(self, kind: TaskKind | str) -> Task[Any]:
        """The background task slot of ``kind`` (created, idle, on first use)."""
        kind = TaskKind(kind)
        if kind not in self.tasks:
            self.tasks[kind] = Task(kind.value, kind,
                                    on_change=lambda t: self.events.emit(Event.TASK, t))
        return self.tasks[kind]

    def start(self, kind: TaskKind, name: str, work: Callable[[], T], *,
              needs_model: bool = True) -> Task[T]:
        """Run ``work`` in the slot of ``kind``; refuses while a task of its group runs.

        Work that ``needs_model`` (everything but loading and saved engines) refuses
        without one; the other work only excludes its own slot."""
        if needs_model:
            self.require_model()
        for other in self.tasks.values() if needs_model else ():
            if other.busy and other.kind is not None and other.kind.group == kind.group:
                raise WorkbenchError(
                    f"Already {other.name}.",
                    expected=f"one {kind.group} task at a time",
                    found=f"{other.name} still running ({other.elapsed:.1f} s so far)",
                    fix="wait for it to finish (the buttons are enabled again when it does)",
                )
        task: Task[T] = self.task(kind)
        task.name = name
        return task.start(work)

    @property
    def triage_task(self) -> Task[Any] | None:
        """The diagnose / fold / reduce task that ran (or runs) last, if any."""
        started = [t for k, t in self.tasks.items() if k in TRIAGE and t.started is not None]
        return max(started, key=lambda t: t.started or 0.0, default=None)

    @property
    def busy(self) -> bool:
        """Any task running; a build counts from the moment it is created."""
        return any(t.busy or (isinstance(t, BuildJob) and not t.done)
                   for t in self.tasks.values())

    # -- the model --------------------------------------------------------------------

    def sample_models(self) -> list[Path]:
        """The .onnx files of the samples folder, sorted by name (empty if none)."""
        if self.samples_dir is None or not self.samples_dir.is_dir():
            return []
        return sorted(self.samples_dir.glob("*.onnx"))

    # large models take a while to inspect; no model is needed before one is loaded
    @background(TaskKind.LOAD, "loading the model", needs_model=False)
    def load(self, source: str | Path | bytes, label: str | None = None) -> LoadedModel:
        """Load and inspect a model (path or bytes); every part's per-model state is cleared.

        Raises:
            ModelLoadError: unreadable, corrupt, or unsafe model (also kept in
                ``load_error`` and announced with the ``model`` event).
        """
        from workbench.inspection.loading import read_model_file
        from workbench.inspection.summary import inspect_model

        self.derived = {}
        for reset in self._resets:
            reset()
        self.model = None
        try:
            if isinstance(source, (str, os.PathLike)):
                # by path: external data is resolved beside the file, and no bytes are kept
                given = Path(os.fspath(source)).expanduser()
                summary = inspect_model(given)  # raises what reading the file would
                path, upload = given.resolve(), None
            else:
                model_file = read_model_file(source)
                path, upload = None, model_file.data
                summary = inspect_model(upload)
        except WorkbenchError as err:
            self.load_error = err
            self.events.emit(Event.MODEL, None)
            raise
        name = label or (path.name if path is not None else "uploaded.onnx")
        self.model = LoadedModel(name, path, summary, upload)
        self.load_error = None
        self.events.emit(Event.MODEL, self.model)
        return self.model

    def require_model(self) -> LoadedModel:
        """The current model, or ModelLoadError saying none is loaded (and why)."""
        if self.model is None:
            raise ModelLoadError(
                "No model is loaded.",
                expected="a loaded ONNX model",
                found=self.load_error.summary if self.load_error else "nothing loaded yet",
                fix="pick a sample, type a path, or upload an .onnx file first",
            )
        return self.model

    def model_source(self) -> Path | bytes:
        """What to hand to the other layers: the path (external data) or the bytes."""
        model = self.require_model()
        return model.path if model.path is not None else model.data

    def model_path_text(self) -> str:
        """The model's path as scripts and command lines print it (its label if uploaded)."""
        model = self.require_model()
        return str(model.path) if model.path is not None else model.label

    def derived_path(self, kind: str) -> Path:
        """A new file name under ``work_dir`` for a ``kind`` copy (never an earlier one)."""
        model = self.require_model()
        stem = Path(model.label).stem
        self.work_dir.mkdir(parents=True, exist_ok=True)
        for number in range(1, 1000):  # never overwrite an earlier result
            suffix = "" if number == 1 else f"-{number}"
            path = self.work_dir / f"{stem}.{kind}{suffix}.onnx"
            if not path.exists():
                return path
        raise WorkbenchError(f"Too many {kind} copies of {stem} in {self.work_dir}.",
                             fix=f"delete old *.{kind}*.onnx files from {self.work_dir}")

    def open_derived(self, kind: str, written: Path) -> Path:
        """Open a file this session wrote as the current model, and remember it as
        ``derived[kind]`` (after the load, which clears the previous model's state)."""
        self.load(written, label=written.name)
        self.derived[kind] = written
        return written
