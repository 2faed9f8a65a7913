"""The model's graph under an overlay: a neighbourhood around a node, drawn as SVG.

A whole 10,000-node graph is neither drawable in a notebook nor readable; the question a
user has is "where is the problem, and what is around it". ``OverlayGraph`` indexes
the main graph once (names by the naming rule, producers and consumers by tensor; nodes of
If/Loop/Scan bodies point at their owner), ``OverlayGraph.neighbourhood`` takes a few
hops around a node, and ``neighbourhood_svg`` draws them with graphviz ``dot`` (else a
built-in layered layout), each node filled with its mark's colour and carrying the
mark's facts as its tooltip. ``namespace_rows`` gives the overview: the graph folded by
name namespace (``transformer.h.3.attn``, ``/model/layers.3/self_attn``), each group with
its worst mark. Pure Python (``dot`` runs as a child process).
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.app.overlays.overlay import STATUS_COLOURS, GraphOverlay, NodeMark

if TYPE_CHECKING:
    from workbench.inspection.summary import ModelSummary

__all__ = ["NamespaceRow", "OverlayGraph", "legend_html", "namespace_rows",
           "neighbourhood_dot", "neighbourhood_svg"]

MAX_DRAWN = 80  # nodes in one drawing: dot lays 80 out in well under a second
_SEVERITY = {status: rank for rank, status in enumerate(STATUS_COLOURS)}


def _node_names(summary: ModelSummary) -> tuple[str, ...]:
    """Main-graph names under the naming rule (``transforms.naming``): a node's own name,
    else ``<op>_<index>``, with a numeric suffix on a clash."""
    taken = {n.name for n in summary.nodes if n.name}
    taken |= {n.name for sub in summary.subgraphs for n in sub.nodes if n.name}
    names = []
    for node in summary.nodes:
        if node.name:
            names.append(node.name)
            continue
        base = name = f"{node.op_type}_{node.index}"
        counter = 1
        while name in taken:
            counter += 1
            name = f"{base}_{counter}"
        taken.add(name)
        names.append(name)
    return tuple(names)


@dataclass(frozen=True)
class OverlayGraph:
    """The main graph's nodes (by index), who feeds whom, and body nodes → their owner."""

    names: tuple[str, ...]
    ops: tuple[str, ...]
    preds: tuple[tuple[int, ...], ...]
    succs: tuple[tuple[int, ...], ...]
    owners: dict[str, int]  # a node of an If/Loop/Scan body → the top-level node owning it
    unnamed_keys: dict[str, str]  # an unnamed node's rule name → its first output tensor
    scopes: tuple[str, ...] = ()  # exporter module paths by index (dynamo), '' when unknown

    @classmethod
    def from_summary(cls, summary: ModelSummary, scopes: Sequence[str] = ()) -> OverlayGraph:
        names = _node_names(summary)
        producer: dict[str, int] = {}
        for node in summary.nodes:
            for tensor in node.outputs:
                if tensor:
                    producer[tensor] = node.index
        preds: list[set[int]] = [set() for _ in summary.nodes]
        succs: list[set[int]] = [set() for _ in summary.nodes]
        for node in summary.nodes:
            for tensor in node.inputs:
                source = producer.get(tensor)
                if source is not None and source != node.index:
                    preds[node.index].add(source)
                    succs[source].add(node.index)
        by_label = {node.label: node.index for node in summary.nodes}
        owners: dict[str, int] = {}
        for sub in summary.subgraphs:
            top = by_label.get(sub.owner.split(" › ")[0])
            if top is not None:
                for inner in sub.nodes:
                    owners[inner.name or f"{sub.owner}/{sub.attribute}/{inner.op_type}_"
                           f"{inner.index}"] = top
        unnamed = {names[n.index]: n.outputs[0] for n in summary.nodes
                   if not n.name and n.outputs and n.outputs[0]}
        return cls(names, tuple(n.op_type for n in summary.nodes),
                   tuple(tuple(sorted(p)) for p in preds),
                   tuple(tuple(sorted(s)) for s in succs), owners, unnamed,
                   tuple(scopes) if len(scopes) == len(names) else ())

    def __len__(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int | None:
        """The top-level node called ``name``, or the node whose body holds it."""
        found = self._lookup().get(name)
        return found if found is not None else self.owners.get(name)

    def _lookup(self) -> dict[str, int]:
        cached: dict[str, int] | None = self.__dict__.get("_lookup_cache")
        if cached is None:
            cached = {name: i for i, name in enumerate(self.names)}
            object.__setattr__(self, "_lookup_cache", cached)  # a cache, not state
        return cached

    def neighbourhood(self, center: str, hops: int = 2, limit: int = MAX_DRAWN
                      ) -> tuple[int, ...]:
        """Nodes within ``hops`` edges of ``center`` (either direction), nearest first, at
        most ``limit``; returned in graph order."""
        start = self.index(center)
        if start is None:
            return ()
        seen = {start: 0}
        queue = deque([start])
        while queue and len(seen) < limit:
            node = queue.popleft()
            if seen[node] >= hops:
                continue
            for other in (*self.preds[node], *self.succs[node]):
                if other not in seen and len(seen) < limit:
                    seen[other] = seen[node] + 1
                    queue.append(other)
        return tuple(sorted(seen))

    def marks_by_index(self, overlay: GraphOverlay) -> dict[int, NodeMark]:
        """Each top-level node's mark; a body's marks go to its owner (the worst one, with
        the inner node named in the facts)."""
        marks: dict[int, NodeMark] = {}
        for mark in overlay.marks:
            index = self.index(mark.node)
            if index is None:
                continue
            if self.names[index] != mark.node:  # inside an If/Loop body
                mark = NodeMark(self.names[index], mark.status, mark.value,
                                (("inside the body", mark.node), *mark.facts))
            old = marks.get(index)
            if old is None or _worse(mark, old):
                marks[index] = mark
        return marks


def _worse(a: NodeMark, b: NodeMark) -> bool:
    return _SEVERITY.get(a.status, 99) < _SEVERITY.get(b.status, 99)


# -- drawing ------------------------------------------------------------------------------

def neighbourhood_dot(graph: OverlayGraph, overlay: GraphOverlay, center: str | None = None,
                      hops: int = 2, limit: int = MAX_DRAWN) -> str:
    """DOT text of the neighbourhood of ``center`` (default: the overlay's focus)."""
    center = center or overlay.focus or (graph.names[0] if graph.names else "")
    chosen = graph.neighbourhood(center, hops, limit)
    marks = graph.marks_by_index(overlay)
    middle = graph.index(center)
    inside = set(chosen)
    lines = ["digraph overlay {", "  rankdir=TB; nodesep=0.25; ranksep=0.3;",
             '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=9, '
             'fillcolor="#ffffff", color="#888888", margin="0.08,0.03"];',
             '  edge [color="#999999", arrowsize=0.6];']
    for i in chosen:
        mark = marks.get(i)
        status = mark.status if mark else "no mark"
        tip = mark.facts_text() if mark else f"{graph.names[i]} — no mark in this overlay"
        cut = sum(1 for j in (*graph.preds[i], *graph.succs[i]) if j not in inside)
        label = f"{_clip(graph.names[i], 40)}\n{graph.ops[i]}" + (
            f"  (+{cut} more edges)" if cut else "")
        attrs = [f"label={_quote(label)}", f"tooltip={_quote(tip)}",
                 f'id="wb_node_{i}"', f'class="wb_node wb_status_{_slug(status)}"']
        if mark:
            attrs.append(f'fillcolor="{mark.colour}"')
            if _dark(mark.colour):
                attrs.append('fontcolor="#ffffff"')
        if i == middle:
            attrs.append('penwidth=3, color="#000000"')
        lines.append(f"  n{i} [{', '.join(attrs)}];")
    for i in chosen:
        lines += [f"  n{i} -> n{j};" for j in graph.succs[i] if j in inside]
    lines.append("}")
    return "\n".join(lines) + "\n"


def neighbourhood_svg(graph: OverlayGraph, overlay: GraphOverlay, center: str | None = None,
                      hops: int = 2, limit: int = MAX_DRAWN, *, use_dot: bool = True,
                      timeout_s: float = 30.0) -> str:
    """The neighbourhood as inline SVG (no XML prolog): by ``dot`` when installed, else a
    layered drawing of its own. Each node is a ``g.wb_node`` (class
    ``wb_status_<status>``) whose tooltip holds the facts."""
    dot = shutil.which("dot") if use_dot else None
    if dot is not None:
        try:
            done = subprocess.run([dot, "-Tsvg"],
                                  input=neighbourhood_dot(graph, overlay, center, hops, limit),
                                  capture_output=True, text=True, timeout=timeout_s, check=True)
            return done.stdout[done.stdout.find("<svg"):]
        except (OSError, subprocess.SubprocessError):
            pass  # a broken or slow graphviz: the built-in drawing still shows the overlay
    return _layered_svg(graph, overlay, center or overlay.focus or "", hops, limit)


def _layered_svg(graph: OverlayGraph, overlay: GraphOverlay, center: str, hops: int,
                 limit: int) -> str:
    chosen = graph.neighbourhood(center, hops, limit) or tuple(range(min(len(graph), limit)))
    inside = set(chosen)
    depth: dict[int, int] = {}
    for i in chosen:  # graph order is topological: one pass gives the longest path
        depth[i] = max((depth[j] + 1 for j in graph.preds[i] if j in inside), default=0)
    rows: dict[int, list[int]] = {}
    for i in chosen:
        rows.setdefault(depth[i], []).append(i)
    marks = graph.marks_by_index(overlay)
    width, height, gap = 190, 34, 26
    place = {i: (10 + col * (width + 12), 10 + row * (height + gap))
             for row, members in rows.items() for col, i in enumerate(members)}
    total_w = 20 + max(len(m) for m in rows.values()) * (width + 12) if rows else 200
    total_h = 20 + len(rows) * (height + gap)
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{total_w}' height='{total_h}' "
             "font-family='Helvetica,Arial,sans-serif' font-size='9'>"]
    for i in chosen:
        for j in graph.succs[i]:
            if j in inside:
                (x1, y1), (x2, y2) = place[i], place[j]
                parts.append(f"<line x1='{x1 + width // 2}' y1='{y1 + height}' "
                             f"x2='{x2 + width // 2}' y2='{y2}' stroke='#999'/>")
    for i in chosen:
        x, y = place[i]
        mark = marks.get(i)
        tip = mark.facts_text() if mark else graph.names[i]
        status = mark.status if mark else "no mark"
        stroke = "#000" if graph.names[i] == center else "#888"
        parts.append(f"<g id='wb_node_{i}' class='wb_node wb_status_{_slug(status)}'>"
                     f"<title>{html.escape(tip)}</title><rect x='{x}' y='{y}' width='{width}' "
                     f"height='{height}' rx='5' fill='{mark.colour if mark else '#ffffff'}' "
                     f"stroke='{stroke}'/><text x='{x + 6}' y='{y + 14}'>"
                     f"{html.escape(_clip(graph.names[i], 34))}</text><text x='{x + 6}' "
                     f"y='{y + 27}' fill='#444'>{html.escape(graph.ops[i])}</text></g>")
    parts.append("</svg>")
    return "".join(parts)


