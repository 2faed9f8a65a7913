"""Shared helpers of the headless widget tests (tests/test_ui_*.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from workbench.app.session.session import WorkbenchSession
from workbench.ui.panel import Workbench, WorkbenchPanel

__all__ = ["make_panel", "wait_until"]


def wait_until(condition: Callable[[], object], timeout: float = 60.0,
               what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def make_panel(tmp_path: Path, model: Path | None = None) -> WorkbenchPanel:
    """A panel over a real session whose files go to ``tmp_path``; waits for triage."""
    session = WorkbenchSession(engines_dir=tmp_path / "engines", work_dir=tmp_path / "out")
    panel = Workbench(model, session=session)
    triage = session.tasks.get("diagnose")
    if triage is not None:
        assert triage.join(60), "the automatic diagnosis did not finish"
    return panel
