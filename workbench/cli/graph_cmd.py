"""``trt-workbench overlay``: what the workbench finds, as node data for a graph viewer.

Writes Model Explorer's node-data JSON (load it with "Add per-node data" in Model Explorer,
or ``--node_data_paths``), the workbench's own overlay JSON (``--format workbench``), or an
SVG of the neighbourhood of the node that matters (``.svg`` output).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from workbench.app.overlays.overlay import ERROR_KINDS, OverlayKind
from workbench.cli.outputs import refuse_existing_output
from workbench.settings.fields import Precision

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``overlay`` subcommand."""
    cmd = subparsers.add_parser(
        "overlay", help="write a graph overlay (parse status, FP16/BF16 error, keep lists, "
        "INT8 SQNR, engine layers) as node data",
        description="Run what the overlay needs on MODEL (the parse diagnosis, an FP16/BF16 "
        "comparison, INT8 quantization and its comparison, or a build) and write its "
        "per-node marks: Model Explorer node-data JSON by default, the workbench's JSON "
        "with --format workbench, or an SVG of the neighbourhood of the failing / first "
        "bad node when OUTPUT ends in .svg.")
    cmd.add_argument("model", help="the .onnx file")
    cmd.add_argument("--kind", default="parse",
                     choices=[k.value for k in OverlayKind],
                     help="what to draw (default parse)")
    cmd.add_argument("-o", "--output", required=True, help="the .json or .svg file to write")
    cmd.add_argument("--format", choices=("model-explorer", "workbench"),
                     default="model-explorer", help="JSON flavour (default model-explorer)")
    cmd.add_argument("--hops", type=int, default=2, help="SVG: edges around the node (2)")
    cmd.add_argument("--overwrite", action="store_true", help="replace an existing file")
    cmd.set_defaults(handler=run_overlay)


def run_overlay(args: argparse.Namespace) -> int:
    from workbench.app.overlays.graph_overlays import explorer_node_data, overlay_graph
    from workbench.app.overlays.overlay_graph import neighbourhood_svg
    from workbench.app.session.session import WorkbenchSession
    from workbench.core.fileio import write_atomic

    refuse_existing_output(args.output, args.overwrite)
    kind = OverlayKind(args.kind)
    session = WorkbenchSession()
    try:
        session.load(args.model)
        if kind is OverlayKind.PARSE:
            session.triage.diagnose()
        elif kind is OverlayKind.INT8:
            session.quant.quantize()
            session.quant.compare()
        elif kind in ERROR_KINDS or kind is OverlayKind.KEEP:
            bf16 = kind is OverlayKind.BF16
            session.precision.compare(Precision.BF16 if bf16 else Precision.FP16)
        elif kind is OverlayKind.ENGINE:
            session.builds.build()
        overlay = session.graph.overlay(kind)
        if Path(args.output).suffix == ".svg":
            text = neighbourhood_svg(overlay_graph(session), overlay, hops=args.hops)
        elif args.format == "workbench":
            text = json.dumps(overlay.to_dict(), indent=1)
        else:
            text = json.dumps(explorer_node_data(session, overlay), indent=1)
        write_atomic(Path(args.output), text.encode("utf-8"), overwrite=args.overwrite)
    finally:
        session.close()
    print(f"{kind.value}: {overlay.summary}", file=sys.stderr)
    print(f"wrote {args.output} ({len(overlay.marks)} marked nodes)")
    return 0
