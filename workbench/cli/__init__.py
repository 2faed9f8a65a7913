"""The ``trt-workbench`` command line.

Each area registers its own subcommands (``register(subparsers)``) so the command modules
stay small. Exit codes: 0 success, 1 a problem with the model/engine/build (with the clear
message), 2 a usage error (argparse's own convention).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from workbench.app.tasks import as_workbench_error
from workbench.core.errors import WorkbenchError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    from workbench.core.version import __version__

    parser = argparse.ArgumentParser(
        prog="trt-workbench",
        description="Inspect ONNX models, triage TensorRT parse failures, build and check "
        "engines, compare FP16 against FP32.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    # Each module imports its heavy dependencies inside its handlers: importing all is cheap.
    from workbench.cli import (
        compare_cmds,
        diagnose_cmd,
        graph_cmd,
        inspect_cmd,
        quant_cmd,
        share_cmds,
        trt_cmds,
    )

    for module in (inspect_cmd, diagnose_cmd, trt_cmds, compare_cmds, quant_cmd, share_cmds,
                   graph_cmd):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # exits with status 2 on usage errors
    try:
        return int(args.handler(args))
    except WorkbenchError as err:
        print(f"error: {err.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # the last guard: a bug is said to be one, never a raw trace
        bug = as_workbench_error(
            err, f"running `trt-workbench {args.command}`",
            fix="report it to the workbench with the details below (where it happened), "
            "the command line and, if you may share it, the model")
        print(f"error: {bug.message}", file=sys.stderr)
        return 3
