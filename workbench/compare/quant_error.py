"""Per-tensor error of a quantized run against FP32: SQNR in dB, cosine, and who adds it.

NumPy only. The per-tensor figure is the signal-to-quantization-noise ratio
``SQNR = 10·log10(Σ r² / Σ (c − r)²)`` in dB (what ONNX Runtime's ``qdq_loss_debug`` and
NVIDIA ModelOpt report): ~6 dB per bit, so one clean INT8 rounding of a well-scaled tensor
gives 30–45 dB; below ``DEFAULT_SQNR_THRESHOLD`` (20 dB, a noise amplitude of 10% of
the signal, cosine ≈ 0.995) a tensor is called bad. Cosine similarity is given beside it.

Two kinds of rows, in topological order:
- a node's output (the Q/DQ model's float value against the FP32 one: the error carried
  up to there), and the noise that node *adds* (its output's noise power minus its
  inputs' before their Q/DQ, as a fraction of the signal): what leaving the node
  unquantized would remove;
- a quantized activation (the dequantized value the consumers read, against FP32).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.compare.metrics import cosine_similarity

__all__ = ["DEFAULT_SQNR_THRESHOLD", "NodeError", "TensorError", "first_below", "sqnr_db",
           "tensor_error"]

DEFAULT_SQNR_THRESHOLD = 20.0
_EXACT = 200.0  # SQNR reported for identical tensors (the ratio is infinite)


@dataclass(frozen=True)
class TensorError:
    """FP32 against the quantized run for one tensor."""

    tensor: str
    sqnr_db: float  # 200 when identical; -inf/NaN when the candidate is non-finite
    cosine: float | None
    max_abs: float
    reference_max_abs: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class NodeError:
    """One node of the FP32 graph: the error of its output and the error it adds."""

    index: int
    node: str
    op_type: str
    output: TensorError
    input_sqnr_db: float  # the lowest SQNR among its float inputs before their Q/DQ
    quantized: bool  # it reads a dequantized value (it can be excluded)

    @property
    def added_noise(self) -> float:
        """Noise power this node adds, as a fraction of its output's signal power: its
        output's noise ratio minus its inputs' before their Q/DQ (noise powers add, so
        what is left is this node's: its inputs' and weights' Q/DQ)."""
        out = _noise_ratio(self.output.sqnr_db)
        return max(out - _noise_ratio(self.input_sqnr_db), 0.0)

    @property
    def added_sqnr_db(self) -> float:
        """``added_noise`` as an SQNR (lower is worse; 200 when it adds none)."""
        noise = self.added_noise
        return _EXACT if noise <= 0 else min(-10.0 * math.log10(noise), _EXACT)

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "node": self.node, "op_type": self.op_type,
                "quantized": self.quantized, "input_sqnr_db": self.input_sqnr_db,
                "added_sqnr_db": self.added_sqnr_db, "output": self.output.to_dict()}


def _noise_ratio(sqnr: float) -> float:
    return math.inf if not sqnr > -math.inf or math.isnan(sqnr) else 10.0 ** (-sqnr / 10.0)


def sqnr_db(reference: np.ndarray, candidate: np.ndarray) -> float:
    """``10·log10(Σ r² / Σ (c − r)²)`` over the elements where the reference is finite (a
    mask of -inf is no signal); -inf when the candidate is non-finite where the reference
    is not; 200 when they are equal; NaN on a shape mismatch."""
    if reference.shape != candidate.shape:
        return math.nan
    ref = np.asarray(reference, dtype=np.float64)
    cand = np.asarray(candidate, dtype=np.float64)
    finite = np.isfinite(ref)
    if not finite.all():
        ref, cand = ref[finite], cand[finite]
    if not np.isfinite(cand).all():
        return -math.inf
    noise = float(np.sum(np.square(cand - ref)))
    signal = float(np.sum(np.square(ref)))
    if noise == 0.0:
        return _EXACT
    if signal == 0.0 or not math.isfinite(noise):
        return -math.inf
    return min(10.0 * math.log10(signal / noise), _EXACT)


def tensor_error(name: str, reference: np.ndarray, candidate: np.ndarray) -> TensorError:
    ref = np.asarray(reference)
    cand = np.asarray(candidate)
    same = ref.shape == cand.shape and ref.size > 0
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf in masks: NaN, ignored
        diff = np.abs(cand.astype(np.float64) - ref.astype(np.float64)) if same else None
    return TensorError(
        name, sqnr_db(ref, cand),
        cosine_similarity(ref, cand) if same else None,
        float(np.nanmax(diff)) if diff is not None and not np.isnan(diff).all() else math.nan,
        float(np.max(np.abs(ref))) if ref.size and ref.dtype.kind in "fiu" else 0.0)


def first_below(nodes: Sequence[NodeError], threshold: float) -> NodeError | None:
    """The first node (topological) whose output SQNR is below ``threshold`` dB."""
    return next((n for n in nodes if not n.output.sqnr_db >= threshold), None)
