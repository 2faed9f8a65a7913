"""WorkbenchSession: everything the panel shows, held and computed here (no widgets).

The panel in :mod:`workbench.ui` is a thin view: it reads this object's state, calls its
methods, and listens to its events. Anything a user does in the panel can therefore be done
(and scripted, and tested) with the session alone::

    session = WorkbenchSession()
    session.load("sample_models/tiny_cnn.onnx")
    job = session.start_build()          # background thread, live log, cancellable
    job.wait(); session.save_engine("tiny")

Long work runs in background threads (:class:`~workbench.app.tasks.Task` or the build's
own job). Events (``session.on(name, callback)``) are emitted from those threads:

=============  =====================================================
``model``      a model was loaded (payload: LoadedModel or None)
``task``       a background task changed state (payload: Task)
``build``      a build started, progressed or ended (payload: the job)
``engines``    the saved-engines folder changed (payload: list of entries)
``graph``      the Netron view started or stopped (payload: GraphView or None)
=============  =====================================================

TensorRT, ONNX Runtime and widgets are never imported by this module at import time.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.app import reproduce
from workbench.app.engine_library import EngineLibrary
from workbench.app.run import RunResult, inputs_from_npz, run_model, tensorrt_status
from workbench.app.tasks import EventHub, Listener, Task
from workbench.backends.netron import GraphServer, GraphView
from workbench.core.errors import ModelLoadError, WorkbenchError

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
    summary: Any  # workbench.inspection.summary.ModelSummary


def _api(module: str, name: str) -> Any:
    """A name from another layer, imported when first used (keeps this module light)."""
    return getattr(importlib.import_module(module), name)


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
        self.tasks: dict[str, Task] = {}
        self._graph = GraphServer()
        self._build_settled = threading.Event()
        self._init_state()

    def _init_state(self) -> None:
        """Per-model state, cleared when another model is loaded."""
        self.diagnosis: Any = None  # ParseReport
        self.settings: Any = None  # BuildSettings
        self.build_job: Any = None  # jobs.BuildJob
        self.artifact: Any = None  # EngineArtifact of the last successful build
        self.inputs: dict[str, Any] | None = None
        self.input_seed: int | None = None
        self.input_source = ""
        self.outputs: Any = None  # RunResult
        self.comparison: Any = None  # PrecisionReport
        self._profile_checks: dict[Any, Any] = {}  # BuildSettings -> ProfileCheck
        self.derived: dict[str, Path] = {}  # "folded"/"reduced" -> file written
        self.reduction: Any = None  # ReduceResult
        self.loaded_engine: Any = None  # LoadedEngine from the last reload

    # -- events and tasks -------------------------------------------------------------

    def on(self, event: str, callback: Listener) -> Callable[[], None]:
        """Subscribe to an event (see the module docstring); returns an unsubscribe."""
        return self.events.on(event, callback)

    def task(self, key: str, name: str | None = None) -> Task:
        """The background task slot ``key`` (created on first use)."""
        if key not in self.tasks:
            self.tasks[key] = Task(name or key, on_change=lambda t: self.events.emit("task", t))
        elif name and not self.tasks[key].busy:
            self.tasks[key].name = name  # one slot, several kinds of work: say which one
        return self.tasks[key]

    @property
    def busy(self) -> bool:
        build_running = self.build_job is not None and not _job_done(self.build_job)
        return build_running or any(t.busy for t in self.tasks.values())

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
        read_model_file = _api("workbench.inspection.loading", "read_model_file")
        inspect_model = _api("workbench.inspection.summary", "inspect_model")
        self.stop_graph()
        self._init_state()
        self.model = None
        try:
            model_file = read_model_file(source)
            # By path when there is one: external data is resolved beside the file.
            summary = inspect_model(model_file.path or model_file.data)
        except WorkbenchError as err:
            self.load_error = err
            self.events.emit("model", None)
            raise
        name = label or (model_file.path.name if model_file.path else "uploaded.onnx")
        self.model = LoadedModel(name, model_file.data, model_file.path, summary)
        self.load_error = None
        self.events.emit("model", self.model)
        return self.model

    def start_load(self, source: str | Path | bytes, label: str | None = None) -> Task:
        """:meth:`load` in the background (large models take a while to inspect)."""
        return self.task("load", "loading the model").start(lambda: self.load(source, label))

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

    def diagnose(self) -> Any:
        """Ask TensorRT's parser about the current model; keeps and returns the ParseReport."""
        diagnose = _api("workbench.backends.trt.parse", "diagnose")
        self.diagnosis = diagnose(self.model_source())
        return self.diagnosis

    def start_diagnose(self) -> Task:
        self.require_model()
        return self.task("diagnose", "running parse triage").start(self.diagnose)

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

    def fold_and_retry(self, input_shapes: dict[str, list[int]] | None = None) -> Any:
        """Fold constants into a new file, open it as the current model, diagnose it again.

        Returns the new ParseReport; the folded file is ``derived["folded"]``.
        """
        fold_and_diagnose = _api("workbench.backends.trt.parse", "fold_and_diagnose")
        out_path = self._derived_path("folded")
        result, report = fold_and_diagnose(self.model_source(), input_shapes, out_path)
        written = Path(result.out_path or out_path)
        self.load(written, label=written.name)
        self.diagnosis = report
        self.derived["folded"] = written
        return report

    def start_fold_and_retry(self) -> Task:
        self.require_model()
        return self.task("diagnose", "folding constants and diagnosing again").start(
            self.fold_and_retry)

    def reduce(self) -> Path:
        """Reduce the failing model to its smallest failing subgraph; returns the file."""
        reduce_failure = _api("workbench.backends.trt.reduce", "reduce_failure")
        out_path = self._derived_path("reduced")
        self.reduction = reduce_failure(self.model_source(), out_path=out_path)
        written = Path(self.reduction.path)
        self.derived["reduced"] = written
        return written

    def start_reduce(self) -> Task:
        self.require_model()
        return self.task("diagnose", "reducing to the minimal failing model").start(
            self.reduce)

    # -- build ------------------------------------------------------------------------

    def default_settings(self) -> Any:
        """BuildSettings with profiles seeded from the model's symbolic dims."""
        build_settings = _api("workbench.build.settings", "BuildSettings")()
        if self.model is None:
            return build_settings
        try:
            return build_settings.resolved(self.model.summary.inputs)
        except WorkbenchError:
            return build_settings  # e.g. unknown rank: the form explains it

    def start_build(self, settings: Any = None) -> Any:
        """Start a background build; returns the ``jobs.BuildJob`` (log bus, progress, cancel).

        Emits ``build`` when it starts and when it ends; on success ``artifact`` is set.
        """
        build_job = _api("workbench.app.jobs", "BuildJob")
        self.require_model()
        if self.build_job is not None and not _job_done(self.build_job):
            raise WorkbenchError(
                "A build is already running.",
                expected="one build at a time per session",
                found=f"a build running for {self.build_job.elapsed:.1f} s",
                fix="wait for it, or press Cancel (session.cancel_build())",
            )
        self.settings = settings if settings is not None else self.default_settings()
        self.require_runnable_profiles(self.settings)
        self._build_settled.clear()
        job = build_job(self.model_source(), self.settings, on_done=self._build_done,
                        start=False)
        self.build_job = job
        self.events.emit("build", job)  # views attach to job.log before the first line
        job.start()
        return job

    def check_profiles(self, settings: Any = None) -> Any:
        """Run the model with ONNX Runtime at the profiles' min/opt(/max) shapes
        (:func:`workbench.app.profile_check.check_profiles`); the last result is kept."""
        from workbench.app.profile_check import check_profiles

        model = self.require_model()
        settings = settings if settings is not None else self.default_settings()
        cached = self._profile_checks.get(settings)
        if cached is None:
            cached = check_profiles(self.model_source(), settings, model.summary.inputs)
            self._profile_checks = {settings: cached}  # one model, one settings: no growth
        return cached

    def require_runnable_profiles(self, settings: Any) -> Any:
        """:meth:`check_profiles`, raising BuildSettingsError for a profile the model cannot
        run (the node, the constraint and sizes that run)."""
        from workbench.app.profile_check import refuse

        check = self.check_profiles(settings)
        if not check:
            raise refuse(check)
        return check

    def _build_done(self, job: Any) -> None:
        if job is self.build_job and job.state == "built":
            self.artifact = job.result
        # Views update before waiters wake, so wait_build() returns with the panel settled.
        try:
            self.events.emit("build", job)
        finally:
            self._build_settled.set()

    def wait_build(self, timeout: float | None = None) -> Any:
        """Wait for the running build and the session's bookkeeping; returns the artifact."""
        job = self.build_job
        if job is None:
            raise WorkbenchError("No build has been started.", fix="call start_build() first")
        if not job.wait(timeout) or not self._build_settled.wait(timeout):
            raise TimeoutError(f"the build is still running after {timeout} s")
        return job.artifact(0)

    def cancel_build(self) -> None:
        if self.build_job is not None and not _job_done(self.build_job):
            self.build_job.cancel()

    def engine_path_hint(self) -> Path:
        stem = Path(self.require_model().label).stem
        return self.engines_dir / f"{stem}.engine"

    def trtexec_command(self, settings: Any = None) -> str:
        """The trtexec command line equivalent to building with ``settings``."""
        settings = settings if settings is not None else self.default_settings()
        return reproduce.trtexec_command(settings, self._model_path_text(),
                                         str(self.engine_path_hint()))

    def python_script(self, settings: Any = None) -> str:
        """A standalone Python script (bare TensorRT API) for the same build."""
        settings = settings if settings is not None else self.default_settings()
        return reproduce.python_script(settings, self._model_path_text(),
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
        self.events.emit("engines", self.engines.entries())
        return path

    def reload_engine(self, name: str) -> Any:
        """Check a saved engine against its card and this machine (``LoadedEngine``)."""
        load_engine = _api("workbench.backends.trt.engine", "load_engine")
        self.loaded_engine = load_engine(self.engines.existing(name))
        self.events.emit("engines", self.engines.entries())
        return self.loaded_engine

    def delete_engine(self, name: str, confirm: bool = False) -> list[Path]:
        """Delete a saved engine and its card; refuses without ``confirm=True``."""
        removed = self.engines.delete(name, confirm=confirm)
        if self.loaded_engine is not None and self.loaded_engine.path in removed:
            self.loaded_engine = None
        self.events.emit("engines", self.engines.entries())
        return removed

    # -- run ----------------------------------------------------------------------------

    def make_inputs(self, seed: int = 0) -> dict[str, Any]:
        """Seeded random feeds for the model's inputs (symbolic dims: batch 1, others 16)."""
        make_inputs = _api("workbench.feeds.inputs", "make_inputs")
        self.inputs = make_inputs(self.require_model().summary.inputs, seed=seed)
        self.input_seed, self.input_source = seed, f"seed {seed}"
        return self.inputs

    def use_inputs_file(self, data: bytes | Path, name: str = "inputs.npz") -> dict[str, Any]:
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
        outputs, seconds, latency = run_model(backend, self.model_source(), self.inputs, engine)
        self.outputs = RunResult(backend, self.input_source, self.input_seed, self.inputs,
                                 dict(outputs), seconds, latency)
        return self.outputs

    def start_run(self, backend: str = "onnxruntime") -> Task:
        self.require_model()
        return self.task("run", "running inference").start(lambda: self.run(backend))

    # -- compare ------------------------------------------------------------------------

    def compare(self, precision: str = "fp16", tolerances: Any = None,
                keep_fp32: tuple[str, ...] = (), seed: int = 0) -> Any:
        """FP32 (ONNX Runtime) against ``precision``: per-output metrics, per-layer drift."""
        compare_precision = _api("workbench.app.precision", "compare_precision")
        feeds = self.inputs if self.input_seed is None and self.inputs is not None else None
        self.comparison = compare_precision(
            self.model_source(), precision, inputs=feeds, keep_fp32=keep_fp32, seed=seed,
            tolerances=tolerances)
        return self.comparison

    def start_compare(self, precision: str = "fp16", tolerances: Any = None,
                      keep_fp32: tuple[str, ...] = (), seed: int = 0) -> Task:
        self.require_model()
        return self.task("compare", "comparing precisions").start(
            lambda: self.compare(precision, tolerances, keep_fp32, seed))

    def python_compare(self, precision: str = "fp16", keep_fp32: tuple[str, ...] = (),
                       seed: int = 0) -> str:
        """The script equivalent of :meth:`compare`."""
        return reproduce.compare_script(self._model_path_text(), precision, keep_fp32, seed)

    # -- graph view (Netron) ----------------------------------------------------------

    def start_graph(self) -> GraphView:
        """Serve the current model's bytes with Netron on 127.0.0.1; returns where."""
        model = self.require_model()
        view = self._graph.start(model.data, model.label)
        self.events.emit("graph", view)
        return view

    def stop_graph(self) -> None:
        if self._graph.view is not None:
            self._graph.stop()
            self.events.emit("graph", None)

    @property
    def graph_view(self) -> GraphView | None:
        return self._graph.view

    def close(self) -> None:
        """Stop servers and cancel a running build (call when the panel is discarded)."""
        self.stop_graph()
        if self.build_job is not None and not _job_done(self.build_job):
            self.build_job.cancel()


def _job_done(job: Any) -> bool:
    done = getattr(job, "done", None)
    return bool(done() if callable(done) else done)
