"""Output comparison on plain arrays: per-output error statistics and a pass/fail verdict.

NumPy only. The verdict uses Polygraphy's elementwise rule (``--check-error-stat
elemwise``): an element fails only when its absolute error exceeds ``atol`` AND its
relative error exceeds ``rtol``; NaN fails; infinities of the same sign on both sides are
equal. Relative error is ``|candidate - reference| / |reference|``, with a reference of
exactly zero replaced by 2.22e-16 (as Polygraphy does), so zeros are judged by ``atol``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workbench.compare.tolerances import Tolerance, Tolerances

__all__ = ["PASS_RULE", "ComparisonReport", "OutputComparison", "compare_outputs"]

PASS_RULE = (
    "An element fails only if its absolute error |candidate - reference| is greater than "
    "atol AND its relative error |candidate - reference| / |reference| is greater than "
    "rtol (Polygraphy's elementwise rule). NaN on either side fails; infinities of the same "
    "sign on both sides count as equal. An output passes when no element fails and shapes "
    "match; the comparison passes when every reference output passes."
)
_EPSILON = 2.220446049250313e-16  # Polygraphy's stand-in for a zero reference value


@dataclass(frozen=True)
class OutputComparison:
    """Error statistics of one output. Error fields are None when nothing was comparable."""

    name: str
    passed: bool
    atol: float
    rtol: float
    reference_shape: tuple[int, ...] | None
    candidate_shape: tuple[int, ...] | None
    reference_dtype: str | None
    candidate_dtype: str | None
    mismatch: str | None = None  # a shape mismatch or a missing output: nothing compared
    note: str | None = None  # e.g. dtypes differ (compared after casting both to float64)
    elements: int = 0
    failing_elements: int = 0
    max_abs: float | None = None
    mean_abs: float | None = None
    median_abs: float | None = None
    p99_abs: float | None = None
    max_rel: float | None = None
    mean_rel: float | None = None
    median_rel: float | None = None
    p99_rel: float | None = None
    cosine: float | None = None
    reference_nan: int = 0
    reference_inf: int = 0
    candidate_nan: int = 0
    candidate_inf: int = 0
    min_atol: float | None = None  # smallest atol that passes with this rtol
    min_rtol: float | None = None  # smallest rtol that passes with this atol
    worst_index: tuple[int, ...] | None = None

    def __bool__(self) -> bool:
        return self.passed

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        for key in ("reference_shape", "candidate_shape", "worst_index"):
            data[key] = None if data[key] is None else list(data[key])
        return data

    def summary(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        if self.mismatch:
            return f"{verdict} {self.name}: {self.mismatch}"
        return (
            f"{verdict} {self.name}: max abs {_fmt(self.max_abs)}, max rel {_fmt(self.max_rel)}, "
            f"p99 abs {_fmt(self.p99_abs)}, cosine {_fmt(self.cosine)}, "
            f"{self.failing_elements}/{self.elements} elements over tolerance "
            f"(atol={self.atol:g}, rtol={self.rtol:g}; smallest passing atol at this rtol "
            f"{_fmt(self.min_atol)}, smallest passing rtol at this atol {_fmt(self.min_rtol)})"
        )


@dataclass(frozen=True)
class ComparisonReport:
    """All outputs compared. Truthy when every reference output passes."""

    outputs: tuple[OutputComparison, ...]
    tolerances: Tolerances
    rule: str = PASS_RULE
    extra_candidate_outputs: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return all(o.passed for o in self.outputs)

    def __bool__(self) -> bool:
        return self.passed

    def __getitem__(self, name: str) -> OutputComparison:
        for output in self.outputs:
            if output.name == name:
                return output
        raise KeyError(name)

    @property
    def failed_outputs(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.outputs if not o.passed)

    def summary(self) -> str:
        head = "PASSED" if self.passed else "FAILED: " + ", ".join(self.failed_outputs)
        return "\n".join([head, *("  " + o.summary() for o in self.outputs), "Rule: " + self.rule])

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "rule": self.rule,
            "tolerances": self.tolerances.to_dict(),
            "outputs": [o.to_dict() for o in self.outputs],
            "extra_candidate_outputs": list(self.extra_candidate_outputs),
        }


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"


def compare_outputs(
    reference: Mapping[str, np.ndarray],
    candidate: Mapping[str, np.ndarray],
    tolerances: Tolerances | None = None,
) -> ComparisonReport:
    """Compare each reference output with the candidate's output of the same name.

    Args:
        reference: Outputs taken as truth (e.g. FP32 ONNX Runtime).
        candidate: Outputs under test (e.g. the FP16 graph or a TensorRT engine).
        tolerances: Default and per-output tolerances; ``Tolerances.preset("fp32")`` if None.
    """
    tolerances = tolerances or Tolerances.preset("fp32")
    results = []
    for name, ref in reference.items():
        tol = tolerances.for_output(name)
        if name not in candidate:
            results.append(_missing(name, np.asarray(ref), tol))
            continue
        results.append(compare_arrays(name, np.asarray(ref), np.asarray(candidate[name]), tol))
    extra = tuple(name for name in candidate if name not in reference)
    return ComparisonReport(tuple(results), tolerances, PASS_RULE, extra)


def _missing(name: str, ref: np.ndarray, tol: Tolerance) -> OutputComparison:
    return OutputComparison(
        name, False, tol.atol, tol.rtol, tuple(ref.shape), None, ref.dtype.name, None,
        mismatch="missing from the candidate's outputs", elements=int(ref.size),
        failing_elements=int(ref.size),
    )


def error_arrays(ref: np.ndarray, cand: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(absolute, relative) error per element in float64, with Polygraphy's conventions."""
    if ref.dtype == np.bool_ and cand.dtype == np.bool_:
        absdiff = np.logical_xor(ref, cand).astype(np.float64)
        return absdiff, absdiff.copy()
    r = ref.astype(np.float64)
    c = cand.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        absdiff = np.abs(c - r)
        absdiff[np.isinf(r) & (r == c)] = 0.0
        denominator = np.abs(r)
        denominator[denominator == 0] = _EPSILON
        reldiff = absdiff / denominator
    return absdiff, reldiff


