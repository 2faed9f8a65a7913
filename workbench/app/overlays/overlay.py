"""Graph overlays: what the workbench found, as marks on the model's nodes (no widgets).

Every finding is about places in a graph: the nodes TensorRT refuses, the first node where
reduced-precision error enters, the nodes kept in FP32, the ONNX nodes fused into each
engine layer. A ``GraphOverlay`` holds one ``NodeMark`` per node it has
something to say about (a status, a colour, an optional number and the facts the tables
show), keyed by the node's name under the one naming rule
(``workbench.transforms.naming.name_nodes``: unnamed main-graph nodes are
``<op>_<index>``).

The builders are pure functions over the records the session already holds:
``parse_overlay`` (a ``ParseReport``), ``error_overlay`` (any per-node error
mapping: FP16, BF16 and INT8 share it), ``drift_overlay`` (a ``DriftReport``),
``keep_overlay`` (keep-FP32 lists, the conversion's blocked nodes, exclusions) and
``engine_overlay`` (engine layers). ``GraphOverlay.to_node_data()`` writes Model
Explorer's node-data JSON (``model_explorer.node_data_builder``'s shape, written here so the
core needs no Model Explorer).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workbench.core.records import Choice

if TYPE_CHECKING:
    from workbench.app.quant.compare import QuantReport
    from workbench.compare.drift import DriftReport
    from workbench.engines.card import EngineLayerInfo
    from workbench.transforms.precision.report import ConversionReport
    from workbench.triage.diagnosis import ParseReport

__all__ = ["ERROR_KINDS", "STATUS_COLOURS", "GraphOverlay", "NodeError", "NodeMark",
           "OverlayKind", "drift_overlay", "engine_overlay", "error_overlay", "keep_overlay",
           "parse_overlay", "quant_overlay"]


class OverlayKind(Choice):
    """What an overlay draws."""

    PARSE = "parse"
    FP16 = "fp16"
    BF16 = "bf16"
    INT8 = "int8"
    KEEP = "keep"
    ENGINE = "engine"


ERROR_KINDS = (OverlayKind.FP16, OverlayKind.BF16, OverlayKind.INT8)

# One colour per status, in the order legends list them. Reds are problems, greens are
# fine, blue is "set apart on purpose" (benign saturation, kept in FP32).
STATUS_COLOURS: dict[str, str] = {
    "failing node": "#b2182b",
    "unsupported": "#f4a582",
    "supported": "#d9f0d3",
    "first bad node": "#67001f",
    "first non-finite": "#4d004b",
    "non-finite": "#b2182b",
    "over threshold": "#ef8a62",
    "near threshold": "#fddbc7",
    "within threshold": "#d9f0d3",
    "benign saturation": "#92c5de",
    "not evaluated": "#e0e0e0",
    "kept (verified search)": "#2166ac",
    "kept by user": "#4393c3",
    "suggested keep": "#92c5de",
    "blocked operator": "#c2a5cf",
    "type rule": "#e7d4e8",
    "excluded": "#fee090",
    "FP32": "#dbe9f9",
    "FP16": "#b8e186",
    "BF16": "#c2a5cf",
    "INT8": "#fdb863",
    "FP8": "#f1b6da",
    "mixed": "#fee090",
    "no float type": "#f0f0f0",
}
_FOCUS_STATUSES = ("failing node", "first bad node", "first non-finite")


@dataclass(frozen=True)
class NodeMark:
    """What an overlay says about one node: a status, its colour, a number, the facts."""

    node: str
    status: str
    value: float | None = None  # the per-node error for error overlays
    facts: tuple[tuple[str, str], ...] = ()

    @property
    def colour(self) -> str:
        return STATUS_COLOURS.get(self.status, "#ffffff")

    def facts_text(self) -> str:
        """``status: …`` then one ``key: value`` line per fact (tooltips, the CLI)."""
        return "\n".join([f"{self.node} — {self.status}",
                          *(f"{key}: {value}" for key, value in self.facts)])

    def to_dict(self) -> dict[str, Any]:
        return {"node": self.node, "status": self.status, "colour": self.colour,
                "value": _json_number(self.value), "facts": dict(self.facts)}


@dataclass(frozen=True)
class GraphOverlay:
    """One overlay: marks by node name, the node to look at first, and a one-line summary."""

    kind: OverlayKind
    title: str
    marks: tuple[NodeMark, ...]
    focus: str | None = None  # the failing node, or the first bad node
    summary: str = ""
    _by_node: dict[str, NodeMark] = field(default_factory=dict, init=False, repr=False,
                                          compare=False)

    def __post_init__(self) -> None:
        self._by_node.update((mark.node, mark) for mark in self.marks)

    def mark(self, node: str) -> NodeMark | None:
        return self._by_node.get(node)

    @property
    def legend(self) -> tuple[tuple[str, str, int], ...]:
        """(status, colour, count) for each status present, in the palette's order."""
        counts: dict[str, int] = {}
        for mark in self.marks:
            counts[mark.status] = counts.get(mark.status, 0) + 1
        order = list(STATUS_COLOURS)
        return tuple((s, STATUS_COLOURS.get(s, "#ffffff"), counts[s]) for s in
                     sorted(counts, key=lambda s: order.index(s) if s in order else len(order)))

    def ranked(self) -> tuple[NodeMark, ...]:
        """Marks worth visiting first: focus statuses, then by value (largest), then order."""
        def key(item: tuple[int, NodeMark]) -> tuple[int, float, int]:
            index, mark = item
            focus = 0 if mark.status in _FOCUS_STATUSES else 1
            value = -(mark.value if mark.value is not None and not math.isnan(mark.value)
                      else -1.0)
            return focus, value, index
        return tuple(mark for _, mark in sorted(enumerate(self.marks), key=key))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": str(self.kind), "title": self.title, "focus": self.focus,
                "summary": self.summary,
                "legend": [{"status": s, "colour": c, "count": n} for s, c, n in self.legend],
                "marks": [mark.to_dict() for mark in self.marks]}

    def to_node_data(self, graph_id: str = "main_graph",
                     keys: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Model Explorer's node-data JSON (``ModelNodeData``): per graph, ``results`` keyed
        by node id with a value and a background colour, and ``thresholds`` that colour
        any result without one. Values are the error for error overlays, else the index
        of the status in the legend (Model Explorer shows the value on the node).

        ``keys`` maps a node name to the key to use instead: Model Explorer also matches an
        output tensor name, which is how unnamed nodes (``Relu_3`` here, ``node_1`` there)
        are found."""
        codes = {status: float(i) for i, (status, _c, _n) in enumerate(self.legend)}
        keys = keys or {}
        results = {}
        for mark in self.marks:
            value = mark.value if mark.value is not None else codes[mark.status]
            results[keys.get(mark.node, mark.node)] = {
                "value": _json_number(value) if math.isfinite(value) else 1e30,
                "bgColor": mark.colour}
        thresholds = [{"value": codes[s], "bgColor": c} for s, c, _n in self.legend]
        return {graph_id: {"results": results, "thresholds": thresholds}}


def _json_number(value: float | None) -> float | str | None:
    """JSON has no inf/NaN: they become text ("inf"), which every reader can show."""
    if value is None or math.isfinite(value):
        return value
    return str(value)


# -- parse ---------------------------------------------------------------------------------

def parse_overlay(report: ParseReport, names: Sequence[str]) -> GraphOverlay:
    """Supported and unsupported islands, and each node the parser names, from a report.

    ``names`` are the main graph's node names by index (the naming rule's)."""
    marks: dict[str, NodeMark] = {}
    for island in report.islands:
        status = "supported" if island.supported else "unsupported"
        span = island.text()
        for index in island.node_indices:
            if 0 <= index < len(names):
                marks[names[index]] = NodeMark(names[index], status, None,
                                               (("island", f"{status}: {span}"),))
    failing: list[str] = []
    for issue in report.issues:
        if issue.node_index is None or not 0 <= issue.node_index < len(names):
            continue
        name = names[issue.node_index]
        facts = [("problem", f"[{issue.category}] {issue.cause}"),
                 ("TensorRT says", issue.raw.strip()[:300])]
        facts += [("fix", fix) for fix in issue.fixes[:2]]
        previous = marks.get(name)
        if previous is not None and previous.status == "failing node":
            facts = [*previous.facts, *facts]  # several errors on one node: all of them
        marks[name] = NodeMark(name, "failing node", None, (("op", issue.op_type), *facts))
        failing.append(name)
    if report:
        summary = f"every node parses ({report.node_count} nodes)"
    else:
        unsupported = sum(1 for m in marks.values() if m.status != "supported")
        summary = (f"{len(dict.fromkeys(failing))} node(s) TensorRT refuses "
                   f"({report.headline or 'see the Parse tab'}); {unsupported} node(s) "
                   "outside the supported islands")
    ordered = tuple(marks[n] for n in names if n in marks)
    return GraphOverlay(OverlayKind.PARSE, "Parse status (TensorRT's ONNX parser)", ordered,
                        failing[0] if failing else None, summary)


# -- per-node error: FP16, BF16, INT8 alike ---------------------------------------------------

@dataclass(frozen=True)
class NodeError:
    """A node's reduced-precision error (its worst output tensor) and what else is known."""

    node: str
    error: float  # relative error; inf when non-finite where FP32 is finite
    tensor: str = ""
    facts: tuple[tuple[str, str], ...] = ()


