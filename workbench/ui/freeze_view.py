"""Freeze an input that decides an If, in the Model tab: shown when an If compares a graph
input with a constant (``sr == 16000``). TensorRT builds every branch for every profile
shape; a copy with the input fixed keeps only the branch that value takes."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from workbench.app.session.session import LoadedModel, WorkbenchSession
from workbench.app.session.tasks import Event, Task, TaskKind, as_workbench_error
from workbench.core.errors import WorkbenchError
from workbench.inspection.control_flow import FreezeChoice
from workbench.ui.common import ErrorBox, ended_result, esc, note

__all__ = ["FreezeView"]


class FreezeView:
    """Offers ``session.triage.freeze_inputs`` for each value an If condition compares with."""

    def __init__(self, session: WorkbenchSession) -> None:
        self.session = session
        self.choices: dict[str, FreezeChoice] = {}
        self.started: FreezeChoice | None = None  # what the running/last freeze fixes
        self._fixed = ""
        self.offer = widgets.HTML()
        self.choice = widgets.Dropdown(options=[], layout={"width": "380px"},
                                       description="freeze")
        # prefilled with the value the condition compares with; the user types theirs
        self.value = widgets.Text(description="to", layout={"width": "160px"},
                                  style={"description_width": "24px"})
        self.choice.observe(lambda _c: self._prefill(), "value")
        self.button = widgets.Button(
            description="Freeze and open the copy", icon="thumb-tack", layout={"width": "230px"},
            tooltip="write a copy with this input fixed and the If folded into its branch, "
                    "then open it; your file is not changed")
        self.button.add_class("wb-freeze-button")
        self.status = widgets.HTML()
        self.error = ErrorBox()
        self.button.on_click(lambda _b: self.start())
        session.on(Event.TASK, self._on_task)
        self.box = widgets.VBox([self.offer,
                                 widgets.HBox([self.choice, self.value, self.button])],
                                layout={"display": "none"})
        self.widget = widgets.VBox([self.box, self.status, self.error])

    def on_model(self, model: LoadedModel | None) -> None:
        self.status.value = ""
        self.error.clear()
        try:
            found = self.session.triage.freeze_choices() if model is not None else ()
        except Exception as err:  # a graph that cannot be read again: say so, offer nothing
            self.error.show(as_workbench_error(err, "looking for inputs that decide an If"))
            found = ()
        self.choices = {choice.label(): choice for choice in found}
        self.choice.options = list(self.choices)
        self.choice.value = next(iter(self.choices), None)  # options alone leave it None
        self._prefill()
        self.box.layout.display = "" if found else "none"
        self.button.disabled = not found
        if found:
            inputs = ", ".join(dict.fromkeys(c.input for c in found))
            self.offer.value = note(
                f"<b>Control flow:</b> an If is decided by the input(s) <b>{esc(inputs)}</b>. "
                "TensorRT builds every branch for every profile shape, including branches "
                "your inputs never take. If you deploy one value, freeze it: the copy "
                "(in workbench_out/) keeps only the branch that value takes. The box starts "
                "at the value the If compares with: type the one you deploy. One engine per "
                "value.", "info")

    def _prefill(self) -> None:
        choice = self.choices.get(str(self.choice.value))
        self.value.value = str(choice.values[choice.input]) if choice else ""

    def _values(self, choice: FreezeChoice) -> dict[str, object]:
        text = self.value.value.strip()
        for kind in (int, float):
            try:
                return {choice.input: kind(text)}
            except ValueError:
                continue
        raise WorkbenchError(f"Cannot freeze {choice.input} to {text!r}.",
                             expected="a number, e.g. " + str(choice.values[choice.input]),
                             found=repr(text), fix="type the value you deploy with")

    def start(self) -> Task[Any] | None:
        self.error.clear()
        choice = self.choices.get(str(self.choice.value))
        try:
            if choice is None:
                raise WorkbenchError("No value picked to freeze.", expected="a value in the list",
                                     found=repr(self.choice.value),
                                     fix="pick one, then press again")
            values = self._values(choice)
            self.started = choice
            self._fixed = ", ".join(f"{name} = {value}" for name, value in values.items())
            return self.session.start(self.session.triage.freeze_inputs, values)
        except Exception as err:  # no model, another triage step running
            self.error.show(as_workbench_error(err, "freezing an input"))
            return None

    def _on_task(self, _event: str, task: Task[Any]) -> None:
        if task.kind is not TaskKind.FREEZE:
            return
        written = ended_result(task, [self.button], self.status, self.error)
        if written is None:
            return
        model = self.session.model
        left = model.summary.subgraph_count if model is not None else 0
        where = f" (decides If {self.started.if_node!r})" if self.started else ""
        self.status.value = note(
            f"✔ Opened {esc(written.name)}, with {esc(self._fixed + where)} fixed: "
            + ("no If/Loop/Scan is left. Build it in the Build tab." if not left else
               f"{left} control-flow bodies are left (decided by other inputs)."), "ok")
