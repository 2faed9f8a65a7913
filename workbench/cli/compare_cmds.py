"""``trt-workbench run`` and ``trt-workbench compare``: sample inference and FP16 accuracy.

``run`` takes an ONNX model (ONNX Runtime, CPU) or a serialized engine (TensorRT, needs a
GPU: imported lazily, so the command works on machines without TensorRT). ``compare``
exits 0 when FP16 passes the tolerances and 1 when it does not, so scripts can gate on it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from workbench.cli.outputs import refuse_existing_output
from workbench.core.errors import BackendUnavailableError, WorkbenchError
from workbench.settings.fields import REDUCED_PRECISIONS, Precision, reduced_precision

__all__ = ["register"]

_ONNX_SUFFIXES = (".onnx",)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``run`` and ``compare``."""
    run = subparsers.add_parser(
        "run", help="run one inference (ONNX via ONNX Runtime, engines via TensorRT)",
        description="Run one inference on seeded random inputs (or --inputs) and print the "
        "outputs' shapes and statistics.",
    )
    run.add_argument("model", metavar="MODEL_OR_ENGINE", help=".onnx model or engine file")
    run.add_argument("--inputs", metavar="X.npz", help="inputs saved with save_inputs/np.savez")
    run.add_argument("--save-outputs", metavar="Y.npz", help="write the outputs to an .npz file")
    run.add_argument("--save-inputs", metavar="X.npz", help="write the inputs used to an .npz")
    run.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    run.add_argument("--dim", action="append", default=[], metavar="NAME=SIZE",
                     help="size of a symbolic dim, e.g. --dim batch=4 (repeatable)")
    run.add_argument("--range", action="append", default=[], metavar="NAME=LOW:HIGH",
                     help="values of an integer input, HIGH exclusive, e.g. --range "
                     "token_type_ids=0:2 (repeatable; default: what the graph indexes)")
    run.set_defaults(handler=_run)

    compare = subparsers.add_parser(
        "compare", help="FP16 vs FP32 accuracy, down to the first layer that breaks",
        description="Compare the FP16 graph against FP32 ONNX Runtime on the same inputs. "
        "Exit status 0 when it passes the tolerances, 1 when it fails or is inconclusive.",
    )
    compare.add_argument("model", metavar="MODEL", help=".onnx model (FP32)")
    compare.add_argument("--precision", default=Precision.FP16, type=_reduced_precision,
                         metavar="{" + ",".join(p.value for p in REDUCED_PRECISIONS) + "}",
                         help="the reduced precision to compare (default fp16)")
    compare.add_argument("--inputs", metavar="X.npz", help="inputs saved with save_inputs/np.savez")
    compare.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    compare.add_argument("--keep-fp32", nargs="+", default=[], metavar="NODE",
                         help="node names to keep in FP32 (see the suggested list)")
    compare.add_argument("--dim", action="append", default=[], metavar="NAME=SIZE",
                         help="size of a symbolic dim, e.g. --dim batch=4 (repeatable)")
    compare.add_argument("--range", action="append", default=[], metavar="NAME=LOW:HIGH",
                         help="values of an integer input, HIGH exclusive (repeatable)")
    compare.add_argument("--atol", type=float, help="override the preset's atol")
    compare.add_argument("--rtol", type=float, help="override the preset's rtol")
    compare.add_argument("--no-per-layer", action="store_true", help="outputs only (faster)")
    compare.add_argument("--json", action="store_true", help="print the report as JSON")
    compare.add_argument("--find-keep", action="store_true",
                         help="when it fails, search a verified, 1-minimal keep-FP32 list "
                         "(at most 10 re-runs) and print the build command that uses it")
    compare.add_argument("--clamp-masks", metavar="OUT.onnx",
                         help="write a copy with the finfo.min attention-mask constants at "
                         "-1e4 (FP16 holds it) and verify it: FP32 before vs after, then "
                         "this comparison again on the copy")
    compare.add_argument("--overwrite", action="store_true",
                         help="replace an existing --clamp-masks file")
    compare.set_defaults(handler=_compare)


