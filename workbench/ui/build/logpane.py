"""A live log pane that stays responsive for 100,000+ lines.

TensorRT pushes thousands of lines per second at VERBOSE. The pane therefore keeps only the
last ``tail`` matching lines (a bounded deque), re-renders at most every ``refresh_s``
seconds from a timer (never once per line), and renders only those lines as HTML. The
whole history lives in the job's bounded ``LogBus``; "Show all"
renders it on demand into a Textarea. All updates are trait assignments, so the pane can be
fed from the build thread.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable

import ipywidgets as widgets

from workbench.core.logbus import SEVERITIES, LogBus, LogRecord, severity_rank
from workbench.ui.common import esc

__all__ = ["LogPane"]

_COLOURS = {
    "INTERNAL_ERROR": "#b71c1c", "ERROR": "#c62828", "WARNING": "#a86400",
    "INFO": "#1b1b1b", "VERBOSE": "#777",
}
_EMPTY = '<i style="color:#888">TensorRT\'s messages appear here, live, when you press Build.</i>'
_BOX = (
    "overflow:auto;overflow-anchor:none;display:flex;flex-direction:column-reverse;"
    "border:1px solid #ccc;background:#fafafa;padding:2px 6px;margin:0"
)


class LogPane:
    """Severity filter, text search, the last N lines, and "show all" on demand.

    Args:
        tail: How many lines the live view shows.
        refresh_s: Minimum time between two renders while lines stream in.
    """

    def __init__(self, tail: int = 200, refresh_s: float = 0.1) -> None:
        self.tail = tail
        self.refresh_s = refresh_s
        self._lock = threading.Lock()
        self._lines: collections.deque[LogRecord] = collections.deque(maxlen=tail)
        self._bus: LogBus | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._timer: threading.Timer | None = None
        self.renders = 0
        self._all_shown = 0
        self.severity = widgets.Dropdown(
            options=list(SEVERITIES), value="VERBOSE", description="show up to",
            layout=widgets.Layout(width="240px"),
            tooltip="hide lines less severe than this (the build's own level is in the form)",
        )
        self.search = widgets.Text(placeholder="search the log", layout={"width": "220px"})
        self.show_all = widgets.ToggleButton(value=False, description="Show all", icon="list")
        self.status = widgets.HTML()
        self.view = widgets.HTML(value=self._frame(_EMPTY, 40))
        self.full = widgets.Textarea(layout=widgets.Layout(width="100%", height="300px",
                                                           display="none"))
        self.severity.observe(self._on_filter, "value")
        self.search.observe(self._on_filter, "value")
        self.show_all.observe(self._on_filter, "value")
        self.widget = widgets.VBox(
            [widgets.HBox([self.severity, self.search, self.show_all]), self.status,
             self.view, self.full],
            layout=widgets.Layout(width="100%"),
        )
        self.widget.add_class("wb-logpane")

    # -- feeding ----------------------------------------------------------------------

    def attach(self, bus: LogBus | None) -> None:
        """Follow ``bus`` (a build's log); detaches from the previous one."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._bus = bus
        self.refilter()
        if bus is not None:
            self._unsubscribe = bus.subscribe(self._on_record)

    def _matches(self, record: LogRecord) -> bool:
        if severity_rank(record.severity) > severity_rank(self.severity.value):
            return False
        needle = self.search.value.lower()
        return not needle or needle in record.text.lower()

    def _on_record(self, record: LogRecord) -> None:
        # Runs on the build thread for every line: keep it O(1), render later.
        if self._matches(record):
            with self._lock:
                self._lines.append(record)
        self._schedule()

    def _schedule(self) -> None:
        with self._lock:
            if self._timer is not None:
                return
            self._timer = threading.Timer(self.refresh_s, self._timer_fired)
            self._timer.daemon = True
            self._timer.start()

    def _timer_fired(self) -> None:
        with self._lock:
            self._timer = None
        self.render()

    # -- rendering --------------------------------------------------------------------

    def _on_filter(self, _change: object) -> None:
        self.refilter()

    def refilter(self) -> None:
        """Recompute the shown lines from the whole bus (after a filter change)."""
        records = [] if self._bus is None else self._bus.records(
            self.severity.value, self.search.value
        )
        with self._lock:
            self._lines.clear()
            self._lines.extend(records[-self.tail:])
        self._all_shown = len(records)
        if self.show_all.value:
            self.full.value = "\n".join(r.format() for r in records)
            self.full.layout.display = ""
        else:
            self.full.value = ""
            self.full.layout.display = "none"
        self.render()

    def render(self) -> None:
        """Render the kept lines (called by the timer, or directly to flush)."""
        with self._lock:
            lines = list(self._lines)
        self.renders += 1
        if self._bus is None:
            self.view.value = self._frame(_EMPTY, 40)
            self.status.value = ""
            return
        body = "\n".join(
            f'<span style="color:{_COLOURS.get(r.severity, "#000")}">{esc(r.format())}</span>'
            for r in lines
        )
        self.view.value = self._frame(body)
        self.status.value = self._status_text(len(lines))
        if self.show_all.value:
            self.status.value = self._all_text()

    def _status_text(self, shown: int) -> str:
        bus = self._bus
        if bus is None:
            return "<small>no log yet</small>"
        dropped = f", {bus.dropped:,} oldest dropped" if bus.dropped else ""
        return (
            f"<small>showing the last {shown:,} matching lines of {bus.total:,} "
            f"(kept: {len(bus):,}{dropped})</small>"
        )

    def _all_text(self) -> str:
        """The label while "Show all" is on: the whole kept log is in the text box."""
        bus = self._bus
        if bus is None:
            return "<small>no log yet</small>"
        dropped = f"; the {bus.dropped:,} oldest were dropped" if bus.dropped else ""
        return (f"<small>showing all {self._all_shown:,} matching lines in the box below "
                f"(of {bus.total:,} logged{dropped})</small>")

    @staticmethod
    def _frame(body: str, height: int = 260) -> str:
        # column-reverse keeps the view scrolled to the newest line without JavaScript.
        return (
            f'<div class="wb-log" style="height:{height}px;{_BOX}">'
            f'<pre style="margin:0;font-size:11px;white-space:pre-wrap;flex-shrink:0;'
            f'overflow:visible">{body}</pre></div>'
        )

    def shown_lines(self) -> list[str]:
        """The texts currently in the live view (for tests and the benchmark)."""
        with self._lock:
            return [r.text for r in self._lines]

    def close(self) -> None:
        self.attach(None)
        with self._lock:
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
