"""Scale: over-2-GiB models through run and compare, memory budgets, the smallest bench rung.

Memory is measured in subprocesses (each step's own peak, ``VmHWM``) and asserted as a
multiple of the FP32 weight bytes; time is never asserted. Models are generated here
(``gpt_like`` / ``make_big_gpt`` of ``sample_models/realistic.py``; zeros where the values
do not matter, written as sparse files) and deleted afterwards.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import pytest

from sample_models.realistic import GPT_LADDER, gpt_like, gpt_param_bytes, make_big_gpt
from workbench.backends.ort import OrtRunner, load_error
from workbench.transforms import external

ROOT = Path(__file__).resolve().parent.parent
BIGMEM_LOCK = Path("/tmp/bigmem.lock")  # the shared machine's rule: > 4 GB runs one at a time

WORKER = r"""
import json, sys
from workbench.app.session.session import WorkbenchSession
from workbench.app.session.run import run_model
from workbench.app.precision.compare import compare_precision
step, model = sys.argv[1], sys.argv[2]
dims = {"batch": 1, "sequence": 16}
out = {}
if step == "session":  # the panel's flow: open, inputs from an .npz, Run (ORT), Compare
    import numpy as np
    session = WorkbenchSession(engines_dir=sys.argv[3], work_dir=sys.argv[3])
    session.load(model)
    feeds = sys.argv[3] + "/ids.npz"
    np.savez(feeds, input_ids=np.arange(16, dtype=np.int64)[None])
    session.use_inputs_file(__import__("pathlib").Path(feeds))
    result = session.run()
    out["outputs"] = {k: list(v.shape) for k, v in result.outputs.items()}
    # outputs only: per-layer drift at scale is the bench's (and the depth test's) to time
    report = compare_precision(model, inputs=session.inputs, per_layer=False,
                               backend="numpy")
    # zeros as weights: every output is constant, so the verdict is INCONCLUSIVE; the
    # metrics themselves must still pass (the path ran, and FP16 matched FP32)
    out["passed"] = report.outputs.passed
    out["verdict"] = report.verdict
    out["layers"] = 0
elif step == "run":  # token ids of a GPT: the run alone is measured, not a feed generator
    import numpy as np
    run_model("onnxruntime", model, {"input_ids": np.arange(16, dtype=np.int64)[None]})
elif step == "open":  # the panel's first step: open the file (inspect) and parse triage
    session = WorkbenchSession(engines_dir=sys.argv[3], work_dir=sys.argv[3])
    session.load(model)
    out["parsed"] = session.diagnose().parsed
elif step == "fold":  # the Parse tab's fold and the Model tab's freeze: a copy is written
    from workbench.transforms.folding import fold_constants
    out["folded"] = len(fold_constants(model, out_path=model + ".folded.onnx").folded_nodes)
elif step == "mask-fix":  # the clamped copy is written, then FP32 x2 and the comparison
    from workbench.app.precision.mask_fix import verify_mask_clamp
    fixed = verify_mask_clamp(model, backend="numpy", dims=dims)
    out["fp32_unchanged"] = fixed.fp32_unchanged
    out["layers"] = len(fixed.after.drift.layers)
else:
    report = compare_precision(model, per_layer=step == "compare-layers", backend="numpy",
                               dims=dims)
    out["passed"] = report.passed
    out["layers"] = len(report.drift.layers) if report.drift else 0
