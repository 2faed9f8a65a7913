"""Headless widget test of the Compare tab's "Quantize (INT8)" section and the Model tab's
quantization table, over a real session."""

from __future__ import annotations

from pathlib import Path

from ui_support import make_panel, wait_until

from sample_models.quant_cases import OUTLIER_BAD_NODE, write_outlier_mlp
from workbench.app.tasks import TaskKind


def _click_and_wait(panel, button) -> None:
    button.click()
    task = panel.session.tasks[TaskKind.QUANTIZE]
    assert task.join(120)
    assert task.error is None, task.error


def test_quantize_compare_exclude_and_open(tmp_path: Path) -> None:
    model = write_outlier_mlp(tmp_path)
    panel = make_panel(tmp_path, model)
    view = panel.compare.quant
    assert not view.quantize_button.disabled and view.compare_button.disabled
    _click_and_wait(panel, view.quantize_button)
    assert (tmp_path / "out" / "outlier_mlp.int8.onnx").exists()
    assert not view.compare_button.disabled
    _click_and_wait(panel, view.compare_button)
    assert "FAILED" in view.result.value and OUTLIER_BAD_NODE in view.result.value
    assert view.plot.layout.display != "none" and view.plot.value[:4] == b"\x89PNG"
    _click_and_wait(panel, view.search_button)
    assert view.exclude.value == OUTLIER_BAD_NODE and "1-minimal" in view.result.value
    _click_and_wait(panel, view.quantize_button)  # with the exclusion: a second file
    assert panel.session.quantized is not None
    assert panel.session.quantized.settings.exclude == (OUTLIER_BAD_NODE,)
    _click_and_wait(panel, view.compare_button)
    assert "PASSED" in view.result.value
    view.open_button.click()
    assert panel.session.tasks[TaskKind.LOAD].join(60)
    wait_until(lambda: "Quantization" in panel.model_tab.io_table.value,
               what="the Model tab's quantization table")
    table = panel.model_tab.io_table.value
    assert "format qdq" in table and "int8" in table and "fc2" in table
    assert panel.session.events.listener_errors == 0, panel.session.events.last_listener_error
    panel.close()
