"""compare_outputs on hand-made arrays: exact numbers, the both-thresholds rule, JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from workbench.compare.metrics import PASS_RULE, compare_outputs
from workbench.compare.reports import load_report, report_from_dict, save_report
from workbench.compare.tolerances import PRESETS, Tolerance, Tolerances
from workbench.core.errors import ComparisonError


def tol(atol: float, rtol: float) -> Tolerances:
    return Tolerances(Tolerance(atol, rtol))


REF = {"y": np.array([1.0, 2.0, 0.0, -4.0], np.float32)}
CAND = {"y": np.array([1.1, 2.0, 0.01, -4.4], np.float32)}


def test_exact_statistics() -> None:
    out = compare_outputs(REF, CAND, tol(1.0, 1.0))["y"]
    assert out.passed
    # float32 inputs: 1.1 - 1.0 is not exactly 0.1, so compare at float32 precision
    assert out.max_abs == pytest.approx(0.4, rel=1e-6)
    assert out.mean_abs == pytest.approx((0.1 + 0 + 0.01 + 0.4) / 4, rel=1e-6)
    assert out.median_abs == pytest.approx((0.01 + 0.1) / 2, rel=1e-6)
    assert out.max_rel == pytest.approx(0.01 / 2.220446049250313e-16, rel=1e-6)  # ref == 0
    assert out.median_rel == pytest.approx(0.1, rel=1e-5)
    assert out.elements == 4 and out.failing_elements == 0
    assert out.worst_index == (3,)
    r, c = REF["y"].astype(np.float64), CAND["y"].astype(np.float64)
    cosine = float(np.dot(r, c) / (np.linalg.norm(r) * np.linalg.norm(c)))
    assert out.cosine == pytest.approx(cosine, rel=1e-9)


def test_an_element_fails_only_when_over_both_thresholds() -> None:
    ref = {"y": np.array([100.0, 0.001])}
    # element 0: abs 1.0 (> atol 0.5) but rel 0.01 (<= rtol 0.05): passes on rtol
    # element 1: rel 1.0 (> rtol) but abs 0.001 (<= atol): passes on atol
    cand = {"y": np.array([101.0, 0.002])}
    assert compare_outputs(ref, cand, tol(0.5, 0.05))
    # tighter rtol: element 0 is now over both
    report = compare_outputs(ref, cand, tol(0.5, 0.005))
    assert not report and report["y"].failing_elements == 1
    assert report.failed_outputs == ("y",)


def test_smallest_passing_tolerances_pass_and_slightly_less_fails() -> None:
    rng = np.random.default_rng(0)
    ref = {"y": rng.standard_normal(500)}
    cand = {"y": ref["y"] + rng.standard_normal(500) * 1e-3}
    base = tol(1e-4, 1e-3)
    out = compare_outputs(ref, cand, base)["y"]
    assert not out.passed
    assert compare_outputs(ref, cand, tol(out.min_atol, 1e-3))
    assert not compare_outputs(ref, cand, tol(np.nextafter(out.min_atol, 0), 1e-3))
    assert compare_outputs(ref, cand, tol(1e-4, out.min_rtol))
    assert not compare_outputs(ref, cand, tol(1e-4, np.nextafter(out.min_rtol, 0)))


def test_nan_inf_and_shape_mismatch() -> None:
    ref = {"a": np.array([1.0, np.inf, 3.0]), "b": np.zeros((2, 3)), "c": np.ones(2)}
    cand = {"a": np.array([np.nan, np.inf, np.inf]), "b": np.zeros((3, 2)), "extra": np.ones(1)}
    report = compare_outputs(ref, cand, tol(1e9, 1e9))
    a = report["a"]
    assert not a.passed and a.failing_elements == 2  # NaN fails; inf vs 3.0 fails; inf == inf
    assert (a.reference_nan, a.reference_inf, a.candidate_nan, a.candidate_inf) == (0, 1, 1, 2)
    assert a.min_atol == float("inf")
    assert "shape mismatch" in report["b"].mismatch
    assert report["c"].mismatch == "missing from the candidate's outputs"
    assert report.extra_candidate_outputs == ("extra",)


def test_dtype_difference_is_noted_and_compared_in_float64() -> None:
    out = compare_outputs({"y": np.ones(3, np.float32)}, {"y": np.ones(3, np.float16)})["y"]
    assert out.passed and "dtypes differ" in out.note


def test_booleans_compare_by_equality() -> None:
    report = compare_outputs({"m": np.array([True, False])}, {"m": np.array([True, True])},
                             tol(0.5, 0.5))
    assert report["m"].failing_elements == 1


def test_report_states_the_rule_and_is_truthy() -> None:
    report = compare_outputs(REF, REF)
    assert report and report.passed and report.rule == PASS_RULE
    assert "exceeds" not in PASS_RULE and "AND" in PASS_RULE and "atol" in PASS_RULE
    assert "PASSED" in report.summary()


def test_presets_are_justified_and_ordered() -> None:
    for name, preset in PRESETS.items():
        assert len(preset.justification) > 80, name
        assert Tolerances.preset(name).justification == preset.justification
    loose = [PRESETS[n].tolerance.rtol for n in ("fp32", "tf32", "fp16", "bf16")]
    assert loose == sorted(loose)
    assert Tolerances.fp16().default == Tolerance(1e-2, 1e-2)
    with pytest.raises(ComparisonError, match="Unknown tolerance preset"):
        Tolerances.preset("int4")
    with pytest.raises(ComparisonError, match="non-negative"):
        Tolerance(-1.0, 0.0)


def test_per_output_override() -> None:
    ref = {"a": np.array([1.0]), "b": np.array([1.0])}
    cand = {"a": np.array([1.5]), "b": np.array([1.5])}
    tolerances = Tolerances.fp16().with_override("b", 1.0, 0.0)
    report = compare_outputs(ref, cand, tolerances)
    assert not report["a"].passed and report["b"].passed
    assert report["b"].atol == 1.0 and "b: atol=1" in tolerances.describe()


def test_json_round_trip(tmp_path) -> None:
    ref = {"a": np.array([1.0, np.inf]), "b": np.zeros((2, 2))}
    cand = {"a": np.array([np.nan, np.inf]), "b": np.zeros((2, 2)) + 1e-3}
    report = compare_outputs(ref, cand, Tolerances.fp16().with_override("a", 1, 1))
    path = save_report(tmp_path / "report.json", report)
    loaded = load_report(path)
    assert json.dumps(loaded.to_dict()) == json.dumps(report.to_dict())
    assert bool(loaded) == bool(report)
    assert loaded.tolerances == report.tolerances
    assert loaded["b"].worst_index == report["b"].worst_index


@pytest.mark.parametrize(
    "data",
    [[], {"outputs": "nope"}, {"outputs": [{"name": "y"}]}, {"outputs": [3]},
     {"outputs": [], "tolerances": {"default": {"atol": "x"}}}],
)
def test_malformed_reports_raise(data) -> None:
    with pytest.raises(ComparisonError, match="Malformed"):
        report_from_dict(data)


def test_unreadable_report_file(tmp_path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ComparisonError, match="Cannot read a comparison report"):
        load_report(bad)


finite = st.floats(-1e6, 1e6, allow_nan=False, width=64)


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.integers(1, 40), elements=finite),
       arrays(np.float64, 40, elements=st.floats(-1e3, 1e3, allow_nan=False)),
       st.floats(0, 1), st.floats(0, 1))
def test_properties(ref, noise, atol, rtol) -> None:
    cand = ref + noise[: ref.size]
    out = compare_outputs({"y": ref}, {"y": cand}, tol(atol, rtol))["y"]
    # identical arrays always pass, with zero error
    same = compare_outputs({"y": ref}, {"y": ref.copy()}, tol(0, 0))["y"]
    assert same.passed and same.max_abs == 0
    # the verdict agrees with a direct evaluation of the rule
    absdiff = np.abs(cand - ref)
    with np.errstate(over="ignore"):
        rel = absdiff / np.where(ref == 0, 2.220446049250313e-16, np.abs(ref))
    assert out.passed == (not np.any((absdiff > atol) & (rel > rtol)))
    # statistics are ordered and the smallest passing tolerances really pass
    assert out.median_abs <= out.p99_abs <= out.max_abs
    assert out.min_atol <= out.max_abs and out.min_rtol <= out.max_rel
    assert compare_outputs({"y": ref}, {"y": cand}, tol(out.min_atol, rtol))
    assert compare_outputs({"y": ref}, {"y": cand}, tol(atol, out.min_rtol))
    assert out.cosine is None or -1.0 <= out.cosine <= 1.0
