"""INT8 (or FP8) Q/DQ against FP32 on CPU: per-output verdict, per-tensor SQNR, first bad node.

Both models run in ONNX Runtime with graph optimizations OFF for the Q/DQ one: every
QuantizeLinear/DequantizeLinear is then computed as written (fake quantization: round to
the integer grid, back to float), which is what the Q/DQ graph *means*. A TensorRT engine
runs real INT8 kernels with its own fusions and accumulation order: its outputs differ
again, and only a GPU shows by how much. What the CPU numbers say is where quantization
noise enters and how it carries to the outputs.

Intermediate tensors are fetched in groups of ``chunk`` names, each group from its own
session per model that exposes only those tensors (ONNX Runtime keeps every graph output of
a run alive until it ends), one session at a time: memory stays flat in depth.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from workbench.app.precision.compare import model_feeds_for
from workbench.backends.ort import OrtRunner
from workbench.compare.metrics import ComparisonReport, compare_outputs
from workbench.compare.quant_error import (
    DEFAULT_SQNR_THRESHOLD,
    NodeError,
    TensorError,
    first_below,
    tensor_error,
)
from workbench.compare.tolerances import Tolerances
from workbench.compare.verdicts import INCONCLUSIVE_FIX, Uninformative, uninformative_outputs
from workbench.core.records import TensorSpec
from workbench.feeds.generator import FeedOptions
from workbench.inspection.loading import ModelSource, source_label
from workbench.inspection.quantization import quantization_info
from workbench.transforms.external import staged_model
from workbench.transforms.naming import name_nodes
from workbench.transforms.quant.settings import QuantPrecision

__all__ = ["CPU_PATH", "QuantReport", "compare_quantized"]

CPU_PATH = ("ONNX Runtime CPU, graph optimizations off: Q/DQ computed as fake quantization "
            "in float (a TensorRT engine's INT8 kernels differ again; only a GPU shows that)")
_Q_INPUT = "_QuantizeLinear_Input"  # ORT's name for a graph output's float value


@dataclass(frozen=True)
class QuantReport:
    """FP32 against a quantized model, outputs and tensors."""

    model: str
    quantized: str
    outputs: ComparisonReport
    nodes: tuple[NodeError, ...]
    tensors: tuple[TensorError, ...]  # dequantized activations against FP32
    threshold_db: float
    inputs: tuple[TensorSpec, ...]
    seed: int | None
    seconds: float
    inconclusive: tuple[Uninformative, ...] = ()
    path: str = CPU_PATH
    precision: QuantPrecision = QuantPrecision.INT8  # what the Q/DQ pairs quantize to
    reference_outputs: dict[str, np.ndarray] = field(default_factory=dict, repr=False,
                                                     compare=False)
    candidate_outputs: dict[str, np.ndarray] = field(default_factory=dict, repr=False,
                                                     compare=False)

    @property
    def verdict(self) -> str:
        if not self.outputs.passed:
            return "FAILED"
        return "INCONCLUSIVE" if self.inconclusive else "PASSED"

    @property
    def passed(self) -> bool:
        return self.verdict == "PASSED"

    def __bool__(self) -> bool:
        return self.passed

    @property
    def first_bad_node(self) -> str | None:
        """The first node (topological) whose output falls below the SQNR threshold."""
        node = first_below(self.nodes, self.threshold_db)
        return node.node if node is not None else None

    def worst_nodes(self, count: int = 5, every: bool = False) -> tuple[NodeError, ...]:
        """Quantized nodes adding the most noise, worst first; with ``every`` also those
        whose added noise does not show on these inputs (last, in graph order): the
        exclusion search's candidates, so that excluding all of them is the float model."""
        ranked = sorted((n for n in self.nodes if n.quantized and (every or n.added_noise > 0)),
                        key=lambda n: (-n.added_noise, n.index))
        return tuple(ranked[:count])

    def summary(self) -> str:
        lines = [f"{self.precision.label} Q/DQ vs FP32 for {self.model}: {self.verdict}",
                 *(f"  INCONCLUSIVE {u.describe()}; what to do: {INCONCLUSIVE_FIX}"
                   for u in self.inconclusive),
                 f"  quantized model: {self.quantized}",
                 f"  numbers from: {self.path}",
                 f"  tolerances: {self.outputs.tolerances.describe()}",
                 *("  " + o.summary() for o in self.outputs.outputs)]
        if self.nodes:
            lines.append(f"  per-tensor error: SQNR in dB (10·log10 Σr²/Σ(c-r)²), threshold "
                         f"{self.threshold_db:g} dB; {len(self.nodes)} node outputs, "
                         f"{len(self.tensors)} quantized activations")
            lines.append(f"  first node under {self.threshold_db:g} dB: "
                         f"{self.first_bad_node or 'none'}")
            lines += [f"  adds noise at {n.added_sqnr_db:.1f} dB: {n.node} ({n.op_type}), "
                      f"output {n.output.sqnr_db:.1f} dB" for n in self.worst_nodes()]
        lines.append(f"  time: {self.seconds:.2f} s")
        lines.append("  rule: " + self.outputs.rule)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "quantized": self.quantized, "verdict": self.verdict,
                "passed": self.passed, "path": self.path, "threshold_db": self.threshold_db,
                "precision": self.precision.label,
                "first_bad_node": self.first_bad_node,
                "worst_nodes": [n.node for n in self.worst_nodes()],
                "outputs": self.outputs.to_dict(), "nodes": [n.to_dict() for n in self.nodes],
                "tensors": [t.to_dict() for t in self.tensors], "seed": self.seed,
                "inputs": [s.to_dict() for s in self.inputs], "seconds": self.seconds}