from bench.peak_rss import peak_rss  # ROOT is on sys.path in both workers
out["rss"] = peak_rss()
print("RESULT " + json.dumps(out))
"""


def _step(step: str, model: Path, *extra: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", WORKER, step, str(model), *extra],
                          capture_output=True, text=True, env=env, timeout=600, check=False)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stdout[-2000:] + done.stderr[-4000:]
    return json.loads(lines[-1][len("RESULT "):])


@contextlib.contextmanager
def _bigmem() -> Iterator[None]:
    """Hold the shared machine's big-memory lock (skip if someone holds it for 15 min)."""
    if os.environ.get("WORKBENCH_BIGMEM_LOCK") == "0" or not BIGMEM_LOCK.parent.is_dir():
        yield
        return
    with BIGMEM_LOCK.open("a") as handle:
        deadline = time.monotonic() + 900
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.skip(f"{BIGMEM_LOCK} stayed locked for 15 minutes (another "
                                "big-memory job); set WORKBENCH_BIGMEM_LOCK=0 to run anyway")
                time.sleep(2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture()
def scratch(tmp_path: Path) -> Iterator[Path]:
    """A folder whose gigabytes are removed as soon as the test ends (not kept by pytest)."""
    folder = tmp_path / "scale"
    folder.mkdir()
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_model_over_2_gib_goes_through_run_and_compare(scratch: Path) -> None:
    model = make_big_gpt(scratch)
    weights = sum(p.stat().st_size for p in scratch.glob("*.data"))
    assert weights > 2**31  # over protobuf's limit: only a path with external data works
    (scratch / "work").mkdir()
    with _bigmem():
        result = _step("session", model, str(scratch / "work"))
    assert result["outputs"] == {"logits": [1, 16, 50257]}  # from the .npz given
    assert result["passed"] is True and result["verdict"] in ("PASSED", "INCONCLUSIVE")
    assert result["rss"] <= 3.0 * weights, result["rss"] / weights


@pytest.mark.slow
def test_memory_budgets_on_the_middle_rung(scratch: Path) -> None:
    """The issue's budgets on the 124M rung: run ≤ 1.5×, compare ≤ 2.5×, per-layer ≤ 3×.

    Per-layer drift is held to the outputs-only budget: it does everything the
    outputs-only comparison does, and more (bench/scale_bench.py measures both). So is
    the mask fix, which adds a written copy and two FP32 runs to the per-layer comparison."""
    shape = GPT_LADDER["gpt_120m"]  # weights inside the .onnx (0.5 GB), as torch exports it
    model = gpt_like(scratch, shape.layers, shape.d_model, shape.heads, shape.vocab, shape.seq,
                     fill="zeros")
    ratios = {step: _step(step, model, str(scratch))["rss"] / gpt_param_bytes(shape)
              for step in ("open", "run", "compare-layers", "mask-fix")}
    # inline weights: reading the file and parsing it is 2x (onnx.load); the parser's own
    # copy is TensorRT's. It was 8.3x before the session stopped keeping the bytes and
    # diagnose stopped handing the weights to shape inference.
    assert ratios["open"] <= 3.0, ratios
    assert ratios["run"] <= 1.5, ratios
    assert ratios["compare-layers"] <= 2.5, ratios
    assert ratios["mask-fix"] <= 2.5, ratios


@pytest.mark.slow
def test_folding_an_external_data_model_keeps_its_weights_external(scratch: Path) -> None:
    """The copy keeps the large weights in its own .data file, written one tensor at a time
    (it was one inline file, serialized in memory: 5.3x here, and impossible over 2 GiB)."""
    model = gpt_like(scratch, 2, 512, 8, 50257, 128, name="g", fill="zeros", external=True)
    weights = (scratch / "g.onnx.data").stat().st_size
    result = _step("fold", model, str(scratch))
    folded = scratch / "g.onnx.folded.onnx"
    assert folded.stat().st_size < 1 << 20  # the graph only
    # the weights, less the few small tensors that stay inline
    assert (scratch / "g.onnx.folded.onnx.data").stat().st_size > 0.99 * weights
    assert result["rss"] / weights <= 3.0, result["rss"] / weights


@pytest.mark.slow
def test_per_layer_drift_memory_does_not_grow_with_depth(scratch: Path) -> None:
    """12 and 36 layers: each extra layer costs about its weights' worth of memory (FP32
    memory-mapped plus FP16), never its activations kept for the whole graph."""
    rss, weights = {}, {}
    for depth in (12, 36):
        model = gpt_like(scratch, depth, 384, 6, 512, 128, name=f"gpt{depth}", fill="zeros",
                         external=True)
        result = _step("compare-layers", model)
        assert result["layers"] > 30 * depth
        rss[depth] = result["rss"]
        weights[depth] = sum(p.stat().st_size for p in scratch.glob(f"gpt{depth}.onnx.data"))
    extra = (rss[36] - rss[12]) / (weights[36] - weights[12])
    assert extra <= 2.0, f"{extra:.2f}× the extra weight bytes per extra layer"


@pytest.mark.slow
def test_smallest_bench_rung_runs_every_step() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "scale_bench.py"),
                           "--rungs", "gpt_10m"], capture_output=True, text=True, env=env,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for step in ("inspect", "diagnose", "fold", "build", "run", "compare", "compare-layers",
                 "mask-fix"):
        assert f"\n  {step} " in done.stdout
    assert "bare TensorRT build" in done.stdout and "budgets" in done.stdout


