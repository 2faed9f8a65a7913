"""FP16/BF16 verdicts and advice a user can trust: masks, inconclusive outputs, names, BF16."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from sample_models.fp16_cases import CASES, attention_feeds, make_case, masked_attention
from workbench.app.precision.compare import compare_precision
from workbench.backends.trt.build import build_engine
from workbench.settings.settings import BuildSettings


def test_attention_mask_is_benign_saturation_not_a_problem() -> None:
    report = compare_precision(masked_attention(), inputs=attention_feeds(), backend="numpy")
    assert report.verdict == "PASSED"
    assert report.first_bad_node is None and report.suggested_keep_fp32 == ()
    assert {b.tensor for b in report.benign} == {"neg", "additive", "masked"}
    assert all(issue.kind != "overflow" for issue in report.out_of_range)
    assert "benign saturation" in report.summary()
    assert report.benign[0].sinks == ("attn.softmax",)


def test_a_fully_masked_row_is_a_real_problem() -> None:
    report = compare_precision(masked_attention(), inputs=attention_feeds(fully_masked_row=True),
                               backend="numpy")
    assert report.verdict == "FAILED"
    assert report.benign == ()  # the one real risk of the mask, checked on these inputs
    assert report.first_bad_node is not None


def test_the_computed_overflow_is_the_first_bad_node_not_the_mask() -> None:
    report = compare_precision(masked_attention(overflow_after=True), inputs=attention_feeds(),
                               backend="numpy")
    assert report.verdict == "FAILED"
    assert report.first_bad_node == "rms.square"
    assert report.first_nonfinite_node == "rms.square"
    assert "first non-finite value: rms.square" in report.summary()
    assert not {"mask.min", "mask.where", "attn.add_mask", "attn.softmax"} & set(
        report.suggested_keep_fp32)


def _tiny_output_model() -> onnx.ModelProto:
    """Outputs ~1e-6: every value is within atol of zero, whatever FP16 does."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 8])
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]),
             helper.make_node("Mul", ["h", "tiny"], ["y"])]
    inits = [numpy_helper.from_array(np.eye(8, dtype=np.float32), "w"),
             numpy_helper.from_array(np.array(1e-6, np.float32), "tiny")]
    graph = helper.make_graph(nodes, "tiny", [x], [helper.make_tensor_value_info(
        "y", TensorProto.FLOAT, [4, 8])], inits)
    # IR 8: the onnxruntime that Python 3.10 gets (1.23) reads IR ≤ 11, while the newest
    # onnx writes a newer IR by default
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def test_near_zero_outputs_are_inconclusive_not_passed() -> None:
    report = compare_precision(_tiny_output_model(), backend="numpy")
    assert report.outputs.passed  # Polygraphy's rule passes it...
    assert report.verdict == "INCONCLUSIVE" and not report  # ...but it says nothing
    text = report.summary()
    assert "within atol" in text and ".npz" in text
    assert report.to_dict()["verdict"] == "INCONCLUSIVE"


def test_unnamed_nodes_get_names_every_build_accepts() -> None:
    report = compare_precision(_tiny_output_model(), backend="numpy")
    names = [layer.node for layer in report.drift.layers]
    assert names == ["MatMul_0", "Mul_1"]
    artifact = build_engine(_tiny_output_model(),
                            BuildSettings(precision="fp16", keep_fp32=("Mul_1",)))
    assert artifact.conversion.by_reason() == {"kept by user": ("Mul_1",)}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bf16_comparison_runs_with_bfloat16_rounding(case: str) -> None:
    report = compare_precision(make_case(case), precision="bf16", backend="numpy")
    assert report.precision == "bf16" and report.verdict == "PASSED", report.summary()
    assert "bfloat16" in report.path and report.out_of_range == ()
    fp16 = compare_precision(make_case(case), backend="numpy")
    worst = max(o.max_abs for o in report.outputs.outputs)
    assert worst > max(o.max_abs for o in fp16.outputs.outputs)  # 8 bits of mantissa, not 11


