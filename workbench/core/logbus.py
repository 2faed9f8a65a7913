"""A thread-safe bus for log records.

TensorRT calls its logger from the build thread, thousands of times per build at VERBOSE.
The logger therefore does nothing but call ``LogBus.push``, which filters by severity
*before* queueing, stores the record in a bounded buffer, and notifies subscribers. It
never raises and never blocks for long: a subscriber that raises is counted and skipped.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

__all__ = ["SEVERITIES", "LogBus", "LogRecord", "severity_rank"]

# Most to least severe, the order TensorRT's ILogger.Severity uses.
SEVERITIES: tuple[str, ...] = ("INTERNAL_ERROR", "ERROR", "WARNING", "INFO", "VERBOSE")


def severity_rank(severity: str) -> int:
    """Lower is more severe; unknown names rank as INFO."""
    try:
        return SEVERITIES.index(severity.upper())
    except ValueError:
        return SEVERITIES.index("INFO")


@dataclass(frozen=True)
class LogRecord:
    """One log line: when (time.time()), how severe, what it said, and where it came from."""

    time: float
    severity: str
    text: str
    source: str = "tensorrt"

    def format(self) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(self.time))
        return f"{stamp} [{self.severity[0]}] {self.text}"


Subscriber = Callable[[LogRecord], None]


class LogBus:
    """Severity-filtered, bounded, thread-safe log buffer with subscribers.

    Args:
        min_severity: Least severe level kept (e.g. "INFO" drops VERBOSE before queueing).
        maxlen: At most this many records are kept; older ones are dropped and counted.
    """

    def __init__(self, min_severity: str = "INFO", maxlen: int = 100_000) -> None:
        self._lock = threading.Lock()
        self._records: collections.deque[LogRecord] = collections.deque(maxlen=maxlen)
        self._subscribers: list[Subscriber] = []
        self._threshold = severity_rank(min_severity)
        self.dropped = 0
        self.total = 0
        self.subscriber_errors = 0

    @property
    def min_severity(self) -> str:
        return SEVERITIES[self._threshold]

    @min_severity.setter
    def min_severity(self, value: str) -> None:
        self._threshold = severity_rank(value)

    def accepts(self, severity: str) -> bool:
        """Whether a record of this severity would be kept (cheap; call before formatting)."""
        return severity_rank(severity) <= self._threshold

    def push(self, severity: str, text: str, source: str = "tensorrt") -> None:
        """Record one line. Never raises."""
        if not self.accepts(severity):
            return
        record = LogRecord(time.time(), severity.upper(), str(text).rstrip("\n"), source)
        with self._lock:
            if len(self._records) == self._records.maxlen:
                self.dropped += 1
            self._records.append(record)
            self.total += 1
            subscribers = tuple(self._subscribers)
        for callback in subscribers:
            try:
                callback(record)
            except Exception:  # a view's bug must never break a TensorRT callback
                self.subscriber_errors += 1

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(record)`` for every accepted record; returns an unsubscribe function."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def records(self, min_severity: str = "VERBOSE", contains: str = "") -> list[LogRecord]:
        """A snapshot of kept records, optionally filtered by severity and text."""
        rank = severity_rank(min_severity)
        needle = contains.lower()
        with self._lock:
            snapshot = list(self._records)
        return [
            r
            for r in snapshot
            if severity_rank(r.severity) <= rank and (not needle or needle in r.text.lower())
        ]

    def lines(self, min_severity: str = "VERBOSE") -> list[str]:
        return [r.text for r in self.records(min_severity)]

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def __iter__(self) -> Iterator[LogRecord]:
        return iter(self.records())
