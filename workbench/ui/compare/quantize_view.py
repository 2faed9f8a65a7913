"""The Compare tab's "Quantize (INT8)" section: a thin view over the session's INT8 area.

Quantize (TensorRT preset) → Compare with FP32 (CPU, fake quantization) → Find exclusions
(verified, 1-minimal) → quantize again with them → Open the Q/DQ model to build it. All
of it runs in the session's QUANTIZE task slot, with Cancel.
"""

from __future__ import annotations

import re
from typing import Any

import ipywidgets as widgets

from workbench.app.session.session import WorkbenchSession
from workbench.app.session.tasks import Event, Task, TaskKind, as_workbench_error
from workbench.compare.plots import sqnr_curve
from workbench.ui.common import ErrorBox, ended_result, esc, figure_png, html_table, note, show_png

__all__ = ["QuantizeView"]


class QuantizeView:
    """Buttons over ``session.quant``'s ``quantize`` / ``compare`` / ``find_exclusions`` (each
    started with ``session.start``) / ``cancel``, and ``session.use_quantized_model``."""

    def __init__(self, session: WorkbenchSession) -> None:
        self.session = session
        self.precision = widgets.Dropdown(options=["int8", "fp8"], value="int8",
                                          description="Q/DQ to", layout={"width": "170px"})
        self.exclude = widgets.Text(description="leave in float", placeholder="node names",
                                    layout={"width": "420px"})
        self.quantize_button = widgets.Button(description="Quantize", icon="compress",
                                              disabled=True)
        self.compare_button = widgets.Button(description="Compare with FP32",
                                             icon="balance-scale", disabled=True,
                                             layout={"width": "170px"})
        self.search_button = widgets.Button(description="Find exclusions", icon="search",
                                            disabled=True, layout={"width": "150px"})
        self.cancel_button = widgets.Button(description="Cancel", icon="times", disabled=True,
                                            layout={"width": "100px"})
        self.open_button = widgets.Button(description="Open the Q/DQ model", icon="folder-open",
                                          disabled=True, layout={"width": "190px"})
        self.status, self.result = widgets.HTML(), widgets.HTML()
        self.plot = widgets.Image(format="png", layout={"display": "none"})
        self.error = ErrorBox()
        self.quantize_button.on_click(lambda _b: self._start(self._quantize))
        self.compare_button.on_click(
            lambda _b: self._start(lambda: self.session.start(self.session.quant.compare)))
        self.search_button.on_click(
            lambda _b: self._start(lambda: self.session.start(self.session.quant.find_exclusions)))
        self.cancel_button.on_click(lambda _b: self.session.quant.cancel())
        self.open_button.on_click(lambda _b: self._start(self.session.use_quantized_model))
        session.on(Event.TASK, self._on_task)
        self.widget = widgets.VBox([
            widgets.HTML("<b>Quantize (INT8 / FP8 Q/DQ for TensorRT)</b> — ONNX Runtime's "
                         "static quantizer with the TensorRT preset; compared on CPU (fake "
                         "quantization: a GPU engine's INT8 kernels differ again)"),
            widgets.HBox([self.precision, self.exclude]),
            widgets.HBox([self.quantize_button, self.compare_button, self.search_button,
                          self.cancel_button, self.open_button]),
            self.status, self.error, self.result, self.plot,
        ])

    @property
    def _buttons(self) -> list[widgets.Button]:
        return [self.quantize_button, self.compare_button, self.search_button]

    def on_model(self, model: Any) -> None:
        self.status.value = self.result.value = ""
        show_png(self.plot, b"")
        self.error.clear()
        self.quantize_button.disabled = model is None
        self.compare_button.disabled = self.search_button.disabled = True
        self.open_button.disabled = True

    def excluded(self) -> tuple[str, ...]:
        return tuple(name for name in re.split(r"[,\s]+", self.exclude.value) if name)

    def _quantize(self) -> Task[Any]:
        from workbench.transforms.quant.settings import QuantSettings

        settings = QuantSettings.tensorrt(precision=str(self.precision.value),
                                          exclude=self.excluded())
        return self.session.start(self.session.quant.quantize, settings)

    def _start(self, start: Any) -> Task[Any] | None:
        self.error.clear()
        try:
            return start()
        except Exception as err:  # no model, already running, bad names
            self.error.show(as_workbench_error(err, "starting the INT8 step"))
            return None

    def _on_task(self, _event: str, task: Task[Any]) -> None:
        if task.kind is not TaskKind.QUANTIZE:
            return
        found = ended_result(task, self._buttons, self.status, self.error)
        self.cancel_button.disabled = not task.busy
        done = self.session.quant.quantized is not None
        if not task.busy:
            self.compare_button.disabled = self.open_button.disabled = not done
            self.search_button.disabled = not done
        if found is not None:
            self.result.value = self._result_html(found)

    def _result_html(self, found: Any) -> str:
        from workbench.app.quant.compare import QuantReport
        from workbench.app.quant.exclusions import ExclusionResult

        if isinstance(found, QuantReport):
            show_png(self.plot, figure_png(sqnr_curve(found.nodes, found.threshold_db))
                     if found.nodes else b"")
            rows = [(n.node, n.op_type, f"{n.output.sqnr_db:.1f}", f"{n.added_sqnr_db:.1f}")
                    for n in found.worst_nodes(8)]
            return (note(esc(found.summary()).replace("\n", "<br>"),
                         "ok" if found.passed else "warn")
                    + html_table(("node", "op", "output SQNR dB", "noise it adds, dB"), rows))
        if isinstance(found, ExclusionResult):
            if found.verified:
                self.exclude.value = ", ".join(found.exclude)
            return note(esc(found.summary()) + (" — copied to 'leave in float': press "
                                                "Quantize to write that model"
                                                if found.verified and found.exclude else ""),
                        "ok" if found.verified else "warn")
        summary = getattr(found, "summary", None)
        return note(esc(summary() if callable(summary) else str(found)), "ok")
