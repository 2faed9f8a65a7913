"""The panel's share row, headless: Export report always, Bug bundle only after a failure."""

from __future__ import annotations

import zipfile
from pathlib import Path

from ui_support import make_panel, wait_until


def test_export_report_writes_next_to_the_work_files(tmp_path: Path, sample) -> None:
    panel = make_panel(tmp_path, sample("tiny_cnn"))
    share = panel.share
    assert not share.report_button.disabled
    assert share.bundle_button.disabled and "needs a failure" in share.bundle_button.tooltip
    share.report_button.click()
    task = panel.session.tasks["share"]
    task.join(60)
    first = tmp_path / "out" / "tiny_cnn.report.html"
    assert task.result == first and "data-section='engine-layers'" in first.read_text()
    wait_until(lambda: "wrote" in share.status.value, what="the status line")
    share.report_button.click()  # a second report never replaces the first
    panel.session.tasks["share"].join(60)
    assert (tmp_path / "out" / "tiny_cnn-2.report.html").exists()
    panel.close()


def test_bug_bundle_button_after_a_parse_failure(tmp_path: Path, sample) -> None:
    panel = make_panel(tmp_path, sample("unsupported_op"))
    share = panel.share
    wait_until(lambda: not share.bundle_button.disabled, what="the bundle button")
    share.bundle_button.click()
    task = panel.session.tasks["share"]
    task.join(60)
    assert task.error is None, task.error
    names = zipfile.ZipFile(tmp_path / "out" / "unsupported_op.bug.zip").namelist()
    assert "model.onnx" in names and "verbose.log" in names
    wait_until(lambda: "bug.zip" in share.status.value, what="the status line")
    panel.close()


def test_no_model_no_share(tmp_path: Path) -> None:
    panel = make_panel(tmp_path)
    assert panel.share.report_button.disabled and panel.share.bundle_button.disabled
    assert panel.share.report_button.tooltip == "load a model first"
    panel.close()
