"""Build an engine: validate → (convert precision) → parse → configure → build → card.

One function, ``build_engine``, thread-safe and safe to run in a background thread (the
TensorRT build releases the GIL). The log goes to a ``LogBus``,
progress to a ``PhaseTracker``, and TensorRT's stray
stderr lines are captured (see ``workbench.backends.trt.logger``).

What to tell TensorRT is decided by ``workbench.settings.plan.make_plan`` from the settings
and the installed TensorRT's features; this module only executes the
``BuildPlan`` (the trtexec and Python renderings print the same
plan). Precision is the plan's strategy: weak typing (TensorRT 10) sets
``BuilderFlag.FP16/BF16``; strongly typed TensorRT (11.x, RTX) builds from a graph converted
by ``workbench.transforms.precision.convert.convert`` (FP16 or BF16, the conversion the
accuracy comparison measures); the artifact carries its report (nodes in FP16/BF16, nodes
kept in FP32 and why).
"""

from __future__ import annotations

import contextlib
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import onnx

from workbench.backends.trt import compat
from workbench.backends.trt.configure import configure, save_timing_cache
from workbench.backends.trt.file_versions import known_version, remember_version, version_key
from workbench.backends.trt.isolation import ParserProbe, start_parser_probe
from workbench.backends.trt.layers import is_layer_report, layers_from_log
from workbench.backends.trt.lifetime import make_builder, releases_trt_objects, trt_guard
from workbench.backends.trt.logger import STDERR, make_logger
from workbench.backends.trt.progress import (
    CancelFlag,
    PhaseTracker,
    ProgressEvent,
    is_cancelled,
    make_progress_monitor,
)
from workbench.core.errors import BuildCancelled, BuildError
from workbench.core.logbus import LogBus, LogRecord
from workbench.engines.card import EngineArtifact, EngineCard, sha256_hex
from workbench.inspection.control_flow import control_flow
from workbench.inspection.external_data import check_external_data
from workbench.inspection.input_roles import minimum_sizes
from workbench.inspection.loading import (
    ModelFile,
    ModelSource,
    load_model_file,
    read_model_file,
)
from workbench.inspection.protos import graph_io_specs
from workbench.settings.plan import BuildPlan, make_plan
from workbench.settings.settings import BuildSettings, image_spatial_axes
from workbench.transforms.external import without_weights
from workbench.transforms.precision.report import ConversionReport
from workbench.triage.build_failures import BuildFacts

__all__ = ["build_engine"]

LogSink = Callable[[LogRecord], None] | LogBus


@releases_trt_objects
def build_engine(source: ModelSource, settings: BuildSettings | None = None, *,
                 on_log: LogSink | None = None,
                 on_progress: Callable[[ProgressEvent], None] | None = None,
                 cancel: CancelFlag = None) -> EngineArtifact:
    """Build a serialized engine from an ONNX model.

    Args:
        source: Path to an .onnx file, its bytes, or a ModelProto.
        settings: Build settings; empty profiles are seeded from symbolic dims.
        on_log: A LogBus (its min severity filters), or a callback for each LogRecord at
            ``settings.log_severity`` or more severe.
        on_progress: Called with each ProgressEvent (from the build thread).
        cancel: A threading.Event (or a callable) — when set, the build stops.

    Raises:
        ModelLoadError, BuildSettingsError: before TensorRT is involved.
        BuildError: parsing or building failed; ``details`` holds TensorRT's lines.
        BuildCancelled: ``cancel`` was set during the build.
        BackendUnavailableError: the settings need a feature this TensorRT lacks.
    """
    settings = settings or BuildSettings()
    info = compat.backend_info()
    model_file = read_model_file(source)
    version = version_key(model_file)
    known = known_version(version)
    if known is not None:  # this file version was validated and hashed by an earlier build
        check_external_data(known.graph, model_file.folder, model_file.label)
        model, digest = known.graph, (lambda: known.sha256)
    else:
        digest = _hash_in_background(model_file.data)  # overlaps validation (drops the GIL)
        model = load_model_file(model_file, load_weights=False)  # parse(garbage) is True
    # A parser crash on a corrupt file must not kill this process: the model is parsed in a
    # child first (started only now that its external data is known to be safe), which
    # runs while the steps below do; the build waits for its verdict before parsing.
    probe = start_parser_probe(model_file)
    scratch = contextlib.ExitStack()  # a converted model's temporary folder, if any
    try:
        inputs, outputs = graph_io_specs(model.graph)
        # default profiles start where the graph can run (a Conv window over a time axis),
        # as the session's default settings do
        plan = make_plan(settings.resolved(inputs, minimum_sizes(model)),
                         info.build_features(), inputs)
        # a one-item list the build pops, so no frame here keeps the model bytes alive
        network_source, conversion = _network_source(model_file, plan, scratch)
        facts = build_facts(model, plan.settings, model_file.label)
    except BaseException:
        scratch.close()
        if probe is not None:
            probe.cancel()
        raise
    label = model_file.label
    onnx_path = None if model_file.path is None else str(model_file.path)
    # TensorRT keeps its own copy of the weights; holding two more (bytes and proto) during
    # the build would add twice the model's size to the peak memory.
    weightless = without_weights(model) if known is None else known.graph
    del model, model_file
    settings = plan.settings
    if isinstance(on_log, LogBus):
        bus, unsubscribe = on_log, None
    else:
        bus = LogBus(settings.log_severity)
        unsubscribe = bus.subscribe(on_log) if on_log is not None else None
    if conversion is not None:
        for line in conversion.lines():
            bus.push("INFO", f"{settings.precision.upper()} conversion: {line}", "workbench")
    try:
        with _interrupt_cancels(cancel) as flag:
            engine, kept = _build(network_source, label, plan, info, bus, on_progress, flag,
                                  probe, facts)
    finally:
        scratch.close()
        if unsubscribe is not None:
            unsubscribe()
    onnx_sha256 = digest()
    if known is None:
        remember_version(version, onnx_sha256, weightless)
    layers = layers_from_log(kept)
    card = EngineCard(
        flavour=info.flavour, trt_version=info.version, settings=settings,
        inputs=inputs, outputs=outputs, onnx_sha256=onnx_sha256,
        plan_sha256=sha256_hex(engine), plan_size=len(engine), onnx_path=onnx_path,
        compute_capabilities=settings.compute_capabilities,
        gpu_name=info.gpu.name if info.gpu.present and info.flavour == "tensorrt" else None,
        strongly_typed=plan.strongly_typed,
        workbench_version=_workbench_version(), layers=layers,
        layers_source="build_log" if layers else "none",
    )
    return EngineArtifact(engine, card, tuple(bus.records()), conversion)


