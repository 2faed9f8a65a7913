"""``trt-workbench quantize MODEL -o OUT``: INT8/FP8 Q/DQ for TensorRT, checked against FP32.

Quantizes with the TensorRT preset (QDQ, symmetric, per-channel weights, float biases,
Conv/MatMul/Gemm), calibrating on generated feeds or ``--calibration`` .npz files, then
(unless ``--no-compare``) compares the Q/DQ model with the FP32 one on CPU and, with
``--find-exclusions``, searches a minimal verified list of nodes to leave in float and
writes the model quantized without them to ``OUT`` instead. Exit codes: 0 written (and
passing when compared), 1 an error, 3 written but the comparison fails.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

__all__ = ["register", "run_quantize"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``quantize`` subcommand."""
    parser = subparsers.add_parser(
        "quantize", help="INT8/FP8 Q/DQ model for TensorRT, compared against FP32",
        description="Write the Q/DQ (QuantizeLinear/DequantizeLinear) model TensorRT builds "
        "INT8 or FP8 engines from; the input model is only read.")
    parser.add_argument("model", metavar="MODEL", help="the FP32 .onnx file")
    parser.add_argument("-o", "--output", required=True, help="the new .onnx file")
    parser.add_argument("--precision", choices=("int8", "fp8"), default="int8")
    parser.add_argument("--calibration", nargs="+", metavar="NPZ", default=None,
                        help=".npz files, one calibration batch each (default: generated)")
    parser.add_argument("--batches", type=int, default=8,
                        help="generated calibration batches (default 8)")
    parser.add_argument("--exclude", nargs="+", metavar="NODE", default=(),
                        help="ONNX node names to leave in float")
    parser.add_argument("--no-compare", action="store_true",
                        help="skip the comparison against FP32")
    parser.add_argument("--find-exclusions", action="store_true",
                        help="search a minimal verified exclusion list and quantize with it")
    parser.add_argument("--max-trials", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.set_defaults(handler=run_quantize)


def run_quantize(args: argparse.Namespace) -> int:
    from workbench.app.int8_compare import compare_quantized
    from workbench.app.int8_exclusions import find_exclusions
    from workbench.app.quantize import quantize_model
    from workbench.transforms.quant_settings import QuantSettings

    settings = QuantSettings.tensorrt(precision=args.precision, exclude=tuple(args.exclude),
                                      calibration_batches=args.batches)
    calibration = [Path(p) for p in args.calibration] if args.calibration else None
    found = None
    if args.find_exclusions:
        found = find_exclusions(args.model, settings, calibration, seed=args.seed,
                                max_trials=args.max_trials)
        settings = settings.with_exclude(found.exclude)
    result = quantize_model(args.model, args.output, settings, calibration, seed=args.seed)
    report = None if args.no_compare else compare_quantized(args.model, result.path,
                                                            seed=args.seed)
    if args.json:
        data = {"quantize": result.to_dict(),
                "compare": None if report is None else report.to_dict(),
                "exclusions": None if found is None else found.to_dict()}
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    else:
        lines = [result.summary()]
        if found is not None:
            lines.append(found.summary())
        if report is not None:
            lines.append(report.summary())
        lines.append(f"build it: trt-workbench build {result.path} -o ENGINE "
                     "--profiling-verbosity detailed (strongly typed: INT8 where Q/DQ say)")
        sys.stdout.write("\n".join(lines) + "\n")
    return 3 if report is not None and not report.outputs.passed else 0
