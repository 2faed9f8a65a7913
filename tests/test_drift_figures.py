"""One-pass drift figures (compare/tensor_stats.py) equal the whole-array formulas (issue 28).

The oracles below are the formulas per-layer drift used before: every error, scale and
range finding must come out the same (the cosine to 1e-12: its sums run in another order).
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from workbench.compare.drift import (
    FP16_MAX,
    FP16_MIN_NORMAL,
    FP16_MIN_SUBNORMAL,
    UNDERFLOW_REPORT_FRACTION,
    GraphNode,
    RangeIssue,
    _tensor_drift,
    range_issues,
)

NODE = GraphNode("n", "Add", ("a",), ("t",))


def _oracle_drift(ref: np.ndarray, cand: np.ndarray) -> tuple[float, float, float, int]:
    r, c = ref.astype(np.float64), cand.astype(np.float64)
    finite_ref = np.isfinite(r)
    bad = int((~np.isfinite(c) & finite_ref).sum())
    scale = float(np.abs(r[finite_ref]).max()) if finite_ref.any() else 0.0
    both = finite_ref & np.isfinite(c)
    max_abs = float(np.abs(c[both] - r[both]).max()) if both.any() else 0.0
    error = (float("inf") if bad else (0.0 if max_abs == 0.0 else float("inf"))
             if scale == 0.0 else max_abs / scale)
    return error, max_abs, scale, bad


def _oracle_range(ref: np.ndarray) -> list[RangeIssue]:
    magnitude = np.abs(ref[np.isfinite(ref)].astype(np.float64))
    issues = []
    over = magnitude > FP16_MAX
    if over.any():
        issues.append(RangeIssue("n", "t", "overflow", int(over.sum()), int(ref.size),
                                 float(magnitude.max())))
    nonzero = magnitude[magnitude > 0]
    for kind, limit in (("underflow", FP16_MIN_SUBNORMAL), ("subnormal", FP16_MIN_NORMAL)):
        small = nonzero < limit
        if kind == "subnormal":
            small &= nonzero >= FP16_MIN_SUBNORMAL
        count = int(small.sum())
        if count and count >= UNDERFLOW_REPORT_FRACTION * nonzero.size:
            issues.append(RangeIssue("n", "t", kind, count, int(ref.size),
                                     float(nonzero[small].min())))
    return issues


def _pairs() -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(28)
    pairs = []
    for size in (1, 5, 1000, 40_000, 100_003):  # one block, several, a ragged last one
        ref = (rng.standard_normal(size) * 10.0 ** rng.integers(-9, 6, size)).astype(np.float32)
        with np.errstate(over="ignore"):
            half = ref.astype(np.float16)
        pairs += [(ref, half), (ref, ref.astype(ml_dtypes.bfloat16)), (ref, ref.copy()),
                  (np.zeros(size, np.float32), np.zeros(size, np.float16)),
                  (np.zeros(size, np.float32), half)]
        broken = half.copy()
        broken[size // 2] = np.inf
        pairs.append((ref, broken))
        nan_ref = ref.copy()
        nan_ref[0] = np.nan
        pairs.append((nan_ref, half))
    return pairs


@pytest.mark.parametrize("index", range(35))
def test_drift_figures_equal_the_formulas(index: int) -> None:
    ref, cand = _pairs()[index]
    got = _tensor_drift(0, NODE, "t", ref, cand, 1e-2)
    error, max_abs, scale, bad = _oracle_drift(ref, cand)
    assert (got.error, got.max_abs, got.reference_max_abs, got.candidate_nonfinite) == (
        error, max_abs, scale, bad)
    if got.cosine is not None and np.isfinite(ref).all() and np.isfinite(
            cand.astype(np.float64)).all():
        r, c = ref.astype(np.float64), cand.astype(np.float64)
        norm = np.sqrt(np.square(r).sum()) * np.sqrt(np.square(c).sum())
        expected = 1.0 if norm == 0 and not r.any() and not c.any() else (
            0.0 if norm == 0 else float(np.clip((r * c).sum() / norm, -1, 1)))
        assert got.cosine == pytest.approx(expected, abs=1e-12)


def test_range_findings_equal_the_formulas() -> None:
    rng = np.random.default_rng(7)
    for size in (1, 64, 40_000, 100_003):
        for scale in (1e-9, 1e-6, 1e-3, 1.0, 1e4, 1e6):
            ref = (rng.standard_normal(size) * scale).astype(np.float32)
            ref[: size // 7] = 0.0
            assert range_issues("n", "t", ref) == _oracle_range(ref)
            ref[-1] = np.inf
            assert range_issues("n", "t", ref) == _oracle_range(ref)
    edges = np.array([FP16_MAX, np.nextafter(np.float32(FP16_MAX), np.float32(np.inf)),
                      FP16_MIN_NORMAL, FP16_MIN_SUBNORMAL, 1e-30, -1e-30, 0.0, -0.0],
                     np.float32)
    assert range_issues("n", "t", edges) == _oracle_range(edges)


@pytest.mark.parametrize("ref, cand", [
    (np.array([1, 2, 3, 197], np.int64), np.array([1, 2, 3, 197], np.int64)),
    (np.array(7, np.int64), np.array(7, np.int64)),
    (np.zeros(3, np.int32), np.zeros(3, np.int32)),
    (np.array([9223372036854775807, -1, 3], np.int64),
     np.array([9223372036854775807, -1, 3], np.int64)),
    (np.array([1, 2, 3], np.int64), np.array([1, 5, 3], np.int64)),
    (np.array([0, 0], np.uint8), np.array([0, 4], np.uint8)),
    (np.zeros(0, np.int64), np.zeros(0, np.int64)),
])
def test_integer_figures_are_the_masked_paths_to_the_bit(ref: np.ndarray,
                                                          cand: np.ndarray) -> None:
    """Shape arithmetic's integer tensors take a short path; every figure, the cosine
    included, must be the one the general (masked) path gave."""
    from workbench.compare.metrics import cosine_similarity

    got = _tensor_drift(0, NODE, "t", ref, cand, 1e-2)
    error, max_abs, scale, bad = _oracle_drift(ref, cand)
    r, c = ref.astype(np.float64), cand.astype(np.float64)
    cosine = cosine_similarity(r, c) if r.size else None
    assert (got.error, got.max_abs, got.reference_max_abs, got.candidate_nonfinite,
            got.cosine) == (error, max_abs, scale, bad, cosine)
