"""Per-layer drift: where in the graph a reduced-precision run parts from the FP32 one.

NumPy only: the graph arrives as neutral ``GraphNode`` records in topological order,
and the values as two dicts keyed by the FP32 graph's tensor names (the caller maps names
across the Casts a conversion inserts). For each tensor the error is taken relative to the
tensor's own scale, ``max|candidate - reference| / max|reference|``, so layers with large
and small activations are judged alike; a non-finite candidate value where the reference
is finite counts as an infinite error.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from workbench.compare.metrics import cosine_similarity
from workbench.compare.saturation import BenignSaturation, find_benign_saturations
from workbench.compare.tensor_stats import RangeFigures, pair_figures, range_figures

__all__ = [
    "DEFAULT_DRIFT_THRESHOLD",
    "FP16_MAX",
    "FP16_MIN_NORMAL",
    "FP16_MIN_SUBNORMAL",
    "DriftAccumulator",
    "DriftReport",
    "GraphNode",
    "RangeIssue",
    "TensorDrift",
    "compute_drift",
    "finish_drift",
    "suggest_keep_fp32",
]

FP16_MAX = 65504.0  # largest finite float16; anything beyond rounds to inf
FP16_MIN_NORMAL = 6.103515625e-05  # below this float16 is subnormal: precision drains away
FP16_MIN_SUBNORMAL = 5.960464477539063e-08  # below this a nonzero value flushes to 0
# One FP16 rounding is 4.9e-4 of the scale; the healthy samples peak near 1.3e-3 (a few
# roundings). 1e-2 is ~20 roundings: only a real break (overflow, cancellation, a saturated
# Softmax) crosses it, yet a slow LayerNorm-style loss of digits still shows.
DEFAULT_DRIFT_THRESHOLD = 1e-2
# Underflow is reported only when it touches this share of a tensor's nonzero values:
# one stray tiny value in a random input is noise, a tenth of a tensor is a finding.
UNDERFLOW_REPORT_FRACTION = 0.01


@dataclass(frozen=True)
class GraphNode:
    """One node of the FP32 graph, without any ONNX types."""

    name: str
    op_type: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


@dataclass(frozen=True)
class TensorDrift:
    """FP32-vs-candidate error of one tensor, in topological position ``index``."""

    index: int
    node: str
    op_type: str
    tensor: str
    error: float  # max|c - r| / max|r|; inf when the candidate is non-finite
    max_abs: float
    reference_max_abs: float
    cosine: float | None
    candidate_nonfinite: int
    over_threshold: bool


@dataclass(frozen=True)
class RangeIssue:
    """A tensor whose FP32 values do not fit float16."""

    node: str
    tensor: str
    kind: str  # "overflow", "underflow" (flushed to 0) or "subnormal"
    count: int
    total: int
    extreme: float  # the largest |x| for overflow, the smallest nonzero |x| otherwise

    def describe(self) -> str:
        limit = {"overflow": f"> {FP16_MAX:g}", "underflow": f"< {FP16_MIN_SUBNORMAL:.3g}",
                 "subnormal": f"< {FP16_MIN_NORMAL:.3g}"}[self.kind]
        return (
            f"{self.tensor} (node {self.node}): {self.count}/{self.total} values with |x| "
            f"{limit} ({self.kind}; extreme |x| = {self.extreme:.3g})"
        )


@dataclass(frozen=True)
class DriftReport:
    """Per-layer drift in topological order, and what to keep in FP32."""

    layers: tuple[TensorDrift, ...]
    threshold: float
    first_bad_node: str | None
    first_bad_tensor: str | None
    out_of_range: tuple[RangeIssue, ...]
    suggested_keep_fp32: tuple[str, ...]
    reason: str
    # sentinels (attention masks) FP16 saturates harmlessly: never a first bad node, never kept
    benign: tuple[BenignSaturation, ...] = ()
    # the first node whose candidate holds NaN/Inf where FP32 is finite
    first_nonfinite_node: str | None = None
    first_nonfinite_tensor: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "first_bad_node": self.first_bad_node,
            "first_bad_tensor": self.first_bad_tensor,
            "first_nonfinite_node": self.first_nonfinite_node,
            "first_nonfinite_tensor": self.first_nonfinite_tensor,
            "benign": [b.to_dict() for b in self.benign],
            "suggested_keep_fp32": list(self.suggested_keep_fp32),
            "reason": self.reason,
            "out_of_range": [issue.__dict__ for issue in self.out_of_range],
            "layers": [layer.__dict__ for layer in self.layers],
        }


def compute_drift(
    nodes: Sequence[GraphNode],
    reference: Mapping[str, np.ndarray],
    candidate: Mapping[str, np.ndarray],
    threshold: float = DEFAULT_DRIFT_THRESHOLD,
    graph_outputs: Sequence[str] = (),
    check_range: bool = True,
) -> DriftReport:
    """Compare every node output present on both sides, in the order of ``nodes``.

    ``check_range`` looks for FP32 values beyond the FP16 range (off for BF16, which has
    FP32's range)."""
    layers: list[TensorDrift] = []
    issues: list[RangeIssue] = []
    for node in nodes:
        for tensor in node.outputs:
            if tensor not in reference:
                continue
            ref = np.asarray(reference[tensor])
            if check_range:
                issues.extend(range_issues(node.name, tensor, ref))
            if tensor in candidate and ref.dtype.kind in "fiu":
                cand = np.asarray(candidate[tensor])
                layers.append(_tensor_drift(len(layers), node, tensor, ref, cand, threshold))
    return finish_drift(nodes, layers, issues, threshold, graph_outputs)


class DriftAccumulator:
    """Per-layer drift built one tensor at a time: figures are kept, tensors are not.

    Call ``add`` as each tensor pair is produced (in topological order), then drop the
    arrays; ``report`` gives the same ``DriftReport`` as ``compute_drift``
    over the whole graph. Memory is a few numbers per tensor, whatever the graph's depth.
    """

    def __init__(self, threshold: float = DEFAULT_DRIFT_THRESHOLD,
                 check_range: bool = True) -> None:
        self.threshold = threshold
        self.check_range = check_range
        self._layers: list[TensorDrift] = []
        self._issues: list[RangeIssue] = []

    def add(self, node: GraphNode, tensor: str, reference: np.ndarray,
            candidate: np.ndarray | None, issues: Sequence[RangeIssue] | None = None) -> None:
        """Figures of one tensor (``candidate`` None: range findings only). ``issues``: its
        ``range_issues``, when the caller took them already (on another thread)."""
        ref = np.asarray(reference)
        if self.check_range:
            self._issues.extend(range_issues(node.name, tensor, ref) if issues is None
                                else issues)
        if candidate is not None and ref.dtype.kind in "fiu":
            cand = np.asarray(candidate)
            self._layers.append(
                _tensor_drift(len(self._layers), node, tensor, ref, cand, self.threshold))

    def report(self, nodes: Sequence[GraphNode], graph_outputs: Sequence[str] = ()
               ) -> DriftReport:
        return finish_drift(nodes, self._layers, self._issues, self.threshold, graph_outputs)


def finish_drift(
    nodes: Sequence[GraphNode], layers: Sequence[TensorDrift], issues: Sequence[RangeIssue],
    threshold: float, graph_outputs: Sequence[str] = (),
) -> DriftReport:
    """The report from per-tensor figures: benign saturations set apart (see
    ``workbench.compare.saturation``), then the first bad node, the first non-finite
    node and the keep list from what remains."""
    overflow = {i.tensor: (i.node, i.extreme) for i in issues if i.kind == "overflow"}
    benign = find_benign_saturations(nodes, overflow, layers, graph_outputs)
    layers = [replace(layer, over_threshold=False) if layer.tensor in benign else layer
              for layer in layers]
    issues = [issue for issue in issues if issue.tensor not in benign]
    first = next((layer for layer in layers if layer.over_threshold), None)
    nonfinite = next((layer for layer in layers
                      if layer.candidate_nonfinite and layer.tensor not in benign), None)
    keep, reason = suggest_keep_fp32(nodes, issues, first.node if first else None)
    return DriftReport(
        tuple(layers), threshold, first.node if first else None,
        first.tensor if first else None, tuple(issues), keep, reason,
        benign=tuple(benign.values()),
        first_nonfinite_node=nonfinite.node if nonfinite else None,
        first_nonfinite_tensor=nonfinite.tensor if nonfinite else None,
    )


def _tensor_drift(
    index: int, node: GraphNode, tensor: str, ref: np.ndarray, cand: np.ndarray, threshold: float
) -> TensorDrift:
    if ref.shape != cand.shape:
        return TensorDrift(index, node.name, node.op_type, tensor, float("inf"), float("inf"),
                           _max_abs(ref), None, 0, True)
    if ref.dtype.kind in "iu" and cand.dtype == ref.dtype:
        error, max_abs, scale, cosine = _integer_drift(ref, cand)
        return TensorDrift(index, node.name, node.op_type, tensor, error, max_abs, scale,
                           cosine, 0, error > threshold)
    figures = pair_figures(ref, cand)  # one pass; None: NaN/inf somewhere, masked below
    if figures is not None:
        max_abs, scale = figures.max_abs, figures.scale
        error = (max_abs / scale if scale else 0.0 if max_abs == 0.0 else float("inf"))
        return TensorDrift(index, node.name, node.op_type, tensor, error, max_abs, scale,
                           figures.cosine, 0, error > threshold)
    r = ref.astype(np.float64)
    c = cand.astype(np.float64)
    finite_ref = np.isfinite(r)
    bad = int((~np.isfinite(c) & finite_ref).sum())
    scale = _max_abs(r[finite_ref]) if finite_ref.any() else 0.0
    both = finite_ref & np.isfinite(c)
    max_abs = float(np.abs(c[both] - r[both]).max()) if both.any() else 0.0
    if bad:
        error = float("inf")
    elif scale == 0.0:
        error = 0.0 if max_abs == 0.0 else float("inf")
    else:
        error = max_abs / scale
    return TensorDrift(
        index, node.name, node.op_type, tensor, error, max_abs, scale,
        cosine_similarity(r, c) if r.size else None, bad, error > threshold,
    )


def _integer_drift(ref: np.ndarray, cand: np.ndarray) -> tuple[float, float, float,
                                                                float | None]:
    """(error, max |c - r|, max |r|, cosine) of an integer pair, as the masked path of
    ``_tensor_drift`` computes them (every value is finite, so its masks select all),
    in a few calls: a real export has hundreds of these (shape arithmetic: Shape, Gather,
    Concat… of a few elements, nearly always equal on both sides), and the masked path's
    thirty-odd NumPy calls cost ~50 µs each."""
    if ref.size == 0:
        return 0.0, 0.0, 0.0, None
    r = ref.astype(np.float64).reshape(-1)
    scale = float(np.abs(r).max())
    if ref.tobytes() == cand.tobytes():  # same dtype and shape: equal bytes, equal values
        # cosine_similarity's formula on r == c (the same sum; math.sqrt and np.sqrt are
        # both IEEE's correctly rounded root), so the same bits
        square = float(np.square(r).sum())
        norm = math.sqrt(square) * math.sqrt(square)
        cosine = (1.0 if not r.any() else 0.0) if norm == 0.0 else min(
            1.0, max(-1.0, square / norm))
        return 0.0, 0.0, scale, cosine
    c = cand.astype(np.float64).reshape(-1)
    max_abs = float(np.abs(c - r).max())
    error = (0.0 if max_abs == 0.0 else float("inf")) if scale == 0.0 else max_abs / scale
    return error, max_abs, scale, cosine_similarity(r, c)


def _max_abs(values: np.ndarray) -> float:
    return float(np.abs(values.astype(np.float64)).max()) if values.size else 0.0


def range_issues(node: str, tensor: str, ref: np.ndarray) -> list[RangeIssue]:
    """Overflow, underflow and subnormal findings for one FP32 tensor."""
    if ref.dtype.kind != "f" or ref.size == 0:
        return []
    figures = range_figures(ref, FP16_MAX, FP16_MIN_NORMAL, FP16_MIN_SUBNORMAL)
    if figures is not None:
        return _range_issues_from(node, tensor, figures)
    magnitude = np.abs(ref[np.isfinite(ref)].astype(np.float64))
    issues = []
    over = magnitude > FP16_MAX
    if over.any():
        issues.append(RangeIssue(node, tensor, "overflow", int(over.sum()), int(ref.size),
                                 float(magnitude.max())))
    nonzero = magnitude[magnitude > 0]
    for kind, limit in (("underflow", FP16_MIN_SUBNORMAL), ("subnormal", FP16_MIN_NORMAL)):
        small = nonzero < limit
        if kind == "subnormal":
            small &= nonzero >= FP16_MIN_SUBNORMAL
        count = int(small.sum())
        if count and count >= UNDERFLOW_REPORT_FRACTION * nonzero.size:
            issues.append(RangeIssue(node, tensor, kind, count, int(ref.size),
                                     float(nonzero[small].min())))
    return issues


def _range_issues_from(node: str, tensor: str, figures: RangeFigures) -> list[RangeIssue]:
    """``range_issues`` from one-pass figures (same counts, extremes and rule)."""
    issues = []
    if figures.overflow:
        issues.append(RangeIssue(node, tensor, "overflow", figures.overflow, figures.total,
                                 figures.largest))
    for kind, count, extreme in (("underflow", figures.underflow, figures.smallest_underflow),
                                 ("subnormal", figures.subnormal, figures.smallest_subnormal)):
        if count and count >= UNDERFLOW_REPORT_FRACTION * figures.nonzero:
            issues.append(RangeIssue(node, tensor, kind, count, figures.total, extreme))
    return issues


def suggest_keep_fp32(
    nodes: Sequence[GraphNode], issues: Sequence[RangeIssue], first_bad_node: str | None
) -> tuple[tuple[str, ...], str]:
    """Nodes to keep in FP32, in topological order, and why.

    A node is kept when it produces a tensor beyond the FP16 range, or consumes one. The
    second part is what makes the list work: the region must reach forward until its
    outputs are back in range, or the Cast back to FP16 at the region's edge overflows
    (on an RMS norm, keeping the square and the mean is not enough; the add and the sqrt
    that bring the values back down must stay too). Without any overflow, the first node
    over the drift threshold is the only suggestion.
    """
    overflowing = {issue.tensor for issue in issues if issue.kind == "overflow"}
    if overflowing:
        keep = tuple(
            node.name for node in nodes
            if overflowing & set(node.outputs) or overflowing & set(node.inputs)
        )
        return keep, (
            "these nodes produce or consume values beyond the FP16 range (65504); the list "
            "reaches forward until values are back in range, so the Cast back to FP16 is safe"
        )
    if first_bad_node is not None:
        return (first_bad_node,), (
            "no value leaves the FP16 range; the first node over the drift threshold is the "
            "best first candidate (if it does not help, its inputs were already off)"
        )
    return (), "every layer stays within the drift threshold and the FP16 range"
