"""The engine as a graph: engine layers as nodes, tensors as edges, the ONNX nodes fused
into each layer and its precision as attributes. Netron refuses TensorRT engines; this
draws one from its card (no GPU).

``engine_graph_dot`` writes graphviz DOT; ``engine_graph_svg`` draws it with
graphviz's ``dot`` where it is installed (Debian: ``apt-get install graphviz``) and
otherwise with a small pure-Python layout (layers top to bottom, tensors as curves).
Pure Python (``dot`` runs as a child process).
"""

from __future__ import annotations

import html
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from workbench.core.fileio import write_atomic
from workbench.engines.card import EngineCard, EngineLayerInfo

__all__ = ["EngineGraph", "engine_graph", "engine_graph_dot", "engine_graph_svg",
           "write_engine_graph"]

MAX_LAYERS = 400  # beyond this a drawing is unreadable and dot gets slow: the first 400
PRECISION_FILL = {"FP32": "#dbe9f9", "FP16": "#dcf0d5", "BF16": "#eadcf3", "INT8": "#fde3cc",
                  "FP8": "#f9d7e5"}
_IO_FILL = "#f2f2f2"


@dataclass(frozen=True)
class EngineGraph:
    """Nodes (the card's inputs and outputs, then its layers) and edges (tensors)."""

    nodes: tuple[tuple[str, str, str], ...]  # (id, label, fill colour)
    edges: tuple[tuple[str, str, str], ...]  # (from id, to id, tensor label)
    truncated: int  # layers left out beyond MAX_LAYERS


def engine_graph(card: EngineCard) -> EngineGraph:
    """Connect the layers by tensor name: a layer's output feeds every layer reading it."""
    layers = card.layers[:MAX_LAYERS]
    nodes = [(f"in:{s.name}", f"{s.name}\n{s.dtype} {s.shape_text()}", _IO_FILL)
             for s in card.inputs]
    producer = {s.name: f"in:{s.name}" for s in card.inputs}
    edges: list[tuple[str, str, str]] = []
    for index, layer in enumerate(layers):
        ident = f"L{index}"
        nodes.append((ident, _layer_label(index, layer), _fill(layer.precision)))
        for tensor in dict.fromkeys(t for t in layer.inputs):
            source = producer.get(tensor.name)
            if source is not None and source != ident:
                edges.append((source, ident, tensor.text()))
        for tensor in layer.outputs:
            producer[tensor.name] = ident
    for spec in card.outputs:
        ident = f"out:{spec.name}"
        nodes.append((ident, f"{spec.name}\n{spec.dtype} {spec.shape_text()}", _IO_FILL))
        if spec.name in producer:
            edges.append((producer[spec.name], ident, spec.dtype))
    merged: dict[tuple[str, str], list[str]] = {}  # one edge per pair, its tensors listed
    for source, target, label in edges:
        merged.setdefault((source, target), []).append(label)
    return EngineGraph(tuple(nodes),
                       tuple((s, t, ", ".join(dict.fromkeys(labels)))
                             for (s, t), labels in merged.items()),
                       max(len(card.layers) - MAX_LAYERS, 0))


def _layer_label(index: int, layer: EngineLayerInfo) -> str:
    nodes = ", ".join(layer.onnx_nodes[:6]) + (
        f" +{len(layer.onnx_nodes) - 6}" if len(layer.onnx_nodes) > 6 else "")
    return "\n".join(x for x in (f"#{index} {layer.layer_type} · {layer.precision or '—'}",
                                 _clip(layer.name, 48), _clip(nodes, 60)) if x)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _fill(precision: str) -> str:
    return next((c for name, c in PRECISION_FILL.items() if precision.endswith(name)),
                "#ffffff")


