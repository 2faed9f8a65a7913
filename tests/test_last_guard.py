"""The last guard: an exception the workbench did not raise on purpose is shown as a
workbench bug (never a raw traceback), and the panel's Bug bundle zips its traceback.

The bug is injected by replacing one workbench function with one that raises a plain
Python error: what is under test is the guard around every flow, not that function.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from ui_support import make_panel

import workbench.inspection.summary as summary_module
from workbench.cli import main
from workbench.core.errors import WorkbenchBug


def _boom(*_args: object, **_kwargs: object) -> None:
    raise KeyError("a key nobody expected")


def test_cli_says_a_bug_is_a_bug(monkeypatch: pytest.MonkeyPatch, samples_dir: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(summary_module, "inspect_model", _boom)
    code = main(["inspect", str(samples_dir / "tiny_cnn.onnx")])
    err = capsys.readouterr().err
    assert code == 3
    assert err.startswith("error: This is a workbench bug: an unexpected error while running "
                          "`trt-workbench inspect`.")
    assert "found:    KeyError: 'a key nobody expected'" in err
    assert "what to do: report it to the workbench" in err
    assert "| Traceback (most recent call last):" in err  # the trace only as details


def test_panel_bug_enables_the_bug_bundle_which_zips_the_traceback(
        tmp_path: Path, samples_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    panel = make_panel(tmp_path, samples_dir / "tiny_cnn.onnx")
    session = panel.session
    assert panel.share.bundle_button.disabled  # the model parses and builds: no failure
    import workbench.app.session.parts.runs as session_module

    monkeypatch.setattr(session_module, "run_model", _boom)
    panel.run.run_button.click()
    assert session.tasks["run"].join(60) and session.tasks["run"].state == "failed"
    bug = session.last_bug()
    assert isinstance(bug, WorkbenchBug)
    assert "This is a workbench bug" in panel.run.error.value
    assert "Bug bundle" in panel.run.error.value
    assert not panel.share.bundle_button.disabled
    result = session.bundle(tmp_path / "bug.zip")
    assert (result.stage, result.category) == ("workbench", "WORKBENCH_BUG")
    with zipfile.ZipFile(result.path) as archive:
        diagnosis = json.loads(archive.read("diagnosis.json"))
        readme = archive.read("README.md").decode()
        assert archive.read("model.onnx") == (samples_dir / "tiny_cnn.onnx").read_bytes()
    assert any("KeyError" in line for line in diagnosis["traceback"])
    assert "bug of the workbench itself" in readme
    panel.close()


def test_a_view_that_raises_is_shown_logged_and_bundled(
        tmp_path: Path, samples_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A listener's bug (a view) cannot break the emitting thread; it is logged by the
    workbench.app logger, shown in the panel's error box, and the Bug bundle zips it."""
    panel = make_panel(tmp_path, samples_dir / "tiny_cnn.onnx")
    session = panel.session

    def broken_view(_event: str, _payload: object) -> None:
        raise ZeroDivisionError("a view divided by zero")

    session.on("feeds", broken_view)
    with caplog.at_level("ERROR", logger="workbench.app"):
        session.set_feed_options(session.feed_options)  # emits Event.FEEDS
    assert any("listener of the 'feeds' event failed" in r.message for r in caplog.records)
    assert "This is a workbench bug" in panel.share.error.value
    assert "ZeroDivisionError" in panel.share.error.value
    assert not panel.share.bundle_button.disabled
    assert isinstance(session.last_bug(), WorkbenchBug)
    assert session.bundle(tmp_path / "view.zip").category == "WORKBENCH_BUG"
    panel.close()
