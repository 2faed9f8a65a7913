"""``trt-workbench inspect MODEL [--json] [--layers] [--shapes]``: what is in an ONNX model.

Exit codes follow the CLI's convention: 0 success, 1 the model could not be read (the
ModelLoadError message is printed by ``workbench.cli.main``), 2 usage errors (argparse).
Checker problems do not fail the command: they are part of the summary it prints.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["register", "run_inspect"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``inspect`` subcommand."""
    parser = subparsers.add_parser(
        "inspect",
        help="summarise an ONNX model: I/O, operators, parameters, checker problems",
        description="Summarise an ONNX model without loading its weights: inputs and "
        "outputs (symbolic dims by name), operator histogram, parameters, checker problems "
        "and shape-inference results.",
    )
    parser.add_argument("model", metavar="MODEL", help="path of the .onnx file")
    parser.add_argument("--json", action="store_true", help="print the full summary as JSON")
    parser.add_argument("--layers", action="store_true", help="also print the node table")
    parser.add_argument(
        "--shapes", action="store_true", help="also print inferred intermediate shapes"
    )
    parser.set_defaults(handler=run_inspect)


def run_inspect(args: argparse.Namespace) -> int:
    # Imported here so `trt-workbench --help` and other commands do not pay for onnx.
    from workbench.inspection.summary import inspect_model

    summary = inspect_model(args.model)
    if args.json:
        text = summary.to_json(indent=2)
    else:
        text = summary.describe(layers=args.layers, shapes=args.shapes)
    sys.stdout.write(text + "\n")
    return 0