def _reduced_precision(text: str) -> Precision:
    """``--precision`` through the one normaliser; its message becomes the usage error."""
    try:
        return reduced_precision(text)
    except WorkbenchError as err:
        raise argparse.ArgumentTypeError(err.message) from err


def _dims(pairs: list[str]) -> dict[str, int]:
    dims = {}
    for pair in pairs:
        name, _, size = pair.partition("=")
        if not name or not size.isdigit():
            raise WorkbenchError(
                f"Bad --dim value {pair!r}.",
                expected="NAME=SIZE with a positive integer size, e.g. batch=4",
                found=pair,
                fix="write it as --dim batch=4",
            )
        dims[name] = int(size)
    return dims


def _is_onnx(path: Path) -> bool:
    if path.suffix.lower() in _ONNX_SUFFIXES:
        return True
    try:
        head = path.read_bytes()[:4]
    except OSError:
        return False
    return head[:1] == b"\x08"  # a ModelProto starts with field 1 (ir_version), a varint


def _run(args: argparse.Namespace) -> int:
    from workbench.feeds.inputs import load_inputs, save_inputs

    path = Path(args.model)
    runner = _make_runner(path)
    feeds = load_inputs(args.inputs) if args.inputs else _generated_feeds(runner, args)
    with runner:
        outputs = runner.infer(feeds)
    print(f"{runner.name}: {path}")
    for name, value in feeds.items():
        print(f"  input  {name}: {value.dtype} {list(value.shape)}")
    for name, value in outputs.items():
        print(f"  output {name}: {_describe(value)}")
    if args.save_inputs:
        print(f"inputs saved to {save_inputs(args.save_inputs, feeds)}")
    if args.save_outputs:
        print(f"outputs saved to {save_inputs(args.save_outputs, outputs)}")
    return 0


def _make_runner(path: Path) -> Any:
    if _is_onnx(path) or not path.exists():
        from workbench.backends.ort import OrtRunner

        return OrtRunner(path)  # a missing path gets the loader's clear message
    try:
        from workbench.backends.trt.runtime.runner import TrtRunner
    except ImportError as err:
        raise BackendUnavailableError(
            f"{path} looks like a TensorRT engine, and TensorRT cannot be imported here.",
            expected="TensorRT (or TensorRT-RTX) with pycuda and an NVIDIA GPU",
            found=f"{type(err).__name__}: {err}",
            fix="run engines on a GPU machine; on this one, run the .onnx model instead",
        ) from err
    ready, why = TrtRunner.can_run()
    if not ready:
        raise BackendUnavailableError(
            f"{path} is a TensorRT engine, and engines cannot run on this machine.",
            expected="an NVIDIA GPU, pycuda and an engine-capable TensorRT",
            found=why,
            fix="run the engine on a GPU machine; here, `trt-workbench run MODEL.onnx` "
            "runs the ONNX model with ONNX Runtime",
        )
    return TrtRunner(path)


def _generated_feeds(runner: Any, args: argparse.Namespace) -> dict[str, np.ndarray]:
    """The one feed generator; an engine (no ONNX graph here) gets its own specs."""
    from workbench.feeds.generator import FeedOptions, model_feeds
    from workbench.feeds.inputs import make_inputs

    options = FeedOptions(_dims(args.dim), _ranges(args.range))
    model = getattr(runner, "model", None)
    if model is None:  # an engine: its card's opt shapes, when it has a card
        return make_inputs(runner.input_specs(), seed=args.seed, dims=options.dims,
                           shapes=_card_opt_shapes(Path(args.model)),
                           int_range=dict(options.int_ranges) or None)
    return model_feeds(model, seed=args.seed, options=options)


def _card_opt_shapes(engine: Path) -> dict[str, tuple[int, ...]] | None:
    import json

    from workbench.app.session.feeding import engine_opt_shapes
    from workbench.engines.card import EngineCard, card_path_for

    try:
        card = EngineCard.from_dict(json.loads(card_path_for(engine).read_text()))
    except (OSError, ValueError, KeyError, TypeError, AttributeError, WorkbenchError):
        return None  # no card, or one the runner's own load reports on
    return engine_opt_shapes(card)