@contextlib.contextmanager
def _interrupt_cancels(cancel: CancelFlag) -> Iterator[CancelFlag]:
    """Ctrl-C / a Jupyter kernel interrupt during a build in the main thread cancels it.

    SIGINT's Python handler runs inside whichever TensorRT callback (logger, progress) the
    main thread is in; a KeyboardInterrupt raised there is swallowed by TensorRT (the build
    carried on, or failed as a BuildError). Instead, the interrupt sets a flag the progress
    monitor reads, TensorRT stops at its next step, and KeyboardInterrupt is raised here,
    once TensorRT has returned. Other threads (BuildJob) never receive SIGINT: unchanged.
    """
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or not callable(previous):
        yield cancel
        return
    interrupted = threading.Event()
    signal.signal(signal.SIGINT, lambda signum, frame: interrupted.set())
    try:
        yield lambda: interrupted.is_set() or is_cancelled(cancel)
    finally:
        signal.signal(signal.SIGINT, previous)
        if interrupted.is_set():
            previous(signal.SIGINT, None)  # the default handler raises KeyboardInterrupt


def _hash_in_background(data: bytes) -> Callable[[], str]:
    result: list[str] = []
    worker = threading.Thread(target=lambda: result.append(sha256_hex(data)), daemon=True)
    worker.start()

    def wait() -> str:
        worker.join()
        return result[0]

    return wait


def _workbench_version() -> str:
    from workbench.core.version import __version__

    return __version__


def _network_source(model_file: ModelFile, plan: BuildPlan, scratch: contextlib.ExitStack,
                    ) -> tuple[list[tuple[bytes | None, Path | None]], ConversionReport | None]:
    """What the parser reads: the validated bytes (and the folder for external data), or
    converted graph bytes with the conversion's report. Parsing the bytes already read
    avoids reading the file twice.

    A model from a file is converted into a temporary folder (removed by ``scratch``) with
    external data, its weights converted one at a time: the result may exceed 2 GiB, and no
    copy of the model stays in memory while TensorRT builds."""
    if plan.conversion is None:
        return [(model_file.data, model_file.path)], None
    from workbench.transforms.precision.convert import convert

    if model_file.path is not None:
        from workbench.transforms.external import staged_model, write_converted_model

        folder = Path(scratch.enter_context(
            tempfile.TemporaryDirectory(prefix="workbench-conv-")))
        staged = scratch.enter_context(staged_model(model_file.path))
        target, report = write_converted_model(
            staged, plan.conversion.precision, plan.conversion.keep_fp32,
            folder / "model.converted.onnx")
        return [(target.read_bytes(), target)], report
    full = load_model_file(model_file, load_weights=True)  # bytes in memory: under 2 GiB
    conversion = convert(full, plan.conversion.precision, plan.conversion.keep_fp32)
    del full
    return [(conversion.model.SerializeToString(), None)], conversion.report