def error_overlay(
    kind: OverlayKind | str,
    errors: Iterable[NodeError],
    threshold: float,
    *,
    first_bad: str | None = None,
    first_nonfinite: str | None = None,
    benign: Mapping[str, str] | None = None,
    not_evaluated: Iterable[str] = (),
) -> GraphOverlay:
    """Colour nodes by error against ``threshold`` (a gradient in three steps); the first
    bad node and the first non-finite node get their own status, benign saturations
    (``benign``: node → why) are set apart. The same function serves any precision."""
    kind = OverlayKind(kind)
    benign = dict(benign or {})
    marks: dict[str, NodeMark] = {}
    for item in errors:
        previous = marks.get(item.node)
        if previous is not None and (previous.value or 0.0) >= item.error:
            continue  # a node's mark is its worst output
        marks[item.node] = NodeMark(item.node, _error_status(item.error, threshold), item.error,
                                    (("relative error", _error_text(item.error)),
                                     ("threshold", f"{threshold:g}"),
                                     *((("tensor", item.tensor),) if item.tensor else ()),
                                     *item.facts))
    for node, why in benign.items():
        old = marks.get(node)
        marks[node] = NodeMark(node, "benign saturation", old.value if old else None,
                               (*(old.facts if old else ()), ("benign", why)))
    for node in not_evaluated:
        if node not in marks:
            marks[node] = NodeMark(node, "not evaluated", None, (
                ("why", f"not evaluated in {kind.value.upper()}: ONNX Runtime ran it in FP32"),))
    for focus, status in ((first_nonfinite, "first non-finite"), (first_bad, "first bad node")):
        if focus is not None:
            old = marks.get(focus)
            marks[focus] = NodeMark(focus, status, old.value if old else None,
                                    old.facts if old else ())
    label = kind.value.upper()
    over = sum(1 for m in marks.values() if m.value is not None and m.value > threshold
               and m.status != "benign saturation")
    summary = (f"first bad node: {first_bad}" if first_bad else
               f"no node over the {label} drift threshold {threshold:g}")
    summary += f"; {over} node(s) over the threshold, {len(benign)} benign saturation(s)"
    return GraphOverlay(kind, f"{label} error per node (relative to FP32)",
                        tuple(marks.values()), first_bad or first_nonfinite, summary)


