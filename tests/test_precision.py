"""compare_precision for real: ONNX Runtime FP32 against float16 arithmetic on CPU."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from workbench.app.precision.compare import NUMPY_PATH, compare_precision
from workbench.compare.tolerances import Tolerances
from workbench.core.errors import ComparisonError
from workbench.feeds.inputs import save_inputs


@pytest.fixture(scope="module")
def overflow_report(sample):
    return compare_precision(sample("fp16_overflow"), backend="numpy")


def test_overflow_is_caught(overflow_report) -> None:
    report = overflow_report
    assert not report and not report.passed
    assert report.path == NUMPY_PATH and "float16" in report.summary()
    assert report.first_bad_node == "rms.square"
    assert report.drift.first_bad_tensor == "h_squared"
    overflowing = {i.tensor for i in report.out_of_range if i.kind == "overflow"}
    assert {"h_squared", "mean_square"} <= overflowing
    # real FP16 arithmetic: the output collapses (ORT's CPU FP16 would have hidden this)
    assert np.all(report.candidate_outputs["y"] == 0)
    assert report.outputs["y"].max_abs > 0.5


def test_suggested_keep_list_closes_the_loop(sample, overflow_report) -> None:
    keep = overflow_report.suggested_keep_fp32
    assert keep == ("rms.square", "rms.mean", "rms.add_eps", "rms.sqrt")
    fixed = compare_precision(sample("fp16_overflow"), keep_fp32=keep, backend="numpy")
    assert fixed and fixed.first_bad_node is None
    assert fixed.keep_fp32 == keep
    assert fixed.outputs["y"].max_abs < 1e-2 < overflow_report.outputs["y"].max_abs


def test_keeping_too_little_is_not_enough(sample) -> None:
    """The Cast back to FP16 after the mean overflows: the region must reach the sqrt."""
    partial = compare_precision(sample("fp16_overflow"), keep_fp32=["rms.square", "rms.mean"],
                                backend="numpy")
    assert not partial
    assert partial.first_bad_node == "rms.mean"  # its FP16 view (the Cast) is inf
    assert partial.suggested_keep_fp32 == ("rms.square", "rms.mean", "rms.add_eps", "rms.sqrt")


@pytest.mark.parametrize("name", ["tiny_cnn", "transformer_block", "resnet_block"])
def test_healthy_models_pass_with_the_fp16_preset(sample, name) -> None:
    report = compare_precision(sample(name), backend="numpy")
    assert report, report.summary()
    assert report.outputs.tolerances == Tolerances.fp16()
    assert report.first_bad_node is None and report.suggested_keep_fp32 == ()
    assert len(report.drift.layers) >= 8
    # real rounding happened: FP16 is close but not bit-identical
    assert 0 < report.outputs.outputs[0].max_abs < 1e-2


def test_fp32_tolerances_call_fp16_failed(sample) -> None:
    report = compare_precision(sample("tiny_cnn"), tolerances=Tolerances.fp32(),
                               per_layer=False, backend="numpy")
    assert not report and report.drift is None


def test_user_inputs_from_npz(sample, tmp_path) -> None:
    feeds = {"x": np.full((3, 64), 0.001, np.float32)}  # tiny inputs: h² stays in range
    path = save_inputs(tmp_path / "x.npz", feeds)
    report = compare_precision(sample("fp16_overflow"), inputs=path, backend="numpy")
    assert report.inputs[0].shape == (3, 64) and report.seed is None
    assert report


def test_timings_and_dict(sample) -> None:
    report = compare_precision(sample("mlp_dynamic_batch"), dims={"batch": 4}, backend="numpy")
    labels = [label for label, _ in report.timings]
    assert labels == ["fp32 reference (onnxruntime)", "fp16 conversion", "fp16 candidate",
                      "comparison"]
    data = report.to_dict()
    assert data["passed"] is True and data["inputs"][0]["shape"] == [4, 64]
    assert data["drift"]["layers"][0]["node"] == "fc1"


def test_unnamed_nodes_get_names(sample) -> None:
    model = onnx.load(sample("fp16_overflow"))
    for node in model.graph.node:
        node.name = ""
    report = compare_precision(model, backend="numpy")
    assert report.first_bad_node == "Mul_1"
    assert compare_precision(model, keep_fp32=report.suggested_keep_fp32, backend="numpy")


def test_bad_arguments(sample) -> None:
    with pytest.raises(ComparisonError, match="cannot be compared") as info:
        compare_precision(sample("tiny_cnn"), precision="int8")
    assert "precision='bf16'" in info.value.message
    with pytest.raises(ComparisonError, match="not in the model") as info:
        compare_precision(sample("tiny_cnn"), keep_fp32=["conv9"])
    assert "conv1" in info.value.message
    with pytest.raises(ComparisonError, match="Unknown candidate backend"):
        compare_precision(sample("tiny_cnn"), backend="cuda")
