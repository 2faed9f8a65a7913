"""WorkbenchSession: everything the panel shows, held and computed here (no widgets).

The panel in :mod:`workbench.ui` is a thin view: it reads this object's state, calls its
methods, and listens to its events. Anything a user does in the panel can therefore be done
(and scripted, and tested) with the session alone::

    session = WorkbenchSession()
    session.load("sample_models/tiny_cnn.onnx")
    job = session.start_build()          # background thread, live log, cancellable
    job.wait(); session.save_engine("tiny")

Long work runs in background threads, each a :class:`~workbench.app.tasks.Task` in the
slot of its :class:`~workbench.app.tasks.TaskKind` (``session.tasks[TaskKind.FOLD]``); the
build is a :class:`~workbench.app.jobs.BuildJob` (a Task with a log and progress), kept in
``build_job`` and in the BUILD slot. Events (``session.on(Event.X, callback)``,
:class:`~workbench.app.tasks.Event`) are emitted from those threads:

=====================  =====================================================
``Event.MODEL``        a model was loaded (payload: LoadedModel or None)
``Event.TASK``         a background task changed state (payload: Task)
``Event.BUILD``        a build started or ended (payload: the BuildJob)
``Event.ENGINES``      the saved-engines folder changed (payload: list of entries)
``Event.GRAPH``        the Netron view started or stopped (payload: GraphView or None)
``Event.FEEDS``        sizes/ranges for generated inputs changed (payload: FeedOptions)
=====================  =====================================================

TensorRT, ONNX Runtime and widgets are never imported by this module at import time: the
other layers' functions are imported inside the methods that use them (typed imports for
mypy sit under ``TYPE_CHECKING``).

Adding work: write ``def thing(self) -> Result`` doing it on the calling thread, and
``def start_thing(self) -> Task[Result]`` returning ``self._start(TaskKind.THING, "doing
the thing", self.thing)``; add the kind to :class:`~workbench.app.tasks.TaskKind`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from workbench.app import feeding, reproduce
from workbench.app.engine_library import EngineLibrary
from workbench.app.jobs import BuildJob
from workbench.app.profile_check import ProfileCheck, check_profiles, refuse
from workbench.app.run import RunResult, inputs_from_npz, run_model, tensorrt_status
from workbench.app.tasks import TRIAGE, Event, EventHub, Listener, Task, TaskKind
from workbench.backends.netron import GraphServer, GraphView
from workbench.build.plan import BuildPlan
from workbench.build.render import python_script as render_python
from workbench.build.render import trtexec_command as render_trtexec
from workbench.build.settings import BuildSettings
from workbench.core.errors import ModelLoadError, WorkbenchError
from workbench.feeds.generator import FeedOptions, FeedPlanRow

if TYPE_CHECKING:
    from workbench.app.bundle import BundleResult
    from workbench.app.keep_search import KeepSearchResult
    from workbench.app.precision import PrecisionReport
    from workbench.backends.trt.engine import LoadedEngine
    from workbench.backends.trt.reduce import ReduceResult
    from workbench.build.engines import EngineArtifact
    from workbench.compare.tolerances import Tolerances
    from workbench.inspection.summary import ModelSummary
    from workbench.triage.diagnosis import ParseReport

T = TypeVar("T")

__all__ = ["LoadedModel", "WorkbenchSession", "find_samples_dir"]


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
    """The current model: its bytes (Netron, uploads), path (external data) and summary."""

    label: str
    data: bytes
    path: Path | None
    summary: ModelSummary


class WorkbenchSession:
    """State and work behind the panel.

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
        self.keep_search: KeepSearchResult | None = None
        self.derived: dict[str, Path] = {}  # "folded"/"reduced" -> file written
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
            model_file = read_model_file(source)
            # By path when there is one: external data is resolved beside the file.
            summary = inspect_model(model_file.path or model_file.data)
        except WorkbenchError as err:
            self.load_error = err
            self.events.emit(Event.MODEL, None)
            raise
        name = label or (model_file.path.name if model_file.path else "uploaded.onnx")
        self.model = LoadedModel(name, model_file.data, model_file.path, summary)
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

    def fold_and_retry(self, input_shapes: dict[str, list[int]] | None = None) -> ParseReport:
        """Fold constants into a new file, open it as the current model, diagnose it again.

        Returns the new ParseReport; the folded file is ``derived["folded"]``.
        """
        from workbench.backends.trt.parse import fold_and_diagnose

        out_path = self._derived_path("folded")
        result, report = fold_and_diagnose(self.model_source(), input_shapes, out_path)
        written = Path(result.out_path or out_path)
        self.load(written, label=written.name)
        self.diagnosis = report
        self.derived["folded"] = written
        return report

    def start_fold_and_retry(self) -> Task[ParseReport]:
        return self._start(TaskKind.FOLD, "folding constants and diagnosing again",
                           self.fold_and_retry)

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

    # -- build ------------------------------------------------------------------------

    def default_settings(self) -> BuildSettings:
        """BuildSettings with profiles seeded from the model's symbolic dims."""
        build_settings = BuildSettings()
        if self.model is None:
            return build_settings
        try:
            return build_settings.resolved(self.model.summary.inputs)
        except WorkbenchError:
            return build_settings  # e.g. unknown rank: the form explains it

    def start_build(self, settings: BuildSettings | None = None) -> BuildJob:
        """Start a background build; returns the BuildJob (log bus, progress, cancel).

        Emits ``Event.BUILD`` when it starts and when it ends (before ``wait`` returns);
        on success ``artifact`` is set.
        """
        self.require_model()
        if self.build_job is not None and not self.build_job.done:
            raise WorkbenchError(
                "A build is already running.",
                expected="one build at a time per session",
                found=f"a build running for {self.build_job.elapsed:.1f} s",
                fix="wait for it, or press Cancel (session.cancel_build())",
            )
        self.settings = settings if settings is not None else self.default_settings()
        self.require_runnable_profiles(self.settings)
        job = BuildJob(self.model_source(), self.settings, on_done=self._build_done,
                       start=False)
        self.build_job = self.tasks[TaskKind.BUILD] = job
        self.events.emit(Event.BUILD, job)  # views attach to job.log before the first line
        job.start()
        return job

    def check_profiles(self, settings: BuildSettings | None = None) -> ProfileCheck:
        """Run the model with ONNX Runtime at the profiles' min/opt(/max) shapes
        (:func:`workbench.app.profile_check.check_profiles`). The result is kept per
        profile, so other settings (workspace, precision) do not run the model again."""
        model = self.require_model()
        settings = settings if settings is not None else self.default_settings()
        cached = self.cached_profile_check(settings)
        if cached is None:
            cached = check_profiles(self.model_source(), settings, model.summary.inputs)
            self._profile_checks = {settings.profiles: cached}  # one at a time: no growth
        return cached

    def cached_profile_check(self, settings: BuildSettings) -> ProfileCheck | None:
        """The check of these settings' profiles when it needs no run (known, or static)."""
        model = self.model
        if model is not None and not any(s.is_dynamic for s in model.summary.inputs):
            return ProfileCheck((), skipped="the model has no dynamic inputs")
        return self._profile_checks.get(settings.profiles)

    def require_runnable_profiles(self, settings: BuildSettings) -> ProfileCheck:
        """:meth:`check_profiles`, raising BuildSettingsError for a profile the model cannot
        run (the node, the constraint and sizes that run)."""
        check = self.check_profiles(settings)
        if not check:
            raise refuse(check)
        return check

    def _build_done(self, job: BuildJob) -> None:
        # Runs before the job's waiters wake, so wait_build() returns with the panel settled.
        if job is self.build_job and job.result is not None:
            self.artifact = job.result
        self.events.emit(Event.BUILD, job)

    def wait_build(self, timeout: float | None = None) -> EngineArtifact:
        """Wait for the running build (and the views it updates); returns the artifact."""
        job = self.build_job
        if job is None:
            raise WorkbenchError("No build has been started.", fix="call start_build() first")
        return job.wait(timeout)

    def cancel_build(self) -> None:
        if self.build_job is not None and not self.build_job.done:
            self.build_job.cancel()

    def engine_path_hint(self) -> Path:
        stem = Path(self.require_model().label).stem
        return self.engines_dir / f"{stem}.engine"

    def build_plan(self, settings: BuildSettings | None = None) -> BuildPlan:
        """What a build with ``settings`` (default: :meth:`default_settings`) would do here:
        the plan the builder executes and the renderings print.

        Raises:
            BackendUnavailableError: this TensorRT cannot build these settings.
            BuildSettingsError: the profiles do not fit the model's inputs.
        """
        settings = settings if settings is not None else self.default_settings()
        return reproduce.build_plan(settings, self.require_model().summary.inputs)

    def engine_plan(self) -> BuildPlan:
        """The plan of the engine a TensorRT run would use: the last build's, else the
        default one (its profile's opt shapes are the sizes :meth:`make_inputs` picks)."""
        if self.artifact is not None:
            return self.build_plan(self.artifact.card.settings)
        return self.build_plan()

    def trtexec_command(self, settings: BuildSettings | None = None) -> str:
        """The trtexec command line equivalent to building with ``settings``."""
        return render_trtexec(self.build_plan(settings), self._model_path_text(),
                              str(self.engine_path_hint()))

    def python_script(self, settings: BuildSettings | None = None) -> str:
        """A standalone Python script (bare TensorRT API) for the same build."""
        return render_python(self.build_plan(settings), self._model_path_text(),
                             str(self.engine_path_hint()))

    def _model_path_text(self) -> str:
        model = self.require_model()
        return str(model.path) if model.path is not None else model.label

    # -- engines ----------------------------------------------------------------------

    @property
    def engines(self) -> EngineLibrary:
        return EngineLibrary(self.engines_dir)

    def save_engine(self, name: str, overwrite: bool = False) -> Path:
        """Save the last built engine (and its card) as ``engines_dir/<name>.engine``."""
        if self.artifact is None:
            raise WorkbenchError("There is no built engine to save.",
                                 expected="a successful build in this session",
                                 found="no engine built yet", fix="build one first")
        path = self.engines.save(self.artifact, name, overwrite=overwrite)
        self.events.emit(Event.ENGINES, self.engines.entries())
        return path

    def reload_engine(self, name: str) -> LoadedEngine:
        """Check a saved engine against its card and this machine (``LoadedEngine``)."""
        from workbench.backends.trt.engine import load_engine

        self.loaded_engine = loaded = load_engine(self.engines.existing(name))
        self.events.emit(Event.ENGINES, self.engines.entries())
        return loaded

    def start_save_engine(self, name: str, overwrite: bool = False) -> Task[Path]:
        """:meth:`save_engine` in the background (writing a multi-GB plan takes seconds)."""
        return self._engines_task("saving the engine",
                                  lambda: self.save_engine(name, overwrite))

    def start_reload_engine(self, name: str) -> Task[LoadedEngine]:
        """:meth:`reload_engine` in the background (hashing a multi-GB plan takes seconds)."""
        return self._engines_task("reloading and checking the engine",
                                  lambda: self.reload_engine(name))

    def _engines_task(self, name: str, work: Callable[[], T]) -> Task[T]:
        task = self.task(TaskKind.ENGINES)  # no model needed: saved engines stand alone
        task.name = name
        return task.start(work)

    def delete_engine(self, name: str, confirm: bool = False) -> list[Path]:
        """Delete a saved engine and its card; refuses without ``confirm=True``."""
        removed = self.engines.delete(name, confirm=confirm)
        if self.loaded_engine is not None and self.loaded_engine.path in removed:
            self.loaded_engine = None
        self.events.emit(Event.ENGINES, self.engines.entries())
        return removed

    # -- run ----------------------------------------------------------------------------

    def make_inputs(self, seed: int = 0, options: FeedOptions | None = None
                    ) -> dict[str, np.ndarray]:
        """Seeded feeds the model accepts (:func:`workbench.feeds.generator.model_feeds`):
        sizes you set (``options``, kept as ``feed_options``), else the last build's opt
        shapes (so Build → Run fits by construction), else the default build profile's opt
        raised to what the graph's kernels need; integer inputs within what the graph
        indexes; masks all ones."""
        if options is not None:
            self.set_feed_options(options)
        self.inputs = feeds = feeding.feeds_for(self.model_source(), seed, self.feed_options,
                                                self._engine_shapes())
        self.input_seed, self.input_source = seed, f"seed {seed}"
        return feeds

    def _engine_shapes(self) -> dict[str, tuple[int, ...]]:
        """The built engine plan's opt shapes, except for inputs whose dims you set."""
        if self.artifact is None:
            return {}
        try:
            shapes = self.engine_plan().opt_shapes()
        except WorkbenchError:  # no plan here (e.g. unknown rank): the feeds' own seeding
            return {}
        pinned = set(self.feed_options.dims)
        specs = {spec.name: spec for spec in self.require_model().summary.inputs}
        return {name: tuple(shape) for name, shape in shapes.items()
                if name in specs and not pinned & set(map(str, specs[name].shape or ()))}

    def set_feed_options(self, options: FeedOptions) -> None:
        """Sizes per symbolic dim and ranges per integer input for generated feeds (Run and
        Compare); announced with ``Event.FEEDS``."""
        self.feed_options = options
        self.events.emit(Event.FEEDS, options)

    def feed_plan(self, options: FeedOptions | None = None) -> list[FeedPlanRow]:
        """What :meth:`make_inputs` makes for each input (shape, values, why)."""
        return feeding.plan_for(self.model_source(), options or self.feed_options,
                                self._engine_shapes())

    def use_inputs_file(self, data: bytes | Path, name: str = "inputs.npz"
                        ) -> dict[str, np.ndarray]:
        """Feeds from an ``.npz`` (uploaded bytes or a path); checked when the run starts."""
        self.inputs = inputs_from_npz(data, name)
        self.input_seed, self.input_source = None, f"file {Path(name).name}"
        return self.inputs

    def tensorrt_status(self) -> tuple[bool, str]:
        return tensorrt_status()

    def run(self, backend: str = "onnxruntime") -> RunResult:
        """Run the current model (ORT) or engine (TensorRT) on ``inputs`` (seed 0 if none)."""
        if self.inputs is None:
            self.make_inputs(0)
        assert self.inputs is not None
        engine = self.artifact if self.artifact is not None else (
            self.loaded_engine.path if self.loaded_engine is not None else None)
        if backend == "tensorrt" and self.input_seed is not None and tensorrt_status()[0]:
            self._feeds_for_engine(self.artifact or self.loaded_engine)
        outputs, seconds, latency = run_model(backend, self.model_source(), self.inputs, engine)
        self.outputs = RunResult(backend, self.input_source, self.input_seed, self.inputs,
                                 dict(outputs), seconds, latency)
        return self.outputs

    def _feeds_for_engine(self, engine: Any) -> None:
        """Generated feeds at the engine's opt shapes, checked once with ONNX Runtime."""
        shapes = feeding.engine_opt_shapes(engine)
        if shapes is None or self.input_seed is None:
            return
        self.inputs = feeding.feeds_for(self.model_source(), self.input_seed,
                                        self.feed_options, shapes)
        feeding.check_with_onnxruntime(self.model_source(), self.inputs)

    def start_run(self, backend: str = "onnxruntime") -> Task[RunResult]:
        return self._start(TaskKind.RUN, "running inference", lambda: self.run(backend))

    # -- compare ------------------------------------------------------------------------

    def compare(self, precision: str = "fp16", tolerances: Tolerances | None = None,
                keep_fp32: tuple[str, ...] = (), seed: int = 0,
                on_progress: Callable[[str, int, int], None] | None = None
                ) -> PrecisionReport:
        """FP32 (ONNX Runtime) against ``precision``: per-output metrics, per-layer drift."""
        from workbench.app.precision import compare_precision

        feeds = self.inputs if self.input_seed is None and self.inputs is not None else None
        self.comparison = report = compare_precision(
            self.model_source(), precision, inputs=feeds, keep_fp32=keep_fp32, seed=seed,
            tolerances=tolerances, dims=self.feed_options.dims,
            int_ranges=self.feed_options.int_ranges, on_progress=on_progress)
        return report

    def start_compare(self, precision: str = "fp16", tolerances: Tolerances | None = None,
                      keep_fp32: tuple[str, ...] = (), seed: int = 0
                      ) -> Task[PrecisionReport]:
        # the phase and its steps (weights converted, nodes evaluated) show in the panel
        return self._start(TaskKind.COMPARE, "comparing precisions",
                           lambda: self.compare(precision, tolerances, keep_fp32, seed,
                                                self.tasks[TaskKind.COMPARE].report))

    def find_keep_list(self, precision: str = "fp16", tolerances: Tolerances | None = None,
                       seed: int = 0, max_trials: int = 10) -> KeepSearchResult:
        """Search a minimal, verified keep-FP32 list (``keep_search.find_keep_list``).

        Emits ``Event.KEEP_SEARCH`` with ``(trial, budget, keep_list)`` before each trial;
        :meth:`cancel_keep_search` stops it after the current trial."""
        from workbench.app.keep_search import find_keep_list

        self._keep_cancel.clear()
        feeds = self.inputs if self.input_seed is None and self.inputs is not None else None
        last = self.comparison
        start = last if (last is not None and not last.keep_fp32 and last.drift is not None
                         and last.precision == precision) else None
        self.keep_search = found = find_keep_list(
            self.model_source(), precision, inputs=feeds, seed=seed, tolerances=tolerances,
            max_trials=max_trials, start=start, cancel=self._keep_cancel.is_set,
            on_trial=lambda k, n, keep: self.events.emit(Event.KEEP_SEARCH, (k, n, keep)))
        return found

    def start_keep_search(self, precision: str = "fp16", tolerances: Tolerances | None = None,
                          seed: int = 0) -> Task[KeepSearchResult]:
        return self._start(TaskKind.KEEP_SEARCH, "searching a keep-FP32 list",
                           lambda: self.find_keep_list(precision, tolerances, seed))

    def cancel_keep_search(self) -> None:
        self._keep_cancel.set()

    def use_keep_list(self, keep_fp32: tuple[str, ...], precision: str = "fp16") -> None:
        """Carry a keep list to the build settings (``Event.USE_KEEP_FP32``; the Build tab
        shows it)."""
        self.events.emit(Event.USE_KEEP_FP32, (tuple(keep_fp32), precision))

    def python_compare(self, precision: str = "fp16", keep_fp32: tuple[str, ...] = (),
                       seed: int = 0) -> str:
        """The script equivalent of :meth:`compare`."""
        return reproduce.compare_script(self._model_path_text(), precision, keep_fp32, seed,
                                        dict(self.feed_options.dims),
                                        dict(self.feed_options.int_ranges))

    # -- sharing ----------------------------------------------------------------------

    def report(self, path: str | Path, overwrite: bool = False) -> Path:
        """Save everything this session found as one self-contained HTML file."""
        from workbench.app.report import write_report

        return write_report(self, path, overwrite=overwrite)

    def start_report(self, path: str | Path) -> Task[Path]:
        return self._start(TaskKind.SHARE, "writing the report", lambda: self.report(path))

    def bundle(self, path: str | Path, overwrite: bool = False) -> BundleResult:
        """Zip the current model's failure for a TensorRT bug report."""
        from workbench.app.bundle import make_bundle

        return make_bundle(self.model_source(), path, self.settings, overwrite=overwrite)

    def start_bundle(self, path: str | Path) -> Task[BundleResult]:
        return self._start(TaskKind.SHARE, "making the bug bundle", lambda: self.bundle(path))

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

    def close(self) -> None:
        """Stop servers and cancel a running build (call when the panel is discarded)."""
        self.stop_graph()
        self.cancel_build()
