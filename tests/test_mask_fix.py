"""The optional mask fix: finfo.min mask constants clamped to -1e4, verified by re-running.

Real ONNX Runtime for FP32, the real FP16 conversion and CPU evaluator for the comparison,
and a real TensorRT-RTX build of the clamped model.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.external_data_helper import set_external_data

from sample_models.fp16_cases import attention_feeds, masked_attention
from workbench.app.precision.compare import compare_precision
from workbench.app.precision.mask_fix import verify_mask_clamp
from workbench.core.errors import ComparisonError, WorkbenchError
from workbench.transforms.mask_clamp import clamp_mask_constants, find_mask_constants

ROOT = Path(__file__).resolve().parent.parent


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def test_only_constants_that_reach_masking_sinks_are_found_and_the_input_is_untouched() -> None:
    model = masked_attention()
    before = model.SerializeToString()
    found = find_mask_constants(model)
    assert [(c.tensor, c.node, c.sinks) for c in found] == [("neg", "mask.min",
                                                             ("attn.softmax",))]
    clamped, clamp = clamp_mask_constants(model)
    assert model.SerializeToString() == before  # a copy is rewritten, never the input
    assert clamp.changed and "to ±10000" in clamp.describe()
    value = next(n for n in clamped.graph.node if n.name == "mask.min").attribute[0].t
    assert numpy_helper.to_array(value) == np.float32(-1e4)
    assert find_mask_constants(clamped) == ()
    for bad in (0.0, 1e5):  # FP16 cannot hold 1e5; 0 would unmask
        with pytest.raises(WorkbenchError, match="cannot stand in") as caught:
            clamp_mask_constants(model, value=bad)
        assert caught.value.fix and repr(bad) in str(caught.value.found)


def test_a_sentinel_that_also_feeds_an_output_is_left_alone() -> None:
    # finfo.min added to the returned tensor: it is data, not a mask
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])
    nodes = [helper.make_node("Add", ["x", "low"], ["y"], name="add_low"),
             helper.make_node("Softmax", ["y"], ["p"], name="softmax")]
    low = numpy_helper.from_array(np.array(np.finfo(np.float32).min, np.float32), "low")
    graph = helper.make_graph(nodes, "not_a_mask", [x], [
        helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4]),
        helper.make_tensor_value_info("p", TensorProto.FLOAT, [2, 4])], [low])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    assert find_mask_constants(model) == ()
    assert clamp_mask_constants(model)[0] is model
    report = compare_precision(model, backend="numpy")
    assert report.mask_constants == () and "optional fix" not in report.summary()
    with pytest.raises(ComparisonError, match="no attention-mask constant"):
        verify_mask_clamp(model)


def test_the_fix_is_offered_then_verified_on_partly_masked_rows() -> None:
    report = compare_precision(masked_attention(), inputs=attention_feeds(), backend="numpy")
    assert report.verdict == "PASSED" and report.benign  # saturating, harmlessly
    assert "optional fix: clamp the attention-mask constant(s) neg" in report.summary()
    assert report.to_dict()["mask_constants"][0]["tensor"] == "neg"
    fixed = verify_mask_clamp(masked_attention(), inputs=attention_feeds(), backend="numpy")
    assert fixed.verified and fixed.status == "verified"
    assert fixed.fp32_unchanged and fixed.fp32_change.outputs[0].max_abs == 0.0
    after = fixed.after
    assert after.verdict == "PASSED" and after.benign == () and after.mask_constants == ()
    assert after.conversion.clamped_values == 0  # nothing left for the converter to saturate
    assert fixed.path is None and "mask fix verified" in fixed.summary()


def test_on_a_fully_masked_row_the_fix_says_it_changes_the_fp32_answer() -> None:
    feeds = attention_feeds(fully_masked_row=True)
    assert compare_precision(masked_attention(), inputs=feeds, backend="numpy").verdict == "FAILED"
    fixed = verify_mask_clamp(masked_attention(), inputs=feeds, backend="numpy")
    assert fixed.after.verdict == "PASSED"  # FP16 now agrees with its own FP32...
    assert not fixed.fp32_unchanged and not fixed.verified  # ...which differs on that row
    assert fixed.status == "changes the FP32 answer"
    assert "every key is masked" in fixed.summary()


@pytest.mark.parametrize("name", ["bert_like", "gpt_like"])
def test_realistic_transformers_clamped_file_is_verified_and_builds(realistic, tmp_path,
                                                                    name) -> None:
    from workbench.backends.trt.build import build_engine
    from workbench.settings.settings import BuildSettings

    model = realistic(name)
    report = compare_precision(model, backend="numpy")
    assert report.verdict == "PASSED" and report.mask_constants
    out = tmp_path / f"{name}.masks-clamped.onnx"
    fixed = verify_mask_clamp(model, out_path=out, backend="numpy")
    assert fixed.verified and fixed.path == out.resolve() and out.exists()
    assert len(fixed.clamp.constants) == len(report.mask_constants)
    again = compare_precision(out, backend="numpy")
    assert again.verdict == "PASSED" and again.benign == () and again.mask_constants == ()
    artifact = build_engine(out, BuildSettings(precision="fp16"))  # real TensorRT-RTX
    assert artifact.conversion.clamped_values == 0 and artifact.card.plan_size > 0


def test_external_data_model_keeps_its_files_and_gets_its_own_copy(realistic, tmp_path) -> None:
    model = onnx.load(realistic("gpt_like"))
    for tensor in model.graph.initializer:  # every float weight external, the masks too
        if tensor.data_type == TensorProto.FLOAT:
            set_external_data(tensor, "gpt.data")
    source = tmp_path / "src"
    source.mkdir()
    onnx.save(model, source / "gpt.onnx")
    before = _digest(source)
    assert [c.tensor for c in compare_precision(source / "gpt.onnx").mask_constants]
    out = tmp_path / "fixed" / "gpt.clamped.onnx"
    out.parent.mkdir()
    fixed = verify_mask_clamp(source / "gpt.onnx", out_path=out)
    assert fixed.verified
    assert _digest(source) == before  # the user's model and weights are untouched
    assert sorted(p.name for p in out.parent.iterdir()) == ["gpt.clamped.onnx",
                                                            "gpt.clamped.onnx.data"]
    with pytest.raises(WorkbenchError, match="already exists"):
        verify_mask_clamp(source / "gpt.onnx", out_path=out)
    with pytest.raises(WorkbenchError, match="cannot replace the model"):
        verify_mask_clamp(source / "gpt.onnx", out_path=source / "gpt.onnx", overwrite=True)
    assert _digest(source) == before


def test_session_and_panel_offer_apply_and_open_the_clamped_model(tmp_path, realistic) -> None:
    from ui_support import make_panel

    panel = make_panel(tmp_path, realistic("bert_like"))
    tab, view = panel.compare, panel.compare.mask_fix
    assert view.widget.layout.display == "none"  # nothing offered before a comparison
    tab.run_button.click()
    assert panel.session.tasks["compare"].join(120)
    assert view.widget.layout.display == "" and not view.apply_button.disabled
    assert "mask_min" in view.offer.value and view.use_button.disabled
    view.apply_button.click()
    assert panel.session.tasks["mask_fix"].join(120)
    fixed = panel.session.mask_fix
    assert fixed.verified and "mask fix verified" in view.result.value
    written = panel.session.derived["masks-clamped"]
    assert written.parent == tmp_path / "out" and written.name == "bert_like.masks-clamped.onnx"
    assert not view.use_button.disabled
    view.use_button.click()
    assert panel.session.tasks["load"].join(60)
    assert panel.session.model is not None and panel.session.model.path == written
    assert view.widget.layout.display == "none"  # a new model: offer gone until compared
    panel.close()


def test_cli_compare_clamp_masks_writes_and_verifies(realistic, tmp_path) -> None:
    out = tmp_path / "bert.clamped.onnx"
    command = [sys.executable, "-m", "workbench.cli", "compare", str(realistic("bert_like")),
               "--clamp-masks", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "mask fix verified" in done.stdout and out.exists()
    refused = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert refused.returncode != 0 and "--overwrite" in refused.stderr
    assert "Traceback" not in refused.stderr


def _constant_of_shape_mask() -> onnx.ModelProto:
    """A torch-style causal mask: ConstantOfShape(finfo.min) → Where(causal, 0, …) → Add."""
    x = helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 4, 4])
    low = numpy_helper.from_array(np.array([np.finfo(np.float32).min], np.float32), "value")
    causal = np.tril(np.ones((4, 4), bool))[None]
    nodes = [
        helper.make_node("ConstantOfShape", ["shape"], ["lowest"], value=low),
        helper.make_node("Where", ["causal", "zero", "lowest"], ["bias"]),
        helper.make_node("Add", ["scores", "bias"], ["masked"]),
        helper.make_node("Softmax", ["masked"], ["probs"], axis=-1),
    ]
    inits = [numpy_helper.from_array(np.array([1, 4, 4], np.int64), "shape"),
             numpy_helper.from_array(causal, "causal"),
             helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])]
    graph = helper.make_graph(nodes, "causal", [x], [helper.make_tensor_value_info(
        "probs", TensorProto.FLOAT, [1, 4, 4])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_constant_of_shape_masks_unnamed_nodes_and_bf16(precision) -> None:
    model = _constant_of_shape_mask()
    report = compare_precision(model, precision, backend="numpy")
    assert [(c.tensor, c.node) for c in report.mask_constants] == [("lowest",
                                                                    "ConstantOfShape_0")]
    fixed = verify_mask_clamp(model, precision, backend="numpy")
    assert fixed.verified and fixed.after.precision == precision
    assert fixed.after.mask_constants == ()


def test_the_session_report_carries_the_verdict_and_the_mask_fix(tmp_path, realistic) -> None:
    from workbench.app.session.session import WorkbenchSession

    session = WorkbenchSession(engines_dir=tmp_path / "engines", work_dir=tmp_path / "out")
    session.load(realistic("gpt_like"))
    session.compare()
    session.clamp_masks()
    page = session.report(tmp_path / "report.html").read_text()
    assert "FP16 vs FP32: <span class='ok'>PASSED</span>" in page
    assert "mask fix verified" in page and "optional fix: clamp" in page
    session.close()