def _error_status(error: float, threshold: float) -> str:
    if not math.isfinite(error):
        return "non-finite"
    if error > threshold:
        return "over threshold"
    return "near threshold" if error > threshold / 10 else "within threshold"


def _error_text(error: float) -> str:
    return "inf (NaN/Inf where FP32 is finite)" if not math.isfinite(error) else f"{error:.3g}"


def drift_overlay(kind: OverlayKind | str, drift: DriftReport,
                  not_evaluated: Iterable[str] = ()) -> GraphOverlay:
    """``error_overlay`` from a per-layer ``DriftReport`` (FP16/BF16 comparisons)."""
    ranges: dict[str, list[str]] = {}
    for issue in drift.out_of_range:
        ranges.setdefault(issue.node, []).append(issue.describe())
    keep = set(drift.suggested_keep_fp32)
    errors = []
    for layer in drift.layers:
        facts = [("max |error|", f"{layer.max_abs:.3g}"),
                 ("FP32 max |x|", f"{layer.reference_max_abs:.3g}")]
        if layer.cosine is not None:
            facts.append(("cosine", f"{layer.cosine:.6f}"))
        if layer.candidate_nonfinite:
            facts.append(("NaN/Inf values", str(layer.candidate_nonfinite)))
        facts += [("out of range", text) for text in ranges.get(layer.node, ())]
        if layer.node in keep:
            facts.append(("suggested", "keep in FP32"))
        errors.append(NodeError(layer.node, layer.error, layer.tensor, tuple(facts)))
    benign = {b.node: b.describe() for b in drift.benign}
    return error_overlay(kind, errors, drift.threshold, first_bad=drift.first_bad_node,
                         first_nonfinite=drift.first_nonfinite_node, benign=benign,
                         not_evaluated=not_evaluated)


