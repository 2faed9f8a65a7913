"""FP16 comparisons as a multiple of one ONNX Runtime FP32 run (issue 28), and where the time goes.

Used by ``bench/compare_bench.py`` (its default table; ``--profile`` for the breakdown).
Every figure comes from a fresh interpreter, so peak RSS (VmHWM, after the first of the
repeats) is the step's own; wall times are the best of the repeats:

- ``ORT FP32``: ``InferenceSession(path)`` + one run on the feeds (the baseline), measured
  in each step's process, interleaved with its repeats (a busy machine slows both alike);
- ``outputs``: ``compare_precision(per_layer=False)`` on the same feeds;
- ``per-layer``: ``compare_precision()`` (per-layer drift);
- ``keep``: ``find_keep_list`` (its trials, and its time over (trials + 1) outputs-only
  comparisons measured in the same process).

``--before DIR`` runs the same comparison steps with the workbench of another checkout
(e.g. ``git worktree add /tmp/before main``), in the same run, for before/after columns.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

WORKER = r"""
import json, sys, time
root, step, model, feeds_path = sys.argv[1:5]
sys.path.insert(0, root)
import numpy as np
import onnxruntime
feeds = dict(np.load(feeds_path))

def ort_run():  # the baseline: a session from the path and one run, as a user would
    session = onnxruntime.InferenceSession(model)
    session.run(None, feeds)

def outputs_only():
    from workbench.app.precision.compare import compare_precision
    return compare_precision(model, inputs=feeds, per_layer=False, backend="numpy")

def run_step():
    if step == "keep":
        from workbench.app.precision.keep_search import find_keep_list
        result = find_keep_list(model, inputs=feeds, max_trials=12)
        return {"trials": result.trials, "keep": list(result.keep_fp32),
                "verified": result.verified}
    from workbench.app.precision.compare import compare_precision
    report = compare_precision(model, inputs=feeds, per_layer=step == "layers",
                               backend="numpy")
    return {"verdict": report.verdict, "first_bad": report.first_bad_node}

def clear():  # a cold comparison each time: nothing kept from the last repeat
    try:
        from workbench.app.precision import compare_cache
        compare_cache.clear()
    except ImportError:
        pass

def timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value

best = {"wall": float("inf"), "ort": float("inf"), "outputs": float("inf")}
for repeat in range(int(sys.argv[5])):
    # the step first, so that the first repeat's peak RSS is the step's own (VmHWM keeps
    # the highest: a baseline session run before it would count in it)
    wall, extra = timed(run_step)
    clear()
    if repeat == 0:
        sys.path.append(sys.argv[6])  # last: the workbench measured stays the first found
        from bench.peak_rss import peak_rss
        rss = peak_rss()
    best["wall"] = min(best["wall"], wall)
    # the baseline (and, for the keep-list search, one outputs-only comparison) measured in
    # the same process, interleaved with the step: a busy machine slows all of them alike
    best["ort"] = min(best["ort"], timed(ort_run)[0])
    if step == "keep":
        best["outputs"] = min(best["outputs"], timed(outputs_only)[0])
        clear()