def test_in_memory_model_with_large_inline_weights_is_staged_and_cleaned_up(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = gpt_like(tmp_path, 1, 64, 4, 256, 32, external=True)
    model = onnx.load(path)  # weights now inline in the proto
    monkeypatch.setattr(external, "INLINE_LIMIT", 1024)
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    feeds = {"input_ids": np.arange(8).reshape(1, 8)}
    with OrtRunner(model) as runner:
        staged = list(temp.glob("workbench-staged-*/*.data"))
        assert staged, "a large in-memory model is written with external data first"
        out = runner.infer(feeds)["logits"]
    with OrtRunner(path) as reference:
        assert np.array_equal(out, reference.infer(feeds)["logits"])
    assert not any(p.exists() for p in staged)
    assert model.graph.initializer[0].HasField("raw_data")  # the caller's model untouched


def test_ort_load_errors_name_the_real_cause() -> None:
    class EncodeError(Exception):
        pass

    size = load_error(EncodeError("Failed to serialize proto: message larger than 2GB"))
    assert "2 GiB" in size.summary and "save_as_external_data=True" in size.message
    custom = load_error(RuntimeError("Fatal error: acme:Frob(-1) is not a registered "
                                     "function/op"))
    assert "custom-op library" in custom.message and "2 GiB" not in custom.message


def test_compare_reports_its_phases_and_steps(sample) -> None:
    from workbench.app.precision.compare import compare_precision

    seen: list[tuple[str, int, int]] = []
    compare_precision(sample("transformer_block"), backend="numpy",
                      on_progress=lambda *step: seen.append(step))
    phases = list(dict.fromkeys(phase for phase, _, _ in seen))
    assert phases[0] == "running the FP32 reference (ONNX Runtime)"
    assert "per-layer drift" in phases
    done, total = next((d, t) for p, d, t in reversed(seen) if p == "per-layer drift")
    assert done == total > 10


def test_busy_status_shows_phase_steps_and_elapsed_time() -> None:
    import ipywidgets as widgets

    from workbench.app.session.tasks import Task
    from workbench.ui.common import busy_while

    changes: list[Task] = []
    release = threading.Event()
    task = Task("comparing precisions", on_change=changes.append)
    task.start(lambda: release.wait(30))
    try:
        task.report("per-layer drift", 120, 780)
        status = widgets.HTML()
        busy_while(task, [], status)
        assert "comparing precisions" in status.value
        assert "per-layer drift 120/780" in status.value
        assert "<progress" in status.value and " s" in status.value
        assert changes[-1] is task
        heard = len(changes)
        deadline = time.monotonic() + 10  # the heartbeat: views hear once a second
        while len(changes) == heard and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(changes) > heard and task.busy
    finally:
        release.set()
        assert task.join(10)


def test_fp16_build_from_a_path_converts_weights_into_a_temporary_folder(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from workbench.backends.trt.build import build_engine
    from workbench.settings.settings import BuildSettings

    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    path = gpt_like(tmp_path, 1, 64, 4, 256, 512, external=True)
    artifact = build_engine(path, BuildSettings(precision="fp16"))
    assert artifact.card.strongly_typed and artifact.card.settings.precision == "fp16"
    assert len(artifact.plan) > 0
    assert not list(temp.glob("workbench-*")), "the converted model's folder is removed"


def test_large_plans_are_saved_and_checked_in_the_background(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sample) -> None:
    from ui_support import make_panel

    from workbench.ui.build import engines_tab

    monkeypatch.setattr(engines_tab, "BACKGROUND_BYTES", 0)  # every plan counts as large
    panel = make_panel(tmp_path, sample("mlp_dynamic_batch"))
    panel.build.build_button.click()
    panel.session.wait_build(60)
    engines = panel.engines
    engines.name.value = "big"
    engines.save_button.click()
    task = panel.session.tasks["engines"]
    assert task.name == "saving the engine" and task.join(60)
    assert (tmp_path / "engines" / "big.engine").exists()
    assert "Saved" in engines.status.value and engines.listing.value == "big"
    engines.reload_button.click()
    assert task.name == "reloading and checking the engine" and task.join(60)
    assert "SHA-256 matches" in engines.verdict.value
    panel.close()