def _ranges(pairs: list[str]) -> dict[str, tuple[int, int]]:
    ranges = {}
    for pair in pairs or ():
        name, _, span = pair.partition("=")
        low, _, high = span.partition(":")
        if not name or not _is_int(low) or not _is_int(high) or int(low) >= int(high):
            raise WorkbenchError(
                f"Bad --range value {pair!r}.",
                expected="NAME=LOW:HIGH with integers LOW < HIGH (HIGH exclusive), "
                "e.g. token_type_ids=0:2",
                found=pair, fix="write it as --range token_type_ids=0:2")
        ranges[name] = (int(low), int(high))
    return ranges


def _is_int(text: str) -> bool:
    return text.lstrip("-").isdigit()


def _describe(value: np.ndarray) -> str:
    text = f"{value.dtype} {list(value.shape)}"
    if value.size and value.dtype.kind in "fiu":
        data = value.astype(np.float64)
        finite = data[np.isfinite(data)]
        text += f"  min {finite.min():.4g} max {finite.max():.4g} mean {finite.mean():.4g}" \
            if finite.size else "  (no finite values)"
        bad = data.size - finite.size
        if bad:
            text += f"  non-finite: {bad}"
    return text


def _compare(args: argparse.Namespace) -> int:
    from workbench.app.precision.compare import compare_precision
    from workbench.compare.tolerances import Tolerance, Tolerances

    if args.clamp_masks:
        refuse_existing_output(args.clamp_masks, args.overwrite)
    tolerances = None
    if args.atol is not None or args.rtol is not None:
        preset = Tolerances.preset(args.precision.value)
        tolerances = Tolerances(
            Tolerance(args.atol if args.atol is not None else preset.default.atol,
                      args.rtol if args.rtol is not None else preset.default.rtol),
        )
    report = compare_precision(
        args.model, precision=args.precision, inputs=args.inputs, keep_fp32=args.keep_fp32,
        seed=args.seed, tolerances=tolerances, per_layer=not args.no_per_layer,
        dims=_dims(args.dim), int_ranges=_ranges(args.range),
    )
    found = _find_keep(args, report, tolerances) if args.find_keep else None
    fixed = _clamp_masks(args, tolerances) if args.clamp_masks else None
    if args.json:
        data = report.to_dict()
        if found is not None:
            data["keep_search"] = found.to_dict()
        if fixed is not None:
            data["mask_fix"] = fixed.to_dict()
        json.dump(data, sys.stdout, indent=2)
        print()
        return 0 if report.passed else 1
    print(report.summary())
    if fixed is not None:
        print(fixed.summary())
    if found is not None:
        print(found.summary())
        if found.verified and found.keep_fp32:
            print(f"build with it: trt-workbench build {args.model} --precision "
                  f"{args.precision} --keep-fp32 {' '.join(found.keep_fp32)} -o MODEL.engine")
    elif not report.passed and report.suggested_keep_fp32 != report.keep_fp32:
        print("try: trt-workbench compare " + args.model + " --keep-fp32 "
              + " ".join(report.suggested_keep_fp32) + "  (or --find-keep for a verified list)")
    return 0 if report.passed else 1


def _find_keep(args: argparse.Namespace, report: Any, tolerances: Any) -> Any:
    from workbench.app.precision.keep_search import find_keep_list

    start = report if not args.keep_fp32 and report.drift is not None else None
    return find_keep_list(args.model, args.precision, inputs=args.inputs, seed=args.seed,
                          tolerances=tolerances, dims=_dims(args.dim), start=start)


def _clamp_masks(args: argparse.Namespace, tolerances: Any) -> Any:
    from workbench.app.precision.mask_fix import verify_mask_clamp

    return verify_mask_clamp(args.model, args.precision, inputs=args.inputs,
                             keep_fp32=args.keep_fp32, seed=args.seed, tolerances=tolerances,
                             dims=_dims(args.dim), int_ranges=_ranges(args.range),
                             out_path=args.clamp_masks, overwrite=args.overwrite)
