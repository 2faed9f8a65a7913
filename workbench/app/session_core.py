"""The core of :class:`~workbench.app.session.WorkbenchSession`: state, tasks, model, triage.

The session is one class built in three layers of this package, each a module under ~400
lines: this core (state, events, background task slots, the model, parse triage, the graph
view), :mod:`workbench.app.session_build` (build, profiles, plans, saved engines) and
:mod:`workbench.app.session` (inputs, run, compare, sharing).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from workbench.app.profile_check import ProfileCheck
from workbench.app.run import RunResult
from workbench.app.tasks import TRIAGE, Event, EventHub, Listener, Task, TaskKind
from workbench.backends.netron import GraphServer, GraphView
from workbench.build.settings import BuildSettings
from workbench.core.errors import ModelLoadError, WorkbenchError
from workbench.feeds.generator import FeedOptions

if TYPE_CHECKING:
    from workbench.app.jobs import BuildJob
    from workbench.app.keep_search import KeepSearchResult
    from workbench.app.mask_fix import MaskFixResult
    from workbench.app.precision import PrecisionReport
    from workbench.backends.trt.engine import LoadedEngine
    from workbench.backends.trt.reduce import ReduceResult
    from workbench.build.engines import EngineArtifact
    from workbench.inspection.control_flow import FreezeChoice
    from workbench.inspection.summary import ModelSummary
    from workbench.triage.diagnosis import ParseReport

T = TypeVar("T")

__all__ = ["LoadedModel", "SessionCore", "find_samples_dir"]


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
    for as long as it stays open. :attr:`data` reads the file when asked (Netron, a digest).
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


class SessionCore:
    """The session's state, tasks, events, model and parse triage (see WorkbenchSession).

    Args:
        engines_dir: Where saved engines live (default ``./engines``).
        samples_dir: Folder of sample models for the picker (default: found automatically).
        work_dir: Where derived files go (folded / reduced models); default ``./workbench_out``.
    """

    def __init__(
        self,
        engines_dir: str | Path | None = None,
        samples_dir: str | Path | None = None,
        work_dir: str | Path | None = None,
    ) -> None:
        self.events = EventHub()
        self.engines_dir = Path(engines_dir) if engines_dir is not None else Path("engines")
        self.samples_dir = find_samples_dir(samples_dir)
        self.work_dir = Path(work_dir) if work_dir is not None else Path("workbench_out")
        self.model: LoadedModel | None = None
        self.load_error: WorkbenchError | None = None
        # One slot per kind; keys are TaskKind (equal to their text: tasks["diagnose"]).
        self.tasks: dict[TaskKind, Task[Any]] = {}
        self._graph = GraphServer()
        self._keep_cancel = threading.Event()
        self._init_state()

    def _init_state(self) -> None:
        """Per-model state, cleared when another model is loaded."""
        self.diagnosis: ParseReport | None = None
        self.settings: BuildSettings | None = None
        self.build_job: BuildJob | None = None
        self.artifact: EngineArtifact | None = None  # of the last successful build
        self.inputs: dict[str, np.ndarray] | None = None
        self.feed_options = FeedOptions()  # sizes and ranges set in the Run/Compare tabs
        self.input_seed: int | None = None
        self.input_source = ""
        self.outputs: RunResult | None = None
        self.comparison: PrecisionReport | None = None
        self._profile_checks: dict[tuple[Any, ...], ProfileCheck] = {}  # by profiles
        self._dim_minimums: dict[str, int] | None = None  # see BuildArea.dim_minimums
        self.default_profile_note = ""  # set when running raised the default profile
        self._defaults: BuildSettings | None = None  # see BuildArea.default_settings
        self.keep_search: KeepSearchResult | None = None
        self.mask_fix: MaskFixResult | None = None
        self.derived: dict[str, Path] = {}  # "folded"/"reduced"/"masks-clamped" -> file
        self.reduction: ReduceResult | None = None
        self.loaded_engine: LoadedEngine | None = None  # from the last reload

    # -- events and tasks -------------------------------------------------------------

    def on(self, event: Event | str, callback: Listener) -> Callable[[], None]:
        """Subscribe to an :class:`Event` (see the module docstring); returns an unsubscribe."""
        return self.events.on(event, callback)

    def task(self, kind: TaskKind | str) -> Task[Any]:
        """The background task slot of ``kind`` (created, idle, on first use)."""
        kind = TaskKind(kind)
        if kind not in self.tasks:
            self.tasks[kind] = Task(kind.value, kind,
                                    on_change=lambda t: self.events.emit(Event.TASK, t))
        return self.tasks[kind]

    def _start(self, kind: TaskKind, name: str, work: Callable[[], T]) -> Task[T]:
        """Run ``work`` in the slot of ``kind``; refuses while a task of its group runs."""
        self.require_model()
        for other in self.tasks.values():
            if other.busy and other.kind is not None and other.kind.group == kind.group:
                raise WorkbenchError(
                    f"Already {other.name}.",
                    expected=f"one {kind.group} task at a time",
                    found=f"{other.name} still running ({other.elapsed:.1f} s so far)",
                    fix="wait for it to finish (the buttons are enabled again when it does)",
                )
        task = self.task(kind)
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
        build_pending = self.build_job is not None and not self.build_job.done
        return build_pending or any(t.busy for t in self.tasks.values())

    # -- model ------------------------------------------------------------------------

    def sample_models(self) -> list[Path]:
        """The .onnx files of the samples folder, sorted by name (empty if none)."""
        if self.samples_dir is None or not self.samples_dir.is_dir():
            return []
        return sorted(self.samples_dir.glob("*.onnx"))

    def load(self, source: str | Path | bytes, label: str | None = None) -> LoadedModel:
        """Load and inspect a model (path or bytes); the previous model's state is cleared.

        Raises:
            ModelLoadError: unreadable, corrupt, or unsafe model (also kept in
                ``load_error`` and announced with the ``model`` event).
        """
        from workbench.inspection.loading import read_model_file
        from workbench.inspection.summary import inspect_model

        self.stop_graph()
        self._init_state()
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

    def start_load(self, source: str | Path | bytes, label: str | None = None
                   ) -> Task[LoadedModel]:
        """:meth:`load` in the background (large models take a while to inspect)."""
        # No model needed yet, so not _start (which requires one).
        task: Task[LoadedModel] = self.task(TaskKind.LOAD)
        task.name = "loading the model"
        return task.start(lambda: self.load(source, label))

    def require_model(self) -> LoadedModel:
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

    # -- parse triage -----------------------------------------------------------------

    def diagnose(self) -> ParseReport:
        """Ask TensorRT's parser about the current model; keeps and returns the ParseReport."""
        from workbench.backends.trt.parse import diagnose

        self.diagnosis = report = diagnose(self.model_source())
        return report

    def start_diagnose(self) -> Task[ParseReport]:
        return self._start(TaskKind.DIAGNOSE, "running parse triage", self.diagnose)

    def _derived_path(self, kind: str) -> Path:
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

    def _open_derived(self, kind: str, written: Path) -> Path:
        """Open a file this session wrote as the current model, and remember it as
        ``derived[kind]`` (after the load, which clears the previous model's state)."""
        self.load(written, label=written.name)
        self.derived[kind] = written
        return written

    def fold_and_retry(self, input_shapes: dict[str, list[int]] | None = None) -> ParseReport:
        """Fold constants into a new file, open it as the current model, diagnose it again.

        Returns the new ParseReport; the folded file is ``derived["folded"]``.
        """
        from workbench.backends.trt.parse import fold_and_diagnose

        out_path = self._derived_path("folded")
        result, report = fold_and_diagnose(self.model_source(), input_shapes, out_path)
        self._open_derived("folded", result.out_path or out_path)
        self.diagnosis = report
        return report

    def start_fold_and_retry(self) -> Task[ParseReport]:
        return self._start(TaskKind.FOLD, "folding constants and diagnosing again",
                           self.fold_and_retry)

    def rewrite_global_pools(self) -> ParseReport:
        """Write a copy with each pooling window that covers its whole input as a global
        pool (``workbench.rewrite_global_pools``), open it and diagnose it again; the file
        is ``derived["global-pool"]``."""
        from workbench.backends.trt.parse import diagnose
        from workbench.transforms.global_pool import rewrite_global_pools

        written, _pools = rewrite_global_pools(self.model_source(),
                                               self._derived_path("global-pool"))
        self._open_derived("global-pool", written)
        self.diagnosis = report = diagnose(written)
        return report

    def start_rewrite_global_pools(self) -> Task[ParseReport]:
        return self._start(TaskKind.FOLD, "rewriting global pools and diagnosing again",
                           self.rewrite_global_pools)

    def reduce(self) -> Path:
        """Reduce the failing model to its smallest failing subgraph; returns the file."""
        from workbench.backends.trt.reduce import reduce_failure

        out_path = self._derived_path("reduced")
        self.reduction = reduction = reduce_failure(self.model_source(), out_path=out_path)
        written = Path(reduction.path)
        self.derived["reduced"] = written
        return written

    def start_reduce(self) -> Task[Path]:
        return self._start(TaskKind.REDUCE, "reducing to the minimal failing model",
                           self.reduce)

    # -- control flow: freeze an input that decides an If ------------------------------

    def freeze_choices(self) -> tuple[FreezeChoice, ...]:
        """Graph-input values an If compares with (``sr = 16000``); () without If nodes."""
        from workbench.inspection.control_flow import control_flow, freeze_choices
        from workbench.inspection.loading import load_model

        model = self.require_model()
        if not model.summary.subgraph_count:  # no If: skip reading the graph again
            return ()
        return freeze_choices(control_flow(load_model(self.model_source(),
                                                      load_weights=False)))

    def freeze_inputs(self, values: dict[str, object]) -> Path:
        """Fix graph inputs to ``values`` in a copy, fold it (an If they decide keeps only
        the branch taken), and open the copy; the file is ``derived["frozen"]``. The model
        that was open is not changed: one engine per value, as with any frozen export."""
        from workbench.transforms.folding import fold_constants

        out_path = self._derived_path("frozen")
        result = fold_constants(self.model_source(), out_path=out_path, input_values=values)
        return self._open_derived("frozen", result.out_path or out_path)

    def start_freeze_inputs(self, values: dict[str, object]) -> Task[Path]:
        text = ", ".join(f"{name} = {value}" for name, value in values.items())
        return self._start(TaskKind.FREEZE, f"freezing {text} and folding",
                           lambda: self.freeze_inputs(values))

    # -- graph view (Netron) ----------------------------------------------------------

    def start_graph(self) -> GraphView:
        """Serve the current model's bytes with Netron on 127.0.0.1; returns where."""
        model = self.require_model()
        view = self._graph.start(model.data, model.label)
        self.events.emit(Event.GRAPH, view)
        return view

    def stop_graph(self) -> None:
        if self._graph.view is not None:
            self._graph.stop()
            self.events.emit(Event.GRAPH, None)

    @property
    def graph_view(self) -> GraphView | None:
        return self._graph.view
