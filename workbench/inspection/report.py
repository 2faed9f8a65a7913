"""Plain-text rendering of a ModelSummary: what the CLI prints and the notebook shows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from workbench.core.records import TensorSpec

if TYPE_CHECKING:
    from workbench.inspection.summary import ModelSummary

__all__ = ["describe_summary", "format_bytes", "format_table"]

_MAX_CELL = 60


def format_bytes(count: int) -> str:
    """``1536`` -> ``"1.5 KiB"``."""
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{count} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"  # unreachable; keeps type checkers happy


def _cell(text: str) -> str:
    return text if len(text) <= _MAX_CELL else text[: _MAX_CELL - 1] + "…"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ") -> str:
    """Left-aligned columns, one header line; long cells are cut with an ellipsis."""
    cells = [[_cell(str(c)) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = [
        indent + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in [list(headers), *cells]
    ]
    return "\n".join(lines)


def _spec_rows(specs: Sequence[TensorSpec]) -> list[list[str]]:
    return [[spec.name, spec.dtype, spec.shape_text()] for spec in specs]


def _overview(summary: ModelSummary) -> list[str]:
    opsets = ", ".join(f"{o.display_domain} {o.version}" for o in summary.opsets) or "none"
    params = (
        f"{summary.parameter_count:,} ({format_bytes(summary.parameter_bytes)}) "
        f"in {len(summary.initializers):,} initializers"
    )
    if summary.external_data_files:
        params += (
            f"; {format_bytes(summary.external_data_bytes)} external in "
            + ", ".join(summary.external_data_files)
        )
    checker = (
        "OK" if summary.is_valid else f"{len(summary.checker_problems)} problem(s), see below"
    )
    rows = [
        ("producer", summary.producer or "(not recorded)"),
        ("IR version", str(summary.ir_version)),
        ("opsets", opsets),
        ("parameters", params),
        ("nodes", f"{len(summary.nodes):,} (control-flow subgraphs: {summary.subgraph_count})"),
        ("checker", checker),
        ("shapes", _shapes_line(summary)),
    ]
    title = f"Model {summary.graph_name or '(unnamed graph)'} — {summary.source}"
    return [title, *(f"  {key:<11} {value}" for key, value in rows)]


def _shapes_line(summary: ModelSummary) -> str:
    result = summary.shape_inference
    typed, total = len(result.tensors), len(result.tensors) + len(result.missing)
    line = f"{typed:,} of {total:,} intermediate tensors inferred"
    if result.error:
        line += f"; shape inference failed: {result.error}"
    elif result.missing:
        node = summary.producer_of(result.missing[0])
        if node is not None:  # usually an op ONNX has no schema for; all after it stay unknown
            line += f"; untyped from node {node.label!r} ({node.qualified_op}) on"
    return line


def describe_summary(summary: ModelSummary, *, layers: bool = False, shapes: bool = False) -> str:
    """The readable summary: overview, I/O tables, operator histogram, problems."""
    parts = ["\n".join(_overview(summary))]
    parts.append("Inputs\n" + (format_table(("name", "dtype", "shape"),
                                            _spec_rows(summary.inputs)) if summary.inputs
                               else "  (none)"))
    parts.append("Outputs\n" + format_table(("name", "dtype", "shape"),
                                            _spec_rows(summary.outputs)))
    symbolic = summary.symbolic_dims()
    if symbolic:
        uses = "; ".join(
            f"{dim} = " + ", ".join(f"{name}[{axis}]" for name, axis in places)
            for dim, places in symbolic.items()
        )
        parts.append(f"Symbolic dims\n  {uses}")
    hist_rows = [[op, f"{count:,}"] for op, count in summary.op_histogram]
    parts.append("Operators\n" + format_table(("op type", "count"), hist_rows))
    if summary.checker_problems:
        parts.append("Checker problems\n" + "\n".join(f"  - {p}" for p in summary.checker_problems))
    if layers:
        parts.append("Layers\n" + _layer_table(summary))
    if shapes:
        parts.append("Inferred intermediate shapes\n" + _shape_table(summary))
    return "\n\n".join(parts)


def _layer_table(summary: ModelSummary) -> str:
    rows = [
        [
            str(node.index), node.name or "-", node.qualified_op,
            ", ".join(node.inputs), ", ".join(node.outputs),
            ", ".join(f"{key}={value}" for key, value in node.attributes),
        ]
        for node in summary.nodes
    ]
    return format_table(("#", "name", "op", "inputs", "outputs", "attributes"), rows)


def _shape_table(summary: ModelSummary) -> str:
    result = summary.shape_inference
    rows = _spec_rows(result.tensors) + [[name, "?", "? (not inferred)"] for name in result.missing]
    if not rows:
        return "  (no intermediate tensors)"
    table = format_table(("tensor", "dtype", "shape"), rows)
    if result.error:
        table += f"\n  shape inference failed: {result.error}"
    return table
