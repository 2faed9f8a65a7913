"""The FP16 candidate and per-layer drift of a precision comparison, in bounded memory.

Works on a ``StagedModel`` (large weights as external
references), so models over 2 GiB go through unchanged and no copy of the weights is ever
held twice:

- the FP16 graph is converted without its external weights (the converter only changes
  their type); each weight is then read and converted one tensor at a time;
- the FP16 graph runs node by node (``stream_values``),
  holding only live tensors;
- per-layer drift runs the FP32 graph the same way (NumPy float32 through onnx.reference,
  weights memory-mapped from the data file) in step with the FP16 one: each tensor's
  figures are taken as the pair is produced and both arrays dropped
  (``DriftAccumulator``), so memory does not grow with depth.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from workbench.app.precision.compare_cache import converted_weight, model_identity
from workbench.backends.reference import candidate_names, stream_values
from workbench.compare.drift import (
    DriftAccumulator,
    DriftReport,
    GraphNode,
    RangeIssue,
    range_issues,
)
from workbench.inspection.external_data import external_weight
from workbench.settings.fields import Precision
from workbench.transforms.external import StagedModel
from workbench.transforms.precision.fp16 import ConversionReport, convert_precision

__all__ = ["Fp16Graph", "candidate_outputs", "convert_staged", "large_model", "layer_drift"]

Progress = Callable[[str, int, int], None]


class Fp16Graph:
    """The converted graph (without its large weights), its weights, report and views."""

    def __init__(self, model: onnx.ModelProto, weights: dict[str, np.ndarray],
                 report: ConversionReport, views: dict[str, str]) -> None:
        self.model = model
        self.weights = weights
        self.report = report
        self.views = views

    def take_weights(self) -> dict[str, np.ndarray]:
        """The weights, handed over once (the evaluation frees each after its last use)."""
        weights, self.weights = self.weights, {}
        return weights


def _external(model: onnx.ModelProto) -> list[onnx.TensorProto]:
    return [t for t in model.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]


def without_external(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` without its external initializers (the evaluators get those as
    arrays); cheap, since the proto holds no external weights. A model without any is
    returned as it is (the evaluators only read it): a copy would copy its inline weights."""
    if not any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer):
        return model
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    kept = [t for t in copy.graph.initializer if t.data_location != onnx.TensorProto.EXTERNAL]
    del copy.graph.initializer[:]
    copy.graph.initializer.extend(kept)
    return copy


def convert_staged(staged: StagedModel, model: onnx.ModelProto, precision: Precision,
                   keep: tuple[str, ...], progress: Progress | None = None) -> Fp16Graph:
    """The builder's conversion of ``model`` (the staged graph, nodes named): the weights
    still on disk change type only, and are converted here one at a time, or taken from
    an earlier run on the same file (``workbench.app.precision.compare_cache``); weights
    that keep their type are memory-mapped."""
    conversion = convert_precision(model, precision, keep)
    fp32_refs = {t.name: t for t in _external(model)}
    owner = model_identity(staged.path, model, staged.folder)
    weights: dict[str, np.ndarray] = {}
    external = _external(conversion.model)
    for done, tensor in enumerate(external, 1):
        assert staged.folder is not None  # external references come with their folder
        fp32 = fp32_refs[tensor.name]
        weights[tensor.name] = (
            converted_weight(fp32, staged.folder, precision, owner)
            if tensor.data_type != fp32.data_type
            else external_weight(fp32, staged.folder, mapped=True))
        if progress is not None:
            progress(f"converting weights to {precision.upper()}", done, len(external))
    return Fp16Graph(without_external(conversion.model), weights, conversion.report,
                     conversion.views)


def fp32_weights(staged: StagedModel, model: onnx.ModelProto) -> dict[str, np.ndarray]:
    """The FP32 external weights, memory-mapped (read-only views of the data file)."""
    folder = staged.folder or Path(".")
    return {t.name: external_weight(t, folder, mapped=True) for t in _external(model)}


def candidate_outputs(fp16: Fp16Graph, feeds: Mapping[str, np.ndarray],
                      progress: Progress | None = None,
                      fell_back: list[str] | None = None) -> dict[str, np.ndarray]:
    """The FP16 graph's outputs (intermediates are dropped as soon as they are used).
    Nodes evaluated by ONNX Runtime instead are appended to ``fell_back``."""
    wanted = {o.name for o in fp16.model.graph.output}
    outputs: dict[str, np.ndarray] = {}
    report = None if progress is None else (
        lambda done, total: progress("running the FP16 graph", done, total))
    for _node, produced in stream_values(fp16.model, fp16.take_weights(), feeds, report,
                                         fell_back):
        outputs.update((k, v) for k, v in produced.items() if k in wanted)
    return outputs


