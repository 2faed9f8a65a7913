"""Parse triage: why TensorRT's ONNX parser rejects a model, node by node.

The model is validated by the workbench first (``parser.parse(b"garbage")`` returns True
with an empty network, and external data must be checked for safety before TensorRT opens
it). A file that cannot be read as ONNX, or whose external data is missing or unsafe, gives
a falsy ``ParseReport`` with one model-level issue; TensorRT never sees it. Only problems
with the argument itself (no file at that path, a folder, an unsupported object) raise
``ModelLoadError``: there is no model to report on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import onnx

from workbench.backends.trt.compat import load_trt
from workbench.backends.trt.isolation import ensure_parser_survives
from workbench.backends.trt.lifetime import make_builder, releases_trt_objects, trt_guard
from workbench.backends.trt.logger import make_logger
from workbench.core.errors import ModelLoadError, WorkbenchError
from workbench.core.logbus import LogBus
from workbench.core.records import TensorSpec
from workbench.inspection.loading import ModelFile, ModelSource, load_model_file, read_model_file
from workbench.inspection.protos import (
    graph_io_specs,
    node_attributes,
    tensor_spec_from_tensor,
    value_info_spec,
)
from workbench.settings.settings import default_profiles
from workbench.transforms.external import without_weights
from workbench.transforms.subgraph import inferred_value_infos, spec_from_value_info
from workbench.triage.diagnosis import (
    REFUSED,
    NodeIsland,
    ParseIssue,
    ParseReport,
    explain_load_failure,
    explain_parse_error,
)
from workbench.triage.parameter_limits import explain_parameter_limit, with_no_gpu_note
from workbench.triage.unimplemented import explain_graph_tensor

if TYPE_CHECKING:
    from workbench.transforms.folding import FoldResult

__all__ = [
    "ParseRun", "diagnose", "ensure_parser_survives", "fold_and_diagnose", "parse_with_trt",
]


def _new_parser(trt: ModuleType) -> tuple[LogBus, Any, Any, Any]:
    """A parser over a fresh network; its WARNING-and-worse log lines go to the bus."""
    bus = LogBus("WARNING")
    logger = make_logger(trt, bus)
    builder = make_builder(trt, logger)
    network = builder.create_network(0)
    return bus, builder, network, trt.OnnxParser(network, logger)


def _feed(method: Any, model_file: ModelFile) -> Any:
    """Call a parser method on the model's bytes (``path=`` lets TensorRT find external
    data)."""
    if model_file.path is not None:
        return method(model_file.data, path=str(model_file.path))
    return method(model_file.data)


@dataclass(frozen=True)
class ParseRun:
    """One TensorRT parse. Holds builder and network too: TensorRT objects die with their
    Python owners, and the parser's errors and network refer to them."""

    trt: ModuleType
    builder: Any
    network: Any
    parser: Any
    parsed: bool
    log: list[str]


def parse_with_trt(model_file: ModelFile) -> ParseRun:
    """Run TensorRT's ONNX parser over validated model bytes (external data via path=)."""
    trt = load_trt()
    bus, builder, network, parser = _new_parser(trt)
    parsed = _feed(parser.parse, model_file)
    log = [f"{r.severity}: {r.text}" for r in bus.records()]  # logger.NOISE already dropped
    return ParseRun(trt, builder, network, parser, bool(parsed), log)