print("RESULT " + json.dumps({**best, "rss": rss, **extra}))
"""

STEPS = {"outputs": "outputs-only", "layers": "per-layer", "keep": "keep-list search"}


def _measure(root: Path, step: str, model: Path, feeds: Path, repeats: int) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", WORKER, str(root), step, str(model), str(feeds), str(repeats),
         str(ROOT)], capture_output=True, text=True, check=False)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-12:])
        raise SystemExit(f"{step} failed on {model.name} with {root}:\n{tail}")
    return json.loads(lines[-1][len("RESULT "):])


def _feeds(model: Path, folder: Path, dims: dict[str, Any]) -> Path:
    import numpy as np

    if "feeds" in dims:  # given (a real export's hand-written inputs)
        return Path(dims["feeds"])

    from workbench.app.precision.compare import model_feeds_for
    from workbench.feeds.generator import FeedOptions
    from workbench.inspection.loading import load_model

    feeds = model_feeds_for(load_model(model, load_weights=False), None, 0, FeedOptions(dims))
    path = folder / f"{model.stem}.feeds.npz"
    np.savez(path, **feeds)
    return path


def ratio_table(models: list[tuple[str, Path, dict[str, Any]]], before: Path | None,
                steps: tuple[str, ...], repeats: int, say: Callable[[str], None] = print
                ) -> list[dict]:
    """Measure and print; returns the rows (for --json). Each side's ratio is to the ORT
    FP32 run measured in the same process, interleaved with its repeats (the ORT column
    shows the after side's, the lowest over its steps)."""
    rows = []
    sides = [("after", ROOT)] + ([("before", before)] if before else [])
    head = f"{'model':<18}{'weights':>9}{'ORT FP32':>10}  {'step':<17}" + "".join(
        f"{'× ORT ' + side:>13}{'s':>8}{'peak ×W':>9}" for side, _ in sides)
    head += "  verdict / first bad node"
    say(head)
    with tempfile.TemporaryDirectory(prefix="compare-ratio-") as tmp:
        for name, model, dims in models:
            feeds = _feeds(model, Path(tmp), dims)
            weights = _weight_bytes(model)
            row: dict[str, Any] = {"model": name, "weight_bytes": weights, "steps": {}}
            for step in steps:
                results = {side: _measure(root, step, model, feeds, repeats)
                           for side, root in sides}
                row["steps"][step] = results
                say(_line(name, weights, step, results, sides))
            rows.append(row)
    return rows


def _line(name: str, weights: int, step: str, results: dict,
          sides: list[tuple[str, Path]]) -> str:
    after = results["after"]
    text = f"{name:<18}{weights / 2**20:>7.0f}MB{after['ort']:>9.3f}s  {STEPS[step]:<17}"
    for side, _ in sides:
        r = results[side]
        text += (f"{r['wall'] / r['ort']:>12.1f}×{r['wall']:>8.2f}"
                 f"{r['rss'] / max(weights, 1):>9.2f}")
    if step == "keep":
        for side, _ in sides:
            r = results[side]
            budget = (r["trials"] + 1) * r["outputs"]
            text += (f"  [{side}] {r['trials']} trials, keep {r['keep'] or 'nothing'}"
                     f"{'' if r.get('verified', True) else ' (NOT verified)'}; "
                     f"outputs-only {r['outputs']:.2f} s, search / ((trials + 1) × outputs-only)"
                     f" = {r['wall']:.2f} / {budget:.2f} = {r['wall'] / budget:.2f}")
    else:
        same = all(results[s].get("verdict") == after.get("verdict") and
                   results[s].get("first_bad") == after.get("first_bad") for s in results)
        text += (f"  {after['verdict']} / {after['first_bad'] or 'none'}"
                 + ("" if same else "  (DIFFERS from before!)"))
    return text


CACHE_NOTE = (
    "Cold comparisons: before every repeat compare_cache.clear() drops what comparisons of "
    "one file share (converted weights, FP32 outputs); what stays "
    "across repeats is process-wide and model-independent: imports, operator schemas and "
    "their slot parameters (lru_cache), ONNX Runtime's environment (the baseline's too). "
    "The first repeat (imports) counts only through best-of-N. A keep-list search keeps "
    "its own cache between its trials, as a user's would.")


def _weight_bytes(model: Path) -> int:
    import numpy as np
    import onnx

    from workbench.transforms.external import staged_model

    with staged_model(model) as staged:
        return sum(int(np.prod(t.dims, dtype=np.int64)) * 4 for t in staged.model.graph.initializer
                   if t.data_type == onnx.TensorProto.FLOAT)


CATEGORIES = (  # (label, predicate on "file:function") — cumulative times, main thread only
    ("FP16/BF16 conversion (graph walk + check)", lambda f: f.endswith(
        "fp16.py:convert_precision")),
    ("  of which ONNX type inference", lambda f: f.endswith("shape_inference.py:infer_shapes")),
    ("weights to FP16/BF16 (round_to)", lambda f: f.endswith("compare_cache.py:_convert")),
    ("reading the model / staging", lambda f: f.endswith((
        "external.py:staged_model", "external_data.py:external_weight"))),
    ("ORT session + FP32 run", lambda f: f.endswith(("ort.py:_activate_impl",
                                                     "ort.py:_infer_impl"))),
    ("onnx.reference evaluator set-up", lambda f: f.endswith(
        "reference_evaluator.py:__init__")),
    ("FP16 evaluation (outputs-only)", lambda f: f.endswith("layerwise.py:candidate_outputs")),
    ("FP32 + FP16 evaluation in step (per-layer)", lambda f: f.endswith(
        "layerwise.py:layer_drift")),
    ("  of which drift figures", lambda f: f.endswith(("drift.py:add",
                                                       "drift.py:range_issues"))),
    ("evaluator FP32 check against ORT", lambda f: f.endswith(
        "reference_check.py:check_reference")),
)


def profile_table(model: Path, dims: dict[str, Any], say: Callable[[str], None] = print) -> None:
    """Where the time of each comparison goes (cProfile, this process, after a warm-up)."""
    import cProfile
    import pstats
    import time

    from workbench.app.precision.compare import compare_precision

    with tempfile.TemporaryDirectory() as tmp:
        feeds = dict(__import__("numpy").load(_feeds(model, Path(tmp), dims)))
    compare_precision(model, inputs=feeds, per_layer=False, backend="numpy")  # imports
    say(f"{'where the time goes (cumulative s)':<40}{'outputs-only':>14}{'per-layer':>11}")
    columns = []
    for per_layer in (False, True):
        _clear_cache()
        profiler = cProfile.Profile()
        start = time.perf_counter()
        profiler.runcall(compare_precision, model, inputs=feeds, per_layer=per_layer,
                         backend="numpy")
        wall = time.perf_counter() - start
        stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
        totals = {}
        for label, match in CATEGORIES:
            totals[label] = sum(v[3] for (file, _, func), v in stats.items()
                                if match(f"{file}:{func}"))
        totals["total (wall)"] = wall
        columns.append(totals)
    for label in columns[0]:
        say(f"{label:<40}{columns[0][label]:>14.3f}{columns[1][label]:>11.3f}")


def _clear_cache() -> None:
    try:  # (the code before issue 28 kept nothing)
        from workbench.app.precision import compare_cache
    except ImportError:
        return
    compare_cache.clear()


def profile_in(root: Path, model: Path, dims: dict[str, Any]) -> str:
    """:func:`profile_table` with the workbench of ``root``, in a fresh interpreter."""
    done = subprocess.run([sys.executable, __file__, str(root), str(model),
                           json.dumps(dims, default=str)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"profiling failed with {root}:\n{done.stdout[-2000:]}"
                         f"{done.stderr[-2000:]}")
    return done.stdout


if __name__ == "__main__":  # profile_in's worker: argv = root, model, dims (JSON)
    sys.path.insert(0, sys.argv[1])
    import warnings

    warnings.simplefilter("ignore")
    profile_table(Path(sys.argv[2]), json.loads(sys.argv[3]))