def failing_mask(absdiff: np.ndarray, reldiff: np.ndarray, atol: float, rtol: float) -> np.ndarray:
    """True where an element fails the elementwise rule (both thresholds exceeded, or NaN)."""
    over_abs = (absdiff > atol) | np.isnan(absdiff)
    over_rel = (reldiff > rtol) | np.isnan(reldiff)
    return over_abs & over_rel


def compare_arrays(
    name: str, ref: np.ndarray, cand: np.ndarray, tol: Tolerance
) -> OutputComparison:
    """Compare one pair of arrays (the building block of ``compare_outputs``)."""
    base: dict[str, Any] = {
        "name": name, "atol": tol.atol, "rtol": tol.rtol,
        "reference_shape": tuple(ref.shape), "candidate_shape": tuple(cand.shape),
        "reference_dtype": ref.dtype.name, "candidate_dtype": cand.dtype.name,
        "elements": int(ref.size), **_nonfinite_counts(ref, cand),
    }
    if ref.dtype != cand.dtype:
        base["note"] = f"dtypes differ ({ref.dtype} vs {cand.dtype}); compared as float64"
    if ref.shape != cand.shape:
        mismatch = f"shape mismatch: reference {list(ref.shape)}, candidate {list(cand.shape)}"
        return OutputComparison(
            passed=False, mismatch=mismatch, failing_elements=int(ref.size), **base
        )
    if ref.size == 0:
        return OutputComparison(passed=True, failing_elements=0, **base)
    absdiff, reldiff = error_arrays(ref, cand)
    failing = failing_mask(absdiff, reldiff, tol.atol, tol.rtol)
    return OutputComparison(
        passed=not bool(failing.any()), failing_elements=int(failing.sum()),
        **base, **_statistics(ref, cand, absdiff, reldiff, tol),
    )