@releases_trt_objects
def diagnose(source: ModelSource, *, node_islands: bool = True, isolate: bool = True
             ) -> ParseReport:
    """Explain whether and why TensorRT can parse an ONNX model.

    Args:
        source: Path to an .onnx file (external data is found beside it), its bytes, or an
            onnx.ModelProto.
        node_islands: Also ask ``supports_model_v2`` which runs of nodes TensorRT supports
            (a second parse; turn off to halve the time on big models).
        isolate: Parse the model in a child process first, so that a parser crash cannot
            kill this one (``ensure_parser_survives``). reduce_failure turns it off for
            the subgraphs of a model that already survived.

    Returns:
        A ParseReport, truthy when the whole model parses. Corrupt files and missing or
        unsafe external data give a falsy report with one model-level issue.

    Raises:
        ModelLoadError: No model at all (missing path, a folder, an unsupported object).
    """
    model_file = read_model_file(source)
    try:
        model = load_model_file(model_file, load_weights=False)
        if isolate:  # after validation: the child's parse reads the (now checked) weights
            checks = ("parse", "supports_model_v2") if node_islands else ("parse",)
            ensure_parser_survives(model_file, checks=checks)  # a crash must spare the kernel
    except ModelLoadError as err:
        return _refused(model_file.label, err)
    # Explanations need names, dims and small constants; TensorRT's parser keeps its own
    # copy of the weights. Dropping ours (and shape inference's copies of them) takes an
    # inline 0.46 GiB model from 7.3x its weights to about the bare parser's 2.2x.
    model = without_weights(model)
    run = parse_with_trt(model_file)
    trt, log, parsed = run.trt, run.log, run.parsed
    infos = inferred_value_infos(model)
    example = _shapes_example(model)
    issues = _unique(
        _issue(run.parser.get_error(i), model, infos, log, example)
        for i in range(run.parser.num_errors)
    )
    with trt_guard():  # the first parse's network and weights go before the second parse
        del run
    islands: tuple[NodeIsland, ...] = ()
    if node_islands and (not issues or any(i.node_index is not None for i in issues)):
        islands = _islands(trt, model_file, model)
    return ParseReport(
        model=model_file.label,
        flavour=trt.__name__,
        version=str(getattr(trt, "__version__", "")),
        parsed=parsed,
        issues=issues,
        islands=islands,
        node_count=len(model.graph.node),
        log=tuple(log),
    )


def _refused(label: str, err: ModelLoadError) -> ParseReport:
    category, cause, fixes = explain_load_failure(err.summary, err.found or "", err.fix or "")
    issue = ParseIssue(category=category, cause=cause, fixes=fixes, raw=err.message,
                       code=REFUSED)
    return ParseReport(model=label, flavour="", version="", parsed=False, issues=(issue,))


def _shapes_example(model: onnx.ModelProto) -> str:
    """The model's inputs with concrete shapes (dynamic dims at the default profile's opt)."""
    inputs, _ = graph_io_specs(model.graph)
    try:
        opt = {p.input: p.opt for p in default_profiles(inputs)}
    except WorkbenchError:  # an input of unknown rank: fall back to the generic example
        return ""
    shapes = {s.name: list(opt.get(s.name, s.shape or ())) for s in inputs}
    return repr(shapes) if shapes else ""


def _unique(issues: Iterable[ParseIssue]) -> tuple[ParseIssue, ...]:
    """Each issue once: TensorRT can report the same graph input more than once."""
    return tuple(dict.fromkeys(issues))


def _tensor_issue(error: Any, model: onnx.ModelProto) -> ParseIssue | None:
    """A node -1 error about a graph input or initializer, attached to it (else None).

    For inputs TensorRT cannot import (strings, sequences), its error's ``file()`` holds the
    tensor's name and ``func()`` is importInput; the log says no more than that.
    """
    name = str(error.file())
    graph = model.graph
    values = {v.name: v for v in graph.input}
    initializers = {t.name: t for t in graph.initializer}
    if name not in values and name not in initializers:
        return None
    if name in values:
        spec = value_info_spec(values[name])
        kind = values[name].type.WhichOneof("value") or "tensor"
    else:
        spec = tensor_spec_from_tensor(initializers[name])
        kind = "tensor_type"
    consumers = tuple(n.name or n.op_type for n in graph.node if name in n.input)
    element = spec.dtype.split("<")[-1].rstrip(">") if "<" in spec.dtype else spec.dtype
    category, cause, fixes = explain_graph_tensor(
        name, kind.removesuffix("_type"), element, consumers, initializer=name not in values)
    code = getattr(error.code(), "name", str(error.code()))
    return ParseIssue(category=category, cause=cause, fixes=fixes, raw=str(error.desc()),
                      code=code, inputs=(spec,), tensor=name,
                      origin=f"{error.func()}".strip())


