"""WorkbenchSession: everything the panel shows, held and computed here (no widgets).

The panel in ``workbench.ui`` is a thin view: it reads this object's state, calls its
methods, and listens to its events. Anything a user does in the panel can therefore be done
(and scripted, and tested) with the session alone::

    session = WorkbenchSession()
    session.load("sample_models/tiny_cnn.onnx")
    job = session.builds.start()         # background thread, live log, cancellable
    job.wait(); session.engines.save("tiny")

The session is made of parts it owns, each a small class in
``workbench.app.session.parts`` sharing one ``SessionState``
(``session.state``: folders, the current model, events, task slots, derived files):

=====================  ======================================================================
``session.triage``     ``diagnose``, ``fold_and_retry``, ``rewrite_global_pools``, ``reduce``,
                       ``freeze_choices``, ``freeze_inputs``, ``float_biases``; ``diagnosis``
``session.builds``     ``default_settings``, ``check_profiles``, ``start`` → BuildJob,
                       ``wait``, ``cancel``, ``build``, ``plan``, ``trtexec_command``,
                       ``python_script``; ``settings``, ``job``, ``artifact``
``session.engines``    ``entries``, ``save``, ``reload``, ``delete``; ``loaded``
``session.runs``       ``make_inputs``, ``set_feed_options``, ``feed_dims``, ``feed_plan``,
                       ``use_inputs_file``, ``run``; ``inputs``, ``feed_options``, ``outputs``
``session.precision``  ``compare``, ``find_keep_list``, ``clamp_masks``, ``python_compare``;
                       ``comparison``, ``keep_search``, ``mask_fix``
``session.quant``      ``quantize``, ``compare``, ``find_exclusions``, ``cancel``, ``info``;
                       ``quantized``, ``report``, ``exclusions``
``session.graph``      ``start`` / ``stop`` (Netron), ``overlay``, ``start_explorer``
``session.share``      ``report``, ``bundle``, ``last_bug``, ``failed_comparison``
=====================  ======================================================================

**One way to run work in the background**: ``session.start(session.precision.compare,
"fp16")`` runs a part's method in a ``Task`` (in the slot of
its ``TaskKind``, named by its ``@background`` mark) and
returns it; ``task.wait()`` returns the result or raises the WorkbenchError. Work reports
progress with ``progress_reporter()`` / ``current_task()``. The build is the one task with a
starter of its own, ``session.builds.start()``, because its BuildJob carries a log and
TensorRT's progress. Events (``session.on(Event.X, callback)``, emitted from the worker
threads): MODEL, TASK, BUILD, ENGINES, GRAPH, FEEDS, KEEP_SEARCH, USE_KEEP_FP32, VIEW_ERROR
(see ``Event``).

The shared state is also reachable under the session's own name: ``session.load(path)``,
``session.model``, ``session.tasks``, ``session.events``, ``session.require_model()``,
``session.busy`` (and ``session.on``, ``session.close()``).

**Compatibility names.** The other names of the session before it had parts still work and
are typed (``workbench.app.session.forwarding``): every method under its old name
(``session.diagnose()``, ``session.build_plan()``, ``session.save_engine(name)``), every
``start_x`` (``session.start_compare(...)`` is ``session.start(session.precision.compare,
...)``; ``start_build`` is ``builds.start``), and the state (``session.comparison``,
``session.build_job``, ``session.inputs``, read and assigned on the part that owns it).
New code should use the parts.

Adding work: write the method on the part that owns its state, mark it
``@background(TaskKind.THING, "doing the thing")``, and add the kind to ``TaskKind``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import numpy as np

from workbench.app.session.forwarding import Attr, Method, Start
from workbench.app.session.parts.builds import BuildPart
from workbench.app.session.parts.engines import EnginePart
from workbench.app.session.parts.graph import GraphPart
from workbench.app.session.parts.precision import PrecisionPart
from workbench.app.session.parts.quant import QuantPart
from workbench.app.session.parts.runs import RunPart
from workbench.app.session.parts.share import SharePart
from workbench.app.session.parts.triage import TriagePart
from workbench.app.session.state import LoadedModel, SessionState, find_samples_dir
from workbench.app.session.tasks import Event, EventHub, Listener, Task, TaskKind, task_spec
from workbench.core.errors import WorkbenchError

if TYPE_CHECKING:
    from workbench.app.precision.compare import PrecisionReport
    from workbench.app.precision.keep_search import KeepSearchResult
    from workbench.app.precision.mask_fix import MaskFixResult
    from workbench.app.quant.compare import QuantReport
    from workbench.app.quant.exclusions import ExclusionResult
    from workbench.app.quant.quantize import QuantizeResult
    from workbench.app.session.jobs import BuildJob
    from workbench.app.session.run import RunResult
    from workbench.backends.explorer import ExplorerView
    from workbench.backends.netron import GraphView
    from workbench.backends.trt.reduce import ReduceResult
    from workbench.backends.trt.runtime.engine import LoadedEngine
    from workbench.engines.card import EngineArtifact
    from workbench.feeds.generator import FeedOptions
    from workbench.settings.settings import BuildSettings
    from workbench.triage.diagnosis import ParseReport

__all__ = ["LoadedModel", "WorkbenchSession", "find_samples_dir"]

T = TypeVar("T")
P = ParamSpec("P")


class WorkbenchSession:
    """State and work behind the panel, in parts (see the module docstring).

    Args:
        engines_dir: Where saved engines live (default ``./engines``).
        samples_dir: Folder of sample models for the picker (default: found automatically).
        work_dir: Where derived files go (folded / reduced models); default ``./workbench_out``.
    """

    def __init__(self, engines_dir: str | Path | None = None,
                 samples_dir: str | Path | None = None,
                 work_dir: str | Path | None = None) -> None:
        self.state = state = SessionState(engines_dir, samples_dir, work_dir)
        self.graph = GraphPart(state, self)  # first: a new model stops the old drawing
        self.triage = TriagePart(state)
        self.builds = BuildPart(state)
        self.engines = EnginePart(state, self.builds)
        self.runs = RunPart(state, self.builds, self.engines)
        self.precision = PrecisionPart(state, self.runs)
        self.quant = QuantPart(state, self.runs)
        self.share = SharePart(self)

    def start(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Task[T]:
        """Run a part's ``@background`` method in its task slot; returns the running Task
        (``task.wait()`` gives the result). Refuses while a task of the same group runs.

        Raises:
            WorkbenchError: ``fn`` is not marked as background work, or a task of its group
                is running, or it needs a model and none is loaded.
        """
        spec = task_spec(fn)
        if spec is None:
            name = getattr(fn, "__qualname__", repr(fn))
            raise WorkbenchError(
                f"{name} is not background work of the session.",
                expected="a part's method marked @background (session.precision.compare, "
                "session.triage.diagnose, ...)",
                found=name,
                fix="start a build with session.builds.start(); run other work with "
                "session.state.start(kind, name, work)")
        return self.state.start(spec.kind, spec.name(*args, **kwargs),
                                functools.partial(fn, *args, **kwargs),
                                needs_model=spec.needs_model)

    def on(self, event: Event | str, callback: Listener) -> Callable[[], None]:
        """Subscribe to an ``Event``; returns an unsubscribe function."""
        return self.state.on(event, callback)

    def use_quantized_model(self) -> Task[LoadedModel]:
        """Open the last quantized file as the current model (to build or inspect it)."""
        path = self.quant.require_quantized().path
        return self.start(self.state.load, path, label=path.name)

    def use_clamped_model(self) -> Task[LoadedModel]:
        """Open the model ``precision.clamp_masks`` wrote as the current model (the
        original file stays as it was)."""
        path = self.precision.clamped_model()
        return self.start(self.state.load, path, label=path.name)

    def close(self) -> None:
        """Stop servers and cancel a running build (call when the panel is discarded)."""
        self.graph.stop()
        self.graph.stop_explorer()
        self.builds.cancel()

    # -- the shared state, also under the session's own name -----------------------------

    events: Attr[EventHub] = Attr("state")
    engines_dir: Attr[Path] = Attr("state")
    samples_dir: Attr[Path | None] = Attr("state")
    work_dir: Attr[Path] = Attr("state")
    model: Attr[LoadedModel | None] = Attr("state")
    load_error: Attr[WorkbenchError | None] = Attr("state")
    tasks: Attr[dict[TaskKind, Task[Any]]] = Attr("state")
    derived: Attr[dict[str, Path]] = Attr("state")
    triage_task: Attr[Task[Any] | None] = Attr("state")
    busy: Attr[bool] = Attr("state")
    task = Method("state", SessionState.task)
    sample_models = Method("state", SessionState.sample_models)
    load = Method("state", SessionState.load)
    require_model = Method("state", SessionState.require_model)
    model_source = Method("state", SessionState.model_source)

    # -- compatibility names: state, on the part that owns it ---------------------------

    diagnosis: Attr[ParseReport | None] = Attr("triage")
    reduction: Attr[ReduceResult | None] = Attr("triage")
    settings: Attr[BuildSettings | None] = Attr("builds")
    build_job: Attr[BuildJob | None] = Attr("builds", "job")
    artifact: Attr[EngineArtifact | None] = Attr("builds")
    default_profile_note: Attr[str] = Attr("builds")
    loaded_engine: Attr[LoadedEngine | None] = Attr("engines", "loaded")
    inputs: Attr[dict[str, np.ndarray] | None] = Attr("runs")
    feed_options: Attr[FeedOptions] = Attr("runs")
    input_seed: Attr[int | None] = Attr("runs")
    input_source: Attr[str] = Attr("runs")
    outputs: Attr[RunResult | None] = Attr("runs")
    comparison: Attr[PrecisionReport | None] = Attr("precision")
    keep_search: Attr[KeepSearchResult | None] = Attr("precision")
    mask_fix: Attr[MaskFixResult | None] = Attr("precision")
    quantized: Attr[QuantizeResult | None] = Attr("quant")
    quant_report: Attr[QuantReport | None] = Attr("quant", "report")
    exclusions: Attr[ExclusionResult | None] = Attr("quant")
    graph_view: Attr[GraphView | None] = Attr("graph", "view")
    explorer_view: Attr[ExplorerView | None] = Attr("graph")

    # -- compatibility names: methods and start_x, on the part that owns them ----------

    start_load = Start("state", SessionState.load)

    diagnose = Method("triage", TriagePart.diagnose)
    start_diagnose = Start("triage", TriagePart.diagnose)
    fold_and_retry = Method("triage", TriagePart.fold_and_retry)
    start_fold_and_retry = Start("triage", TriagePart.fold_and_retry)
    rewrite_global_pools = Method("triage", TriagePart.rewrite_global_pools)
    start_rewrite_global_pools = Start("triage", TriagePart.rewrite_global_pools)
    reduce = Method("triage", TriagePart.reduce)
    start_reduce = Start("triage", TriagePart.reduce)
    freeze_choices = Method("triage", TriagePart.freeze_choices)
    freeze_inputs = Method("triage", TriagePart.freeze_inputs)
    start_freeze_inputs = Start("triage", TriagePart.freeze_inputs)
    float_biases = Method("triage", TriagePart.float_biases)
    start_float_biases = Start("triage", TriagePart.float_biases)

    default_settings = Method("builds", BuildPart.default_settings)
    default_opt_shapes = Method("builds", BuildPart.default_opt_shapes)
    dim_minimums = Method("builds", BuildPart.dim_minimums)
    check_profiles = Method("builds", BuildPart.check_profiles)
    cached_profile_check = Method("builds", BuildPart.cached_profile_check)
    require_runnable_profiles = Method("builds", BuildPart.require_runnable_profiles)
    start_build = Method("builds", BuildPart.start)
    build = Method("builds", BuildPart.build)
    wait_build = Method("builds", BuildPart.wait)
    cancel_build = Method("builds", BuildPart.cancel)
    engine_path_hint = Method("builds", BuildPart.engine_path_hint)
    build_plan = Method("builds", BuildPart.plan)
    engine_plan = Method("builds", BuildPart.engine_plan)
    trtexec_command = Method("builds", BuildPart.trtexec_command)
    python_script = Method("builds", BuildPart.python_script)

    save_engine = Method("engines", EnginePart.save)
    start_save_engine = Start("engines", EnginePart.save)
    reload_engine = Method("engines", EnginePart.reload)
    start_reload_engine = Start("engines", EnginePart.reload)
    delete_engine = Method("engines", EnginePart.delete)

    make_inputs = Method("runs", RunPart.make_inputs)
    set_feed_options = Method("runs", RunPart.set_feed_options)
    feed_dims = Method("runs", RunPart.feed_dims)
    feed_plan = Method("runs", RunPart.feed_plan)
    use_inputs_file = Method("runs", RunPart.use_inputs_file)
    tensorrt_status = Method("runs", RunPart.tensorrt_status)
    run = Method("runs", RunPart.run)
    start_run = Start("runs", RunPart.run)

    compare = Method("precision", PrecisionPart.compare)
    start_compare = Start("precision", PrecisionPart.compare)
    find_keep_list = Method("precision", PrecisionPart.find_keep_list)
    start_keep_search = Start("precision", PrecisionPart.find_keep_list)
    cancel_keep_search = Method("precision", PrecisionPart.cancel_keep_search)
    use_keep_list = Method("precision", PrecisionPart.use_keep_list)
    clamp_masks = Method("precision", PrecisionPart.clamp_masks)
    start_clamp_masks = Start("precision", PrecisionPart.clamp_masks)
    python_compare = Method("precision", PrecisionPart.python_compare)

    quantize = Method("quant", QuantPart.quantize)
    start_quantize = Start("quant", QuantPart.quantize)
    cancel_quantize = Method("quant", QuantPart.cancel)
    compare_quantized = Method("quant", QuantPart.compare)
    start_compare_quantized = Start("quant", QuantPart.compare)
    find_exclusions = Method("quant", QuantPart.find_exclusions)
    start_find_exclusions = Start("quant", QuantPart.find_exclusions)
    quantization_info = Method("quant", QuantPart.info)

    start_graph = Method("graph", GraphPart.start)
    stop_graph = Method("graph", GraphPart.stop)
    graph_overlay = Method("graph", GraphPart.overlay)
    start_explorer = Method("graph", GraphPart.start_explorer)
    stop_explorer = Method("graph", GraphPart.stop_explorer)

    report = Method("share", SharePart.report)
    start_report = Start("share", SharePart.report)
    bundle = Method("share", SharePart.bundle)
    start_bundle = Start("share", SharePart.bundle)
    failed_comparison = Method("share", SharePart.failed_comparison)
    last_bug = Method("share", SharePart.last_bug)
