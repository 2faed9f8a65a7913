"""The optional mask fix in the Compare tab: shown when the model has ``finfo.min`` mask
constants; "Clamp mask constants and re-run" verifies it, "Open the clamped model" uses it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from workbench.app.session.session import WorkbenchSession
from workbench.app.session.tasks import Event, Task, TaskKind, as_workbench_error
from workbench.transforms.mask_clamp import tensor_names
from workbench.ui.common import ErrorBox, ended_result, esc, note

__all__ = ["MaskFixView"]


class MaskFixView:
    """Runs ``session.precision.clamp_masks`` with the Compare tab's settings."""

    def __init__(self, session: WorkbenchSession, settings: Callable[[], dict[str, Any]]
                 ) -> None:
        self.session = session
        self._settings = settings  # precision, tolerances, keep_fp32, seed of the tab
        self.apply_button = widgets.Button(
            description="Clamp mask constants and re-run", icon="magic", disabled=True,
            layout={"width": "280px"},
            tooltip="write a copy of the model with the mask constants at -1e4, then re-run "
                    "FP32 (must not change) and the comparison (must pass)")
        self.use_button = widgets.Button(description="Open the clamped model",
                                         icon="folder-open", disabled=True,
                                         layout={"width": "230px"})
        self.offer, self.status, self.result = widgets.HTML(), widgets.HTML(), widgets.HTML()
        self.error = ErrorBox()
        self.apply_button.on_click(lambda _b: self.start())
        self.use_button.on_click(lambda _b: self.use())
        session.on(Event.TASK, self._on_task)
        self.widget = widgets.VBox([
            self.offer, widgets.HBox([self.apply_button, self.use_button]), self.status,
            self.result, self.error,
        ], layout={"display": "none"})

    def on_model(self, _model: Any) -> None:
        self.offer.value = self.status.value = self.result.value = ""
        self.error.clear()
        self.apply_button.disabled = self.use_button.disabled = True
        self.widget.layout.display = "none"

    def on_report(self, report: Any) -> None:
        """Offer the fix when the compared model has mask constants FP16 cannot hold."""
        constants = tuple(report.mask_constants)
        self.widget.layout.display = "" if constants else "none"
        self.apply_button.disabled = not constants
        if not constants:
            return
        names = tensor_names(constants)
        self.offer.value = note(
            f"<b>Optional fix:</b> clamp the attention-mask constant(s) <b>{esc(names)}</b> "
            f"(finfo.min, beyond {esc(report.precision.upper())}'s range) to −10000, which "
            f"{esc(report.precision.upper())} holds exactly: the saturation goes away and "
            "stacked masks stay finite. <i>Clamp mask constants and re-run</i> writes a copy "
            "of the model and checks it: the FP32 answer must not change and the comparison "
            "must pass.", "info")

    def start(self) -> Task[Any] | None:
        self.error.clear()
        self.result.value = ""
        try:
            return self.session.start(self.session.precision.clamp_masks, **self._settings())
        except Exception as err:  # bad tolerance text, no model, already running
            self.error.show(as_workbench_error(err, "starting the mask fix"))
            return None

    def use(self) -> Task[Any] | None:
        try:
            return self.session.use_clamped_model()
        except Exception as err:  # nothing clamped yet, a load already running
            self.error.show(as_workbench_error(err, "opening the clamped model"))
            return None

    def _on_task(self, _event: str, task: Task[Any]) -> None:
        if task.kind is not TaskKind.MASK_FIX:
            return
        found = ended_result(task, [self.apply_button], self.status, self.error)
        if task.busy:
            self.use_button.disabled = True
        if found is None:
            return
        kind = {"verified": "ok", "changes the FP32 answer": "warn"}.get(found.status, "error")
        self.result.value = note("<br>".join(esc(line) for line in found.lines()), kind)
        self.use_button.disabled = found.after.verdict != "PASSED"
        self.use_button.button_style = "success" if found.verified else "warning"
