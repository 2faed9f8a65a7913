"""Headless widget tests of what the visual QA pass fixed: labels, defaults, enabled states,
explanations and layout hints that a user sees (over a real WorkbenchSession)."""

from __future__ import annotations

from pathlib import Path

from ui_support import make_panel, wait_until

from workbench.ui.common import png_size, show_png


def test_chooser_shows_the_open_model_without_reloading_it(tmp_path: Path, sample) -> None:
    panel = make_panel(tmp_path, sample("tiny_cnn"))
    assert panel.chooser.picker.value == "tiny_cnn.onnx"
    assert panel.chooser.path.value.endswith("tiny_cnn.onnx")
    assert "load" not in panel.session.tasks  # syncing the picker did not load it again
    panel.close()


def test_model_tab_layout_and_states(tmp_path: Path, sample) -> None:
    panel = make_panel(tmp_path, sample("tiny_cnn"))
    tab = panel.model_tab
    assert "<thead" not in tab.summary.value  # a key/value table, no empty header row
    assert "line-height:1.45" in tab.summary.value  # not ipywidgets' 28 px rows
    width, _height = png_size(bytes(tab.histogram.value)) or (0, 0)
    assert tab.histogram.layout.width == f"{width}px" and tab.histogram.layout.display == ""
    assert tab.details.layout.display == ""
    assert "rows 1–8 of 8 nodes<" in tab.page_label.value
    tab.view_button.click()
    assert tab.view_button.disabled and not tab.stop_button.disabled  # one server at a time
    tab.stop_button.click()
    assert not tab.view_button.disabled and tab.stop_button.disabled
    panel.close()


def test_model_tab_without_a_model_hides_what_cannot_work(tmp_path: Path, sample) -> None:
    panel = make_panel(tmp_path, sample("truncated"))
    tab = panel.model_tab
    assert "No model loaded" in tab.summary.value and "upload" in tab.summary.value
    assert tab.details.layout.display == "none" and tab.histogram.layout.display == "none"
    assert all(c.disabled for c in (tab.search, tab.next_button, tab.view_button))
    panel.close()


def test_show_png_sizes_and_hides_images() -> None:
    import ipywidgets as widgets

    from workbench.ui.model_tab import histogram_png

    image = widgets.Image(format="png")
    show_png(image, b"")
    assert image.layout.display == "none"  # no broken-image icon
    data = histogram_png((("Conv", 3), ("Relu", 1)))
    show_png(image, data)
    assert image.layout.display == "" and image.layout.width == f"{png_size(data)[0]}px"


def test_parse_verdict_wording_and_suggested_repair(tmp_path: Path, sample) -> None:
    panel = make_panel(tmp_path, sample("unsupported_op"))
    parse = panel.parse
    assert "1 problem (unsupported_op)" in parse.verdict.value
    assert "problem(s)" not in parse.verdict.value
    assert parse.reduce_button.button_style == "warning"
    assert parse.fold_button.button_style == ""
    panel.close()


def test_fold_says_what_it_did(tmp_path: Path, sample) -> None:
    panel = make_panel(tmp_path, sample("needs_constant_folding"))
    parse = panel.parse
    before = len(panel.session.model.summary.nodes)
    assert parse.fold_button.button_style == "warning"
    parse.fold_button.click()
    assert panel.session.tasks["fold"].join(120)
    after = len(panel.session.model.summary.nodes)
    assert "folding constants and diagnosing again: done" in parse.status.value
    assert f"({before} → {after} nodes)" in parse.saved.value
    assert "parses all" in parse.verdict.value
    assert parse.diagnose_button.button_style == "primary"  # nothing left to repair
    assert panel.build.parse_warning.value == ""
    panel.close()


def test_build_form_workspace_is_empty_by_default_and_checked(tmp_path: Path, sample) -> None:
    panel = make_panel(tmp_path, sample("tiny_cnn"))
    form, build = panel.build.form, panel.build
    workspace = form.fields["workspace_mib"]
    assert workspace.value == "" and workspace.description == "workspace (MiB)"
    assert "memPoolSize" in workspace.tooltip
    assert form.validate().workspace_mib is None and "memPoolSize" not in build.trtexec.value
    workspace.value = "lots"
    assert form.last_valid is None and build.build_button.disabled
    assert "not a whole number of MiB" in form.errors.value
    workspace.value = "512"
    assert form.last_valid.workspace_mib == 512
    assert "--memPoolSize=workspace:512M" in build.trtexec.value
    assert not build.build_button.disabled
    targets = form.fields["compute_capabilities"]
    assert ("SM 8.6 (Ampere)", "8.6") in [tuple(o) for o in targets.options]
    targets.value = ("8.6",)
    assert form.last_valid.compute_capabilities == ("8.6",)
    panel.close()


