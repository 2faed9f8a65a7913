"""The panel says what is true, in every corner a visual pass found wrong (issue 14, item 5).

Each test drives the real session / widgets (headless) over real TensorRT-RTX builds.
The tour notebook's "Run All leaves a working panel" is checked in tests/test_notebooks.py.
"""

from __future__ import annotations

import ast
import io
import os
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from browser.models import conv_chain
from ui_support import make_panel, wait_until

import workbench
from workbench.app.jobs import BuildJob
from workbench.backends.trt.progress import REFIT_PHASES, phase_label
from workbench.build.settings import BuildSettings
from workbench.core.errors import BuildCancelled
from workbench.ui.engines_tab import reload_html

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def slow_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A build long enough (~1 s here) to cancel in the middle of TensorRT's work."""
    return conv_chain(tmp_path_factory.mktemp("chain") / "chain.onnx", layers=300,
                      channels=32)


def test_cancel_ends_the_job_at_once_and_the_bar_stops_where_it_was(
        tmp_path: Path, slow_model: Path) -> None:
    panel = make_panel(tmp_path, slow_model)
    build = panel.build
    build.build_button.click()
    job = panel.session.build_job
    wait_until(lambda: job.progress, what="build progress")
    build.cancel_button.click()
    # no waiting: the job has ended when Cancel's handler returns
    assert job.done and job.state == "cancelled" and isinstance(job.error, BuildCancelled)
    assert panel.session.artifact is None and not panel.session.busy
    assert job.fraction < 1.0
    wait_until(lambda: build.progress.description == "cancelled", what="the cancelled bar")
    assert build.progress.value < 1.0 and build.progress.bar_style == "warning"
    assert "cancelled" in build.phase.value and "100%" not in build.progress.description
    job._thread.join(60)  # TensorRT stops at its next step; its result is discarded
    assert job.state == "cancelled" and job.result is None and not job.worker_alive
    assert job.fraction < 1.0  # TensorRT closing its phases did not move the bar to 100%
    panel.close()


def test_phase_never_reads_refit_when_refit_is_off(slow_model: Path) -> None:
    labels: list[str] = []
    raw: list[str] = []
    job = BuildJob(slow_model, BuildSettings(), start=False,
                   on_progress=lambda event: (raw.append(event.phase), labels.append(job.phase)))
    job.start()
    assert job.wait(120) and job.state == "done"
    assert set(REFIT_PHASES) & set(raw), "TensorRT-RTX no longer reports the refit phase"
    assert labels and not any("refit" in label.lower() for label in labels), labels
    assert any(label.startswith("Computing profile costs") for label in labels)


def test_phase_label_skips_hidden_phases_and_shows_steps() -> None:
    path = (("Building engine", 3, 6), ("Computing profile costs", 3, 5),
            ("Determining refit engines", 0, 1))
    assert phase_label(path, REFIT_PHASES) == "Computing profile costs (3/5)"
    assert phase_label(path) == "Determining refit engines"
    assert phase_label(()) == ""


def test_no_createinferbuilder_logger_warning_in_later_builds(sample) -> None:
    """TensorRT warns on a build while another Builder lives (the session's diagnosis keeps
    one) that the new logger "is ignored"; the build still logs to its own logger."""
    from workbench.backends.trt.compat import load_trt
    from workbench.backends.trt.logger import make_logger
    from workbench.core.logbus import LogBus

    trt = load_trt()
    elsewhere = LogBus("VERBOSE")
    alive = trt.Builder(make_logger(trt, elsewhere))  # noqa: F841 (kept alive on purpose)
    job = BuildJob(sample("tiny_cnn"), BuildSettings(log_severity="VERBOSE"))
    assert job.wait(60) and job.state == "done"
    assert not any("createInferBuilder" in line for line in job.log.lines())
    assert job.result is not None and job.result.card.layers  # its own log: layer report
    assert not elsewhere.lines()


def test_fresh_engine_without_gpu_is_unchecked_not_invalid(saved: Path) -> None:
    loaded = workbench.load_engine(saved)
    if loaded.gpu_present:
        pytest.skip("on a GPU TensorRT's validity check gives a real verdict")
    html = reload_html(loaded)
    assert "cannot be checked without a GPU" in html and "INVALID" not in html


