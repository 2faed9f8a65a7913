"""The Compare tab's per-layer drift: the table, paged (Prev / Next, 60 rows a page), the
worst tensors first on deep graphs, benign saturations and FP16-range findings."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from workbench.app.precision.lines import drift_reason
from workbench.settings.fields import Precision
from workbench.ui.common import LINE, esc, html_table, note

__all__ = ["DRIFT_ROWS", "DriftPager", "default_start", "drift_html"]

_BAD = "background:#ffd6d6;font-weight:bold"
DRIFT_ROWS = 60
_WORST_ROWS = 12


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.3g}"


def default_start(drift: Any) -> int:
    """The first row shown: a little before the first node over threshold, else 0."""
    layers = list(drift.layers)
    first = next((i for i, t in enumerate(layers) if t.node == drift.first_bad_node), None)
    return 0 if first is None else max(0, first - 10)


def drift_html(drift: Any, kept: tuple[str, ...] = (), precision: Precision = Precision.FP16,
               start: int | None = None) -> str:
    """Per-layer drift in topological order; the first node over threshold highlighted.
    ``start``: the first row of the page shown (default: around the first bad node)."""
    layers = list(drift.layers)
    first = next((i for i, t in enumerate(layers) if t.node == drift.first_bad_node), None)
    start = default_start(drift) if start is None else max(0, min(start, len(layers) - 1))
    shown = layers[start:start + DRIFT_ROWS]
    rows = [(t.index, t.node, t.op_type, t.tensor, _num(t.error), _num(t.reference_max_abs),
             _num(t.cosine), t.candidate_nonfinite) for t in shown]
    benign_tensors = {b.tensor for b in getattr(drift, "benign", ())}
    styles = [_BAD if t.node == drift.first_bad_node else (
        "color:#c62828" if t.over_threshold else
        "color:#2e7d32" if t.tensor in benign_tensors else "") for t in shown]
    reason = drift_reason(drift, precision)
    head = (note(f"First node whose relative error exceeds {drift.threshold:g}: "
                 f"<b>{esc(drift.first_bad_node)}</b> — {esc(reason)}", "error")
            if drift.first_bad_node else note(
                f"No layer's relative error exceeds {drift.threshold:g}.", "ok"))
    legend = ("<small style='color:#666'>relative error = max |candidate − FP32| / "
              "max |FP32| of the node's output; non-finite = NaN/Inf values in the "
              "candidate; green rows: benign saturation (attention mask)</small>")
    more = (f"<small> · rows {start + 1}–{start + len(shown)} of {len(layers)}</small>"
            if len(layers) > len(shown) else "")
    columns = ("#", "node", "op", "tensor", "rel. error", "max |FP32|", "cosine", "non-finite")
    table = more + html_table(columns, rows, row_styles=styles)
    if len(layers) > DRIFT_ROWS:  # deep graphs: the worst tensors first, then the window
        benign = {b.tensor for b in getattr(drift, "benign", ())}
        worst = sorted((t for t in layers if t.tensor not in benign), key=lambda t: -t.error)
        worst_rows = [(t.index, t.node, t.op_type, t.tensor, _num(t.error),
                       _num(t.reference_max_abs), _num(t.cosine), t.candidate_nonfinite)
                      for t in worst[:_WORST_ROWS]]
        window = "Around the first bad node" if first is not None else "In graph order"
        table = (f"<div><b>The {_WORST_ROWS} worst of {len(layers)} tensors</b></div>"
                 + html_table(columns, worst_rows) + f"<div><b>{window}</b></div>" + table)
    return (head + legend + table + _benign_html(drift)
            + (_out_of_range_html(drift, kept) if precision is Precision.FP16 else ""))


def _benign_html(drift: Any) -> str:
    """Sentinels that saturate harmlessly: shown apart, never as problems."""
    benign = getattr(drift, "benign", ())
    if not benign:
        return ""
    items = "".join(f"<li>{esc(b.describe())}</li>" for b in benign[:10])
    more = f"<li>… and {len(benign) - 10} more</li>" if len(benign) > 10 else ""
    return (f"<b style='color:#2e7d32'>Benign saturation (attention mask) — not a problem"
            f"</b><ul style='margin:2px 0;{LINE}'>{items}{more}</ul>")


def _out_of_range_html(drift: Any, kept: tuple[str, ...]) -> str:
    """FP32 values beyond the FP16 range; nodes already kept in FP32 are marked as handled."""
    if not drift.out_of_range:
        return ""
    items = []
    for r in drift.out_of_range[:10]:
        handled = (" — <span style='color:#2e7d32'>kept in FP32 ✔</span>"
                   if r.node in kept else "")
        items.append(f"<li>{esc(r.node)} / {esc(r.tensor)}: {esc(r.kind)} in "
                     f"{r.count}/{r.total} values (extreme {r.extreme:.3g}){handled}</li>")
    all_kept = all(r.node in kept for r in drift.out_of_range)
    title = ("FP32 values outside the FP16 range (all in nodes kept in FP32)" if all_kept
             else "FP32 values outside the FP16 range (±65504)")
    return f"<b>{title}</b><ul style='margin:2px 0;{LINE}'>{''.join(items)}</ul>"


class DriftPager:
    """Shows a drift report in ``html`` a page at a time, with Prev / Next."""

    def __init__(self, html: widgets.HTML) -> None:
        self.html = html
        self.prev = widgets.Button(description="◀ Prev", layout={"width": "90px"})
        self.next = widgets.Button(description="Next ▶", layout={"width": "90px"})
        self.label = widgets.HTML()
        self.prev.on_click(lambda _b: self.turn(-1))
        self.next.on_click(lambda _b: self.turn(1))
        self.widget = widgets.HBox([self.prev, self.next, self.label],
                                   layout={"display": "none"})
        self._args: tuple[Any, tuple[str, ...], Precision] | None = None
        self.start = 0

    def show(self, drift: Any, kept: tuple[str, ...] = (),
             precision: Precision = Precision.FP16,
             prefix: str = "") -> None:
        self._args, self._prefix = (drift, kept, precision), prefix
        self.start = default_start(drift)
        self._render()

    def clear(self) -> None:
        self._args = None
        self.html.value = ""
        self.widget.layout.display = "none"

    def turn(self, pages: int) -> None:
        if self._args is None:
            return
        total = len(self._args[0].layers)
        wanted = max(0, self.start + pages * DRIFT_ROWS)
        if wanted < total:  # past the last page: stay on it
            self.start = wanted
        self._render()

    def _render(self) -> None:
        assert self._args is not None
        drift, kept, precision = self._args
        total = len(drift.layers)
        self.html.value = self._prefix + drift_html(drift, kept, precision, self.start)
        paged = total > DRIFT_ROWS
        self.widget.layout.display = "" if paged else "none"
        self.prev.disabled = self.start <= 0
        self.next.disabled = self.start + DRIFT_ROWS >= total
        end = min(self.start + DRIFT_ROWS, total)
        self.label.value = f"<small>rows {self.start + 1}–{end} of {total}</small>"