def compare_quantized(
    fp32_source: ModelSource, quantized_source: ModelSource,
    inputs: Mapping[str, np.ndarray] | str | Path | None = None, seed: int = 0,
    tolerances: Tolerances | None = None, per_tensor: bool = True, *,
    dims: Mapping[str, int] | None = None,
    int_ranges: Mapping[str, tuple[int, int]] | None = None,
    threshold_db: float = DEFAULT_SQNR_THRESHOLD, chunk: int = 64,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> QuantReport:
    """Compare a Q/DQ model (e.g. from ``workbench.app.quant.quantize.quantize_model``)
    against the FP32 model it came from, on the same feeds.

    Args:
        fp32_source: The float model: a path, bytes or a ModelProto.
        quantized_source: The Q/DQ model: a path, bytes or a ModelProto.
        inputs: Feeds (dict or ``.npz``); seeded generated feeds when None.
        tolerances: Output tolerances; the ``int8`` preset when None.
        per_tensor: Also measure every node output and quantized activation.
        threshold_db: SQNR under which a tensor is called bad.
        chunk: Intermediate tensors fetched per ONNX Runtime session (memory: the model
            once, plus that many activations).
    """
    began = time.perf_counter()
    names: list[str] = []
    with staged_model(fp32_source) as fp32_staged, staged_model(quantized_source) as staged:
        fp32, quant = name_nodes(fp32_staged.model), staged.model
        float8 = any(t.dtype.startswith("float8") for t in quantization_info(quant).tensors)
        precision = QuantPrecision.FP8 if float8 else QuantPrecision.INT8
        feeds = model_feeds_for(fp32, inputs, seed, FeedOptions(dims or {}, int_ranges or {}))
        names = [o.name for o in fp32.graph.output]
        sources = (fp32_staged.path or fp32_staged.model, staged.path or staged.model)
        if on_progress is not None:
            on_progress("running FP32 and Q/DQ (ONNX Runtime)", 0, 0)
        # one session at a time: the FP32 weights and the dequantized ones never coexist
        with OrtRunner(sources[0]) as ref:
            ref_out = ref.fetch(feeds, names)
        with OrtRunner(sources[1], graph_optimizations=False) as cand:
            cand_out = cand.fetch(feeds, names)
        nodes, tensors = (_per_tensor(fp32, quant, sources, feeds, chunk, on_progress)
                          if per_tensor else ((), ()))
    report = compare_outputs(ref_out, cand_out, tolerances or Tolerances.preset("int8"))
    return QuantReport(
        source_label(fp32_source), source_label(quantized_source), report, nodes, tensors,
        threshold_db,
        tuple(TensorSpec(n, a.dtype.name, tuple(a.shape)) for n, a in feeds.items()),
        None if inputs is not None else seed, time.perf_counter() - began,
        uninformative_outputs(ref_out, report), precision=precision,
        reference_outputs=ref_out, candidate_outputs=cand_out)


def _per_tensor(fp32: onnx.ModelProto, quant: onnx.ModelProto,
                sources: tuple[ModelSource, ModelSource], feeds: dict[str, np.ndarray],
                chunk: int, on_progress: Callable[[str, int, int], None] | None,
                ) -> tuple[tuple[NodeError, ...], tuple[TensorError, ...]]:
    """Node outputs and dequantized activations, ``chunk`` pairs at a time: each group is
    a session per model exposing only its tensors (ONNX Runtime holds every graph output
    of a run until it ends), so memory is one group's tensors, flat in depth."""
    q_nodes = {node.name: node for node in quant.graph.node}
    ref_names = set(OrtRunner(sources[0], expose_intermediates=True).output_names())
    cand_names = set(OrtRunner(sources[1], expose_intermediates=True).output_names())
    pairs: list[tuple[str, str]] = []  # (FP32 tensor, Q/DQ tensor)
    for node in fp32.graph.node:
        twin = q_nodes.get(node.name)
        if twin is None or len(twin.output) != len(node.output):
            continue
        pairs += [(r, c) for r, c in zip(node.output, twin.output, strict=True)
                  if r in ref_names and c in cand_names]
    info = quantization_info(quant)
    dq_of = {}  # dequantized tensor -> the float tensor it stands for, in FP32's names
    for item in info.tensors:
        if item.kind == "activation":
            source = item.tensor.removesuffix(_Q_INPUT)
            for out in q_nodes[item.dequantize_node].output:
                dq_of[out] = source
                if source in ref_names and out in cand_names:
                    pairs.append((source, out))
    errors: dict[tuple[str, str], TensorError] = {}
    for start in range(0, len(pairs), chunk):
        group = pairs[start:start + chunk]
        got_ref = _fetch(sources[0], feeds, [r for r, _ in group], True)
        got_cand = _fetch(sources[1], feeds, [c for _, c in group], False)
        for r, c in group:
            errors[(r, c)] = tensor_error(r, got_ref[r], got_cand[c])
        del got_ref, got_cand
        if on_progress is not None:
            on_progress("per-tensor error", min(start + chunk, len(pairs)), len(pairs))
    return _node_rows(fp32, q_nodes, errors, dq_of), tuple(
        errors[(r, c)] for r, c in pairs if c in dq_of)


def _fetch(source: ModelSource, feeds: dict[str, np.ndarray], names: list[str],
           optimize: bool) -> dict[str, np.ndarray]:
    wanted = list(dict.fromkeys(names))
    with OrtRunner(source, expose_intermediates=True, expose=wanted,
                   graph_optimizations=optimize) as runner:
        return runner.fetch(feeds, wanted)


def _node_rows(fp32: onnx.ModelProto, q_nodes: dict[str, onnx.NodeProto],
               errors: dict[tuple[str, str], TensorError], dq_of: dict[str, str],
               ) -> tuple[NodeError, ...]:
    float_sqnr = {r: e.sqnr_db for (r, c), e in errors.items() if c not in dq_of}
    dequantized = {out for n in q_nodes.values() if n.op_type == "DequantizeLinear"
                   for out in n.output}
    rows = []
    for index, node in enumerate(fp32.graph.node):
        twin = q_nodes.get(node.name)
        outs = [errors[(r, c)] for r, c in zip(node.output, twin.output, strict=False)
                if (r, c) in errors] if twin is not None else []
        if not outs or twin is None:
            continue
        # a dequantized input counts as its float value before the Q/DQ: the noise of that
        # Q/DQ is this node's to add (excluding the node removes it)
        inputs = [dq_of.get(name, name) for name in twin.input if name]
        in_sqnr = min((float_sqnr.get(name, 200.0) for name in inputs), default=200.0)
        worst = min(outs, key=lambda e: e.sqnr_db if not math.isnan(e.sqnr_db) else -1e9)
        rows.append(NodeError(index, node.name, node.op_type, worst, in_sqnr,
                              any(name in dequantized for name in twin.input)))
    return tuple(rows)