def test_keep_search_is_verified_one_minimal_and_within_budget() -> None:
    from workbench.app.precision.keep_search import find_keep_list

    seen = []
    found = find_keep_list(masked_attention(overflow_after=True), inputs=attention_feeds(),
                           on_trial=lambda k, n, keep: seen.append((k, n, keep)))
    assert found.verified and found.minimal and found.keep_fp32
    assert found.trials == len(seen) <= 10 and seen[0][:2] == (1, 10)
    assert {c.rule for c in found.candidates} <= {"FP16 range", "non-finite", "drift"}
    assert not {"mask.min", "mask.where", "attn.add_mask", "attn.softmax"} & set(found.keep_fp32)
    # verified: with the list it passes; 1-minimal: without any one node it fails
    assert compare_precision(masked_attention(True), inputs=attention_feeds(),
                             keep_fp32=found.keep_fp32, backend="numpy").verdict == "PASSED"
    for name in found.keep_fp32:
        fewer = [n for n in found.keep_fp32 if n != name]
        assert not compare_precision(masked_attention(True), inputs=attention_feeds(),
                                     keep_fp32=fewer, backend="numpy").outputs.passed
    assert "verified, 1-minimal" in found.summary()


def test_keep_search_stops_when_cancelled() -> None:
    from workbench.app.precision.keep_search import find_keep_list

    found = find_keep_list(masked_attention(overflow_after=True), inputs=attention_feeds(),
                           cancel=lambda: True)
    assert found.cancelled and found.trials == 0 and not found.verified


def test_panel_search_then_use_the_list_for_the_build(tmp_path, sample) -> None:
    from ui_support import make_panel

    panel = make_panel(tmp_path, sample("fp16_overflow"))
    view = panel.compare.search
    assert not view.search_button.disabled and view.use_button.disabled
    trials = []
    panel.session.on("keep_search", lambda _e, payload: trials.append(payload))
    view.search_button.click()
    assert panel.session.tasks["keep_search"].join(120)
    found = panel.session.keep_search
    assert found.verified and found.minimal and trials
    assert "verified, 1-minimal" in view.result.value
    assert not view.use_button.disabled
    view.use_button.click()
    form = panel.build.form
    assert form.fields["keep_fp32"].value == ", ".join(found.keep_fp32)
    assert form.fields["precision"].value == "fp16"
    assert form.validate() is not None and form.last_valid.keep_fp32 == found.keep_fp32
    panel.close()


def test_contrib_operators_get_a_plain_statement_not_an_impossible_fix() -> None:
    from workbench.core.errors import ComparisonError

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"),
             helper.make_node("Gelu", ["r"], ["y"], name="gelu", domain="com.microsoft")]
    graph = helper.make_graph(nodes, "contrib", [x], [helper.make_tensor_value_info(
        "y", TensorProto.FLOAT, [2, 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.microsoft", 1)],
                              ir_version=8)
    with pytest.raises(ComparisonError) as caught:
        compare_precision(model, backend="numpy")
    message = caught.value.message
    assert "com.microsoft::Gelu" in message and "keep_fp32" not in message


def test_drift_view_stays_readable_at_1500_tensors() -> None:
    from workbench.compare.drift import GraphNode, compute_drift
    from workbench.compare.plots import drift_curve
    from workbench.ui.compare.tab import drift_html

    rng = np.random.default_rng(0)
    nodes = [GraphNode(f"layer{i}", "Add", (f"t{i - 1}",), (f"t{i}",)) for i in range(1500)]
    reference = {f"t{i}": rng.standard_normal(4).astype(np.float32) for i in range(1500)}
    candidate = {name: (value * (1.5 if name == "t900" else 1.0)).astype(np.float16)
                 for name, value in reference.items()}
    drift = compute_drift(nodes, reference, candidate)
    assert drift.first_bad_node == "layer900"
    figure = drift_curve(drift)
    assert figure.get_size_inches()[0] <= 14.0
    assert any("layer900" in text.get_text() for text in figure.axes[0].texts)
    html = drift_html(drift)
    assert "The 12 worst of 1500 tensors" in html and html.index("layer900") < html.index(
        "Around the first bad node")


def test_the_session_report_says_inconclusive_not_failed(tmp_path) -> None:
    from workbench.app.session.session import WorkbenchSession

    session = WorkbenchSession(engines_dir=tmp_path / "engines", work_dir=tmp_path / "out")
    session.load(_tiny_output_model().SerializeToString(), label="tiny.onnx")
    assert session.compare().verdict == "INCONCLUSIVE"
    page = session.report(tmp_path / "report.html").read_text()
    assert "<span class='warn'>INCONCLUSIVE</span>" in page and "FAILED" not in page
    session.close()
