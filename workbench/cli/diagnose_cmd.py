"""``trt-workbench diagnose MODEL [--reduce OUT] [--fold OUT] [--shape NAME=DIMS]
[--value NAME=VALUE] [--json]``.

Exit status: 0 when the model parses (after folding, with --fold), 1 when it does not or
the file is bad, 2 on usage errors. TensorRT is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from workbench.core.errors import ModelLoadError

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``diagnose`` subcommand."""
    cmd = subparsers.add_parser(
        "diagnose",
        help="explain why TensorRT cannot parse an ONNX model, with fixes",
        description="Parse MODEL with TensorRT's ONNX parser and explain every error: the "
        "node, its op, the cause and the fixes; plus the supported node islands.",
    )
    cmd.add_argument("model", metavar="MODEL", help="path of the .onnx file")
    cmd.add_argument("--reduce", metavar="OUT",
                     help="also save the smallest subgraph that fails the same way to OUT")
    cmd.add_argument("--fold", metavar="OUT",
                     help="fold constants, save the folded model to OUT and diagnose it")
    cmd.add_argument("--shape", metavar="NAME=DIMS", action="append", default=[],
                     help="with --fold: freeze an input's shape, e.g. image=1x4x16x16")
    cmd.add_argument("--value", metavar="NAME=VALUE", action="append", default=[],
                     help="with --fold: freeze an input's value, e.g. sr=16000 (an If it "
                     "decides keeps only the branch that value takes)")
    cmd.add_argument("--overwrite", action="store_true",
                     help="allow --reduce/--fold to replace existing files")
    cmd.add_argument("--json", action="store_true", help="print one JSON object")
    cmd.set_defaults(handler=run)


def _named(items: list[str], flag: str, read: Callable[[str], Any], expected: str,
           fix: str) -> dict[str, Any]:
    """``NAME=TEXT`` options as {name: read(TEXT)}; a text ``read`` refuses is explained."""
    found: dict[str, Any] = {}
    for item in items:
        name, _, text = item.partition("=")
        try:
            found[name] = read(text)
        except ValueError as err:
            raise ModelLoadError(f"Cannot read {flag} {item!r}.", expected=expected,
                                 found=repr(item), fix=fix) from err
    return found


def _shapes(items: list[str]) -> dict[str, list[int]]:
    return _named(items, "--shape", lambda dims: [int(d) for d in dims.lower().split("x")],
                  expected="NAME=DIMS with DIMS like 1x3x224x224",
                  fix="write the input name, '=', then the sizes joined by 'x'")


def _values(items: list[str]) -> dict[str, object]:
    return _named(
        items, "--value",
        lambda text: int(text) if text.strip().lstrip("+-").isdigit() else float(text),
        expected="NAME=VALUE with a number, like sr=16000",
        fix="write the input name, '=', then the number it is fixed to")


def run(args: argparse.Namespace) -> int:
    from workbench.backends.trt.parse import diagnose, fold_and_diagnose

    out: dict[str, Any] = {}
    report = diagnose(args.model)
    out["report"] = report
    if args.fold:
        fold, folded_report = fold_and_diagnose(
            args.model, _shapes(args.shape) or None, args.fold, overwrite=args.overwrite,
            input_values=_values(args.value) or None)
        out["fold"], out["folded_report"] = fold, folded_report
    if args.reduce and not report:
        from workbench.backends.trt.reduce import reduce_failure

        out["reduce"] = reduce_failure(args.model, args.reduce, overwrite=args.overwrite)
    final = out.get("folded_report", report)
    print(_as_json(out) if args.json else _as_text(out))
    return 0 if final else 1


def _as_text(out: dict[str, Any]) -> str:
    blocks = [out["report"].text()]
    if "fold" in out:
        fold = out["fold"]
        blocks.append(f"constant folding: {fold.summary()}; saved to {fold.out_path}")
        blocks.append("after folding:\n" + out["folded_report"].text())
    if "reduce" in out:
        blocks.append(out["reduce"].summary())
    return "\n\n".join(blocks)


def _as_json(out: dict[str, Any]) -> str:
    data: dict[str, Any] = out["report"].to_dict()
    if "fold" in out:
        fold = out["fold"]
        data["fold"] = {
            "path": str(fold.out_path),
            "folded_nodes": list(fold.folded_nodes),
            "removed_nodes": list(fold.removed_nodes),
            "report": out["folded_report"].to_dict(),
        }
    if "reduce" in out:
        red = out["reduce"]
        data["reduce"] = {
            "path": str(red.path),
            "node_indices": list(red.node_indices),
            "node_names": list(red.node_names),
            "category": red.category,
            "op_type": red.op_type,
        }
    return json.dumps(data, indent=2)
