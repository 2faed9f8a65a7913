"""Headless widget tests of the Parse and Build tabs: real TensorRT-RTX, real builds."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from browser.models import conv_chain
from ui_support import make_panel, wait_until

from workbench.core.logbus import LogRecord


def test_parse_tab_cards_and_islands(tmp_path: Path, sample) -> None:
    panel = make_panel(tmp_path, sample("unsupported_op"))
    parse = panel.parse
    assert "cannot parse" in parse.verdict.value
    assert "FancyActivation" in parse.cards.value and "fixes:" in parse.cards.value
    assert "UNSUPPORTED" in parse.islands.value and "supported" in parse.islands.value
    assert not parse.reduce_button.disabled
    panel.close()


def test_fold_constants_and_retry_button(tmp_path: Path, sample) -> None:
    panel = make_panel(tmp_path, sample("needs_constant_folding"))
    parse = panel.parse
    assert "cannot parse" in parse.verdict.value
    parse.fold_button.click()
    assert parse.fold_button.disabled  # busy while it runs
    assert panel.session.tasks["fold"].join(60)
    assert "parses all" in parse.verdict.value, parse.error.value
    folded = panel.session.derived["folded"]
    assert folded.exists() and folded.parent == tmp_path / "out"
    assert str(folded) in parse.saved.value
    assert "needs_constant_folding.folded.onnx" in panel.title.value
    panel.close()


def test_reduce_button_saves_the_minimal_model_and_says_where(tmp_path: Path, sample) -> None:
    panel = make_panel(tmp_path, sample("unsupported_op"))
    panel.parse.reduce_button.click()
    assert panel.session.tasks["reduce"].join(120)
    reduced = panel.session.derived["reduced"]
    assert reduced.exists() and str(reduced) in panel.parse.saved.value
    assert panel.session.reduction.node_names == ("fancy_activation",)
    panel.close()


def test_build_streams_log_before_the_end_and_shows_the_engine(tmp_path: Path) -> None:
    model = conv_chain(tmp_path / "chain.onnx", layers=120, channels=16)
    panel = make_panel(tmp_path, model)
    build = panel.build
    build.form.fields["log_severity"].value = "VERBOSE"
    assert "--verbose" in build.trtexec.value or "trtexec" in build.trtexec.value
    first_line: list[float] = []

    def record_first(_event: str, job) -> None:
        if not job.done:
            job.log.subscribe(
                lambda _r: first_line.append(time.time()) if not first_line else None)

    panel.session.on("build", record_first)  # subscribed before job.start()
    build.build_button.click()
    assert build.build_button.disabled and not build.cancel_button.disabled
    artifact = panel.session.wait_build(120)
    job = panel.session.build_job
    assert first_line and first_line[0] < job.finished  # lines arrived while building
    assert job.log.total > 1000
    assert panel.session.artifact is artifact
    wait_until(lambda: build.progress.value == 1.0 and build.progress.bar_style == "success",
               what="the progress bar to reach 100%")
    assert "Engine built" in build.result.value
    assert not build.build_button.disabled and build.cancel_button.disabled
    assert len(build.log.shown_lines()) == build.log.tail
    panel.close()


def test_cancel_cancels_the_build(tmp_path: Path) -> None:
    model = conv_chain(tmp_path / "chain.onnx", layers=400, channels=32)
    panel = make_panel(tmp_path, model)
    build = panel.build
    build.build_button.click()
    job = panel.session.build_job
    wait_until(lambda: job.progress or job.done, what="build progress")
    build.cancel_button.click()
    assert job.join(60)
    assert job.state == "cancelled"
    assert panel.session.artifact is None
    wait_until(lambda: "cancel" in build.error.value.lower(), what="the cancel message")
    assert build.progress.bar_style == "warning"
    panel.close()


def test_profile_editor_validates_live(tmp_path: Path, sample) -> None:
    panel = make_panel(tmp_path, sample("resnet_block"))
    form = panel.build.form
    rows = form.profile_editor.rows
    assert set(rows) == {"image"}
    low, _opt, high = rows["image"]
    assert low.value.startswith("1x3x")  # seeded from [batch, 3, height, width]
    high.value = "0x3x32x32"  # max below min
    assert form.last_valid is None and panel.build.build_button.disabled
    assert "min ≤ opt ≤ max" in form.errors.value
    form.profile_editor.reset_button.click()
    assert form.last_valid is not None
    # Build is enabled once ONNX Runtime has run the profile's shapes (in the background)
    wait_until(lambda: not panel.build.build_button.disabled, what="the profile run")
    assert "✔ settings valid" in form.valid.value
    assert "--minShapes=image:" in panel.build.trtexec.value
    assert "build_serialized_network" in panel.build.python.value
    panel.close()


def test_bad_settings_refused_in_the_form(tmp_path: Path, sample) -> None:
    panel = make_panel(tmp_path, sample("tiny_cnn"))
    form = panel.build.form
    form.fields["keep_fp32"].value = "conv1"  # with fp32: refused by BuildSettings
    assert "keep_fp32 only makes sense" in form.errors.value
    assert panel.build.start() is None
    form.fields["precision"].value = "fp16"
    assert form.last_valid is not None and form.last_valid.keep_fp32 == ("conv1",)
    panel.close()


@pytest.mark.parametrize("severity", ["WARNING", "VERBOSE"])
def test_log_pane_filter_and_search(severity: str) -> None:
    from workbench.core.logbus import LogBus
    from workbench.ui.build.logpane import LogPane

    bus, pane = LogBus("VERBOSE"), LogPane(tail=50)
    pane.attach(bus)
    for index in range(20_000):
        bus.push(("VERBOSE", "INFO", "WARNING")[index % 3], f"line {index}")
    pane.severity.value = severity
    shown = pane.shown_lines()
    assert len(shown) == 50 and shown[-1] in ("line 19997", "line 19999")
    pane.search.value = "line 1999"
    assert all("line 1999" in text for text in pane.shown_lines())
    pane.show_all.value = True
    assert pane.full.layout.display == "" and pane.full.value.count("\n") >= 1
    pane.close()
    assert isinstance(LogRecord(0, "INFO", "x"), LogRecord)
