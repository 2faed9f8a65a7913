"""Headless widget tests of the Run, Engines and Compare tabs over a real session."""

from __future__ import annotations

import io
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from ui_support import make_panel

from workbench.app.session.run import OutputStats


def test_run_with_onnx_runtime_shows_seed_and_statistics(tmp_path: Path, sample) -> None:
    panel = make_panel(tmp_path, sample("tiny_cnn"))
    run = panel.run
    run.seed.value = 7
    run.generate_button.click()
    assert "seed 7" in run.inputs.value and panel.session.input_seed == 7
    run.run_button.click()
    assert panel.session.tasks["run"].join(60)
    result = panel.session.outputs
    assert result.backend == "onnxruntime" and result.seed == 7
    assert "logits" in run.outputs.value and "mean" in run.outputs.value
    again = panel.session.make_inputs(7)
    assert all(np.array_equal(again[k], result.inputs[k]) for k in again)
    panel.close()


def test_npz_upload_is_used_and_bad_shapes_are_explained(tmp_path: Path, sample) -> None:
    panel = make_panel(tmp_path, sample("tiny_cnn"))
    buffer = io.BytesIO()
    np.savez(buffer, input=np.zeros((1, 3, 8, 8), np.float32))  # wrong H, W
    data = buffer.getvalue()
    panel.run.upload.value = ({"name": "mine.npz", "type": "", "size": len(data),
                               "content": memoryview(data),
                               "last_modified": datetime.now(timezone.utc)},)
    assert "file mine.npz" in panel.run.inputs.value
    panel.run.run_button.click()
    panel.session.tasks["run"].join(60)
    assert "wb-error" in panel.run.error.value and "axis 2" in panel.run.error.value
    assert "Traceback" not in panel.run.error.value.split("<details>")[0]
    panel.close()


def test_tensorrt_run_says_why_it_cannot_run_here(tmp_path: Path, sample) -> None:
    panel = make_panel(tmp_path, sample("tiny_cnn"))
    ok, _why = panel.session.tensorrt_status()
    panel.run.backend.value = "tensorrt"
    if ok:  # a GPU machine: the note names the GPU
        assert "TensorRT runs on" in panel.run.trt_note.value
        return
    assert "cannot run engines here" in panel.run.trt_note.value
    panel.run.run_button.click()
    panel.session.tasks["run"].join(60)
    assert "TensorRT cannot run engines on this machine" in panel.run.error.value
    assert "ONNX Runtime" in panel.run.error.value
    panel.close()


def test_output_stats_count_nan_and_inf() -> None:
    stats = OutputStats.of("y", np.array([1.0, np.nan, np.inf, 3.0], np.float32))
    assert (stats.nan, stats.inf, stats.min, stats.max) == (1, 1, 1.0, 3.0)


def test_engines_save_list_reload_delete(tmp_path: Path, sample) -> None:
    panel = make_panel(tmp_path, sample("mlp_dynamic_batch"))
    engines = panel.engines
    assert engines.save_button.disabled  # nothing built yet
    panel.build.build_button.click()
    panel.session.wait_build(60)
    assert not engines.save_button.disabled
    engines.name.value = "../escape"
    engines.save_button.click()
    assert "cannot be used as an engine name" in engines.error.value
    engines.name.value = "mlp"
    engines.save_button.click()
    saved = tmp_path / "engines" / "mlp.engine"
    assert saved.exists() and (tmp_path / "engines" / "mlp.engine.json").exists()
    assert engines.listing.options == ("mlp",) and "features" in engines.card.value
    engines.save_button.click()  # again: refused, nothing overwritten
    assert "already exists" in engines.error.value
    engines.reload_button.click()
    loaded = panel.session.loaded_engine
    assert loaded.plan_sha256 == panel.session.artifact.card.plan_sha256
    assert "SHA-256 matches" in engines.verdict.value
    if not loaded.gpu_present:
        assert "no GPU" in engines.verdict.value
    engines.delete_button.click()
    assert "needs confirmation" in engines.error.value and saved.exists()
    engines.confirm.value = True
    engines.delete_button.click()
    assert not saved.exists() and engines.listing.options == ()
    panel.close()


def test_reload_of_a_corrupt_engine_explains(tmp_path: Path, sample) -> None:
    panel = make_panel(tmp_path, sample("tiny_cnn"))
    folder = tmp_path / "engines"
    folder.mkdir()
    (folder / "junk.engine").write_bytes(b"not an engine at all" * 10)
    panel.engines.refresh()
    assert "no card" in panel.engines.card.value
    panel.engines.reload_button.click()
    assert "wb-error" in panel.engines.error.value
    panel.close()


def test_compare_finds_overflow_and_keep_fp32_fixes_it(tmp_path: Path, sample) -> None:
    panel = make_panel(tmp_path, sample("fp16_overflow"))
    compare = panel.compare
    compare.run_button.click()
    assert panel.session.tasks["compare"].join(120)
    report = panel.session.comparison
    assert not report.passed and "FAILED" in compare.verdict.value
    assert report.first_bad_node in compare.drift.value
    assert "background:#ffd6d6" in compare.drift.value  # the first bad node highlighted
    assert bytes(compare.plots.value).startswith(b"\x89PNG")
    assert not compare.keep_button.disabled
    compare.keep_button.click()
    assert panel.session.tasks["compare"].join(120)
    assert panel.session.comparison.passed, panel.session.comparison.summary()
    assert "rms.sqrt" in compare.keep.value and "PASSED" in compare.verdict.value
    assert "compare_precision" in compare.script.value
    panel.close()


def test_compare_tolerance_override_and_bad_text(tmp_path: Path, sample) -> None:
    panel = make_panel(tmp_path, sample("tiny_cnn"))
    compare = panel.compare
    compare.atol.value = "abc"
    compare.run_button.click()
    assert "wb-error" in compare.error.value
    compare.atol.value, compare.rtol.value = "0.5", ""
    tolerances = compare.tolerances()
    assert tolerances.default.atol == 0.5 and tolerances.default.rtol == 1e-2
    panel.close()