def quant_overlay(report: QuantReport) -> GraphOverlay:
    """``error_overlay`` from an INT8/FP8 ``QuantReport``: SQNR (dB, higher is better)
    becomes the relative RMS error ``10^(-SQNR/20)``, so 20 dB is 0.1; the first node under
    the report's SQNR threshold is the first bad node."""
    errors = []
    for node in report.nodes:
        sqnr = node.output.sqnr_db
        error = 10.0 ** (-sqnr / 20.0) if math.isfinite(sqnr) else math.inf
        errors.append(NodeError(node.node, error, node.output.tensor, (
            ("SQNR", f"{sqnr:.1f} dB (threshold {report.threshold_db:g} dB)"),
            ("noise this node adds", f"{node.added_sqnr_db:.1f} dB"),
            ("reads quantized values", "yes (can be excluded)" if node.quantized else "no"),
            *((("cosine", f"{node.output.cosine:.6f}"),) if node.output.cosine is not None
              else ()))))
    overlay = error_overlay(OverlayKind.INT8, errors, 10.0 ** (-report.threshold_db / 20.0),
                            first_bad=report.first_bad_node)
    title = f"{report.precision.label} error per node (SQNR against FP32, as relative error)"
    return GraphOverlay(overlay.kind, title, overlay.marks, overlay.focus, overlay.summary)


# -- keep lists and exclusions ------------------------------------------------------------------

def keep_overlay(
    *,
    verified: Sequence[str] = (),
    by_user: Sequence[str] = (),
    suggested: Sequence[str] = (),
    conversion: ConversionReport | None = None,
    excluded: Sequence[str] = (),
    search_text: str = "",
) -> GraphOverlay:
    """Nodes kept in FP32 (a verified search's list, the user's list, the drift's
    suggestion), nodes the conversion leaves in FP32 by rule, and excluded nodes (e.g.
    from INT8 quantization). A node in several lists shows the most certain one."""
    marks: dict[str, NodeMark] = {}

    def add(nodes: Iterable[str], status: str, fact: str) -> None:
        for node in nodes:
            old = marks.get(node)
            facts = (*(old.facts if old else ()), ("list", fact))
            marks[node] = NodeMark(node, old.status if old else status, None, facts)

    add(verified, "kept (verified search)", search_text or "the keep-list search's list")
    add(by_user, "kept by user", "kept in FP32 by the user's keep list")
    add(suggested, "suggested keep", "suggested by the per-layer drift")
    if conversion is not None:
        for kept in conversion.kept:
            status = kept.reason if kept.reason in STATUS_COLOURS else "kept by user"
            add((kept.name,), status,
                f"left in FP32 by the conversion: {kept.reason}"
                + (f" ({kept.detail})" if kept.detail else ""))
    add(excluded, "excluded", "excluded from quantization")
    summary = ", ".join(f"{n} {s}" for s, _c, n in GraphOverlay(
        OverlayKind.KEEP, "", tuple(marks.values())).legend) or "no keep list yet"
    focus = next(iter(marks), None)
    return GraphOverlay(OverlayKind.KEEP, "Kept in FP32 and excluded nodes",
                        tuple(marks.values()), focus, summary)


# -- engine layers ---------------------------------------------------------------------------

def engine_overlay(layers: Sequence[EngineLayerInfo], engine: str = "engine") -> GraphOverlay:
    """Each ONNX node coloured by the precision of the engine layer it was fused into,
    with the layer and the other nodes fused with it as facts."""
    marks: dict[str, NodeMark] = {}
    for index, layer in enumerate(layers):
        precision = layer.precision
        status = _precision_status(precision)
        for node in layer.onnx_nodes:
            others = [n for n in layer.onnx_nodes if n != node]
            fused = ", ".join(others[:8]) + (f" +{len(others) - 8}" if len(others) > 8 else "")
            marks[node] = NodeMark(node, status, None, (
                ("engine layer", f"#{index} {layer.name}"),
                ("layer type", layer.layer_type or "?"),
                ("precision", precision or "no float type"),
                ("fused with", fused or "nothing (a layer of its own)"),
                *((("tactic", layer.tactic),) if layer.tactic else ())))
    summary = (f"{len(layers)} engine layers hold {len(marks)} ONNX nodes"
               if marks else "the engine's layers name no ONNX nodes (build with the "
               "DETAILED log to record them)")
    return GraphOverlay(OverlayKind.ENGINE, f"Engine layers of {engine} (fusion and precision)",
                        tuple(marks.values()), None, summary)


def _precision_status(precision: str) -> str:
    if not precision:
        return "no float type"
    out = precision.split("→")[-1]
    parts = set(out.split("+"))
    if len(parts) == 1 and out in STATUS_COLOURS:
        return out
    float_parts = parts & {"FP32", "FP16", "BF16", "INT8", "FP8"}
    return float_parts.pop() if len(float_parts) == 1 else "mixed"
