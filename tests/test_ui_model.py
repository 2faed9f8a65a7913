"""Headless widget tests of the panel shell and the Model tab, over a real session."""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest
from ui_support import make_panel, wait_until

from workbench.app.session import WorkbenchSession
from workbench.ui.model_tab import ModelTab


def all_samples(samples_dir: Path) -> list[str]:
    return sorted(p.name for p in samples_dir.glob("*.onnx"))


def test_workbench_returns_a_widget_and_does_not_display(tmp_path: Path, sample,
                                                         capsys) -> None:
    import ipywidgets as widgets

    panel = make_panel(tmp_path, sample("tiny_cnn"))
    assert isinstance(panel, widgets.VBox)
    assert capsys.readouterr().out == ""  # nothing displayed or printed
    assert [panel.tabs.get_title(i) for i in range(6)] == [
        "Model", "Parse", "Build", "Run", "Engines", "Compare"]
    assert "tiny_cnn.onnx" in panel.title.value
    panel.close()


@pytest.mark.parametrize("name", all_samples(Path(__file__).parent.parent / "sample_models"))
def test_every_sample_loads_into_the_panel_via_the_picker(tmp_path: Path, name: str) -> None:
    panel = make_panel(tmp_path)
    panel.chooser.picker.value = name
    panel.session.tasks["load"].join(60)
    wait_until(lambda: "diagnose" in panel.session.tasks or panel.session.model is None,
               what="the diagnosis to start")
    if "diagnose" in panel.session.tasks:
        assert panel.session.tasks["diagnose"].join(60)
    session = panel.session
    if session.model is None:  # broken on purpose: the error box explains
        assert session.load_error is not None
        assert "wb-error" in panel.error.value and "what to do" in panel.error.value
        assert "could not be loaded" in panel.parse.verdict.value
    else:
        assert panel.model_tab.io_table.value.count("<tr") >= 3
        report = session.diagnosis
        assert report is not None, session.tasks["diagnose"].error
        if report:
            assert "parses all" in panel.parse.verdict.value
        else:
            assert "cannot parse" in panel.parse.verdict.value
            cards = panel.parse.cards.value
            assert cards.count("wb-issue") + cards.count("wb-group") == len(report.groups) >= 1
    assert panel.session.events.listener_errors == 0, panel.session.events.last_listener_error
    panel.close()


def test_io_table_shows_symbolic_dims_and_dtypes(tmp_path: Path, sample) -> None:
    panel = make_panel(tmp_path, sample("transformer_block"))
    table = panel.model_tab.io_table.value
    assert "int64" in table and "batch" in table and "sequence" in table
    assert bytes(panel.model_tab.histogram.value).startswith(b"\x89PNG")
    panel.close()


def test_node_filter_and_paging(tmp_path: Path, sample) -> None:
    panel = make_panel(tmp_path, sample("resnet_block"))
    tab = panel.model_tab
    total = len(panel.session.model.summary.nodes)
    tab.op_filter.value = "Conv"
    assert tab.nodes.value.count("<tr") - 1 == sum(
        1 for n in panel.session.model.summary.nodes if n.op_type == "Conv")
    tab.op_filter.value = "(all ops)"
    tab.search.value = "no-such-node"
    assert f"no node of {total} matches" in tab.page_label.value
    assert "No node matches this filter" in tab.nodes.value
    assert tab.next_button.disabled and tab.prev_button.disabled
    panel.close()


def test_node_table_stays_fast_on_30000_nodes(tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    nodes = [helper.make_node("Relu", [f"t{i}"], [f"t{i + 1}"], name=f"relu_{i}")
             for i in range(30_000)]
    graph = helper.make_graph(
        nodes, "long", [helper.make_tensor_value_info("t0", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("t30000", TensorProto.FLOAT, [1, 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "long.onnx"
    onnx.save(model, path)
    session = WorkbenchSession(work_dir=tmp_path)
    session.load(path)
    tab = ModelTab(session)
    tab.on_model(session.model)
    assert tab.page_count == 600 and tab.nodes.value.count("<tr") == 51
    assert len(tab.nodes.value) < 20_000  # one page of HTML, not 30,000 rows
    tab.search.value = "relu_2999"  # filter + render
    tab.next_button.click()
    assert "rows 1–11 of 11 matching nodes (30,000 in all)" in tab.page_label.value
    assert tab.nodes.value.count("<tr") == 12  # the matches' page only, never 30,000 rows


def test_netron_view_and_stop(tmp_path: Path, sample) -> None:
    panel = make_panel(tmp_path, sample("tiny_cnn"))
    tab = panel.model_tab
    tab.view_button.click()
    view = panel.session.graph_view
    assert view is not None and f"src='{view.url}'" in tab.graph.value
    assert not tab.stop_button.disabled
    tab.stop_button.click()
    assert panel.session.graph_view is None and tab.graph.value == ""
    panel.close()


def test_path_field_with_a_missing_file_shows_the_error(tmp_path: Path) -> None:
    panel = make_panel(tmp_path)
    panel.chooser.path.value = str(tmp_path / "nope.onnx")
    panel.chooser.open_button.click()
    panel.session.tasks["load"].join(30)
    assert "Model file not found" in panel.error.value
    assert "Traceback" not in panel.error.value
    panel.close()


def test_open_with_an_empty_path_or_during_a_load_says_why(tmp_path: Path, sample) -> None:
    """A click handler's exception goes to JupyterLab's log console, unseen: show it here."""
    panel = make_panel(tmp_path)
    panel.chooser.path.value = "  "
    panel.chooser.open_button.click()
    assert "No model path to open" in panel.error.value and "type the model" in panel.error.value
    gate = threading.Event()
    panel.session.task("load").start(gate.wait)  # a load that is still running
    try:
        panel.chooser.path.value = str(sample("tiny_cnn"))
        panel.chooser.open_button.click()
        assert "Already loading the model" in panel.error.value, panel.error.value
    finally:
        gate.set()
        panel.session.tasks["load"].join(30)
    panel.close()


def test_upload_loads_bytes(tmp_path: Path, sample) -> None:
    panel = make_panel(tmp_path)
    data = sample("tiny_cnn").read_bytes()
    panel.chooser.upload.value = ({"name": "up.onnx", "type": "", "size": len(data),
                                   "content": memoryview(data),
                                   "last_modified": datetime.now(timezone.utc)},)
    panel.session.tasks["load"].join(30)
    assert panel.session.model is not None and panel.session.model.label == "up.onnx"
    panel.close()
