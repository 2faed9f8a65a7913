"""The share part: everything the session found as one HTML report, and the bug bundle
(the model's failure, or a workbench bug's traceback, zipped for a report)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.app.session.tasks import TaskKind, background
from workbench.core.errors import WorkbenchBug

if TYPE_CHECKING:
    from pathlib import Path

    from workbench.app.precision.compare import PrecisionReport
    from workbench.app.session.session import WorkbenchSession
    from workbench.app.share.bundle import BundleResult

__all__ = ["SharePart"]


class SharePart:
    """Reports and bundles; reads every part's findings, so it holds the session."""

    def __init__(self, session: WorkbenchSession) -> None:
        self._session = session

    @background(TaskKind.SHARE, "writing the report")
    def report(self, path: str | Path, overwrite: bool = False) -> Path:
        """Save everything this session found as one self-contained HTML file."""
        from workbench.app.share.report import write_report

        return write_report(self._session, path, overwrite=overwrite)

    @background(TaskKind.SHARE, "making the bug bundle")
    def bundle(self, path: str | Path, overwrite: bool = False) -> BundleResult:
        """Zip the current model's failure for a TensorRT bug report."""
        from workbench.app.share.bundle import make_bundle

        session = self._session
        return make_bundle(session.state.model_source(), path, session.builds.settings,
                           overwrite=overwrite, bug=self.last_bug(),
                           comparison=self.failed_comparison())

    def failed_comparison(self) -> PrecisionReport | None:
        """The last comparison when it FAILED and TensorRT neither refused to parse nor to
        build the model (those failures come first in a bundle)."""
        session = self._session
        report = session.precision.comparison
        if report is None or report.verdict != "FAILED":
            return None
        diagnosis, job = session.triage.diagnosis, session.builds.job
        parse_failed = diagnosis is not None and not diagnosis
        build_failed = job is not None and job.state == "failed"
        return None if parse_failed or build_failed else report

    def last_bug(self) -> WorkbenchBug | None:
        """The newest workbench bug of this session: a task that ended with one, or a view
        that raised (its Bug bundle zips that traceback instead of looking for a TensorRT
        failure)."""
        state = self._session.state
        bugs = [(task.finished or 0.0, task.error) for task in state.tasks.values()
                if isinstance(task.error, WorkbenchBug)]
        view_bug = state.events.view_bug
        if view_bug is not None and isinstance(view_bug[1], WorkbenchBug):
            bugs.append((view_bug[0], view_bug[1]))
        found = max(bugs, key=lambda pair: pair[0])[1] if bugs else None
        return found if isinstance(found, WorkbenchBug) else None
