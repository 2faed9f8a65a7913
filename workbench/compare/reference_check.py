"""Does the comparison's own FP32 evaluation agree with ONNX Runtime on the same inputs?

The FP16 side of a CPU comparison is evaluated with ``onnx.reference`` (NumPy), the FP32
reference with ONNX Runtime. When ``onnx.reference`` computes an operator differently (its
AveragePool with an oversized ``ceil_mode`` window gave zeros where ONNX Runtime gave the
mean), the candidate differs from the reference for a reason that has nothing to do with
FP16, and the verdict would say FAILED while measuring the evaluator. So the FP32 graph
evaluated the same way as the candidate is checked against ONNX Runtime, and where the two
part beyond FP32 noise the verdict is INCONCLUSIVE, naming the output and, when found, the
node where they part.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

__all__ = ["FP32_NOISE", "REFERENCE_FIX", "ReferenceCheck", "ReferenceMismatch", "disagreement",
           "reference_mismatches"]

# Relative to the tensor's scale: FP32 evaluated in another order (another summation
# order, fused kernels) differs by ~1e-6 per op; deep graphs accumulate to ~1e-4.
FP32_NOISE = 1e-3
_FLOOR = 1e-5  # absolute floor, for tensors that are all (near) zero
REFERENCE_FIX = (
    "trust neither verdict on this model until the evaluator is fixed: report the node named "
    "here to the workbench (a bug bundle); on a GPU, compare with the TensorRT engine "
    "(backend='auto'), whose FP32 side is ONNX Runtime's"
)


@dataclass(frozen=True)
class ReferenceMismatch:
    """One tensor on which the CPU evaluator and ONNX Runtime part in FP32."""

    tensor: str
    max_abs_diff: float
    scale: float  # max |ONNX Runtime value|
    reason: str = ""

    def describe(self) -> str:
        return (f"{self.tensor}: {self.reason}" if self.reason else
                f"{self.tensor}: max |onnx.reference − ONNX Runtime| {self.max_abs_diff:.3g} "
                f"where max |ONNX Runtime| is {self.scale:.3g}")


@dataclass(frozen=True)
class ReferenceCheck:
    """The outcome of checking the CPU evaluator's FP32 outputs against ONNX Runtime."""

    checked: tuple[str, ...]  # outputs compared
    mismatches: tuple[ReferenceMismatch, ...] = ()
    node: str = ""  # the first node whose outputs part, when it was located
    op_type: str = ""
    node_detail: str = ""

    @property
    def agrees(self) -> bool:
        return not self.mismatches

    def describe(self) -> str:
        if self.agrees:
            return (f"the CPU evaluator's FP32 outputs agree with ONNX Runtime "
                    f"({', '.join(self.checked) or 'no float output'})")
        where = (f"; they part at node {self.node} ({self.op_type})"
                 + (f": {self.node_detail}" if self.node_detail else "") if self.node else
                 "; the node where they part was not located")
        shown = "; ".join(m.describe() for m in self.mismatches[:3])
        return ("the workbench's own FP32 evaluation (onnx.reference on CPU, the evaluator of "
                f"the FP16 candidate) disagrees with ONNX Runtime on the same inputs: {shown}"
                f"{where}. The FP16-vs-FP32 difference would measure the evaluator, not FP16")

    def to_dict(self) -> dict[str, object]:
        return {"agrees": self.agrees, "checked": list(self.checked), "node": self.node,
                "op_type": self.op_type, "node_detail": self.node_detail,
                "mismatches": [m.describe() for m in self.mismatches]}


def disagreement(name: str, reference: np.ndarray, other: np.ndarray
                 ) -> ReferenceMismatch | None:
    """How ``other`` parts from ONNX Runtime's ``reference`` beyond FP32 noise, or None."""
    ref, got = np.asarray(reference), np.asarray(other)
    if ref.shape != got.shape:
        return ReferenceMismatch(name, float("inf"), 0.0,
                                 f"shape {tuple(got.shape)} where ONNX Runtime gives "
                                 f"{tuple(ref.shape)}")
    if ref.dtype.kind not in "fc" or ref.size == 0:
        if ref.dtype.kind in "iub" and not np.array_equal(ref, got):
            return ReferenceMismatch(name, float("nan"), 0.0, "integer values differ")
        return None
    ref64, got64 = ref.astype(np.float64), got.astype(np.float64)
    ref_finite, got_finite = np.isfinite(ref64), np.isfinite(got64)
    if not np.array_equal(ref_finite, got_finite):
        count = int(np.count_nonzero(ref_finite != got_finite))
        return ReferenceMismatch(name, float("inf"), 0.0,
                                 f"{count} values finite on one side and NaN/Inf on the other")
    if not ref_finite.any():
        return None
    scale = float(np.abs(ref64[ref_finite]).max())
    diff = float(np.abs(ref64[ref_finite] - got64[ref_finite]).max())
    if diff > FP32_NOISE * scale + _FLOOR:
        return ReferenceMismatch(name, diff, scale)
    return None


def reference_mismatches(reference: Mapping[str, np.ndarray],
                         evaluated: Mapping[str, np.ndarray]) -> ReferenceCheck:
    """Check the evaluated FP32 outputs against ONNX Runtime's, output by output."""
    checked = tuple(name for name in reference if name in evaluated)
    found = [m for name in checked
             if (m := disagreement(name, reference[name], evaluated[name])) is not None]
    return ReferenceCheck(checked, tuple(found))
