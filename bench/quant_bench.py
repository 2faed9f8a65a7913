"""INT8 Q/DQ: the workbench's quantize → compare → exclusion list, against two baselines.

    .venv/bin/python bench/quant_bench.py [--only NAME ...]

Models: the samples, the realistic corpus models TensorRT parses in FP32, the committed
real exports (``sample_models/exports``, calibrated and compared on their hand-written
valid inputs) whose FP32 model parses, the outlier case
(``sample_models/quant_cases.py``, where INT8 breaks at a known node), the ~10M-parameter
rung of the GPT ladder (whose attention MatMuls fail the INT8 preset), and two samples
judged at a tight tolerance (2e-2) so that their search has work to do. Per model, each
approach in its own process (peak RSS is per process), in the same run:

- **workbench**: ``quantize_model`` (TensorRT preset) → ``compare_quantized`` (FP32 vs
  INT8, ORT graph optimizations off: output cosine, verdict, first node under 20 dB) →
  when it fails, ``find_exclusions`` (verified, 1-minimal; size, trials) → does
  TensorRT-RTX parse the result;
- **ORT defaults**: ``quantize_static`` with its defaults (QDQ; int32 biases, asymmetric,
  per-tensor, every operator): does TensorRT-RTX parse it, and how many of its scales are
  infinite or zero (ORT quantizes attention masks of -inf when it quantizes everything)?
- **qdq_loss_debug ranking**: ORT's ``qdq_loss_debug`` per-tensor SQNR (float model vs
  Q/DQ model) on the preset's model; the nodes reading the worst tensors are excluded one
  more at a time until the comparison passes at the same tolerance (how many nodes, trials).

Peak RSS is printed as a multiple of the model's FP32 weight bytes (tiny models: the
runtime's own ~150 MB dominates).
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

TIGHT = 2e-2


def _models(folder: Path) -> list[tuple[str, Path, float | None]]:
    from sample_models.quant_cases import write_outlier_mlp
    from sample_models.realistic import realistic_model

    samples = ROOT / "sample_models"
    found = [(n, samples / f"{n}.onnx", None) for n in
             ("tiny_cnn", "resnet_block", "transformer_block", "mlp_dynamic_batch")]
    found += [(n, realistic_model(n).make(folder), None) for n in
              ("bert_like", "gpt_like", "paddle_detector", "if_switch", "sklearn_mlp",
               "jax_classifier")]
    found.append(("outlier_mlp", write_outlier_mlp(folder), None))
    from sample_models.realistic_text import GPT_LADDER, gpt_like

    shape = GPT_LADDER["gpt_10m"]  # attention MatMuls lose accuracy in INT8 here
    found.append(("gpt_10m", gpt_like(folder, shape.layers, shape.d_model, shape.heads,
                                      shape.vocab, shape.seq, name="gpt_10m"), None))
    found += [(f"{n}@{TIGHT:g}", samples / f"{n}.onnx", TIGHT)
              for n in ("transformer_block", "resnet_block")]
    from sample_models.exports import EXPORTS

    # the real exports whose FP32 model TensorRT parses (the classic-ML ones do not)
    found += [(e.name, e.path, None) for e in EXPORTS if e.family != "classic-ml"]
    return found


def _data(path: Path) -> tuple[Any, Any]:
    """Calibration batches and comparison inputs: for a real export, valid ones written
    from its registry entry (hand_feeds); else None (the feed generator's)."""
    if path.parent.name != "exports":
        return None, None
    from sample_models.exports import hand_feeds

    return [hand_feeds(path.stem, seed=k) for k in range(4)], hand_feeds(path.stem, seed=100)


def _batches(path: Path, calibration: Any) -> Any:
    """The calibration batches ORT reads: the given ones, else 8 generated (as the preset)."""
    if calibration is not None:
        return iter(calibration)
    import onnx

    from workbench.feeds.generator import model_feeds

    model = onnx.load(path, load_external_data=False)
    return iter([model_feeds(model, seed=k) for k in range(8)])


def _tolerances(tight: float | None) -> Any:
    from workbench.compare.tolerances import Tolerance, Tolerances

    return None if tight is None else Tolerances(Tolerance(tight, tight), (), None)


def _parses(path: Path) -> bool:
    from workbench.backends.trt.parse import diagnose

    return bool(diagnose(path))


def _workbench(path: Path, tight: float | None, out: Path) -> dict[str, Any]:
    from peak_rss import peak_rss

    from workbench.app.int8_compare import compare_quantized
    from workbench.app.int8_exclusions import find_exclusions
    from workbench.app.quantize import quantize_model

    began = time.perf_counter()
    calibration, inputs = _data(path)
    result = quantize_model(path, out / "wb.int8.onnx", calibration=calibration)
    quantized = time.perf_counter() - began
    report = compare_quantized(path, result.path, inputs, tolerances=_tolerances(tight))
    found = None if report.outputs.passed else find_exclusions(
        path, calibration=calibration, inputs=inputs, tolerances=_tolerances(tight),
        start=report)
    cosine = min(o.cosine if o.cosine is not None else float("nan")
                 for o in report.outputs.outputs)
    return {"quantize_s": quantized, "cosine": cosine, "verdict": report.verdict,
            "first_bad": report.first_bad_node or "-",
            "exclude": len(found.exclude) if found else 0,
            "trials": found.trials if found else 0,
            "status": ("-" if found is None else "1-min" if found.verified and found.minimal
                       else "verif" if found.verified else "NOT"),
            "seconds": time.perf_counter() - began, "parses": _parses(result.path),
            "rss": peak_rss()}


def _baselines(path: Path, tight: float | None, out: Path) -> dict[str, Any]:
    import onnx
    from peak_rss import peak_rss

    from workbench.app.int8_compare import compare_quantized
    from workbench.app.quantize import quantize_model
    from workbench.backends.ort_quant import quantize_qdq
    from workbench.inspection.quantization import quantization_info
    from workbench.transforms.quant_settings import QuantSettings

    began = time.perf_counter()
    calibration, inputs = _data(path)
    default = out / "ortdefault.onnx"  # ORT's own output, unchecked: the baseline as it is
    quantize_qdq(path, default, QuantSettings.ort_defaults(), _batches(path, calibration))
    ort_seconds = time.perf_counter() - began
    parses = _parses(default)
    bad_scales = len(quantization_info(onnx.load(default)).bad_scales)
    preset = quantize_model(path, out / "preset.onnx", calibration=calibration)
    ranked = _loss_debug_ranking(path, preset.path, out, inputs)
    began = time.perf_counter()
    report = compare_quantized(path, preset.path, inputs, tolerances=_tolerances(tight),
                               per_tensor=False)
    size, trials = 0, 0
    while not report.outputs.passed and size < len(ranked):
        size += 1
        trials += 1
        retry = quantize_model(path, out / f"rank-{size}.onnx",
                               QuantSettings.tensorrt(exclude=tuple(ranked[:size])),
                               calibration)
        report = compare_quantized(path, retry.path, inputs, tolerances=_tolerances(tight),
                                   per_tensor=False)
    return {"ort_default_s": ort_seconds, "ort_default_parses": parses,
            "ort_bad_scales": bad_scales,
            "rank_exclude": size if report.outputs.passed else None, "rank_trials": trials,
            "rank_s": time.perf_counter() - began, "rss": peak_rss()}


def _loss_debug_ranking(float_path: Path, qdq_path: Path, out: Path,
                        inputs: Any = None) -> list[str]:
    """Nodes reading the tensors with the lowest qdq_loss_debug SQNR (float vs Q/DQ)."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader
    from onnxruntime.quantization import qdq_loss_debug as debug

    from workbench.feeds.generator import model_feeds
    from workbench.transforms.naming import name_nodes

    model = name_nodes(onnx.load(float_path))

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self.batches = iter([inputs if inputs is not None else model_feeds(model, seed=0)])

        def get_next(self) -> Any:
            return next(self.batches, None)

    aug_float, aug_qdq = out / "aug_float.onnx", out / "aug_qdq.onnx"
    debug.modify_model_output_intermediate_tensors(str(float_path), str(aug_float))
    debug.modify_model_output_intermediate_tensors(str(qdq_path), str(aug_qdq))
    matched = debug.create_activation_matching(debug.collect_activations(str(aug_qdq), Reader()),
                                               debug.collect_activations(str(aug_float),
                                                                         Reader()))
    errors = debug.compute_activation_error(matched)
    worst = sorted(errors, key=lambda t: errors[t].get("xmodel_err", float("inf")))
    readers: list[str] = []
    qdq = onnx.load(qdq_path)
    for tensor in worst:
        for node in qdq.graph.node:
            if node.op_type not in ("QuantizeLinear", "DequantizeLinear") and any(
                    i.startswith(tensor) for i in node.input) and node.name not in readers:
                readers.append(node.name)
    quantizable = {n.name for n in model.graph.node if n.op_type in ("Conv", "MatMul", "Gemm",
                                                                      "ConvTranspose")}
    return [name for name in readers if name in quantizable]


def _child(kind: str, path: Path, tight: float | None, queue: Any) -> None:
    warnings.filterwarnings("ignore")
    import logging

    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            work = _workbench if kind == "workbench" else _baselines
            queue.put(work(path, tight, Path(tmp)))
        except Exception as err:  # a row says what failed instead of ending the bench
            queue.put({"error": f"{type(err).__name__}: {str(err).splitlines()[0][:80]}"})


def _run(kind: str, path: Path, tight: float | None) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(kind, path, tight, queue))
    process.start()
    result = queue.get(timeout=900)
    process.join()
    return dict(result)


def _weight_bytes(path: Path) -> int:
    import onnx

    model = onnx.load(path)
    tensors = [*model.graph.initializer, *(a.t for n in model.graph.node if n.op_type ==
                                           "Constant" for a in n.attribute if a.name == "value")]
    return sum(onnx.numpy_helper.to_array(t).nbytes for t in tensors) or 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", default=None)
    args = parser.parse_args(argv)
    head = (f"{'model':<28} {'quant s':>7} {'cosine':>8} {'verdict':>8} {'first <20dB':>22} "
            f"{'excl':>4} {'proof':>5} {'trials':>6} {'wb s':>6} {'RTX parses':>10} "
            f"{'RSS MB':>6} {'RSS×w':>7} | "
            f"{'ORT-default parses':>18} {'inf/0 scales':>12} {'rank excl':>9} "
            f"{'rank trials':>11} {'rank s':>6}")
    print(head)
    print("-" * len(head))
    with tempfile.TemporaryDirectory() as tmp:
        for name, path, tight in _models(Path(tmp)):
            if args.only and name not in args.only:
                continue
            wb, base = _run("workbench", path, tight), _run("baselines", path, tight)
            if "error" in wb or "error" in base:
                print(f"{name:<28} error: {wb.get('error') or base.get('error')}")
                continue
            rss = wb["rss"] / _weight_bytes(path)
            rank = "none" if base["rank_exclude"] is None else base["rank_exclude"]
            print(f"{name:<28} {wb['quantize_s']:>7.2f} {wb['cosine']:>8.4f} "
                  f"{wb['verdict']:>8} {wb['first_bad'][-22:]:>22} {wb['exclude']:>4} "
                  f"{wb['status']:>5} {wb['trials']:>6} {wb['seconds']:>6.2f} "
                  f"{wb['parses']!s:>10} {wb['rss'] / 2**20:>6.0f} {rss:>7.0f} | "
                  f"{base['ort_default_parses']!s:>18} {base['ort_bad_scales']:>12} {rank:>9} "
                  f"{base['rank_trials']:>11} {base['rank_s']:>6.2f}")
    print("excl: nodes left in float by the workbench's search (proof: 1-min = verified and "
          "1-minimal, verif = verified, budget spent before minimality; trials: "
          "re-quantize + re-compare runs); rank: ORT qdq_loss_debug ranking, top-k excluded "
          "until the same tolerance passes. RSS×w: the workbench process's peak RSS over the "
          "FP32 weight bytes.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
