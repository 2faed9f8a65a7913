"""The engine's layers, as TREx shows them: each engine layer's precision, type, the ONNX
nodes TensorRT fused into it, its tensors (type, dims) and tactic; the precision map; and,
for FP16 builds with a keep list, whether the kept nodes run in FP32.

The records come from the engine card (``EngineLayerInfo``): from ``EngineInspector`` when
an engine was deserialized on a GPU, otherwise parsed from the DETAILED build log.
"""

from __future__ import annotations

from typing import Any

from workbench.engines.layer_report import check_keep_fp32, precision_text
from workbench.ui.common import WRAP, esc, html_table, note, plural

__all__ = ["keep_check_html", "layers_html"]

MAX_ROWS = 500  # a 30,000-node model must not produce a 30,000-row HTML table
_SOURCES = {"build_log": "the DETAILED build log", "engine_inspector": "EngineInspector"}
_PRECISION_COLOURS = {"FP32": "#1565c0", "FP16": "#2e7d32", "BF16": "#6a1b9a",
                      "INT8": "#e65100", "FP8": "#ad1457"}
# important first: what runs how, and what it came from; names and tactics last, wrapping
HEADER = ("#", "precision", "type", "ONNX nodes fused into it", "in → out", "engine layer",
          "tactic")


def layers_html(card: Any) -> str:
    """A collapsible table of the card's engine layers (or why there is none)."""
    layers = tuple(getattr(card, "layers", ()) or ())
    if not layers:
        return note("No per-layer information in this engine's card: build with profiling "
                    "verbosity 'detailed' (the default) to record it.", "info")
    fused = {node for layer in layers for node in layer.onnx_nodes}
    merged = sum(1 for layer in layers if len(layer.onnx_nodes) > 1)
    summary = (f"Engine layers: {plural(len(fused), 'ONNX node')} → "
               f"{plural(len(layers), 'engine layer')} ({plural(merged, 'fusion')}), "
               f"from {_SOURCES.get(card.layers_source, card.layers_source)}")
    precisions = precision_text(layers)
    rows = [(index, _precision_cell(layer.precision), esc(layer.layer_type),
             esc(", ".join(layer.onnx_nodes) or "—"), esc(_io_text(layer)), esc(layer.name),
             esc(_short(layer.tactic)))
            for index, layer in enumerate(layers[:MAX_ROWS])]
    styles = ["background:#eef6e6" if len(layer.onnx_nodes) > 1 else ""
              for layer in layers[:MAX_ROWS]]
    table = html_table(HEADER, rows, row_styles=styles, raw_columns=range(1, 7),
                       widths=("3%", "12%", "9%", "27%", "19%", "18%", "12%"))
    more = (f"<div><i>… and {len(layers) - MAX_ROWS} more layers (all are in the engine "
            "card's JSON)</i></div>" if len(layers) > MAX_ROWS else "")
    precision_line = (f"<div class='wb-precision-map' style='{WRAP}'><small>precision map: "
                      f"{esc(precisions)}</small></div>" if precisions else "")
    return (f"<details class='wb-layers'><summary><b>{esc(summary)}</b></summary>"
            f"{precision_line}{table}{more}</details>")


def keep_check_html(card: Any) -> str:
    """For FP16/BF16 builds with a keep list: whether the kept nodes run in FP32."""
    settings = card.settings
    if settings.precision == "fp32" or not settings.keep_fp32 or not card.layers:
        return ""
    check = check_keep_fp32(card.layers, settings.keep_fp32)
    return note(("✔ " if check else "✘ ") + esc(check.text()), "ok" if check else "error")


def _precision_cell(precision: str) -> str:
    if not precision:
        return "<span style='color:#999'>—</span>"
    colour = next((c for name, c in _PRECISION_COLOURS.items() if precision.endswith(name)),
                  "#333")
    return f"<b style='color:{colour}'>{esc(precision)}</b>"


def _io_text(layer: Any) -> str:
    ins = ", ".join(t.text() for t in layer.inputs) or "—"
    outs = ", ".join(t.text() for t in layer.outputs) or "—"
    return f"{ins} → {outs}"


def _short(tactic: str, width: int = 40) -> str:
    return tactic if len(tactic) <= width else tactic[: width - 1] + "…"
