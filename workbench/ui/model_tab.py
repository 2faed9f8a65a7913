"""Model tab: summary, I/O table, paged node table, op histogram, Netron graph view.

The node table renders one page of HTML at a time, so a 30,000-node model costs what a
50-node one does; filtering is a linear scan over the summary's frozen NodeInfo records.
"""

from __future__ import annotations

import io
from typing import Any

import ipywidgets as widgets

from workbench.app.session.session import LoadedModel, WorkbenchSession
from workbench.app.session.tasks import Event
from workbench.core.errors import WorkbenchError
from workbench.inspection.quantization import QOPERATOR_OPS
from workbench.ui.common import ErrorBox, esc, html_table, kv_table, note, show_png
from workbench.ui.freeze_view import FreezeView

__all__ = ["ModelTab", "histogram_png"]

_ALL_OPS = "(all ops)"
_MAIN = "main graph"
_MANY_CONSTANTS = 20  # more Constant nodes than this: hidden by default (Paddle exports)


def histogram_png(histogram: tuple[tuple[str, int], ...], top: int = 20) -> bytes:
    """A horizontal bar chart of the most frequent op types, as PNG bytes."""
    from matplotlib.figure import Figure  # no pyplot: no global state, no backend switch

    items = list(histogram[:top])
    if len(histogram) > top:
        items.append((f"{len(histogram) - top} other ops", sum(c for _, c in histogram[top:])))
    items.reverse()
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(4.6, 0.2 * len(items) + 0.9), dpi=90)
    ax = fig.add_subplot()
    bars = ax.barh([name for name, _ in items], [count for _, count in items], color="#76b900")
    ax.bar_label(bars, fontsize=7, padding=2)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # node counts: no "0.25 nodes"
    ax.margins(x=0.12)
    ax.set_xlabel("nodes")
    ax.set_title("op types", fontsize=10)
    ax.tick_params(labelsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


_QUANT_ROWS = 40


def _scale_text(tensor: Any) -> str:
    if tensor.scale_min is None:
        return "?"
    if tensor.channels == 1:
        return f"{tensor.scale_min:.3g}"
    return f"{tensor.scale_min:.3g} … {tensor.scale_max:.3g} ({tensor.channels} channels)"


def _dims_text(spec: Any) -> str:
    if spec.shape is None:
        return "? (unknown rank)"
    # shape inference names the dims it cannot know "unk__3": to a reader, that is "?"
    return "[" + ", ".join("?" if d is None or str(d).startswith("unk__") else str(d)
                           for d in spec.shape) + "]"


class ModelTab:
    """Views over ``session.model.summary`` and the session's Netron server."""

    def __init__(self, session: WorkbenchSession, page_size: int = 50) -> None:
        self.session = session
        self.page = 0
        self.page_size = page_size
        self._filtered: list[Any] = []
        self.summary = widgets.HTML("<i>Load a model to see its summary.</i>")
        self.io_table = widgets.HTML()
        self.search = widgets.Text(placeholder="filter nodes by name, op or tensor",
                                   layout={"width": "260px"})
        self.op_filter = widgets.Dropdown(options=[_ALL_OPS], value=_ALL_OPS,
                                          layout={"width": "180px"})
        self.hide_constants = widgets.Checkbox(value=False, description="hide Constant nodes",
                                               indent=False,
                                               # the count follows the label: never cut it
                                               layout={"width": "auto", "min_width": "250px"})
        self.graph_choice = widgets.Dropdown(options=[_MAIN], value=_MAIN,
                                             layout={"width": "330px", "display": "none"},
                                             tooltip="browse the bodies of If/Loop/Scan nodes")
        self.prev_button = widgets.Button(description="◀ prev", layout={"width": "80px"})
        self.next_button = widgets.Button(description="next ▶", layout={"width": "80px"})
        self.page_label = widgets.HTML(layout={"flex": "0 1 auto", "margin": "0 8px"})
        self.nodes = widgets.HTML()
        self.histogram = widgets.Image(format="png", layout={"display": "none"})
        self.view_button = widgets.Button(description="View graph (Netron)",
                                          icon="project-diagram", button_style="info",
                                          layout={"width": "200px"}, disabled=True,
                                          tooltip="serve the model with Netron on 127.0.0.1")
        self.stop_button = widgets.Button(description="Stop Netron", icon="stop", disabled=True,
                                          layout={"width": "140px"})
        self.graph = widgets.HTML()
        self.view_button.add_class("wb-view-graph")
        self.error = ErrorBox()
        self.search.observe(lambda _c: self.apply_filter(), "value")
        self.op_filter.observe(lambda _c: self.apply_filter(), "value")
        self.hide_constants.observe(lambda _c: self.apply_filter(), "value")
        self.graph_choice.observe(lambda _c: self.apply_filter(), "value")
        self.prev_button.on_click(lambda _b: self.show_page(self.page - 1))
        self.next_button.on_click(lambda _b: self.show_page(self.page + 1))
        self.view_button.on_click(lambda _b: self.view_graph())
        self.stop_button.on_click(lambda _b: self.stop_graph())
        session.on(Event.GRAPH, lambda _e, _v: self._show_graph())
        # The graph view sits above the node table: below 50 rows it would be out of sight.
        self.details = widgets.VBox([
            widgets.HBox([self.view_button, self.stop_button]), self.error, self.graph,
            widgets.HTML("<b>Nodes</b>"),
            widgets.HBox([self.graph_choice, self.search, self.op_filter,
                          self.hide_constants]),
            widgets.HBox([self.prev_button, self.page_label, self.next_button]),
            self.nodes,
        ], layout={"display": "none"})  # nothing to search or draw until a model is open
        self.freeze = FreezeView(session)
        self.widget = widgets.VBox([
            widgets.HBox([widgets.VBox([self.summary, self.io_table],
                                       layout={"width": "60%"}), self.histogram]),
            self.freeze.widget, self.details,
        ])

    @property
    def _node_controls(self) -> list[widgets.Widget]:
        return [self.search, self.op_filter, self.prev_button, self.next_button,
                self.hide_constants, self.graph_choice]

    def on_model(self, model: LoadedModel | None) -> None:
        self.error.clear()
        self.freeze.on_model(model)
        self.details.layout.display = "none" if model is None else ""
        if model is None:
            self.summary.value = ("<i>No model loaded: pick a sample, type a path or upload an "
                                  ".onnx file above.</i>")
            for w in (self.io_table, self.nodes, self.page_label):
                w.value = ""
            show_png(self.histogram, b"")
            self._filtered = []
            self.view_button.disabled = True
            for control in self._node_controls:
                control.disabled = True
            return
        for control in (self.search, self.op_filter, self.hide_constants, self.graph_choice):
            control.disabled = False
        summary = model.summary
        constants = dict(summary.op_histogram).get("Constant", 0)
        self.hide_constants.value = constants > _MANY_CONSTANTS
        self.hide_constants.description = f"hide Constant nodes ({constants:,})"
        self.hide_constants.layout.display = "" if constants else "none"
        bodies = [sub.label for sub in summary.subgraphs]
        self.graph_choice.options = [_MAIN, *bodies]
        self.graph_choice.value = _MAIN
        self.graph_choice.layout.display = "" if bodies else "none"
        self.summary.value = self._summary_html(model)
        self.io_table.value = self._io_html(summary) + self._quant_html(summary)
        ops = [name for name, _ in summary.op_histogram]
        self.op_filter.options = [_ALL_OPS, *ops]
        self.op_filter.value = _ALL_OPS
        self.search.value = ""
        self.apply_filter()
        show_png(self.histogram, histogram_png(summary.op_histogram) if ops else b"")
        self.view_button.disabled = False

    @staticmethod
    def _summary_html(model: LoadedModel) -> str:
        s = model.summary
        opsets = ", ".join(f"{o.display_domain} {o.version}" for o in s.opsets)
        rows = [
            ("file", model.label), ("graph", s.graph_name), ("producer", s.producer or "?"),
            ("IR version", s.ir_version), ("opsets", opsets), ("nodes", f"{len(s.nodes):,}"),
            ("parameters", f"{s.parameter_count:,} ({s.parameter_bytes / 2**20:.2f} MiB)"
             + (f", {s.constant_parameter_count:,} of them in Constant nodes"
                if s.constant_parameter_count else "")),
        ]
        if s.external_data_files:
            rows.append(("external data", ", ".join(s.external_data_files)))
        if s.subgraph_count:
            rows.append(("subgraphs", s.subgraph_count))
        text = kv_table(rows)
        if s.checker_problems:
            items = "".join(f"<li>{esc(p)}</li>" for p in s.checker_problems[:5])
            text += note(f"onnx.checker found problems:<ul>{items}</ul>", "warn")
        if s.shape_inference.error:
            text += note(f"shape inference: {esc(s.shape_inference.error)}", "warn")
        return text

    @staticmethod
    def _io_html(summary: Any) -> str:
        rows = [("input", spec.name, spec.dtype, _dims_text(spec)) for spec in summary.inputs]
        rows += [("output", spec.name, spec.dtype, _dims_text(spec)) for spec in summary.outputs]
        return "<b>Inputs and outputs</b>" + html_table(("", "name", "dtype", "shape"), rows)

    def _quant_html(self, summary: Any) -> str:
        """Quantized tensors with their scales, when the model has Q/DQ or ORT integer ops."""
        ops = {name for name, _ in summary.op_histogram}
        if not ops & {"QuantizeLinear", "DequantizeLinear", *QOPERATOR_OPS}:
            return ""
        info = self.session.quant.info()
        lines = "".join(f"<li>{esc(line)}</li>" for line in info.lines())
        rows = [(t.kind, t.tensor, t.dtype, _scale_text(t), ", ".join(t.consumers[:3]))
                for t in info.tensors[:_QUANT_ROWS]]
        more = (f"<i>… and {len(info.tensors) - _QUANT_ROWS} more</i>"
                if len(info.tensors) > _QUANT_ROWS else "")
        return (f"<b>Quantization</b><ul>{lines}</ul>"
                + (html_table(("", "tensor", "to", "scale", "read by"), rows) if rows else "")
                + more)

    # -- node table -------------------------------------------------------------------

    def _graph_nodes(self) -> tuple[Any, ...]:
        """The nodes of the chosen graph: the main one, or an If/Loop/Scan body."""
        model = self.session.model
        if model is None:
            return ()
        choice = self.graph_choice.value
        for sub in model.summary.subgraphs:
            if sub.label == choice:
                return tuple(sub.nodes)
        return tuple(model.summary.nodes)

    def apply_filter(self) -> None:
        nodes = self._graph_nodes()
        needle = self.search.value.strip().lower()
        op = self.op_filter.value
        if self.hide_constants.value and op != "Constant":
            nodes = tuple(n for n in nodes if n.qualified_op != "Constant")
        if op != _ALL_OPS:
            nodes = tuple(n for n in nodes if n.qualified_op == op)
        if needle:
            nodes = tuple(n for n in nodes if needle in n.name.lower()
                          or needle in n.op_type.lower()
                          or any(needle in t.lower() for t in n.inputs + n.outputs))
        self._filtered = list(nodes)
        self.show_page(0)

    @property
    def page_count(self) -> int:
        return max(1, -(-len(self._filtered) // self.page_size))

    def show_page(self, page: int) -> None:
        self.page = min(max(0, page), self.page_count - 1)
        start = self.page * self.page_size
        rows = [
            (n.index, n.label, n.qualified_op, self._tensors(n.inputs),
             self._tensors(n.outputs), "; ".join(f"{k}={v}" for k, v in n.attributes))
            for n in self._filtered[start:start + self.page_size]
        ]
        self.nodes.value = html_table(("#", "name", "op", "inputs", "outputs", "attributes"),
                                      rows)
        total = len(self._graph_nodes())
        self.page_label.value = self._page_text(start, len(rows), total)
        if not self._filtered and total:
            self.nodes.value = note("No node matches this filter.", "warn")
        self.prev_button.disabled = self.page == 0
        self.next_button.disabled = self.page >= self.page_count - 1

    def _tensors(self, names: tuple[str, ...]) -> str:
        """``name: float32 [1, 8, 16, 16]`` per tensor, from declared and inferred specs."""
        model = self.session.model
        parts = []
        for name in names:
            spec = model.summary.tensor_spec(name) if model and name else None
            parts.append(f"{name}: {spec.dtype} {_dims_text(spec)}" if spec else name)
        return ", ".join(parts)

    def _page_text(self, start: int, shown: int, total: int) -> str:
        found = len(self._filtered)
        if not shown:
            text = f"no node of {total:,} matches"
        else:
            what = (f"{found:,} nodes" if found == total
                    else f"{found:,} matching nodes ({total:,} in all)")
            pages = f" · page {self.page + 1}/{self.page_count}" if self.page_count > 1 else ""
            text = f"rows {start + 1:,}–{start + shown:,} of {what}{pages}"
        return f"<span style='white-space:nowrap'>{text}</span>"

    # -- graph view -------------------------------------------------------------------

    def view_graph(self) -> None:
        self.error.clear()
        try:
            self.session.graph.start()
        except WorkbenchError as err:
            self.error.show(err)

    def stop_graph(self) -> None:
        self.session.graph.stop()

    def _show_graph(self) -> None:
        view = self.session.graph.view
        self.stop_button.disabled = view is None
        self.view_button.disabled = view is not None or self.session.model is None
        if view is None:
            self.graph.value = ""
            return
        self.graph.value = (
            f"<div><small>Netron serving {esc(view.label)} at "
            f"<a href='{view.url}' target='_blank'>{view.url}</a> (works when the browser runs "
            "on the kernel's machine)</small></div>"
            f"<iframe class='wb-netron' src='{view.url}' width='100%' height='520' "
            "style='border:1px solid #ccc'></iframe>"
        )
