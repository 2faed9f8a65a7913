"""Buttons reflect state (issue 25): a keep list that made the comparison PASS can be
carried to the build at once, without running the search."""

from __future__ import annotations

from pathlib import Path

from ui_support import make_panel


def test_use_keep_list_enabled_when_keep_and_rerun_passes(tmp_path: Path, sample) -> None:
    panel = make_panel(tmp_path, sample("fp16_overflow"))
    compare, use = panel.compare, panel.compare.search.use_button
    compare.run_button.click()
    assert panel.session.tasks["compare"].join(120)
    assert not panel.session.comparison.passed and use.disabled  # nothing verified yet
    compare.keep_button.click()
    assert panel.session.tasks["compare"].join(120)
    report = panel.session.comparison
    assert report.passed and report.keep_fp32
    assert not use.disabled, "PASSED with a keep list: the list is verified"
    use.click()
    assert panel.build.form.fields["keep_fp32"].value == ", ".join(report.keep_fp32)
    assert "Carried to the Build tab" in compare.search.result.value
    # a later failing comparison without the list withdraws the offer
    compare.keep.value = ""
    compare.run_button.click()
    assert panel.session.tasks["compare"].join(120)
    assert not panel.session.comparison.passed and use.disabled
    panel.close()
