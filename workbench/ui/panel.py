"""``Workbench(model=None, session=None)``: the one panel, as a widget.

The panel builds widgets and wires them to a
``WorkbenchSession``;
all state and work live in the session. It never displays itself: the notebook shows it
by leaving it as a cell's last expression (or ``display(panel)``).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from workbench.app.session.session import LoadedModel, WorkbenchSession
from workbench.app.session.tasks import Event, Task, TaskKind
from workbench.core.errors import ModelLoadError, WorkbenchError
from workbench.ui.build.engines_tab import EnginesTab
from workbench.ui.build.tab import BuildTab
from workbench.ui.common import ErrorBox, busy_while, esc, note
from workbench.ui.compare.tab import CompareTab
from workbench.ui.graph_view import GraphTab
from workbench.ui.model_tab import ModelTab
from workbench.ui.parse_tab import ParseTab
from workbench.ui.run_tab import RunTab
from workbench.ui.share_bar import ShareBar

__all__ = ["Workbench", "WorkbenchPanel"]

_NO_SAMPLE = "(choose a sample model)"
TAB_TITLES = ("Model", "Parse", "Build", "Run", "Engines", "Compare", "Graph")


class ModelChooser:
    """A sample picker, a path field with Open, and a file upload."""

    def __init__(self, session: WorkbenchSession, samples: str | Path | None,
                 error: ErrorBox) -> None:
        self.session = session
        self.error = error  # where a refused Open shows (a click handler's raise is lost)
        folder = Path(samples) if samples is not None else session.state.samples_dir
        files = sorted(folder.glob("*.onnx")) if folder and folder.is_dir() else []
        self.samples = {path.name: path for path in files}
        self.picker = widgets.Dropdown(options=[_NO_SAMPLE, *self.samples], value=_NO_SAMPLE,
                                       description="sample", layout={"width": "330px"})
        # grows with the panel: a long path must not be cut
        self.path = widgets.Text(placeholder="path/to/model.onnx",
                                 layout={"flex": "1 1 300px", "min_width": "300px"})
        self.open_button = widgets.Button(description="Open", icon="folder-open")
        self.upload = widgets.FileUpload(accept=".onnx", multiple=False, description="Upload")
        self._syncing = False
        self.picker.observe(self._on_pick, "value")
        self.open_button.on_click(lambda _b: self.open(self.path.value.strip()))
        self.path.continuous_update = False
        self.upload.observe(self._on_upload, "value")
        self.widget = widgets.HBox([self.picker, self.path, self.open_button, self.upload])

    def _on_pick(self, change: dict[str, Any]) -> None:
        if change["new"] != _NO_SAMPLE and not self._syncing:
            self.open(self.samples[change["new"]])

    def show_loaded(self, model: LoadedModel | None) -> None:
        """Make the picker and path field say which model is open (without reloading it)."""
        if model is None:
            return  # a failed load: leave what the user picked or typed in view
        path = model.path
        sample = next((name for name, p in self.samples.items()
                       if path is not None and p.resolve() == path.resolve()), _NO_SAMPLE)
        self._syncing = True
        try:
            self.picker.value = sample
        finally:
            self._syncing = False
        if path is not None:
            self.path.value = str(path)
            self.path.tooltip = str(path)  # whole, where the field is too narrow to show it

    def _on_upload(self, change: dict[str, Any]) -> None:
        for item in change["new"] or ():
            self._start(bytes(item["content"]), str(item["name"]))

    def open(self, source: str | Path) -> Task | None:
        """Open ``source`` in the background; an empty path or a refusal shows in the panel."""
        if not str(source):
            self.error.show(ModelLoadError(
                "No model path to open.", expected="a path to an .onnx file",
                found="an empty path field",
                fix="type the model's path and press Open, pick a sample, or upload a file"))
            return None
        return self._start(Path(source), None)

    def _start(self, source: Path | bytes, label: str | None) -> Task | None:
        try:
            return self.session.start(self.session.load, source, label=label)
        except WorkbenchError as err:  # e.g. a load still running
            self.error.show(err)
            return None


class WorkbenchPanel(widgets.VBox):
    """The panel widget. Its tabs are attributes (``panel.build``…) for scripting and tests."""

    def __init__(self, session: WorkbenchSession, samples: str | Path | None = None) -> None:
        self.session = session
        self.error = ErrorBox()
        self.chooser = ModelChooser(session, samples, self.error)
        self.title = widgets.HTML()
        self.status = widgets.HTML()
        self.model_tab = ModelTab(session)
        self.parse = ParseTab(session)
        self.build = BuildTab(session)
        self.run = RunTab(session)
        self.engines = EnginesTab(session)
        self.compare = CompareTab(session)
        self.graph = GraphTab(session)
        self.share = ShareBar(session)
        tabs = (self.model_tab, self.parse, self.build, self.run, self.engines, self.compare,
                self.graph)
        self.tabs = widgets.Tab(children=[t.widget for t in tabs], titles=list(TAB_TITLES))
        super().__init__([self.title, self.chooser.widget, self.status, self.error, self.tabs,
                          self.share.widget],
                         layout=widgets.Layout(width="100%"))
        self.add_class("wb-panel")
        self._views = tabs
        self._unsubscribe = [session.on(Event.MODEL, self._on_model),
                             session.on(Event.TASK, self._on_task)]
        self._show_title()

    def _show_title(self) -> None:
        model = self.session.model
        name = esc(model.label) if model else "no model loaded"
        self.title.value = f"<h3 style='margin:4px 0'>TensorRT Workbench — {name}</h3>"

    def _on_model(self, _event: str, model: LoadedModel | None) -> None:
        self._show_title()
        self.chooser.show_loaded(model)
        self.error.show(self.session.state.load_error if model is None else None)
        for view in self._views:
            view.on_model(model)
        if model is not None:
            self.status.value = note(f"Loaded {esc(model.label)}.", "ok")
            triage = self.session.state.triage_task
            if triage is None or not triage.busy:  # fold-and-retry diagnoses by itself
                self.parse.run_diagnosis()  # ready by the time the user opens the tab

    def _on_task(self, _event: str, task: Task[Any]) -> None:
        if task.kind is TaskKind.LOAD:
            busy_while(task, [self.chooser.open_button], self.status)
            self.chooser.picker.disabled = task.busy

    def close(self) -> None:
        for off in self._unsubscribe:
            off()
        self.share.close()
        self.session.close()
        super().close()


def Workbench(
    model: str | Path | bytes | None = None,
    session: WorkbenchSession | None = None,
    samples: str | Path | None = None,
) -> WorkbenchPanel:
    """The workbench panel as a widget (display it; it never displays itself).

    Args:
        model: A model to open first (path or bytes); errors are shown in the panel.
        session: The session to view (a new one by default); reach it as ``panel.session``.
        samples: Folder of models for the picker (default: the bundled ``sample_models/``).
    """
    session = session or WorkbenchSession(samples_dir=samples)
    panel = WorkbenchPanel(session, samples)
    if model is not None:
        # A bad model is not an exception here: the model event shows it in the error box.
        with contextlib.suppress(WorkbenchError):
            session.load(model)
    elif session.model is not None:
        panel._on_model("model", session.model)
    return panel