def test_uploaded_npz_is_not_called_seeded(tmp_path: Path, sample) -> None:
    panel = make_panel(tmp_path, sample("tiny_cnn"))
    buffer = io.BytesIO()
    np.savez(buffer, input=np.zeros((1, 3, 32, 32), np.float32))
    data = buffer.getvalue()
    panel.run.upload.value = ({"name": "mine.npz", "type": "", "size": len(data),
                               "content": memoryview(data),
                               "last_modified": datetime.now(timezone.utc)},)
    assert "file mine.npz" in panel.run.inputs.value
    assert "same seed" not in panel.run.inputs.value
    panel.run.generate_button.click()
    assert "seed 0" in panel.run.inputs.value and "same seed" in panel.run.inputs.value
    panel.close()


def test_show_all_drops_the_last_200_label(tmp_path: Path, sample) -> None:
    panel = make_panel(tmp_path, sample("tiny_cnn"))
    build = panel.build
    build.form.fields["log_severity"].value = "VERBOSE"
    build.build_button.click()
    panel.session.wait_build(60)
    log = build.log
    wait_until(lambda: "showing the last" in log.status.value, what="the live label")
    log.show_all.value = True
    assert "showing the last" not in log.status.value
    assert "showing all" in log.status.value and log.full.value.count("\n") > log.tail
    log.show_all.value = False
    assert "showing the last" in log.status.value
    panel.close()


def test_engines_tab_lists_only_this_models_engines(tmp_path: Path, sample) -> None:
    panel = make_panel(tmp_path, sample("tiny_cnn"))
    panel.build.build_button.click()
    panel.session.wait_build(60)
    panel.engines.name.value = "cnn"
    panel.engines.save_button.click()
    assert panel.engines.listing.options == ("cnn",)
    panel.session.load(sample("mlp_dynamic_batch"))
    tab = panel.engines
    assert tab.listing.options == () and "cnn" not in tab.card.value
    assert "1 engine of other models not listed" in tab.listing_note.value
    tab.all_models.value = True
    assert tab.listing.options == ("cnn",)
    tab.all_models.value = False
    panel.session.load(sample("tiny_cnn"))
    assert tab.listing.options == ("cnn",) and "Engine card: cnn" in tab.card.value
    panel.close()


def test_saved_engines_follow_the_umask(artifact, tmp_path: Path) -> None:
    previous = os.umask(0o027)
    try:
        path = workbench.save_engine(artifact, tmp_path / "m.engine")
    finally:
        os.umask(previous)
    for written in (path, path.with_name(path.name + ".json")):
        assert written.stat().st_mode & 0o777 == 0o640, oct(written.stat().st_mode)


def _fix_texts(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "fix":
            parts = [n.value for n in ast.walk(node.value)
                     if isinstance(n, ast.Constant) and isinstance(n.value, str)]
            found.append((node.value.lineno, "".join(parts)))
    return found


def test_advice_naming_a_command_also_names_the_panel_button() -> None:
    offenders = []
    for path in sorted((ROOT / "workbench").rglob("*.py")):
        if "cli" in path.parts:
            continue  # the CLI's own advice is for terminal users
        for line, text in _fix_texts(ast.parse(path.read_text())):
            if "trt-workbench " in text and "panel" not in text:
                offenders.append(f"{path.relative_to(ROOT)}:{line}: {text}")
    assert not offenders, "\n".join(offenders)


def test_long_success_lines_and_errors_wrap_instead_of_clipping() -> None:
    """ipywidgets' HTML content is nowrap/overflow-hidden: notes and error boxes must wrap."""
    from workbench.core.errors import WorkbenchError
    from workbench.ui.common import error_html, html_table, note

    long_name = "__myl_CastGathCastMeanSubMulMeanReshReshTranResh_myl0_1" * 3
    for html in (note("✔ Engine built: " + long_name, "ok"),
                 error_html(WorkbenchError("TensorRT could not parse " + long_name,
                                           fix="press Diagnose in the Parse tab")),):
        assert "white-space:normal" in html and "overflow-wrap:anywhere" in html
    # a table never breaks an identifier (issue 25): it wraps at spaces and separators,
    # and its box scrolls sideways instead of clipping
    table = html_table(("name",), [(long_name,)])
    assert "white-space:normal" in table and "overflow-x:auto" in table
