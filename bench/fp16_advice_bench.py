"""FP16 advice: false alarms and keep-list size, the workbench against two baselines.

    .venv/bin/python bench/fp16_advice_bench.py [--no-auto] [--ladder N]

Models: the FP16 samples, the issue-17 reproducers and the attention-mask cases
(``sample_models/fp16_cases.py``), the realistic corpus's transformers and the smallest
rungs of its GPT ladder when ``sample_models/realistic.py`` is present. Per model, in the
same run:

- **workbench**: ``compare_precision`` (verdict, first bad node, benign saturations) and, when
  it fails, ``find_keep_list`` (verified, 1-minimal; trials and time);
- **AutoCast rules** (ModelOpt's ``nodeclassifier``: a node is kept in FP32 when an FP32
  activation it produces exceeds ``data_max`` = 512, or it reads an initializer beyond 65504),
  computed from the same FP32 reference — no mask logic;
- **onnxconverter-common** ``auto_convert_mixed_precision`` (segment search with ONNX
  Runtime, rtol = atol = 1e-2 like the FP16 preset); its CPU kernels compute many FP16 ops in
  FP32, so it can miss activation overflow, and its conversion can produce mixed-type graphs
  ONNX Runtime refuses (shown as "error").

A *false alarm* is advice (a first bad node or a non-empty keep list) on a model whose FP16
comparison passes. Goal: 0 for the workbench.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import io
import resource
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sample_models.fp16_cases import CASES, attention_feeds, masked_attention  # noqa: E402
from workbench.app.precision.compare import compare_precision  # noqa: E402
from workbench.app.precision.keep_search import AUTOCAST_DATA_MAX, find_keep_list  # noqa: E402
from workbench.app.precision.mask_fix import verify_mask_clamp  # noqa: E402
from workbench.inspection.loading import load_model  # noqa: E402

Model = tuple[str, Callable[[Path], onnx.ModelProto], dict[str, np.ndarray] | None]


def _models(folder: Path, ladder: int) -> list[Model]:
    samples = ROOT / "sample_models"
    found: list[Model] = [
        (name, lambda _f, n=name: load_model(samples / f"{n}.onnx"), None)
        for name in ("tiny_cnn", "resnet_block", "transformer_block", "mlp_dynamic_batch",
                     "fp16_overflow")
    ]
    found += [(name, lambda _f, make=make: make(), None) for name, make in CASES.items()]
    found += [("masked_attention", lambda _f: masked_attention(), attention_feeds()),
              ("mask_fully_masked_row", lambda _f: masked_attention(),
               attention_feeds(fully_masked_row=True)),
              ("mask_then_overflow", lambda _f: masked_attention(True), attention_feeds())]
    try:
        from sample_models import realistic
    except ImportError:
        print("(sample_models/realistic.py not present: corpus models skipped)")
        return found
    for name in ("bert_like", "gpt_like", "sklearn_mlp", "jax_classifier"):
        make = getattr(realistic, name)
        found.append((name, lambda f, make=make: load_model(make(f)), None))
    for label, shape in list(realistic.GPT_LADDER.items())[:ladder]:
        found.append((label, lambda f, s=shape, n=label: load_model(realistic.gpt_like(
            f, s.layers, s.d_model, s.heads, s.vocab, s.seq, name=n)), None))
    return found


def _autocast_nodes(model: onnx.ModelProto, report: object) -> set[str]:
    """AutoCast's range rules on the FP32 reference (no benign-saturation logic)."""
    drift = getattr(report, "drift", None)
    picked = set()
    if drift is not None:
        picked |= {t.node for t in drift.layers if t.reference_max_abs > AUTOCAST_DATA_MAX}
        picked |= {i.node for i in drift.out_of_range if i.kind == "overflow"}
        picked |= {b.node for b in drift.benign}
    big = {t.name for t in model.graph.initializer
           if t.data_type == onnx.TensorProto.FLOAT
           and np.abs(numpy_helper.to_array(t)).max(initial=0) > 65504}
    picked |= {n.name for n in model.graph.node if big & set(n.input)}
    return picked