def layer_drift(
    staged: StagedModel, model: onnx.ModelProto, fp16: Fp16Graph,
    feeds: Mapping[str, np.ndarray], threshold: float, check_range: bool = True,
    progress: Progress | None = None, fell_back: list[str] | None = None,
    fp32_outputs: dict[str, np.ndarray] | None = None,
) -> tuple[DriftReport, dict[str, np.ndarray]]:
    """FP32 and FP16 graphs run in step; each tensor pair becomes figures and is dropped.

    Returns the drift report and the FP16 graph's outputs. FP16 nodes evaluated by ONNX
    Runtime instead are appended to ``fell_back``; the FP32 graph's outputs (as the CPU
    evaluator computes them, for the check against ONNX Runtime) go to ``fp32_outputs``.
    """
    # reduced-precision tensor -> the FP32 tensor it stands for
    names = candidate_names(model, fp16.model, fp16.views)
    wanted = {o.name for o in fp16.model.graph.output}
    outputs: dict[str, np.ndarray] = {}
    pending: dict[str, np.ndarray] = {}
    candidate = stream_values(fp16.model, fp16.take_weights(), feeds, None, fell_back)
    compared = set(names.values())
    graph_outputs = {o.name for o in model.graph.output}

    def pull(tensor: str) -> np.ndarray | None:
        """Advance the FP16 run until it has produced its twin of ``tensor``."""
        while tensor not in pending and _advance(candidate, names, wanted, pending, outputs):
            pass
        return pending.pop(tensor, None)

    report = None if progress is None else (
        lambda done, total: progress("per-layer drift", done, total))
    drift = DriftAccumulator(threshold, check_range)
    nodes: list[GraphNode] = []
    reference = stream_values(without_external(model), fp32_weights(staged, model), feeds,
                              report)
    # a large model evaluates its FP32 graph on a second thread
    steps_of = _ahead if large_model(model, feeds) else contextlib.nullcontext
    with steps_of(_with_range_issues(reference, check_range)) as steps:
        for node, produced, issues in steps:
            graph_node = GraphNode(node.name, node.op_type, tuple(node.input),
                                   tuple(node.output))
            nodes.append(graph_node)
            for tensor, value in produced.items():
                if fp32_outputs is not None and tensor in graph_outputs:
                    fp32_outputs[tensor] = value
                drift.add(graph_node, tensor, value,
                          pull(tensor) if tensor in compared else None, issues.get(tensor))
            del produced
    while _advance(candidate, names, wanted, pending, outputs):
        pending.clear()  # only graph outputs are still wanted
    return drift.report(nodes, [o.name for o in model.graph.output]), outputs


def _with_range_issues(steps: Iterator[tuple[onnx.NodeProto, dict[str, np.ndarray]]],
                       check_range: bool,
                       ) -> Iterator[tuple[onnx.NodeProto, dict[str, np.ndarray],
                                           dict[str, list[RangeIssue]]]]:
    """Each FP32 node's outputs with their FP16-range findings (taken on the FP32 thread)."""
    for node, produced in steps:
        yield node, produced, ({t: range_issues(node.name, t, v) for t, v in produced.items()}
                               if check_range else {})


# FP32 nodes evaluated ahead of the FP16 side: the two graphs run on two cores (NumPy drops
# the GIL in its kernels) while memory stays bounded by this many nodes' outputs.
_AHEAD = 4
_END = object()
# Below this many bytes of weights and inputs, both graphs run on the calling thread, in
# turn: their kernels take microseconds, too short to drop the GIL for long, so a second
# thread only adds hand-offs (each up to Python's 5 ms switch interval; on the corpus's
# small exports they cost more than either evaluation).
SIDE_BY_SIDE_MIN_BYTES = 32 << 20


def large_model(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray]) -> bool:
    """Whether the model's FP32 weights and inputs come to ``SIDE_BY_SIDE_MIN_BYTES``: below
    it, set-up costs more than arithmetic (threads, ORT's graph optimizations)."""
    weights = 0
    for tensor in model.graph.initializer:
        size = 1
        for dim in tensor.dims:
            size *= dim
        weights += size * 4
    inputs = sum(int(np.asarray(value).nbytes) for value in feeds.values())
    return weights + inputs >= SIDE_BY_SIDE_MIN_BYTES


@contextlib.contextmanager
def _ahead(steps: Iterator[Any]) -> Iterator[Iterator[Any]]:
    """Iterate ``steps`` in a worker thread, at most ``_AHEAD`` items ahead."""
    box: queue.Queue[Any] = queue.Queue(maxsize=_AHEAD)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in steps:
                while not stop.is_set():
                    try:
                        box.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            box.put(_END)
        except BaseException as err:  # handed to the consumer, which raises it
            box.put(err)

    def consume() -> Iterator[Any]:
        while (item := box.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item

    worker = threading.Thread(target=produce, name="workbench: FP32 per-layer", daemon=True)
    worker.start()
    try:
        yield consume()
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(queue.Empty):
                box.get(timeout=0.1)
        worker.join()


def _advance(candidate: Iterator[tuple[onnx.NodeProto, dict[str, np.ndarray]]],
             names: Mapping[str, str], wanted: set[str], pending: dict[str, np.ndarray],
             outputs: dict[str, np.ndarray]) -> bool:
    """One FP16 node: keep its graph outputs and the tensors the FP32 side will ask for."""
    step = next(candidate, None)
    if step is None:
        return False
    for name, value in step[1].items():
        if name in wanted:
            outputs[name] = value
        if name in names:
            pending[names[name]] = value
    return True
