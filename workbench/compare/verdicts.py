"""Honest verdicts: an output that passes only because it says nothing is INCONCLUSIVE.

Polygraphy's rule passes an element when it is within ``atol`` — so an output whose FP32
values are all (near) zero passes whatever the candidate does, and so does one that is the
same constant for every input. A Paddle text detector on random inputs is the measured
case: FP32 ~1e-6 everywhere, FP16 exactly 0, cosine 0, max relative error 1 — PASSED, while
a BatchNorm variance beyond FP16's range sat in the graph. Such outputs get INCONCLUSIVE
with the reason and what to do instead (real inputs, other sizes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from workbench.compare.metrics import ComparisonReport, OutputComparison

__all__ = ["INCONCLUSIVE_FIX", "Uninformative", "uninformative_outputs"]

INCONCLUSIVE_FIX = (
    "compare on real inputs saved as .npz (inputs='real.npz', or --inputs real.npz), or on "
    "other sizes (dims={...}, or --dim NAME=SIZE), so that the outputs vary"
)
_CONSTANT_SPREAD = 1e-6  # spread relative to scale under which an output is constant
_UNRELATED_COSINE = 0.1  # |cosine| under this: candidate and reference are unrelated


@dataclass(frozen=True)
class Uninformative:
    """An output whose passing says nothing, and why."""

    output: str
    reason: str

    def describe(self) -> str:
        return f"{self.output}: {self.reason}"


def uninformative_outputs(reference: Mapping[str, np.ndarray],
                          report: ComparisonReport) -> tuple[Uninformative, ...]:
    """The passing float outputs that carry no evidence on these inputs."""
    found = []
    for output in report.outputs:
        values = reference.get(output.name)
        if not output.passed or values is None:
            continue
        reason = _why_uninformative(np.asarray(values), output)
        if reason:
            found.append(Uninformative(output.name, reason))
    return tuple(found)


def _why_uninformative(values: np.ndarray, output: OutputComparison) -> str | None:
    if values.dtype.kind != "f" or values.size == 0:
        return None
    finite = values[np.isfinite(values)].astype(np.float64)
    if finite.size == 0:
        return None
    scale = float(np.abs(finite).max())
    if scale <= output.atol:
        return (f"every FP32 value is within atol ({output.atol:g}) of zero (max |x| = "
                f"{scale:.3g}): any candidate near zero passes")
    spread = float(finite.max() - finite.min())
    if finite.size > 1 and spread <= _CONSTANT_SPREAD * scale:
        return (f"the FP32 output is the same value ({float(finite.mean()):.4g}) everywhere on "
                "these inputs: a constant passes or fails regardless of the model")
    if output.cosine is not None and abs(output.cosine) < _UNRELATED_COSINE:
        return (f"cosine {output.cosine:.2g}: the FP16 and FP32 outputs are unrelated; it "
                "passes only because every value is within atol")
    if output.median_rel is not None and output.median_rel >= 0.99:
        return (f"median relative error {output.median_rel:.2g}: most elements are off by "
                "~100%; it passes only because every value is within atol")
    return None