def _auto_mixed(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> tuple[str, float]:
    from onnxconverter_common.auto_mixed_precision import auto_convert_mixed_precision

    began, captured = time.perf_counter(), io.StringIO()
    try:
        with contextlib.redirect_stdout(captured):
            auto_convert_mixed_precision(model, feeds, rtol=1e-2, atol=1e-2, keep_io_types=True)
    except Exception as err:  # its conversion mixes types on some models: ORT refuses them
        return f"error ({type(err).__name__})", time.perf_counter() - began
    done = [line for line in captured.getvalue().splitlines() if line.startswith("Done:")]
    size = len(ast.literal_eval(done[-1][5:].strip())) if done else -1
    return str(size), time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-auto", action="store_true", help="skip onnxconverter-common")
    parser.add_argument("--ladder", type=int, default=1, help="GPT ladder rungs (0–3)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # onnxconverter-common warns per clamped weight
    folder = Path(tempfile.mkdtemp(prefix="fp16-advice-"))
    head = (f"{'model':<24}{'verdict':<13}{'alarm':>6}{'old':>5}{'benign':>7}{'keep':>5}"
            f"{'trials':>7}{'search s':>9}{'AutoCast':>9}{'auto_mixed':>22}{'auto s':>8}"
            f"  {'mask fix (after)':<30}")
    print(head)
    alarms = old_alarms = autocast_alarms = passing = weights = 0
    sizes = {"workbench": 0, "AutoCast rules": 0, "auto_mixed": 0}
    seconds = {"workbench": 0.0, "auto_mixed": 0.0}
    mask_fixes: dict[str, int] = {}
    mask_seconds = 0.0
    for name, make, feeds in _models(folder, args.ladder):
        model = make(folder)
        feeds = feeds if feeds is not None else _feeds(model)
        report = compare_precision(model, inputs=feeds, backend="numpy")
        advice = bool(report.first_bad_node or report.suggested_keep_fp32)
        autocast = _autocast_nodes(model, report)
        old = bool(report.benign)  # before: every benign saturation was an overflow finding
        keep, trials, search_s = "-", "-", "-"
        if report.verdict == "PASSED":
            passing += 1
            alarms += advice
            old_alarms += old or advice
            autocast_alarms += bool(autocast)
        elif report.verdict == "FAILED":
            found = find_keep_list(model, inputs=feeds, start=report)
            keep = str(len(found.keep_fp32)) + ("" if found.verified else "?")
            trials, search_s = str(found.trials), f"{found.seconds:.2f}"
        auto, auto_s = ("-", 0.0)
        if not args.no_auto:
            auto, auto_s = _auto_mixed(model, feeds)
        mask = "-"
        if report.mask_constants:  # the optional fix, applied and verified by re-running
            fixed = verify_mask_clamp(model, inputs=feeds, backend="numpy")
            mask = f"{fixed.status} ({fixed.after.verdict})"
            mask_fixes[fixed.status] = mask_fixes.get(fixed.status, 0) + 1
            mask_seconds += fixed.seconds
        print(f"{name:<24}{report.verdict:<13}{int(advice):>6}{int(old):>5}"
              f"{len(report.benign):>7}{keep:>5}{trials:>7}{search_s:>9}{len(autocast):>9}"
              f"{auto:>22}{auto_s:>8.2f}  {mask:<30}")
        weights = max(weights, sum(t.ByteSize() for t in model.graph.initializer))
        if report.verdict == "FAILED":
            sizes["workbench"] += len(found.keep_fp32)
            sizes["AutoCast rules"] += len(autocast)
            sizes["auto_mixed"] += int(auto) if auto.isdigit() else 0
            seconds["workbench"] += found.seconds
            seconds["auto_mixed"] += auto_s
    print(f"\nfalse alarms on {passing} passing models: workbench {alarms}, before benign "
          f"saturation {old_alarms}, AutoCast rules {autocast_alarms}")
    print("keep-list nodes on the failing models: " + ", ".join(
        f"{k} {v}" for k, v in sizes.items()) + " (auto_mixed: ORT computes FP16 in FP32 "
        "and misses activation overflow, so its lists are not verified against FP16)")
    print(f"search time on the failing models: workbench {seconds['workbench']:.2f} s, "
          f"auto_mixed {seconds['auto_mixed']:.2f} s")
    print(f"mask fix (clamp finfo.min to -1e4, 2 re-runs) on {sum(mask_fixes.values())} "
          "models with mask constants: " + ", ".join(f"{k} {v}" for k, v in
                                                     sorted(mask_fixes.items()))
          + f"; {mask_seconds:.2f} s in all")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"peak RSS {peak / 2**20:.0f} MiB = {peak / max(weights, 1):.0f}x the largest "
          f"model's weight bytes ({weights / 2**20:.2f} MiB; small models: the interpreter "
          "dominates)")
    return 0


def _feeds(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    """Seeded feeds exactly as the comparison makes them (the one feed generator)."""
    from workbench.feeds.generator import model_feeds

    return model_feeds(model, seed=0)


if __name__ == "__main__":
    raise SystemExit(main())
