"""The panel's share row: "Export report" always, "Bug bundle" once something failed.

Files go to the session's ``work_dir`` as ``<model>.report.html`` / ``<model>.bug.zip``
(``-2``, ``-3``… when taken: nothing is overwritten). The work runs as the session's
``share`` task; the row shows where the file went.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ipywidgets as widgets

from workbench.app.session.session import LoadedModel, WorkbenchSession
from workbench.app.session.tasks import Task, TaskKind
from workbench.ui.common import ErrorBox, busy_while, esc, note

__all__ = ["ShareBar", "free_path"]

_NO_FAILURE = "a bug bundle needs a failure: a parse that fails or a build that fails"


def free_path(folder: Path, stem: str, suffix: str) -> Path:
    """``folder/stem+suffix``, or ``stem-2+suffix``… the first name not taken."""
    for number in range(1, 1000):
        path = folder / f"{stem}{'' if number == 1 else f'-{number}'}{suffix}"
        if not path.exists():
            return path
    return folder / f"{stem}-{number + 1}{suffix}"


class ShareBar:
    """Two buttons and a status line, over a session."""

    def __init__(self, session: WorkbenchSession) -> None:
        self.session = session
        self.report_button = widgets.Button(description="Export report", icon="file-code-o",
                                            tooltip="one self-contained HTML file with "
                                            "everything this session found")
        self.bundle_button = widgets.Button(description="Bug bundle", icon="bug",
                                            disabled=True, tooltip=_NO_FAILURE)
        self.status = widgets.HTML()
        self.error = ErrorBox()
        self.report_button.on_click(lambda _b: self.export_report())
        self.bundle_button.on_click(lambda _b: self.export_bundle())
        self.widget = widgets.VBox([
            widgets.HBox([self.report_button, self.bundle_button, self.status]), self.error])
        self._unsubscribe = [session.on("model", self._refresh), session.on("task",
                             self._on_task), session.on("build", self._refresh),
                             session.on("view_error", self._on_view_error)]
        self._refresh()

    def has_failure(self) -> bool:
        """A parse that failed, a build that failed (what a bundle reproduces), or a
        workbench bug (the bundle zips its traceback)."""
        session = self.session
        parse_failed = session.triage.diagnosis is not None and not session.triage.diagnosis
        job = session.builds.job
        return (parse_failed or (job is not None and job.state == "failed")
                or session.share.last_bug() is not None
                or session.share.failed_comparison() is not None)

    def _on_view_error(self, _event: str, bug: Any) -> None:
        """A view raised: shown here, under the tabs, with the Bug bundle button enabled."""
        self.error.show(bug)
        self._refresh()

    def _refresh(self, _event: str = "", _payload: Any = None) -> None:
        has_model = self.session.model is not None
        share = self.session.tasks.get(TaskKind.SHARE)
        busy = share is not None and share.busy
        self.report_button.disabled = busy or not has_model
        self.report_button.tooltip = ("one self-contained HTML file with everything this "
                                      "session found" if has_model else "load a model first")
        failed = self.has_failure()
        self.bundle_button.disabled = busy or not (has_model and failed)
        self.bundle_button.tooltip = ("zip the reduced failing model, a repro, the verbose "
                                      "log and versions for a TensorRT issue" if failed
                                      else _NO_FAILURE)
        if isinstance(_payload, LoadedModel):
            self.status.value, self.error.value = "", ""

    def _on_task(self, _event: str, task: Task) -> None:
        if task is self.session.tasks.get(TaskKind.SHARE):
            busy_while(task, [self.report_button, self.bundle_button], self.status)
            self.error.show(task.error)
            if task.state == "done":
                summary = getattr(task.result, "summary", None)  # a BundleResult says more
                text = summary().splitlines()[0] if callable(summary) else f"wrote {task.result}"
                self.status.value = note(f"✔ {esc(text)}", "ok")
        self._refresh()

    def _target(self, suffix: str) -> Path:
        model = self.session.require_model()
        folder = self.session.state.work_dir
        folder.mkdir(parents=True, exist_ok=True)
        return free_path(folder, Path(model.label).stem, suffix)

    def export_report(self) -> Task:
        """Write the session report in the background; returns the task."""
        path = self._target(".report.html")
        return self.session.start(self.session.share.report, path)

    def export_bundle(self) -> Task:
        """Write the bug bundle in the background (reduces and rebuilds: seconds)."""
        path = self._target(".bug.zip")
        return self.session.start(self.session.share.bundle, path)

    def close(self) -> None:
        for off in self._unsubscribe:
            off()
