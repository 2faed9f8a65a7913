"""The engine's layers, as TREx showed them: which ONNX nodes TensorRT fused into each
engine layer, with the layer type and the tactic it chose.

The records come from the engine card (``EngineLayerInfo``): from ``EngineInspector`` when
an engine was deserialized on a GPU, otherwise parsed from the DETAILED build log.
"""

from __future__ import annotations

from typing import Any

from workbench.ui.common import esc, html_table, note, plural

__all__ = ["layers_html"]

MAX_ROWS = 500  # a 30,000-node model must not produce a 30,000-row HTML table
_SOURCES = {"build_log": "the DETAILED build log", "engine_inspector": "EngineInspector"}


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
    rows = [(index, layer.name, layer.layer_type, _short(layer.tactic),
             ", ".join(layer.onnx_nodes) or "—")
            for index, layer in enumerate(layers[:MAX_ROWS])]
    styles = ["background:#eef6e6" if len(layer.onnx_nodes) > 1 else ""
              for layer in layers[:MAX_ROWS]]
    table = html_table(("#", "engine layer", "type", "tactic", "ONNX nodes fused into it"),
                       rows, row_styles=styles)
    more = (f"<div><i>… and {len(layers) - MAX_ROWS} more layers (all are in the engine "
            "card's JSON)</i></div>" if len(layers) > MAX_ROWS else "")
    return (f"<details class='wb-layers'><summary><b>{esc(summary)}</b></summary>"
            f"{table}{more}</details>")


def _short(tactic: str, width: int = 40) -> str:
    return tactic if len(tactic) <= width else tactic[: width - 1] + "…"
