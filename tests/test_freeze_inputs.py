"""Freezing an input that decides an If (the Model tab's "Freeze and open the copy"), on the
Silero-VAD-like corpus model: real folding, a real TensorRT-RTX build of the copy, and the
panel's view over a real session."""

from __future__ import annotations

import hashlib
from pathlib import Path

import onnx
import pytest
from ui_support import make_panel, wait_until

import workbench
from workbench.app.session.session import WorkbenchSession
from workbench.core.errors import WorkbenchError
from workbench.inspection.control_flow import control_flow, freeze_choices


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_choices_are_the_values_the_if_compares_with(realistic, sample) -> None:
    choices = freeze_choices(control_flow(onnx.load(realistic("if_switch"))))
    assert [(c.input, c.values, c.if_node) for c in choices] == [
        ("sr", {"sr": 16000}, "sample_rate_switch")]
    assert choices[0].label() == "sr = 16000 (decides If 'sample_rate_switch')"
    session = WorkbenchSession()
    session.load(sample("tiny_cnn"))
    assert session.freeze_choices() == ()  # no If: nothing offered (and nothing re-read)
    session.close()


def test_session_freezes_opens_the_copy_and_it_builds(realistic, tmp_path) -> None:
    original = realistic("if_switch")
    before = _sha(original)
    session = WorkbenchSession(work_dir=tmp_path / "out")
    session.load(original)
    written = session.freeze_inputs({"sr": 16000})
    assert written == tmp_path / "out" / "if_switch.frozen.onnx"
    assert session.model is not None and session.model.path == written.resolve()
    assert session.derived == {"frozen": written}
    assert _sha(original) == before  # the user's file is never rewritten
    summary = session.model.summary
    assert summary.subgraph_count == 0 and "sr" not in [i.name for i in summary.inputs]
    artifact = workbench.build_engine(written)  # default settings: the folded branch builds
    assert artifact.plan
    session.load(original)
    assert session.freeze_inputs({"sr": 16000}).name == "if_switch.frozen-2.onnx"  # no overwrite
    with pytest.raises(WorkbenchError, match="sr"):
        session.freeze_inputs({"sr": "sixteen thousand"})
    session.close()


def test_model_tab_offers_the_freeze_and_reports_it(realistic, tmp_path) -> None:
    panel = make_panel(tmp_path, realistic("if_switch"))
    view = panel.model_tab.freeze
    assert view.box.layout.display == "" and not view.button.disabled
    assert "decided by the input(s) <b>sr</b>" in view.offer.value
    assert list(view.choice.options) == ["sr = 16000 (decides If 'sample_rate_switch')"]
    view.button.click()
    wait_until(lambda: "Opened" in view.status.value, what="the frozen copy to open")
    assert "if_switch.frozen.onnx" in panel.title.value
    assert "sr = 16000" in view.status.value and "no If/Loop/Scan is left" in view.status.value
    assert view.box.layout.display == "none"  # the copy has no If left to freeze
    assert view.error.value == ""
    panel.close()


def test_another_value_takes_the_other_branch_and_a_word_is_refused(realistic, tmp_path) -> None:
    panel = make_panel(tmp_path, realistic("if_switch"))
    view = panel.model_tab.freeze
    assert view.value.value == "16000"  # prefilled with the value the If compares with
    view.value.value = "sixteen"
    view.button.click()
    assert "Cannot freeze sr to &#x27;sixteen&#x27;" in view.error.value
    assert "a number" in view.error.value
    assert "if_switch.onnx" in panel.title.value and panel.session.derived == {}
    view.value.value = "8000"
    view.button.click()
    wait_until(lambda: "Opened" in view.status.value, what="the frozen copy to open")
    assert "sr = 8000" in view.status.value
    nodes = [node.name for node in panel.session.model.summary.nodes]
    assert any(name.startswith("sample_rate_switch.else_branch") for name in nodes), nodes
    panel.close()