def legend_html(overlay: GraphOverlay) -> str:
    """One coloured chip per status present: ``first bad node (1)`` … (inline HTML)."""
    return " ".join(
        f"<span style='background:{colour};color:{'#fff' if _dark(colour) else '#000'};"
        "border:1px solid #999;border-radius:3px;padding:0 5px;margin-right:4px;"
        f"font-size:12px'>{html.escape(status)} ({count})</span>"
        for status, colour, count in overlay.legend)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1):]


def _slug(status: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", status.lower()).strip("_")


def _dark(colour: str) -> bool:
    red, green, blue = (int(colour[k:k + 2], 16) for k in (1, 3, 5))
    return 0.299 * red + 0.587 * green + 0.114 * blue < 110


# -- overview: the graph folded by name namespace -----------------------------------------

@dataclass(frozen=True)
class NamespaceRow:
    """One namespace (``transformer.h.3.attn``): its nodes and its worst mark."""

    namespace: str
    nodes: int
    worst: NodeMark | None
    marked: int


def namespace_of(name: str, depth: int) -> str:
    """``/model/layers.3/self_attn/q_proj/MatMul`` → ``model/layers.3`` at depth 2;
    ``transformer.h.3.attn.c_attn`` → ``transformer.h.3`` (dotted names count a number
    with the part before it)."""
    parts = [p for p in re.split(r"[/]", name) if p]
    if len(parts) <= 1:
        parts = re.sub(r"\.(\d+)(?=\.|$)", r"#\1", name).split(".")
        parts = [p.replace("#", ".") for p in parts]
    return "/".join(parts[:-1][:depth]) or "(top level)"


def namespace_rows(graph: OverlayGraph, overlay: GraphOverlay, depth: int | None = None,
                   max_rows: int = 300) -> list[NamespaceRow]:
    """The graph folded by namespace, in graph order: one row per group. ``depth`` None
    picks the deepest level that keeps groups few enough to read (about 8 nodes a group,
    at most ``max_rows``). Dynamo exports are folded by their recorded module scopes."""
    marks = graph.marks_by_index(overlay)
    keys = [f"{scope}.node" if scope else name
            for name, scope in zip(graph.names, graph.scopes or [""] * len(graph), strict=True)]
    if depth is None:
        budget = min(max_rows, max(12, len(keys) // 8))
        depth = 1
        for level in range(1, 8):
            if len({namespace_of(k, level) for k in keys}) > budget:
                break
            depth = level
    groups: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(namespace_of(key, depth), []).append(i)
    rows = []
    for namespace, members in list(groups.items())[:max_rows]:
        found = [marks[i] for i in members if i in marks]
        worst = None
        for mark in found:
            if worst is None or _worse(mark, worst):
                worst = mark
        rows.append(NamespaceRow(namespace, len(members), worst, len(found)))
    return rows


def rows_as_dicts(rows: Sequence[NamespaceRow]) -> list[dict[str, Any]]:
    return [{"namespace": r.namespace, "nodes": r.nodes, "marked": r.marked,
             "worst": r.worst.status if r.worst else None} for r in rows]