def engine_graph_dot(card: EngineCard, title: str = "engine") -> str:
    """The graph in graphviz DOT (top to bottom; fill colour by precision)."""
    graph = engine_graph(card)
    lines = [f"digraph {_quote(title)} {{", "  rankdir=TB;",
             '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=8, color="#777777"];']
    for ident, label, fill in graph.nodes:
        shape = ", shape=ellipse" if ident.startswith(("in:", "out:")) else ""
        lines.append(f"  {_quote(ident)} [label={_quote(label)}, fillcolor=\"{fill}\"{shape}];")
    for source, target, label in graph.edges:
        lines.append(f"  {_quote(source)} -> {_quote(target)} [label={_quote(label)}];")
    if graph.truncated:
        lines.append(f'  more [label="… {graph.truncated} more layers", shape=plaintext];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def engine_graph_svg(card: EngineCard, title: str = "engine", *, use_dot: bool = True,
                     timeout_s: float = 60.0) -> str:
    """The graph drawn as SVG: by graphviz's ``dot`` when installed (and ``use_dot``),
    else by the built-in layout."""
    dot = shutil.which("dot") if use_dot else None
    if dot is not None:
        try:
            done = subprocess.run([dot, "-Tsvg"], input=engine_graph_dot(card, title),
                                  capture_output=True, text=True, timeout=timeout_s,
                                  check=True)
            return done.stdout[done.stdout.find("<svg"):]  # no XML prolog: it goes inline
        except (OSError, subprocess.SubprocessError):
            pass  # a broken or slow graphviz: the built-in drawing still shows the engine
    return _simple_svg(engine_graph(card), title)


def write_engine_graph(card: EngineCard, path: str | Path, title: str = "engine") -> Path:
    """Write ``.dot`` (text) or ``.svg`` (drawn), chosen by the file's suffix."""
    target = Path(path)
    if target.suffix == ".dot":
        text = engine_graph_dot(card, title)
    elif target.suffix == ".svg":
        text = engine_graph_svg(card, title)
    else:
        from workbench.core.errors import WorkbenchError

        raise WorkbenchError(f"Cannot write an engine graph as {target.name}.",
                             expected="a file name ending in .svg or .dot",
                             found=repr(target.suffix or "no suffix"),
                             fix=f"for example {target.with_suffix('.svg').name}")
    write_atomic(target, text.encode(), overwrite=True)
    return target


# -- the built-in drawing: one column of layers, edges as curves on the right ---------------

_W, _ROW, _GAP, _LINE = 420, 58, 18, 13


def _simple_svg(graph: EngineGraph, title: str) -> str:
    row = {ident: index for index, (ident, _l, _f) in enumerate(graph.nodes)}
    height = len(graph.nodes) * (_ROW + _GAP) + 40
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{_W + 260}' height='{height}' "
             f"font-family='Helvetica,Arial,sans-serif' font-size='10'>",
             f"<title>{html.escape(title)}</title>",
             "<defs><marker id='a' markerWidth='8' markerHeight='8' refX='7' refY='4' "
             "orient='auto'><path d='M0,0 L8,4 L0,8 z' fill='#777'/></marker></defs>"]
    for source, target, label in graph.edges:
        parts.append(_edge(row[source], row[target], label))
    for index, (ident, label, fill) in enumerate(graph.nodes):
        y = 10 + index * (_ROW + _GAP)
        radius = 26 if ident.startswith(("in:", "out:")) else 6
        parts.append(f"<rect x='10' y='{y}' width='{_W}' height='{_ROW}' rx='{radius}' "
                     f"fill='{fill}' stroke='#555'/>")
        for n, text in enumerate(label.split("\n")[:3]):
            weight = " font-weight='bold'" if n == 0 else ""
            parts.append(f"<text x='{20}' y='{y + 16 + n * _LINE}'{weight}>"
                         f"{html.escape(text)}</text>")
    if graph.truncated:
        parts.append(f"<text x='10' y='{height - 8}'>… {graph.truncated} more layers</text>")
    parts.append("</svg>")
    return "\n".join(parts)


def _edge(source: int, target: int, label: str) -> str:
    y1 = 10 + source * (_ROW + _GAP) + _ROW
    y2 = 10 + target * (_ROW + _GAP)
    if target == source + 1:  # straight down to the next layer
        x = 10 + _W // 2
        return (f"<line x1='{x}' y1='{y1}' x2='{x}' y2='{y2}' stroke='#777' "
                f"marker-end='url(#a)'/><text x='{x + 4}' y='{y1 + 12}' fill='#666' "
                f"font-size='9'>{html.escape(label)}</text>")
    # a skip connection: out of the right side, a curve as wide as the jump is long
    x, bend = 10 + _W, min(30 + 8 * (target - source), 240)
    ya, yb = y1 - _ROW // 2, y2 + _ROW // 2
    return (f"<path d='M {x} {ya} C {x + bend} {ya}, {x + bend} {yb}, {x} {yb}' fill='none' "
            f"stroke='#999'/><text x='{x + bend // 2 + 4}' y='{(ya + yb) // 2}' fill='#666' "
            f"font-size='9'>{html.escape(label)}</text>")
