"""The engine explorer under the Engines tab: compare the selected engine with another
saved one (TREx's compare-engines, from the cards), and draw it as a graph. No GPU.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as widgets

from workbench.engines.compare import EngineComparison, compare_cards
from workbench.engines.drawing import engine_graph_svg
from workbench.ui.common import WRAP, esc, html_table, note

__all__ = ["EngineExplorer", "comparison_html"]

_DIFF = "background:#fff4d6"
_MAX_NODE_ROWS = 300


def comparison_html(comparison: EngineComparison) -> str:
    """The comparison as tables; rows that differ are highlighted."""
    a, b = esc(comparison.a_label), esc(comparison.b_label)
    parts = [f"<div style='{WRAP}'><b>Compare engines</b> · A = <code>{a}</code> · "
             f"B = <code>{b}</code></div>"]
    for title, rows in (("Engine", comparison.summary),
                        ("Settings that differ", comparison.settings),
                        ("Engine layers by precision", comparison.precisions),
                        ("Engine layers by type", comparison.layer_types)):
        if not rows:
            parts.append(note(f"{title}: none", "info"))
            continue
        parts.append(f"<div style='margin-top:6px'><b>{esc(title)}</b></div>")
        parts.append(html_table(("", "A", "B"), rows, widths=("34%", "33%", "33%"),
                                row_styles=[_DIFF if comparison.differs(r) else ""
                                            for r in rows]))
    parts.append(_nodes_html(comparison))
    return "".join(parts)


def _nodes_html(comparison: EngineComparison) -> str:
    nodes = comparison.nodes
    head = (f"<div style='margin-top:6px;{WRAP}'><b>ONNX nodes fused or run differently</b> "
            f"<small>({len(nodes)} group(s); {comparison.same_layers} group(s) are the same "
            f"layer in the same precision in both)</small></div>")
    if not nodes:
        return head
    rows = [(", ".join(d.nodes), d.a_precision or "—", d.b_precision or "—",
             d.a_layer or "no layer", d.b_layer or "no layer")
            for d in nodes[:_MAX_NODE_ROWS]]
    more = (f"<div><i>… and {len(nodes) - _MAX_NODE_ROWS} more</i></div>"
            if len(nodes) > _MAX_NODE_ROWS else "")
    return head + html_table(("ONNX nodes", "A precision", "B precision", "A layer",
                              "B layer"), rows,
                             widths=("30%", "12%", "12%", "23%", "23%")) + more


class EngineExplorer:
    """Compare with another saved engine; draw the selected one as a graph.

    Args:
        entries: Returns the saved engines (EngineEntry) the tab lists, by name.
        selected: Returns the name of the engine chosen in the tab's list.
    """

    def __init__(self, entries: Callable[[], dict[str, Any]],
                 selected: Callable[[], str | None]) -> None:
        self._entries = entries
        self._selected = selected
        # widths from the labels: a fixed 150 px clipped "Compare engines" to "Compare engi…"
        self.compare_with = widgets.Dropdown(options=[], description="compare with",
                                             style={"description_width": "initial"},
                                             layout={"width": "320px"})
        self.compare_button = widgets.Button(description="Compare engines", icon="columns",
                                             layout={"width": "auto"},
                                             tooltip="the selected engine (A) against this one "
                                             "(B), from their cards")
        self.graph_button = widgets.Button(description="Draw engine graph", icon="sitemap",
                                           layout={"width": "auto"},
                                           tooltip="engine layers as nodes, tensors as edges")
        self.output = widgets.HTML()
        for widget, name in ((self.compare_button, "wb-compare-engines"),
                             (self.graph_button, "wb-engine-graph"),
                             (self.output, "wb-explorer-output")):
            widget.add_class(name)
        self.compare_button.on_click(lambda _b: self.compare())
        self.graph_button.on_click(lambda _b: self.draw())
        self.widget = widgets.VBox([
            widgets.HTML("<b>Engine explorer</b> <small>(from the engine cards; no GPU "
                         "needed)</small>"),
            widgets.HBox([self.compare_with, self.compare_button, self.graph_button]),
            self.output,
        ])

    def update(self, names: Sequence[str]) -> None:
        """The engines to compare with: all listed but the selected one."""
        chosen = self._selected()
        others = [n for n in names if n != chosen]
        keep = self.compare_with.value
        self.compare_with.options = others
        self.compare_with.value = keep if keep in others else (others[0] if others else None)
        with_card = self._card(chosen) is not None
        self.compare_button.disabled = not (with_card and others)
        self.graph_button.disabled = not with_card
        self.output.value = ""

    def _card(self, name: str | None) -> Any:
        entry = self._entries().get(name or "")
        return None if entry is None else entry.card

    def compare(self) -> str:
        a, b = self._selected(), self.compare_with.value
        card_a, card_b = self._card(a), self._card(b)
        if card_a is None or card_b is None:
            self.output.value = note("Pick two saved engines that have cards.", "warn")
        else:
            self.output.value = comparison_html(compare_cards(card_a, card_b, a or "", b or ""))
        return str(self.output.value)

    def draw(self) -> str:
        name = self._selected()
        card = self._card(name)
        if card is None:
            self.output.value = note("Pick a saved engine that has a card.", "warn")
            return str(self.output.value)
        svg = engine_graph_svg(card, name or "engine")
        path = self._entries()[name or ""].path
        self.output.value = (
            f"<div style='{WRAP}'><b>{esc(name)}</b> as a graph: engine layers (fill: "
            "precision — blue FP32, green FP16) and the tensors between them. <small>Save it "
            f"with <code>trt-workbench engine {esc(path)} --graph {esc(name)}.svg</code>"
            "</small></div>"
            # width 0 + min-width 100%: a wide drawing scrolls inside its box instead of
            # widening the widget (a flex item grows to its content otherwise)
            "<div class='wb-engine-graph-view' style='width:0;min-width:100%;max-height:640px;"
            f"overflow:auto;border:1px solid #ddd'>{svg}</div>")
        return str(self.output.value)
