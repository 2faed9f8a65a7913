"""Graph overlays: parse status, reduced-precision error, keep lists and engine fusion as
marks on nodes; the neighbourhood drawing, the CLI's node data, the report's pictures and
the panel's Graph tab (issue 27)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import onnx
import pytest

from workbench.app.overlays.graph_overlays import available_kinds, overlay_graph
from workbench.app.overlays.overlay import (
    STATUS_COLOURS,
    NodeError,
    OverlayKind,
    error_overlay,
    keep_overlay,
)
from workbench.app.overlays.overlay_graph import (
    MAX_DRAWN,
    OverlayGraph,
    namespace_of,
    namespace_rows,
    neighbourhood_svg,
)
from workbench.app.session.session import WorkbenchSession
from workbench.backends.explorer import explorer_installed
from workbench.cli import main
from workbench.core.errors import BackendUnavailableError, WorkbenchError
from workbench.transforms.naming import name_nodes


@pytest.fixture()
def session(tmp_path: Path) -> WorkbenchSession:
    made = WorkbenchSession(engines_dir=tmp_path / "engines", work_dir=tmp_path / "out")
    yield made
    made.close()


def test_parse_overlay_marks_the_failing_node(session, sample) -> None:
    session.load(sample("unsupported_op"))
    session.diagnose()
    overlay = session.graph_overlay("parse")
    assert overlay.focus == "fancy_activation"
    failing = overlay.mark("fancy_activation")
    assert failing.status == "failing node" and failing.colour == STATUS_COLOURS["failing node"]
    facts = dict(failing.facts)
    assert "FancyActivation" in facts["problem"] and facts["TensorRT says"]
    assert {m.status for m in overlay.marks} == {"failing node", "supported"}
    svg = neighbourhood_svg(overlay_graph(session), overlay)
    assert "wb_status_failing_node" in svg and STATUS_COLOURS["failing node"] in svg
    assert "Plugin not found" in svg or "no built-in layer" in svg  # the facts, as tooltip


def test_clean_model_has_no_focus_and_no_error_kinds(session, sample) -> None:
    session.load(sample("tiny_cnn"))
    assert available_kinds(session) == ()
    with pytest.raises(WorkbenchError, match="Nothing to draw") as caught:
        session.graph_overlay("fp16")
    assert "session.compare('fp16')" in caught.value.message
    session.diagnose()
    overlay = session.graph_overlay("parse")
    assert overlay.focus is None and "every node parses" in overlay.summary
    assert all(m.status == "supported" for m in overlay.marks)
    with pytest.raises(WorkbenchError, match="No overlay called"):
        session.graph_overlay("colours")


def test_fp16_overlay_first_bad_node_and_keep_list(session, sample) -> None:
    session.load(sample("fp16_overflow"))
    session.compare("fp16")
    overlay = session.graph_overlay("fp16")
    assert overlay.focus == "rms.square"
    first = overlay.mark("rms.square")
    assert first.status == "first bad node" and math.isinf(first.value)
    assert any(key == "out of range" and "overflow" in text for key, text in first.facts)
    assert overlay.ranked()[0].node == "rms.square"
    keep = session.graph_overlay("keep")
    suggested = {m.node for m in keep.marks if m.status == "suggested keep"}
    assert {"rms.square", "rms.mean", "rms.add_eps", "rms.sqrt"} <= suggested
    data = overlay.to_node_data("g")  # Model Explorer's shape, JSON-clean (no inf)
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text)["g"]["results"]["rms.square"]["bgColor"] == first.colour


def test_one_error_function_serves_int8() -> None:
    errors = [NodeError("conv1", 0.001, "a"), NodeError("conv2", 0.5, "b"),
              NodeError("mask", 10.0, "m"), NodeError("conv2", 0.2, "b2")]
    overlay = error_overlay("int8", errors, 0.01, first_bad="conv2",
                            benign={"mask": "attention mask"}, not_evaluated=["custom"])
    assert overlay.kind is OverlayKind.INT8 and overlay.focus == "conv2"
    assert overlay.mark("conv2").status == "first bad node"
    assert overlay.mark("conv2").value == 0.5  # a node's worst output
    assert overlay.mark("mask").status == "benign saturation"
    assert overlay.mark("conv1").status == "within threshold"
    assert overlay.mark("custom").status == "not evaluated"
    assert "INT8" in overlay.title


def test_keep_overlay_prefers_the_most_certain_list() -> None:
    overlay = keep_overlay(verified=["a"], by_user=["a", "b"], suggested=["c"],
                           excluded=["d"])
    assert [(m.node, m.status) for m in overlay.marks] == [
        ("a", "kept (verified search)"), ("b", "kept by user"), ("c", "suggested keep"),
        ("d", "excluded")]
    assert len(overlay.mark("a").facts) == 2  # both lists named in its facts


def test_engine_overlay_maps_onnx_nodes_to_layers(session, sample) -> None:
    session.load(sample("transformer_block"))
    session.start_build()
    session.wait_build()
    overlay = session.graph_overlay("engine")
    layer_nodes = {n for layer in session.artifact.layers for n in layer.onnx_nodes}
    assert {m.node for m in overlay.marks} == layer_nodes and layer_nodes
    for mark in overlay.marks:
        facts = dict(mark.facts)
        assert facts["engine layer"].startswith("#") and facts["precision"]
    assert OverlayKind.ENGINE in available_kinds(session)


def test_names_follow_the_naming_rule(realistic) -> None:
    """Unnamed nodes get the names keep lists and drift reports use (``<op>_<index>``)."""
    from workbench.inspection.summary import inspect_model

    path = realistic("quantized_dynamic")
    model = onnx.load(path)
    assert any(not node.name for node in model.graph.node)
    graph = OverlayGraph.from_summary(inspect_model(path))
    assert graph.names == tuple(n.name for n in name_nodes(model).graph.node)
    assert set(graph.unnamed_keys) == {n.name for n in name_nodes(model).graph.node} - {
        n.name for n in model.graph.node}


def test_realistic_corpus_overlays(session, realistic) -> None:
    session.load(realistic("quantized_dynamic"))
    session.diagnose()
    parse = session.graph_overlay("parse")
    assert parse.focus is not None and parse.mark(parse.focus).status == "failing node"
    assert sum(m.status == "failing node" for m in parse.marks) > 5
    session.load(realistic("bert_like"))
    report = session.compare("fp16")
    fp16 = session.graph_overlay("fp16")
    assert fp16.focus == report.first_bad_node
    assert {m.node for m in fp16.marks} >= {layer.node for layer in report.drift.layers}
    assert {m.node for m in fp16.marks if m.status == "benign saturation"} == {
        b.node for b in report.drift.benign}
    rows = namespace_rows(overlay_graph(session), fp16)
    assert 1 < len(rows) < len(overlay_graph(session))
    session.load(realistic("if_switch"))
    graph = overlay_graph(session)
    assert graph.owners  # Convs inside the If branches point at the If node
    assert {graph.ops[i] for i in graph.owners.values()} == {"If"}


def test_neighbourhood_scales_to_10000_nodes(tmp_path: Path) -> None:
    from sample_models.realistic import gpt_like
    from workbench.inspection.summary import inspect_model

    path = gpt_like(tmp_path, layers=295, d_model=8, heads=2, vocab=16, seq=8, name="big")
    graph = OverlayGraph.from_summary(inspect_model(path))
    assert len(graph) > 10_000
    middle = graph.names[len(graph) // 2]
    overlay = error_overlay("fp16", [NodeError(middle, math.inf)], 0.01, first_bad=middle)
    assert len(graph.neighbourhood(middle, hops=50)) == MAX_DRAWN
    svg = neighbourhood_svg(graph, overlay, hops=3)
    assert svg.count("class=\"node wb_node") <= MAX_DRAWN and "wb_status_first_bad_node" in svg
    rows = namespace_rows(graph, overlay)
    assert 12 <= len(rows) <= 300
    assert sum(1 for r in rows if r.worst is not None) == 1


def test_namespaces_of_both_exporters() -> None:
    assert namespace_of("/model/layers.3/self_attn/q_proj/MatMul", 2) == "model/layers.3"
    assert namespace_of("transformer.h.3.attn.c_attn", 2) == "transformer/h.3"
    assert namespace_of("node_Add_18", 2) == "(top level)"


def test_built_in_drawing_without_graphviz(session, sample) -> None:
    session.load(sample("unsupported_op"))
    session.diagnose()
    svg = neighbourhood_svg(overlay_graph(session), session.graph_overlay("parse"),
                            use_dot=False)
    assert svg.startswith("<svg") and "wb_status_failing_node" in svg and "<title>" in svg


def test_cli_writes_node_data_json_and_svg(sample, tmp_path: Path, capsys) -> None:
    out = tmp_path / "overlay.json"
    assert main(["overlay", str(sample("fp16_overflow")), "--kind", "fp16",
                 "-o", str(out)]) == 0
    data = json.loads(out.read_text())
    graph_id, = data
    results = data[graph_id]["results"]
    assert results["rms.square"]["bgColor"] == STATUS_COLOURS["first bad node"]
    assert data[graph_id]["thresholds"]
    assert main(["overlay", str(sample("fp16_overflow")), "--kind", "fp16",
                 "-o", str(out)]) == 1  # never over an existing file
    assert "already exists" in capsys.readouterr().err
    svg = tmp_path / "parse.svg"
    assert main(["overlay", str(sample("unsupported_op")), "-o", str(svg)]) == 0
    assert "wb_status_failing_node" in svg.read_text()
    own = tmp_path / "own.json"
    assert main(["overlay", str(sample("unsupported_op")), "--format", "workbench",
                 "-o", str(own)]) == 0
    assert json.loads(own.read_text())["focus"] == "fancy_activation"


def test_report_shows_the_neighbourhoods(session, sample, tmp_path: Path) -> None:
    session.load(sample("fp16_overflow"))
    session.diagnose()
    session.compare("fp16")
    text = session.report(tmp_path / "fp16.html").read_text()
    assert "wb_status_first_bad_node" in text and "around <b>rms.square</b>" in text
    session.load(sample("unsupported_op"))
    session.diagnose()
    text = session.report(tmp_path / "parse.html").read_text()
    assert "wb_status_failing_node" in text and "around <b>fancy_activation</b>" in text


def test_explorer_missing_says_what_the_extra_adds(session, sample, monkeypatch) -> None:
    from workbench.backends import explorer

    monkeypatch.setattr(explorer, "explorer_installed", lambda: False)
    session.load(sample("unsupported_op"))
    session.diagnose()
    with pytest.raises(BackendUnavailableError) as caught:
        session.start_explorer("parse")
    assert "trt-workbench[explorer]" in caught.value.message


def test_graph_tab_follows_the_session(tmp_path: Path, sample) -> None:
    pytest.importorskip("ipywidgets")
    from workbench.ui.panel import Workbench

    session = WorkbenchSession(engines_dir=tmp_path / "e", work_dir=tmp_path / "o")
    panel = Workbench(sample("fp16_overflow"), session=session)
    try:
        for task in list(session.tasks.values()):
            task.join(60)
        tab = panel.graph
        assert tab.kind.value == "parse"
        session.start_compare().wait(120)
        assert tab.kind.value == "fp16"  # the new overlay is shown
        assert tab.node.value == "rms.square"
        assert "wb_status_first_bad_node" in tab.drawing.value
        assert "relative error" in tab.facts.value
        tab.node.value = "rms.mean"
        assert "rms.mean" in tab.facts.value and "non-finite" in tab.facts.value
        tab.kind.value = "keep"
        assert "suggested keep" in tab.legend.value
    finally:
        panel.close()


def test_overlay_on_external_data_model(session, sample) -> None:
    session.load(sample("external_weights"))
    session.diagnose()
    overlay = session.graph_overlay("parse")
    assert overlay.marks and all(m.status == "supported" for m in overlay.marks)


@pytest.mark.skipif(not explorer_installed(), reason="the [explorer] extra is not installed")
def test_model_explorer_servers_run_side_by_side_and_stop(tmp_path: Path, sample) -> None:
    """Two panels' Model Explorers at once (external data, node data), each stopped by its
    own panel closing; the page is served from 127.0.0.1 only."""
    import urllib.request

    from workbench.ui.panel import Workbench

    panels = []
    for name in ("unsupported_op", "external_weights"):
        session = WorkbenchSession(engines_dir=tmp_path / name, work_dir=tmp_path / name)
        panel = Workbench(sample(name), session=session)
        for task in list(session.tasks.values()):
            task.join(60)
        panels.append(panel)
    views = [panel.session.start_explorer("parse") for panel in panels]
    assert len({view.port for view in views}) == 2
    for view in views:
        assert view.host == "127.0.0.1"
        with urllib.request.urlopen(view.url, timeout=10) as page:
            assert b"Model Explorer" in page.read()
        data = json.loads(Path(view.node_data).read_text())
        assert next(iter(data.values()))["results"]
    processes = [panel.session.graph._explorer._process for panel in panels]
    panels[0].close()
    assert processes[0].poll() is not None  # closed with its panel
    with urllib.request.urlopen(views[1].url, timeout=10):
        pass  # the other one still serves
    panels[1].close()
    assert processes[1].poll() is not None


def test_int8_overlay_from_a_quantized_comparison(session, sample) -> None:
    session.load(sample("tiny_cnn"))
    session.quantize()
    report = session.compare_quantized()
    overlay = session.graph_overlay("int8")
    assert overlay.kind is OverlayKind.INT8 and overlay.focus == report.first_bad_node
    assert {m.node for m in overlay.marks} == {n.node for n in report.nodes}
    facts = dict(overlay.marks[0].facts)
    assert facts["SQNR"].endswith("(threshold 20 dB)") and "reads quantized values" in facts
    session.quantize(exclude=[overlay.marks[0].node])
    keep = session.graph_overlay("keep")
    assert keep.mark(overlay.marks[0].node).status == "excluded"
