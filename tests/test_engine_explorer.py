"""The engine explorer (issue 14): per-layer precision and formats, the keep-FP32 check,
compare two engines, the engine as a graph. Real TensorRT-RTX builds without a GPU; the
text formats of other TensorRT versions (whose builds cannot run here) are parsed from
samples of what they print, and say so.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from ui_support import make_panel, wait_until

import workbench
from workbench.backends.trt.layers import layer_from_json, layers_from_log, normalise_dtype
from workbench.cli import main
from workbench.engines.card import EngineCard, EngineLayerInfo, EngineTensorInfo
from workbench.engines.compare import compare_cards
from workbench.engines.drawing import engine_graph, engine_graph_dot, engine_graph_svg
from workbench.engines.layer_report import check_keep_fp32, precision_map
from workbench.ui.build.layers import HEADER, layers_html

RMS_KEEP = ("rms.square", "rms.mean", "rms.add_eps", "rms.sqrt")


@pytest.fixture(scope="module")
def fp32(sample) -> workbench.EngineArtifact:
    return workbench.build_engine(sample("transformer_block"))


@pytest.fixture(scope="module")
def fp16(sample) -> workbench.EngineArtifact:
    return workbench.build_engine(sample("transformer_block"),
                                  workbench.BuildSettings(precision="fp16"))


def test_layers_of_a_real_build_carry_types_dims_and_formats(fp32, fp16) -> None:
    gemm = next(x for x in fp16.card.layers if "attn.q_proj" in x.onnx_nodes)
    assert gemm.precision == "FP16" and gemm.layer_type == "gemm"
    tensor = gemm.inputs[0]
    assert tensor.dtype == "FP16" and -1 in tensor.shape and "Row major" in tensor.format
    assert precision_map(fp16.card.layers).get("FP16", 0) >= 4
    assert "FP16" not in precision_map(fp32.card.layers)
    assert precision_map(fp32.card.layers).get("FP32", 0) >= 4
    # the card keeps them: saved and read back, the types are still there
    again = EngineCard.from_dict(json.loads(fp16.card.to_json()))
    assert again.layers == fp16.card.layers


def test_cards_written_before_types_still_load() -> None:
    old = {"name": "conv1", "layer_type": "kgen", "tactic": "t", "onnx_nodes": ["conv1"],
           "inputs": ["input"], "outputs": ["c1"]}
    layer = EngineLayerInfo.from_dict(old)
    assert layer.inputs == (EngineTensorInfo("input"),) and layer.precision == ""


def test_trt10_and_trt8_log_lines_parse_with_types() -> None:
    """Sample lines as TensorRT 10 and 8 print them (this machine has TensorRT-RTX only)."""
    lines = [
        "Engine Layer Information:\n"
        "Layer(CaskConvolution): conv1 + relu1, Tactic: 0x4727434768e46395, "
        "input[Float(1,1,28,28)] -> (Unnamed Layer* 1) [Activation]_output[Half(1,32,28,28)]\n"
        "Layer(CaskConvolution): /delta/Conv, Tactic: 0x01, hidden (Float[-1,128,43,77]), "
        "skip (Float[-1,128,43,77]) -> delta (Float[-1,2,43,77])"]
    first, second = layers_from_log(lines)
    assert first.name == "conv1 + relu1" and first.precision == "FP32→FP16"
    assert first.outputs[0].name == "(Unnamed Layer* 1) [Activation]_output"
    assert first.outputs[0].shape == (1, 32, 28, 28)
    assert [t.name for t in second.inputs] == ["hidden", "skip"]
    assert second.precision == "FP32" and second.inputs[0].shape == (-1, 128, 43, 77)


def test_engine_inspector_json_of_trt10_and_rtx() -> None:
    """EngineInspector's JSON as TensorRT 10 documents it ("Format/Datatype"), and RTX's
    split "Datatype"/"Format" (as in its build log). Reading it needs a GPU; parsing not."""
    trt10 = {"Name": "conv + bn", "LayerType": "CaskConvolution",
             "Inputs": [{"Name": "x", "Location": "Device", "Dimensions": [16, 512, 28, 28],
                         "Format/Datatype": "Thirty-two wide channel vectorized row major "
                                            "Int8 format"}],
             "Outputs": [{"Name": "y", "Location": "Device", "Dimensions": [16, 256, 28, 28],
                          "Format/Datatype": "Channel major FP16 format where channel % 8 "
                                             "== 0"}],
             "TacticValue": "0x0000000000000000", "Metadata": "[ONNX Layer: conv][ONNX Layer: bn]"}
    layer = layer_from_json(trt10)
    assert layer.precision == "INT8→FP16" and layer.onnx_nodes == ("conv", "bn")
    assert layer.outputs[0].format.startswith("Channel major")
    rtx = {"Name": "g", "LayerType": "gemm", "Inputs": [
        {"Name": "a", "Dimensions": [-1, 64], "Datatype": "Half", "Format": "(Linear) Row "
         "major linear format"}], "Outputs": [], "TacticName": "__myelin_CASK_STUB"}
    assert layer_from_json(rtx).precision == "FP16"
    assert [normalise_dtype(w) for w in ("Float", "DataType.HALF", "BFloat16", "Int64")] == [
        "FP32", "FP16", "BF16", "INT64"]


def test_keep_list_is_checked_on_a_real_fp16_build(sample) -> None:
    artifact = workbench.build_engine(sample("fp16_overflow"), workbench.BuildSettings(
        precision="fp16", keep_fp32=RMS_KEEP))
    check = check_keep_fp32(artifact.card.layers, RMS_KEEP)
    assert check.ok and not check.missing, check.text()
    assert check.text().startswith("keep list honoured")
    # TensorRT-RTX fuses the kept region, with its Casts, into one FP16-in/out kernel
    assert "inside the fused kernel" in check.text() and ".cast_fp32" in check.text()


def test_keep_list_violation_names_the_node_and_layer() -> None:
    half = EngineTensorInfo("t", "FP16", (1, 8))
    layers = (EngineLayerInfo("fused_fp16", "kgen", "", ("a", "rms.sqrt"), (half,), (half,)),
              EngineLayerInfo("fp32", "kgen", "", ("rms.mean",), (half,),
                              (EngineTensorInfo("u", "FP32"),)))
    check = check_keep_fp32(layers, ("rms.sqrt", "rms.mean", "gone"))
    assert not check and check.missing == ("gone",)
    assert check.text() == ("keep list NOT honoured: rms.sqrt runs in FP16 in engine layer "
                            "fused_fp16")


def test_build_result_says_whether_the_keep_list_was_honoured(tmp_path: Path, sample) -> None:
    panel = make_panel(tmp_path, sample("fp16_overflow"))
    form = panel.build.form
    form.fields["precision"].value = "fp16"
    form.fields["keep_fp32"].value = ", ".join(RMS_KEEP)
    panel.build.build_button.click()
    panel.session.wait_build(60)
    wait_until(lambda: "Engine built" in panel.build.result.value, what="the build result")
    assert "keep list honoured" in panel.build.result.value
    assert "precision map" in panel.build.result.value
    panel.close()


def test_compare_two_engines_from_their_cards(fp32, fp16) -> None:
    comparison = compare_cards(fp32.card, fp16.card, "fp32", "fp16")
    rows = {r[0]: r for r in comparison.summary}
    assert rows["precision"][1] == "fp32" and rows["precision"][2].startswith("fp16")
    assert comparison.differs(rows["plan size"]) and not comparison.differs(rows["built from"])
    assert ("precision", "fp32", "fp16") in comparison.settings
    fp16_row = next(r for r in comparison.precisions if r[0] == "FP16")
    assert fp16_row[1] == "0" and int(fp16_row[2]) > 0
    q = next(d for d in comparison.nodes if "attn.q_proj" in d.nodes)
    assert (q.a_precision, q.b_precision) == ("FP32", "FP16")
    assert "attn.q_proj" in comparison.text()


def test_cli_compares_engines_and_writes_the_graph(fp32, fp16, tmp_path: Path,
                                                   capsys) -> None:
    a = workbench.save_engine(fp32, tmp_path / "a.engine")
    b = workbench.save_engine(fp16, tmp_path / "b.engine")
    assert main(["engine", str(a), "--compare", str(b)]) == 0
    out = capsys.readouterr().out
    assert "layers by precision" in out and "* precision" in out and "attn.q_proj" in out
    assert main(["engine", str(b), "--layers"]) == 0
    assert "precision map: FP16" in capsys.readouterr().out
    assert main(["engine", str(b), "--graph", str(tmp_path / "b.svg")]) == 0
    assert ET.parse(tmp_path / "b.svg").getroot().tag.endswith("svg")
    assert main(["engine", str(b), "--graph", str(tmp_path / "b.txt")]) == 1
    assert ".svg or .dot" in capsys.readouterr().err


def test_engine_graph_connects_layers_by_tensor(fp16) -> None:
    graph = engine_graph(fp16.card)
    layers = fp16.card.layers
    assert len(graph.nodes) == len(layers) + len(fp16.card.inputs) + len(fp16.card.outputs)
    ids = {ident for ident, _label, _fill in graph.nodes}
    assert all(s in ids and t in ids for s, t, _label in graph.edges)
    assert ("in:token_ids" in {s for s, _t, _l in graph.edges})  # the input feeds a layer
    assert any(t == "out:hidden_states" for _s, t, _l in graph.edges)
    dot = engine_graph_dot(fp16.card)
    assert dot.count("->") == len(graph.edges) and "attn.q_proj" in dot


@pytest.mark.parametrize("use_dot", [True, False], ids=["graphviz", "built-in"])
def test_engine_graph_svg_draws_every_layer(fp16, use_dot: bool) -> None:
    if use_dot and shutil.which("dot") is None:
        pytest.skip("graphviz's dot is not installed (apt-get install graphviz; CI has it)")
    svg = engine_graph_svg(fp16.card, "fp16", use_dot=use_dot)
    root = ET.fromstring(svg)
    text = "".join(root.itertext())
    assert all(f"#{i} " in text for i in range(len(fp16.card.layers)))
    assert "attn.q_proj" in text


def test_engines_tab_compares_and_draws(tmp_path: Path, sample) -> None:
    panel = make_panel(tmp_path, sample("transformer_block"))
    session, tab = panel.session, panel.engines
    for precision in ("fp32", "fp16"):
        session.start_build(dataclasses.replace(session.default_settings(), precision=precision))
        session.wait_build(60)
        tab.name.value = f"tb-{precision}"
        tab.save_button.click()
    tab.listing.value = "tb-fp32"
    assert tab.explorer.compare_with.value == "tb-fp16"
    tab.explorer.compare_button.click()
    html = tab.explorer.output.value
    assert "Engine layers by precision" in html and "attn.q_proj" in html
    tab.explorer.graph_button.click()
    assert "<svg" in tab.explorer.output.value and "attn.q_proj" in tab.explorer.output.value
    panel.close()


def test_layer_table_fits_its_box_important_columns_first(fp16) -> None:
    html = layers_html(fp16.card)
    assert HEADER[:4] == ("#", "precision", "type", "ONNX nodes fused into it")
    assert "table-layout:fixed;width:100%" in html and "overflow-wrap:anywhere" in html
    assert "precision map: FP16" in html


@pytest.mark.parametrize(("name", "precision"), [
    ("bert_like", "fp32"), ("gpt_like", "fp16"), ("paddle_detector", "fp16")])
def test_explorer_on_realistic_models(realistic, name: str, precision: str) -> None:
    artifact = workbench.build_engine(realistic(name),
                                      workbench.BuildSettings(precision=precision))
    layers = artifact.card.layers
    typed = [layer for layer in layers if layer.inputs or layer.outputs]
    assert typed and all(layer.precision for layer in typed)
    assert sum(precision_map(layers).values()) == len(layers)
    wanted = precision.upper()
    assert precision_map(layers).get(wanted, 0) >= len(layers) // 2, precision_map(layers)
    root = ET.fromstring(engine_graph_svg(artifact.card, name, use_dot=False))
    assert len(root.findall("{http://www.w3.org/2000/svg}rect")) == len(
        engine_graph(artifact.card).nodes)
    assert layers_html(artifact.card).count("<tr") == len(layers) + 1
