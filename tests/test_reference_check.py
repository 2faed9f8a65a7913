"""The comparison checks its own FP32 evaluation against ONNX Runtime, every run (issue 25)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from reference_models import (
    efficientnet_pooler,
    lp_pool_ceil,
    ort_averages_oversized_windows,
    save,
)

from sample_models.exports.registry import EXPORTS, export_path, hand_feeds
from workbench.app.precision.compare import compare_precision
from workbench.app.precision.keep_search import find_keep_list
from workbench.compare.reference_check import disagreement, reference_mismatches


@pytest.mark.parametrize("per_layer", [True, False])
def test_oversized_average_pool_compares_as_passed(tmp_path: Path, per_layer: bool) -> None:
    report = compare_precision(save(efficientnet_pooler(), tmp_path), per_layer=per_layer)
    if not ort_averages_oversized_windows():
        # this ONNX Runtime (1.23, Python 3.10's) returns ~0 for the oversized window while
        # the evaluator averages: the check sees the disagreement and says so, every run
        assert report.verdict == "INCONCLUSIVE", report.summary()
        assert "disagrees with ONNX Runtime" in report.summary()
        return
    assert report.verdict == "PASSED", report.summary()
    out = report.outputs.outputs[0]
    assert out.cosine is not None and out.cosine > 0.999
    assert np.abs(report.reference_outputs["logits"]).max() > 0.1  # a real signal
    if per_layer:  # checked every per-layer run, and said so
        assert report.reference_check is not None and report.reference_check.agrees
        assert "FP32 check: the CPU evaluator's FP32 outputs agree" in report.summary()


@pytest.mark.parametrize("per_layer", [True, False])
def test_evaluator_disagreeing_with_ort_is_inconclusive(tmp_path: Path, per_layer: bool) -> None:
    report = compare_precision(save(lp_pool_ceil(), tmp_path), per_layer=per_layer)
    assert report.verdict == "INCONCLUSIVE"
    assert not report.passed
    check = report.reference_check
    assert check is not None and not check.agrees
    assert check.node == "lp_pool" and check.op_type == "LpPool"
    text = report.summary()
    assert "disagrees with ONNX Runtime" in text and "they part at node lp_pool" in text
    assert report.to_dict()["verdict"] == "INCONCLUSIVE"
    assert report.to_dict()["reference_check"]["node"] == "lp_pool"
    # drift behind a passing output is not claimed when nothing was measured
    assert "inside the graph" not in text


def test_keep_search_does_not_search_on_a_wrong_reference(tmp_path: Path) -> None:
    result = find_keep_list(save(lp_pool_ceil(), tmp_path), max_trials=3)
    assert not result.verified and result.keep_fp32 == () and result.trials == 0
    assert "disagrees with ONNX Runtime" in result.message


def test_disagreement_rules() -> None:
    ref = np.linspace(-1, 1, 100, dtype=np.float32)
    assert disagreement("y", ref, ref + 1e-6) is None  # FP32 noise
    found = disagreement("y", ref, np.zeros_like(ref))
    assert found is not None and "max |onnx.reference − ONNX Runtime| 1" in found.describe()
    nan = ref.copy()
    nan[3] = np.nan
    assert "NaN/Inf" in disagreement("y", ref, nan).describe()  # type: ignore[union-attr]
    assert "shape" in disagreement("y", ref, ref[:5]).describe()  # type: ignore[union-attr]
    check = reference_mismatches({"y": ref, "z": ref}, {"y": ref})
    assert check.agrees and check.checked == ("y",)


@pytest.mark.parametrize("name", [e.name for e in EXPORTS])
def test_the_evaluator_agrees_with_ort_on_every_real_export(name: str) -> None:
    """No real export is called INCONCLUSIVE by the check: the evaluator agrees with ORT."""
    report = compare_precision(export_path(name), inputs=hand_feeds(name), backend="numpy")
    assert report.reference_check is not None
    assert report.reference_check.agrees, report.reference_check.describe()
    assert report.verdict != "INCONCLUSIVE" or report.inconclusive
