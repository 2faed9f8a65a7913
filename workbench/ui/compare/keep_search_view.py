"""The keep-list search in the Compare tab: trial k of n with Cancel, the verified result,
and "Use this keep list for the build", which carries it to the Build tab."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from workbench.app.session.session import WorkbenchSession
from workbench.app.session.tasks import Event, Task, TaskKind, as_workbench_error
from workbench.ui.common import ErrorBox, ended_result, esc, note

__all__ = ["KeepSearchView"]


class KeepSearchView:
    """Runs ``session.precision.find_keep_list`` with the Compare tab's precision and tolerances."""

    def __init__(self, session: WorkbenchSession, precision: Callable[[], str],
                 tolerances: Callable[[], Any], seed: Callable[[], int]) -> None:
        self.session = session
        self._precision, self._tolerances, self._seed = precision, tolerances, seed
        self.search_button = widgets.Button(
            description="Find a minimal keep list", icon="search", disabled=True,
            layout={"width": "230px"},
            tooltip="re-run the comparison with candidate FP32 nodes until it passes "
                    "(≤ 10 trials), then prove no node can be dropped")
        self.cancel_button = widgets.Button(description="Cancel", icon="times",
                                            disabled=True, layout={"width": "100px"})
        self.use_button = widgets.Button(description="Use this keep list for the build",
                                         icon="arrow-right", disabled=True,
                                         layout={"width": "280px"})
        self.progress = widgets.HTML()
        self.result = widgets.HTML()
        # the keep list the button carries: a verified search result, or the list of a
        # comparison that PASSED with it ("Keep these in FP32 and re-run"), the newest wins
        self.offered: tuple[tuple[str, ...], str] | None = None
        self.error = ErrorBox()
        self.search_button.on_click(lambda _b: self.start())
        self.cancel_button.on_click(lambda _b: self.session.precision.cancel_keep_search())
        self.use_button.on_click(lambda _b: self.use())
        session.on(Event.TASK, self._on_task)
        session.on(Event.KEEP_SEARCH, self._on_trial)
        self.widget = widgets.VBox([
            widgets.HBox([self.search_button, self.cancel_button, self.use_button]),
            self.progress, self.result, self.error,
        ])

    def on_model(self, model: Any) -> None:
        self.progress.value = self.result.value = ""
        self.error.clear()
        self.search_button.disabled = model is None
        self.use_button.disabled = True
        self.offered = None

    def start(self) -> Task[Any] | None:
        self.error.clear()
        self.result.value = ""
        try:
            return self.session.start(self.session.precision.find_keep_list,
                                      self._precision(), self._tolerances(), self._seed())
        except Exception as err:  # bad tolerance text, no model, already running
            self.error.show(as_workbench_error(err, "starting the keep-list search"))
            return None

    def use(self) -> None:
        if self.offered is not None:
            keep, precision = self.offered
            self.session.precision.use_keep_list(keep, precision)
            self.result.value += note("✔ Carried to the Build tab (precision and keep FP32: "
                                      f"{esc(', '.join(keep))}).", "ok")

    def on_compare(self, report: Any) -> None:
        """A comparison ended: one that PASSED with a keep list verifies that list, so the
        button offers it at once; any other result withdraws an earlier comparison's offer
        (a search's verified result stays)."""
        if report.passed and report.keep_fp32:
            self.offered = (tuple(report.keep_fp32), str(report.precision))
            self.use_button.disabled = False
            self.use_button.tooltip = (f"PASSED with {', '.join(report.keep_fp32)} in FP32: "
                                       "carry it to the Build tab")
            return
        found = self.session.precision.keep_search
        if not (found is not None and found.verified and found.keep_fp32):
            self.offered = None
            self.use_button.disabled = True

    def _on_trial(self, _event: str, payload: tuple[int, int, tuple[str, ...]]) -> None:
        trial, budget, keep = payload
        self.progress.value = note(f"trial {trial} of at most {budget}: keeping "
                                   f"{esc(', '.join(keep) or 'nothing')} in FP32")

    def _on_task(self, _event: str, task: Task[Any]) -> None:
        if task.kind is not TaskKind.KEEP_SEARCH:
            return
        found = ended_result(task, [self.search_button], self.progress, self.error)
        self.cancel_button.disabled = not task.busy
        if task.busy:
            self.use_button.disabled = True
        if found is None:  # running, failed, or cancelled before it produced anything
            return
        self.progress.value = ""
        self.result.value = note(esc(found.summary()), "ok" if found.verified else "warn")
        usable = bool(found.verified and found.keep_fp32)
        self.offered = (tuple(found.keep_fp32), self._precision()) if usable else self.offered
        self.use_button.disabled = self.offered is None