def test_build_phase_line_and_log_placeholder(tmp_path: Path, sample) -> None:
    panel = make_panel(tmp_path, sample("tiny_cnn"))
    build = panel.build
    assert "appear here, live, when you press Build" in build.log.view.value
    assert build.parse_warning.value == ""
    build.build_button.click()
    panel.session.wait_build(60)
    wait_until(lambda: "built" in build.phase.value, what="the final phase line")
    assert "<b>built</b> after" in build.phase.value and "phase:" not in build.phase.value
    assert "appear here" not in build.log.view.value
    panel.close()


def test_build_tab_warns_when_the_parser_rejects_the_model(tmp_path: Path, sample) -> None:
    panel = make_panel(tmp_path, sample("unsupported_op"))
    warning = panel.build.parse_warning.value
    assert "parser rejects this model" in warning and "Parse tab" in warning
    panel.close()


def test_build_tab_without_a_model(tmp_path: Path, sample) -> None:
    panel = make_panel(tmp_path, sample("truncated"))
    build = panel.build
    assert build.build_button.disabled
    assert "Load a model" in build.form.valid.value and "valid" not in build.form.valid.value
    assert build.trtexec.value == ""
    panel.close()


def test_run_tab_disables_what_cannot_run(tmp_path: Path, sample) -> None:
    panel = make_panel(tmp_path, sample("tiny_cnn"))
    run = panel.run
    assert not run.run_button.disabled
    ok, _why = panel.session.tensorrt_status()
    run.backend.value = "tensorrt"
    assert run.run_button.disabled is (not ok)
    run.backend.value = "onnxruntime"
    assert not run.run_button.disabled
    panel.close()
    empty = make_panel(tmp_path / "none", sample("truncated"))
    assert empty.run.upload.disabled and empty.run.run_button.disabled
    empty.close()


def test_engines_tab_enabled_states(tmp_path: Path, sample) -> None:
    panel = make_panel(tmp_path, sample("tiny_cnn"))
    engines = panel.engines
    assert engines.save_button.disabled and "build an engine" in engines.save_hint.value
    assert engines.reload_button.disabled and engines.delete_button.disabled
    assert str(tmp_path / "engines") in engines.widget.children[0].value  # absolute folder
    panel.build.build_button.click()
    panel.session.wait_build(60)
    assert not engines.save_button.disabled and engines.save_hint.value == ""
    engines.name.value = "a"
    engines.save_button.click()
    engines.overwrite.value = False
    engines.name.value = "b"
    engines.save_button.click()
    engines.listing.value = "a"
    assert not engines.reload_button.disabled and engines.delete_button.disabled
    engines.reload_button.click()
    assert "SHA-256 matches" in engines.verdict.value
    engines.listing.value = "b"
    assert engines.verdict.value == ""  # the verdict was about "a"
    engines.confirm.value = True
    assert not engines.delete_button.disabled
    engines.delete_button.click()
    assert engines.listing.options == ("a",) and not engines.confirm.value
    assert engines.delete_button.disabled
    panel.close()


def test_compare_tab_hides_empty_results_and_names_the_fix(tmp_path: Path, sample) -> None:
    panel = make_panel(tmp_path, sample("fp16_overflow"))
    compare = panel.compare
    assert compare.results.layout.display == "none"  # no empty headings, no broken images
    compare.run_button.click()
    assert panel.session.tasks["compare"].join(120)
    assert compare.results.layout.display == ""
    assert compare.plots.layout.width.endswith("px")
    assert "Suggested fix: keep <b>rms.square" in compare.verdict.value
    assert compare.keep_button.button_style == "warning"
    assert "rel. error" in compare.drift.value and "atol to pass" in compare.table.value
    compare.keep_button.click()
    assert panel.session.tasks["compare"].join(120)
    assert "PASSED" in compare.verdict.value and "Suggested fix" not in compare.verdict.value
    assert "kept in FP32 ✔" in compare.drift.value
    assert compare.keep_button.disabled and compare.keep_button.button_style == ""
    panel.close()
