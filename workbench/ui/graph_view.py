"""Graph tab: what the workbench found, drawn on the model's graph.

An overlay (parse status, FP16/BF16 error, keep-FP32 lists, engine layers: whichever the
session has data for) is drawn as the neighbourhood of one node — by default the failing
node or the first bad node — with each node filled by its mark's colour and its facts as a
tooltip; choosing a node in the list redraws around it and shows its facts as a table. The
namespace overview folds the whole graph by name (``transformer.h.3.attn``) with each
group's worst mark, so a 10,000-node model still says where the problem sits. With the
``[explorer]`` extra, "Whole graph" serves the model in Model Explorer with the same
colours; without it Netron (Model tab) stays the whole-graph view, and a line says what
the extra adds.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from workbench.app.overlays.graph_overlays import available_kinds, overlay_graph
from workbench.app.overlays.overlay import ERROR_KINDS, GraphOverlay, OverlayKind
from workbench.app.overlays.overlay_graph import legend_html, namespace_rows, neighbourhood_svg
from workbench.app.session.session import LoadedModel, WorkbenchSession
from workbench.app.session.tasks import Event
from workbench.backends.explorer import EXPLORER_HINT, explorer_installed
from workbench.core.errors import WorkbenchError
from workbench.ui.common import LINE, WRAP, ErrorBox, esc, html_table, note

__all__ = ["GraphTab"]

_KIND_LABELS = {OverlayKind.PARSE: "parse status", OverlayKind.FP16: "FP16 error per node",
                OverlayKind.BF16: "BF16 error per node", OverlayKind.INT8: "INT8 error per node",
                OverlayKind.KEEP: "kept in FP32 / excluded",
                OverlayKind.ENGINE: "engine layers (fusion, precision)"}
_MAX_CHOICES = 400  # nodes offered in the list: the ranked ones first


class GraphTab:
    """The overlay chooser, the neighbourhood drawing, the facts of one node."""

    def __init__(self, session: WorkbenchSession) -> None:
        self.session = session
        self.overlay: GraphOverlay | None = None
        self._drawing_guard = False
        self.kind = widgets.Dropdown(description="overlay", options=[],
                                     layout={"width": "320px"})
        self.node = widgets.Dropdown(description="around", options=[],
                                     layout={"width": "100%", "max_width": "720px"})
        self.hops = widgets.IntSlider(value=3, min=1, max=5, description="hops",
                                      continuous_update=False, layout={"width": "260px"},
                                      style={"description_width": "40px"})
        self.summary = widgets.HTML()
        self.legend = widgets.HTML()
        self.drawing = widgets.HTML(layout={"width": "100%"})
        self.drawing.add_class("wb-overlay-graph")
        self.facts = widgets.HTML()
        self.overview = widgets.HTML()
        self.error = ErrorBox()
        self.whole_button = widgets.Button(description="Whole graph (Model Explorer)",
                                           icon="project-diagram", layout={"width": "240px"},
                                           disabled=not explorer_installed())
        self.stop_button = widgets.Button(description="Stop Model Explorer", icon="stop",
                                          disabled=True, layout={"width": "180px"})
        self.frame = widgets.HTML()
        self.hint = widgets.HTML(
            "" if explorer_installed() else note(
                esc(EXPLORER_HINT) + ". Without it, the Model tab's Netron view shows the "
                "whole graph (without colours).", "info"))
        self.kind.observe(lambda _c: self.show(), "value")
        self.node.observe(lambda _c: self.draw(), "value")
        self.hops.observe(lambda _c: self.draw(), "value")
        self.whole_button.on_click(lambda _b: self.open_whole())
        self.stop_button.on_click(lambda _b: self.stop_whole())
        session.on(Event.TASK, lambda _e, task: self._on_task(task))
        session.on(Event.BUILD, lambda _e, job: self._on_task(job))
        self.widget = widgets.VBox([
            widgets.HBox([self.kind, self.hops]), self.node, self.error, self.summary,
            self.legend, widgets.HBox([self.drawing], layout={"overflow": "auto",
                                                              "max_height": "620px"}),
            self.facts, self.overview,
            widgets.HBox([self.whole_button, self.stop_button]), self.hint, self.frame,
        ])
        self.widget.add_class("wb-graph-tab")

    # -- state --------------------------------------------------------------------------

    def on_model(self, model: LoadedModel | None) -> None:
        self.error.clear()
        self.frame.value = ""
        self.stop_button.disabled = True
        self.refresh()

    def _on_task(self, task: Any) -> None:
        if not getattr(task, "busy", False):
            self.refresh()

    def refresh(self) -> None:
        """Offer the kinds with data now; keep the chosen one when it still has data."""
        kinds = available_kinds(self.session)
        if not kinds:
            self.kind.options = []
            self.overlay = None
            self.summary.value = note(
                "No overlay yet: the parse diagnosis (Parse tab), a comparison (Compare tab) "
                "or a build (Build tab) each give one." if self.session.model else
                "Load a model to draw what the workbench finds on its graph.")
            for view in (self.legend, self.drawing, self.facts, self.overview):
                view.value = ""
            return
        options = [(_KIND_LABELS[k], k.value) for k in kinds]
        new = tuple(k for k in kinds if k.value not in [v for _l, v in self.kind.options])
        # a kind that just got data is what the user wants to see (a comparison ended…)
        wanted = (_preferred(self.session, new) if new else self.kind.value)
        self._drawing_guard = True
        try:
            self.kind.options = options
            self.kind.value = wanted
        finally:
            self._drawing_guard = False
        self.show()

    def show(self) -> None:
        """Build the chosen overlay, list its nodes, draw around its focus."""
        if self._drawing_guard or not self.kind.value:
            return
        self.error.clear()
        try:
            overlay = self.session.graph.overlay(self.kind.value)
        except WorkbenchError as err:
            self.error.show(err)
            return
        self.overlay = overlay
        graph = overlay_graph(self.session)
        ranked = [m for m in overlay.ranked() if graph.index(m.node) is not None]
        choices = [(f"{m.node} — {m.status}", m.node) for m in ranked[:_MAX_CHOICES]]
        if not choices and graph.names:
            choices = [(graph.names[0], graph.names[0])]
        self.summary.value = (f"<b>{esc(overlay.title)}</b>: {esc(overlay.summary)}")
        self.legend.value = legend_html(overlay)
        self._drawing_guard = True
        try:
            self.node.options = choices
            self.node.value = overlay.focus if overlay.focus in {v for _l, v in choices} \
                else (choices[0][1] if choices else None)
        finally:
            self._drawing_guard = False
        self.overview.value = self._overview_html(overlay)
        self.draw()

    def draw(self) -> None:
        if self._drawing_guard or self.overlay is None or self.session.model is None:
            return
        graph = overlay_graph(self.session)
        center = self.node.value
        svg = neighbourhood_svg(graph, self.overlay, center, self.hops.value)
        self.drawing.value = (f"<div class='wb-overlay-svg' title=''>{svg}</div>"
                              "<small>Hover a node for its facts; thick border: the node "
                              "chosen above.</small>")
        mark = self.overlay.mark(center) if center else None
        self.facts.value = (f"<b>{esc(center)}</b> — {esc(mark.status)}"
                            + _facts_table(mark.facts) if mark else "")

    def _overview_html(self, overlay: GraphOverlay) -> str:
        rows = namespace_rows(overlay_graph(self.session), overlay)
        if len(rows) < 2:
            return ""
        cells = [(f"<span style='display:inline-block;width:12px;height:12px;background:"
                  f"{r.worst.colour if r.worst else '#fff'};border:1px solid #999'></span>",
                  esc(r.namespace), r.nodes, r.marked, esc(r.worst.status) if r.worst else "")
                 for r in rows]
        return ("<details><summary>Overview by namespace "
                f"({len(rows)} groups; the worst mark of each)</summary>"
                + html_table(("", "namespace", "nodes", "marked", "worst"), cells)
                + "</details>")

    # -- the whole graph in Model Explorer ----------------------------------------------

    def open_whole(self) -> None:
        self.error.clear()
        try:
            view = self.session.graph.start_explorer(self.kind.value or "parse")
        except WorkbenchError as err:
            self.error.show(err)
            return
        self.stop_button.disabled = False
        self.frame.value = (
            f"<div><small>Model Explorer serving {esc(view.label)} at "
            f"<a href='{esc(view.url)}' target='_blank'>127.0.0.1:{view.port}</a></small>"
            f"</div><iframe class='wb-explorer' src='{esc(view.url)}' width='100%' "
            "height='620' style='border:1px solid #ccc'></iframe>")

    def stop_whole(self) -> None:
        self.session.graph.stop_explorer()
        self.stop_button.disabled = True
        self.frame.value = ""


def _facts_table(facts: tuple[tuple[str, str], ...]) -> str:
    """The facts of one node: keys on one line (``TensorRT says``), values wrapped."""
    rows = "".join(f"<tr><td style='white-space:nowrap;padding:1px 8px 1px 0;color:#555'>"
                   f"{esc(key)}</td><td style='{WRAP}'>{esc(value)}</td></tr>"
                   for key, value in facts)
    return f"<table style='font-size:12px;{LINE}'>{rows}</table>"


def _preferred(session: WorkbenchSession, kinds: tuple[OverlayKind, ...]) -> str:
    """A failing parse first, then a comparison's error, then an engine, else the first."""
    diagnosis = session.triage.diagnosis
    if OverlayKind.PARSE in kinds and diagnosis is not None and not diagnosis:
        return OverlayKind.PARSE.value
    for kind in (*ERROR_KINDS, OverlayKind.ENGINE):
        if kind in kinds:
            return kind.value
    return kinds[0].value