def _nonfinite_counts(ref: np.ndarray, cand: np.ndarray) -> dict[str, int]:
    def counts(a: np.ndarray) -> tuple[int, int]:
        if a.dtype.kind not in "fc":
            return 0, 0
        return int(np.isnan(a).sum()), int(np.isinf(a).sum())

    rn, ri = counts(ref)
    cn, ci = counts(cand)
    return {"reference_nan": rn, "reference_inf": ri, "candidate_nan": cn, "candidate_inf": ci}


def _statistics(
    ref: np.ndarray, cand: np.ndarray, absdiff: np.ndarray, reldiff: np.ndarray, tol: Tolerance
) -> dict[str, Any]:
    flat_abs, flat_rel = absdiff.ravel(), reldiff.ravel()
    worst = int(np.nanargmax(flat_abs)) if not np.isnan(flat_abs).all() else 0
    return {
        "max_abs": _stat(np.max, flat_abs), "mean_abs": _stat(np.mean, flat_abs),
        "median_abs": _stat(np.median, flat_abs), "p99_abs": _quantile(flat_abs, 0.99),
        "max_rel": _stat(np.max, flat_rel), "mean_rel": _stat(np.mean, flat_rel),
        "median_rel": _stat(np.median, flat_rel), "p99_rel": _quantile(flat_rel, 0.99),
        "cosine": cosine_similarity(ref, cand),
        "min_atol": _min_threshold(flat_abs, flat_rel > tol.rtol, np.isnan(flat_rel)),
        "min_rtol": _min_threshold(flat_rel, flat_abs > tol.atol, np.isnan(flat_abs)),
        "worst_index": tuple(int(i) for i in np.unravel_index(worst, absdiff.shape)),
    }


def _stat(func: Any, values: np.ndarray) -> float:
    # NaN propagates on purpose: a NaN anywhere makes the statistic NaN, which is the truth.
    return float(func(values))


def _quantile(values: np.ndarray, q: float) -> float:
    with np.errstate(invalid="ignore"):  # interpolating between infinities warns; inf is right
        return float(np.quantile(values, q))


def _min_threshold(values: np.ndarray, other_fails: np.ndarray, other_nan: np.ndarray) -> float:
    """Smallest threshold on ``values`` that passes, given the other test's verdicts.

    An element passes if it is within either threshold, so only the elements that fail the
    other test constrain this one: the answer is their largest error (0 when there are none;
    infinity when NaN makes an element fail whatever the threshold).
    """
    constrained = values[other_fails | other_nan]
    if constrained.size == 0:
        return 0.0
    if np.isnan(constrained).any() or (other_nan & np.isnan(values)).any():
        return float("inf")
    return float(constrained.max())


def cosine_similarity(ref: np.ndarray, cand: np.ndarray) -> float | None:
    """Cosine of the angle between the two outputs (finite elements only); 1.0 if both zero."""
    r = np.asarray(ref, dtype=np.float64).ravel()  # no copy when already float64
    c = np.asarray(cand, dtype=np.float64).ravel()
    finite = np.isfinite(r) & np.isfinite(c)
    if not finite.any():
        return None
    r, c = r[finite], c[finite]
    # Plain reductions, not BLAS dot/norm: per-layer drift calls this for every tensor, and
    # BLAS's thread pool costs more than the sums themselves on small tensors.
    norm = float(np.sqrt(np.square(r).sum()) * np.sqrt(np.square(c).sum()))
    if norm == 0.0:
        return 1.0 if not r.any() and not c.any() else 0.0
    return float(np.clip(np.multiply(r, c).sum() / norm, -1.0, 1.0))
