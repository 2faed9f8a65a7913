"""FP16 comparisons as a multiple of one ONNX Runtime FP32 run (issue 28), and where the time goes.

Used by ``bench/compare_bench.py`` (its default table; ``--profile`` for the breakdown).
Every figure comes from a fresh interpreter, so peak RSS (VmHWM, after the first of the
repeats) is the step's own; wall times are the best of the repeats:

- ``ORT FP32``: ``InferenceSession(path)`` + one run on the feeds (the baseline);
- ``outputs``: ``compare_precision(per_layer=False)`` on the same feeds;
- ``per-layer``: ``compare_precision()`` (per-layer drift);
- ``keep``: ``find_keep_list`` (its trials and their cost in outputs-only comparisons).

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
best = None
for _ in range(int(sys.argv[5])):
    start = time.perf_counter()
    extra = {}
    if step == "ort":
        session = onnxruntime.InferenceSession(model)
        session.run(None, feeds)
        del session
    elif step == "keep":
        from workbench.app.keep_search import find_keep_list
        result = find_keep_list(model, inputs=feeds, max_trials=12)
        extra = {"trials": result.trials, "keep": list(result.keep_fp32)}
    else:
        from workbench.app.precision import compare_precision
        report = compare_precision(model, inputs=feeds, per_layer=step == "layers",
                                   backend="numpy")
        extra = {"verdict": report.verdict, "first_bad": report.first_bad_node}
    wall = time.perf_counter() - start
    if best is None:  # peak RSS as a user sees it: the first run (later ones only add to it)
        sys.path.append(sys.argv[6])  # last: the workbench measured stays the first found
        from bench.peak_rss import peak_rss
        rss = peak_rss()
    best = wall if best is None else min(best, wall)
    try:  # a fresh comparison each time: nothing kept from the last repeat
        from workbench.app import compare_cache
        compare_cache.clear()
    except ImportError:
        pass
print("RESULT " + json.dumps({"wall": best, "rss": rss, **extra}))
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

    from workbench.app.precision import model_feeds_for
    from workbench.feeds.generator import FeedOptions
    from workbench.inspection.loading import load_model

    feeds = model_feeds_for(load_model(model, load_weights=False), None, 0, FeedOptions(dims))
    path = folder / f"{model.stem}.feeds.npz"
    np.savez(path, **feeds)
    return path


def ratio_table(models: list[tuple[str, Path, dict[str, Any]]], before: Path | None,
                steps: tuple[str, ...], repeats: int, say: Callable[[str], None] = print
                ) -> list[dict]:
    """Measure and print; returns the rows (for --json)."""
    rows = []
    sides = [("after", ROOT)] + ([("before", before)] if before else [])
    head = f"{'model':<14}{'weights':>9}{'ORT FP32':>10}  {'step':<17}" + "".join(
        f"{'× ORT ' + side:>13}{'s':>8}{'peak ×W':>9}" for side, _ in sides)
    head += "  verdict / first bad node"
    say(head)
    with tempfile.TemporaryDirectory(prefix="compare-ratio-") as tmp:
        for name, model, dims in models:
            feeds = _feeds(model, Path(tmp), dims)
            weights = _weight_bytes(model)
            ort = _measure(ROOT, "ort", model, feeds, repeats)
            row = {"model": name, "weight_bytes": weights, "ort": ort, "steps": {}}
            for step in steps:
                results = {side: _measure(root, step, model, feeds, repeats)
                           for side, root in sides}
                row["steps"][step] = results
                say(_line(name, weights, ort, step, results, sides))
            rows.append(row)
    return rows


def _line(name: str, weights: int, ort: dict, step: str, results: dict,
          sides: list[tuple[str, Path]]) -> str:
    text = f"{name:<14}{weights / 2**20:>7.0f}MB{ort['wall']:>9.2f}s  {STEPS[step]:<17}"
    for side, _ in sides:
        r = results[side]
        text += (f"{r['wall'] / ort['wall']:>12.1f}×{r['wall']:>8.2f}"
                 f"{r['rss'] / max(weights, 1):>9.2f}")
    after = results["after"]
    if step == "keep":
        text += f"  {after['trials']} trials, keep {after['keep'] or 'nothing'}"
    else:
        same = all(results[s].get("verdict") == after.get("verdict") and
                   results[s].get("first_bad") == after.get("first_bad") for s in results)
        text += (f"  {after['verdict']} / {after['first_bad'] or 'none'}"
                 + ("" if same else "  (DIFFERS from before!)"))
    return text


def _weight_bytes(model: Path) -> int:
    import numpy as np
    import onnx

    from workbench.transforms.external import staged_model

    with staged_model(model) as staged:
        return sum(int(np.prod(t.dims, dtype=np.int64)) * 4 for t in staged.model.graph.initializer
                   if t.data_type == onnx.TensorProto.FLOAT)


CATEGORIES = (  # (label, predicate on "file:function") — cumulative times, main thread only
    ("weights to FP16/BF16 (round_to)", lambda f: f.endswith("precision_values.py:round_to")),
    ("ndarray.astype copies", lambda f: "method 'astype' of 'numpy.ndarray'" in f),
    ("drift figures (_tensor_drift, range)", lambda f: f.endswith(("drift.py:_tensor_drift",
                                                                   "drift.py:range_issues"))),
    ("cosine_similarity", lambda f: f.endswith("metrics.py:cosine_similarity")),
    ("reading weights / staging", lambda f: f.endswith((
        "external.py:staged_model", "external_data.py:external_weight"))),
    ("ORT session + FP32 run", lambda f: f.endswith(("ort.py:_activate_impl",
                                                     "ort.py:_infer_impl"))),
    ("FP16 evaluation (+FP32 in step)", lambda f: f.endswith((
        "layerwise.py:candidate_outputs", "layerwise.py:layer_drift"))),
)


def profile_table(model: Path, dims: dict[str, Any], say: Callable[[str], None] = print) -> None:
    """Where the time of each comparison goes (cProfile, this process, after a warm-up)."""
    import cProfile
    import pstats
    import time

    from workbench.app.precision import compare_precision

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
        say(f"{label:<40}{columns[0][label]:>14.2f}{columns[1][label]:>11.2f}")


def _clear_cache() -> None:
    try:  # (the code before issue 28 kept nothing)
        from workbench.app import compare_cache
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
