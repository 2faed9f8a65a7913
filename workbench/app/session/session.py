"""WorkbenchSession: everything the panel shows, held and computed here (no widgets).

The panel in :mod:`workbench.ui` is a thin view: it reads this object's state, calls its
methods, and listens to its events. Anything a user does in the panel can therefore be done
(and scripted, and tested) with the session alone::

    session = WorkbenchSession()
    session.load("sample_models/tiny_cnn.onnx")
    job = session.start_build()          # background thread, live log, cancellable
    job.wait(); session.save_engine("tiny")

Long work runs in background threads, each a :class:`~workbench.app.session.tasks.Task` in the
slot of its :class:`~workbench.app.session.tasks.TaskKind` (``session.tasks[TaskKind.FOLD]``); the
build is a :class:`~workbench.app.session.jobs.BuildJob` (a Task with a log and progress), kept in
``build_job`` and in the BUILD slot. Events (``session.on(Event.X, callback)``,
:class:`~workbench.app.session.tasks.Event`) are emitted from those threads:

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
the thing", self.thing)``; add the kind to :class:`~workbench.app.session.tasks.TaskKind`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.app.session import feeding
from workbench.app.session.core import LoadedModel, find_samples_dir
from workbench.app.session.quant import QuantArea
from workbench.app.session.run import RunResult, inputs_from_npz, run_model, tensorrt_status
from workbench.app.session.tasks import Event, Task, TaskKind
from workbench.app.share import reproduce
from workbench.core.errors import WorkbenchBug, WorkbenchError
from workbench.feeds.generator import FeedOptions, FeedPlanRow, plan_dims
from workbench.feeds.inputs import dim_key

if TYPE_CHECKING:
    from workbench.app.overlays.overlay import GraphOverlay
    from workbench.app.precision.compare import PrecisionReport
    from workbench.app.precision.keep_search import KeepSearchResult
    from workbench.app.precision.mask_fix import MaskFixResult
    from workbench.app.share.bundle import BundleResult
    from workbench.backends.explorer import ExplorerServer, ExplorerView
    from workbench.compare.tolerances import Tolerances

__all__ = ["LoadedModel", "WorkbenchSession", "find_samples_dir"]


class WorkbenchSession(QuantArea):
    """State and work behind the panel.

    Args:
        engines_dir: Where saved engines live (default ``./engines``).
        samples_dir: Folder of sample models for the picker (default: found automatically).
        work_dir: Where derived files go (folded / reduced models); default ``./workbench_out``.

    The state, tasks, model and triage live in :class:`~workbench.app.session.core.SessionCore`,
    the build and engines in :class:`~workbench.app.session.build.BuildArea`, INT8/FP8
    quantization in :class:`~workbench.app.session.quant.QuantArea`.
    """

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
        """The built engine plan's opt shapes (before a build: those of a default profile
        raised by running it), except for inputs whose dims you set."""
        if self.artifact is None:
            shapes = self.default_opt_shapes()
        else:
            try:
                shapes = self.engine_plan().opt_shapes()
            except WorkbenchError:  # no plan here (e.g. unknown rank): the feeds' seeding
                return {}
        pinned = set(self.feed_options.dims)
        specs = {spec.name: spec for spec in self.require_model().summary.inputs}
        return {name: tuple(shape) for name, shape in shapes.items()
                if name in specs and not pinned & _dim_keys(specs[name])}

    def set_feed_options(self, options: FeedOptions) -> None:
        """Sizes per symbolic dim and ranges per integer input for generated feeds (Run and
        Compare); announced with ``Event.FEEDS``."""
        self.feed_options = options
        self.events.emit(Event.FEEDS, options)

    def feed_dims(self) -> dict[str, int]:
        """The size of every dynamic dim as :meth:`make_inputs` uses it (yours, else the
        engine's or the runnable default's): Compare, the keep-list search and the mask fix
        take these too, so every flow runs at the same sizes."""
        planned = plan_dims(self.require_model().summary.inputs, self.feed_plan())
        return {**planned, **self.feed_options.dims}

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
        from workbench.app.precision.compare import compare_precision

        feeds = self._compare_feeds()
        self.comparison = report = compare_precision(
            self.model_source(), precision, inputs=feeds, keep_fp32=keep_fp32, seed=seed,
            tolerances=tolerances, dims=self.feed_dims(),
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
        from workbench.app.precision.keep_search import find_keep_list

        self._keep_cancel.clear()
        feeds = self._compare_feeds()
        last = self.comparison
        start = last if (last is not None and not last.keep_fp32 and last.drift is not None
                         and last.precision == precision) else None
        self.keep_search = found = find_keep_list(
            self.model_source(), precision, inputs=feeds, seed=seed, tolerances=tolerances,
            dims=self.feed_dims(), int_ranges=self.feed_options.int_ranges,
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

    def clamp_masks(self, precision: str = "fp16", tolerances: Tolerances | None = None,
                    keep_fp32: tuple[str, ...] = (), seed: int = 0) -> MaskFixResult:
        """The optional mask fix, verified: the model's ``finfo.min`` mask constants clamped
        to -1e4 in a new file (``derived["masks-clamped"]``), then FP32 before vs after and
        the comparison of the clamped model, on the inputs :meth:`compare` uses.
        :meth:`use_clamped_model` opens the file."""
        from workbench.app.precision.mask_fix import verify_mask_clamp

        out_path = self._derived_path("masks-clamped")
        self.mask_fix = result = verify_mask_clamp(
            self.model_source(), precision, inputs=self._compare_feeds(),
            keep_fp32=keep_fp32, seed=seed, tolerances=tolerances, dims=self.feed_dims(),
            int_ranges=self.feed_options.int_ranges, out_path=out_path)
        self.derived["masks-clamped"] = out_path
        return result

    def start_clamp_masks(self, precision: str = "fp16", tolerances: Tolerances | None = None,
                          keep_fp32: tuple[str, ...] = (), seed: int = 0
                          ) -> Task[MaskFixResult]:
        return self._start(TaskKind.MASK_FIX, "clamping mask constants and re-running",
                           lambda: self.clamp_masks(precision, tolerances, keep_fp32, seed))

    def use_clamped_model(self) -> Task[LoadedModel]:
        """Open the model :meth:`clamp_masks` wrote as the current model (the original
        file stays as it was)."""
        path = self.derived.get("masks-clamped")
        if path is None:
            raise WorkbenchError("No clamped model to open yet.",
                                 expected="a finished clamp_masks()",
                                 found="none in this session for the current model",
                                 fix="run session.clamp_masks() (or press 'Clamp mask "
                                 "constants and re-run') first")
        return self.start_load(path, label=path.name)

    def _compare_feeds(self) -> dict[str, np.ndarray] | None:
        """Feeds set by hand (an .npz upload or edited values); None: generated per seed by
        the comparison itself, at Run's sizes (``feed_dims``)."""
        return self.inputs if self.input_seed is None and self.inputs is not None else None

    def python_compare(self, precision: str = "fp16", keep_fp32: tuple[str, ...] = (),
                       seed: int = 0) -> str:
        """The script equivalent of :meth:`compare`."""
        return reproduce.compare_script(self._model_path_text(), precision, keep_fp32, seed,
                                        self.feed_dims(),
                                        dict(self.feed_options.int_ranges))

    # -- sharing ----------------------------------------------------------------------

    def graph_overlay(self, kind: str = "parse") -> GraphOverlay:
        """What the session found, as marks on the graph's nodes (``parse``, ``fp16``,
        ``bf16``, ``int8``, ``keep``, ``engine``): see :mod:`workbench.app.overlays.overlay`."""
        from workbench.app.overlays.graph_overlays import session_overlay

        return session_overlay(self, kind)

    def start_explorer(self, kind: str = "parse") -> ExplorerView:
        """Serve the whole model with Model Explorer (the ``[explorer]`` extra), coloured by
        the ``kind`` overlay, in a child process on 127.0.0.1; returns where."""
        from workbench.app.overlays.graph_overlays import explorer_node_data

        model = self.require_model()
        node_data = explorer_node_data(self, self.graph_overlay(kind))
        path = model.path
        if path is None:  # an upload: Model Explorer reads files only
            path = self._derived_path("explorer-upload")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(model.data)
        view = self._explorer.start(path, node_data, self.work_dir, model.label,
                                    f"{kind} overlay")
        self.events.emit(Event.GRAPH, view)
        return view

    def stop_explorer(self) -> None:
        server = self.__dict__.get("_explorer_server")  # none started: nothing to import
        if server is not None and server.view is not None:
            server.stop()
            self.events.emit(Event.GRAPH, None)

    @property
    def explorer_view(self) -> ExplorerView | None:
        server = self.__dict__.get("_explorer_server")
        return server.view if server is not None else None

    @property
    def _explorer(self) -> ExplorerServer:
        from workbench.backends.explorer import ExplorerServer

        server: ExplorerServer = self.__dict__.setdefault("_explorer_server", ExplorerServer())
        return server

    def report(self, path: str | Path, overwrite: bool = False) -> Path:
        """Save everything this session found as one self-contained HTML file."""
        from workbench.app.share.report import write_report

        return write_report(self, path, overwrite=overwrite)

    def start_report(self, path: str | Path) -> Task[Path]:
        return self._start(TaskKind.SHARE, "writing the report", lambda: self.report(path))

    def bundle(self, path: str | Path, overwrite: bool = False) -> BundleResult:
        """Zip the current model's failure for a TensorRT bug report."""
        from workbench.app.share.bundle import make_bundle

        return make_bundle(self.model_source(), path, self.settings, overwrite=overwrite,
                           bug=self.last_bug(), comparison=self.failed_comparison())

    def failed_comparison(self) -> PrecisionReport | None:
        """The last comparison when it FAILED and TensorRT neither refused to parse nor to
        build the model (those failures come first in a bundle)."""
        report = self.comparison
        if report is None or report.verdict != "FAILED":
            return None
        parse_failed = self.diagnosis is not None and not self.diagnosis
        build_failed = self.build_job is not None and self.build_job.state == "failed"
        return None if parse_failed or build_failed else report

    def last_bug(self) -> WorkbenchBug | None:
        """The newest workbench bug of this session: a task that ended with one, or a view
        that raised (its Bug bundle zips that traceback instead of looking for a TensorRT
        failure)."""
        bugs = [(task.finished or 0.0, task.error) for task in self.tasks.values()
                if isinstance(task.error, WorkbenchBug)]
        if self.events.view_bug is not None and isinstance(self.events.view_bug[1],
                                                           WorkbenchBug):
            bugs.append((self.events.view_bug[0], self.events.view_bug[1]))
        return max(bugs, key=lambda pair: pair[0])[1] if bugs else None

    def start_bundle(self, path: str | Path) -> Task[BundleResult]:
        return self._start(TaskKind.SHARE, "making the bug bundle", lambda: self.bundle(path))

    def close(self) -> None:
        """Stop servers and cancel a running build (call when the panel is discarded)."""
        self.stop_graph()
        self.stop_explorer()
        self.cancel_build()


def _dim_keys(spec: Any) -> set[str]:
    """The names sizes of ``spec``'s dynamic dims are set under (``dim_key``)."""
    return {key for axis, dim in enumerate(spec.shape or ())
            if (key := dim_key(spec.name, axis, dim)) is not None}