def _issue(
    error: Any, model: onnx.ModelProto, infos: dict[str, onnx.ValueInfoProto], log: list[str],
    shapes_example: str = "",
) -> ParseIssue:
    index = int(error.node())
    node = model.graph.node[index] if 0 <= index < len(model.graph.node) else None
    if node is None:
        attached = _tensor_issue(error, model)
        if attached is not None:
            return attached
    op_type = str(error.node_operator()) or (node.op_type if node is not None else "")
    stack = tuple(str(f) for f in error.local_function_stack())
    domain = _domain_of(model, node, op_type, stack)
    inputs: tuple[TensorSpec, ...] = ()
    outputs: tuple[TensorSpec, ...] = ()
    if node is not None:
        inputs = tuple(spec_from_value_info(_info(n, infos)) for n in node.input if n)
        outputs = tuple(spec_from_value_info(_info(n, infos)) for n in node.output if n)
    code = getattr(error.code(), "name", str(error.code()))
    desc = str(error.desc())
    # Model-level errors (external weights, for example) name the cause only in the log.
    context = desc if node is not None else "\n".join([desc, *log])
    dtypes = [s.dtype for s in (*inputs, *outputs) if s.dtype not in ("unknown", "undefined")]
    category, cause, fixes = explain_parse_error(context, op_type, domain, dtypes, code,
                                                 shapes_example)
    limit = explain_parameter_limit(context, op_type, node_attributes(node) if node else (),
                                    (inputs[0].shape or ()) if inputs else ())
    if limit is not None and category not in ("invalid_model",):
        category, cause, fixes = limit[0], with_no_gpu_note(limit[1], context), limit[2]
    return ParseIssue(
        category=category, cause=cause, fixes=fixes, raw=desc, code=code,
        node_index=index if node is not None else None,
        node_name=str(error.node_name()) or (node.name if node is not None else ""),
        op_type=op_type, domain=domain, inputs=inputs, outputs=outputs,
        attributes=node_attributes(node) if node is not None else (),
        local_function_stack=stack,
        origin=f"{error.file()}:{error.line()} {error.func()}".strip(": "),
    )


def _info(name: str, infos: dict[str, onnx.ValueInfoProto]) -> onnx.ValueInfoProto:
    return infos.get(name) or onnx.ValueInfoProto(name=name)


def _domain_of(
    model: onnx.ModelProto, node: onnx.NodeProto | None, op_type: str, stack: tuple[str, ...]
) -> str:
    if node is not None and (node.op_type == op_type or not stack):
        return node.domain
    # The error is inside a local function: find the op among the functions' nodes.
    for function in model.functions:
        for inner in function.node:
            if inner.op_type == op_type:
                return inner.domain
    return node.domain if node is not None else ""


def _islands(trt: ModuleType, model_file: ModelFile, model: onnx.ModelProto) -> tuple[
    NodeIsland, ...
]:
    """Supported runs from get_subgraph_nodes; the complement is the unsupported nodes.

    ``is_subgraph_supported`` is False for every subgraph when the model as a whole fails
    (TESTING.md), so the subgraph list itself is taken as the supported part.
    """
    _bus, builder, network, parser = _new_parser(trt)  # the network outlives the parser
    _feed(parser.supports_model_v2, model_file)
    supported: set[int] = set()
    for i in range(parser.num_subgraphs):
        supported.update(int(n) for n in parser.get_subgraph_nodes(i))
    with trt_guard():  # see lifetime.py
        del parser, network, builder
    names = [node.name or f"#{k} {node.op_type}" for k, node in enumerate(model.graph.node)]
    islands: list[NodeIsland] = []
    run: list[int] = []
    for index in range(len(names)):
        if run and ((run[-1] in supported) != (index in supported)):
            islands.append(_island(run, supported, names))
            run = []
        run.append(index)
    if run:
        islands.append(_island(run, supported, names))
    return tuple(islands)


def _island(run: list[int], supported: set[int], names: list[str]) -> NodeIsland:
    return NodeIsland(run[0] in supported, tuple(run), tuple(names[i] for i in run))


def fold_and_diagnose(
    source: ModelSource,
    input_shapes: dict[str, list[int]] | None = None,
    out_path: str | Path | None = None,
    *,
    overwrite: bool = False,
    input_values: dict[str, object] | None = None,
) -> tuple[FoldResult, ParseReport]:
    """Fold constants (``workbench.fold_constants``, shapes and values frozen as given),
    then diagnose the folded model."""
    from workbench.transforms.folding import fold_constants

    result = fold_constants(source, input_shapes=input_shapes, out_path=out_path,
                            overwrite=overwrite, input_values=input_values)
    report = diagnose(result.out_path if result.out_path is not None else result.model)
    return result, report