def _build(network_source: list[tuple[bytes | None, Path | None]], label: str,
           plan: BuildPlan, info: compat.BackendInfo, bus: LogBus,
           on_progress: Callable[[ProgressEvent], None] | None,
           cancel: CancelFlag, probe: ParserProbe | None = None,
           facts: BuildFacts | None = None) -> tuple[bytes, list[str]]:
    trt = compat.load_trt()
    data, path = network_source.pop()
    logger = make_logger(trt, bus, keep=is_layer_report)
    stderr_lines: list[str] = []
    for note in plan.notes:
        bus.push("WARNING", note, "workbench")

    def on_stderr(line: str) -> None:
        if line.strip():
            stderr_lines.append(line)
            bus.push("ERROR" if "error" in line.lower() else "WARNING", line, "stderr")

    with STDERR.capture(on_stderr):
        builder = make_builder(trt, logger)
        network = builder.create_network(0)
        parser = trt.OnnxParser(network, logger)
        if probe is not None:
            probe.wait()  # the child's verdict, before this process's parser runs
        _parse(parser, data, path, label, logger, stderr_lines)
        del data  # the parser has copied what it needs
        config = builder.create_builder_config()
        configure(trt, builder, network, config, plan)
        monitor = make_progress_monitor(trt, PhaseTracker(on_progress), cancel)
        config.progress_monitor = monitor
        if is_cancelled(cancel):
            raise BuildCancelled("The build was cancelled before it started.",
                                 found="cancel was already set")
        engine = builder.build_serialized_network(network, config)
        if engine is not None and plan.timing_cache:
            save_timing_cache(config, plan.timing_cache)
    cancelled = monitor.cancelled
    plan_bytes = None if engine is None else bytes(memoryview(engine))
    with trt_guard():  # see lifetime.py: never dropped while another thread makes one
        del parser, network, config, monitor, builder, engine
    if plan_bytes is None:
        if cancelled:
            raise BuildCancelled(
                "The build was cancelled.", found="cancel was requested during the build",
                fix="start the build again when ready", details=logger.errors[-5:],
            )
        raise _build_failure(logger.errors, stderr_lines, info, facts)
    return plan_bytes, logger.kept


def _parse(parser: Any, data: bytes | None, path: Path | None, label: str, logger: Any,
           stderr_lines: list[str]) -> None:
    # path= lets the parser find external data next to the model file
    ok = parser.parse(data, str(path)) if path is not None else parser.parse(data)
    if ok:
        return
    errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
    raise BuildError(
        f"TensorRT could not parse {label}.",
        expected="an ONNX graph whose every node TensorRT supports",
        found=f"{len(errors)} parser error(s); the first: {errors[0] if errors else '?'}",
        fix=f"press Diagnose in the panel's Parse tab, or run `trt-workbench diagnose {label}` "
        "(or workbench.diagnose), for the failing "
        "nodes, their causes and fixes",
        details=errors + logger.errors + stderr_lines,
    )


def build_facts(model: onnx.ModelProto, settings: BuildSettings, label: str) -> BuildFacts:
    """What a build-failure explanation may say about this model (control flow, profiles)."""
    flow = control_flow(model)
    inputs, _ = graph_io_specs(model.graph)
    images = tuple(s.name for s in inputs if s.shape and image_spatial_axes(s.shape))
    return BuildFacts(
        image_inputs=images,
        profiles=settings.profiles, owners=flow.owners, control_nodes=flow.nodes,
        deciders=tuple((d.node, d.inputs, d.values) for d in flow.deciders),
        model=label if label and not label.startswith("<") else "model.onnx")


def _build_failure(errors: list[str], stderr_lines: list[str],
                   info: compat.BackendInfo, facts: BuildFacts | None = None) -> BuildError:
    lines = [*errors, *(f"[stderr] {line}" for line in stderr_lines)]
    cause, fixes = _explain(lines, info, facts)
    return BuildError(
        f"TensorRT could not build the engine: {cause}",
        expected="build_serialized_network to return a plan",
        found=f"{info.label} returned no plan; {len(lines)} error line(s) below",
        fix="; ".join(fixes), details=lines,
    )


def _explain(lines: list[str], info: compat.BackendInfo, facts: BuildFacts | None = None
             ) -> tuple[str, tuple[str, ...]]:
    from workbench.triage.diagnosis import explain_build_failure

    # Checked before the catalogue: without a GPU, a failed CUDA call also trips TensorRT's
    # internal assertions, and "internal error" would send the user after the wrong cause.
    if "cuda" in " ".join(lines).lower() and not info.gpu.present:
        return ("A step of this build needs a GPU: TensorRT called CUDA, and this machine "
                "has no NVIDIA GPU.",
                ("turn off refit / strip plan / version compatible, which need a GPU with "
                 "TensorRT-RTX", "or build on a machine with an NVIDIA GPU"))
    return explain_build_failure(lines, facts)
