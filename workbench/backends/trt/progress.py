"""Build progress: TensorRT's IProgressMonitor turned into neutral events, and cancel.

TensorRT reports a tree of phases ("Building engine" > "Optimizing graph" > …), each with a
number of steps. ``PhaseTracker`` (pure Python) keeps that tree and estimates the
overall fraction done; the monitor class (made per TensorRT module) feeds it and answers
``step_complete`` with False once cancel is requested, which makes TensorRT stop the build.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

__all__ = [
    "CancelFlag", "PhaseTracker", "ProgressEvent", "is_cancelled", "make_progress_monitor",
    "phase_label",
]

# TensorRT-RTX opens "Determining refit engines" inside "Computing profile costs" and does
# most of the build's work (kernel generation) before its first step: with refit off the
# name is wrong for most of every build, so the label shows the enclosing phase instead.
REFIT_PHASES = frozenset({"Determining refit engines"})

# threading.Event, or anything with is_set(), or a plain callable returning True to cancel.
CancelFlag = Any


@dataclass(frozen=True)
class ProgressEvent:
    """One progress callback. ``kind`` is phase_start, step_complete or phase_finish."""

    kind: str
    phase: str
    parent: str | None
    depth: int
    step: int  # steps of ``phase`` completed (after this event)
    steps: int  # steps ``phase`` announced
    fraction: float  # estimate of the whole build, 0..1
    time: float
    path: tuple[tuple[str, int, int], ...] = ()  # open phases, outermost first (after it)

    def label(self, hide: frozenset[str] = frozenset()) -> str:
        """What is running now, for a status line: see ``phase_label``."""
        return phase_label(self.path, hide) or self.phase

    def text(self) -> str:
        return f"{'  ' * self.depth}{self.phase} {self.step}/{self.steps}"


@dataclass
class _Phase:
    name: str
    steps: int
    done: int = 0


class PhaseTracker:
    """The live phase stack and the overall fraction (thread-safe, pure Python)."""

    def __init__(self, on_event: Callable[[ProgressEvent], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._stack: list[_Phase] = []
        self._on_event = on_event
        self.events = 0
        self.callback_errors = 0
        self.finished_top = False
        self._high = 0.0  # a bar must not go backwards when a child phase closes

    def _fraction(self) -> float:
        share, total = 1.0, 0.0
        for phase in self._stack:
            steps = max(phase.steps, 1)
            total += share * min(phase.done, steps) / steps
            share /= steps
        self._high = 1.0 if self.finished_top else max(self._high, min(total, 1.0))
        return self._high

    def start(self, name: str, parent: str | None, steps: int) -> None:
        with self._lock:
            self._stack.append(_Phase(name, int(steps)))
            self._emit("phase_start", self._stack[-1], parent)

    def step(self, name: str, step: int) -> None:
        with self._lock:
            for phase in reversed(self._stack):
                if phase.name == name:
                    phase.done = int(step) + 1
                    self._emit("step_complete", phase, None)
                    break

    def finish(self, name: str) -> None:
        with self._lock:
            for index in range(len(self._stack) - 1, -1, -1):
                if self._stack[index].name == name:
                    phase = self._stack.pop(index)
                    phase.done = phase.steps
                    if not self._stack:
                        self.finished_top = True
                    self._emit("phase_finish", phase, None)
                    break

    def phases(self) -> list[tuple[str, int, int]]:
        """The open phases, outermost first: (name, steps done, steps)."""
        with self._lock:
            return [(p.name, p.done, p.steps) for p in self._stack]

    @property
    def fraction(self) -> float:
        with self._lock:
            return self._fraction()

    def _emit(self, kind: str, phase: _Phase, parent: str | None) -> None:
        self.events += 1
        if self._on_event is None:
            return
        depth = len(self._stack) - (0 if kind == "phase_finish" else 1)
        if parent is None and kind != "phase_finish" and len(self._stack) > 1:
            parent = self._stack[-2].name if self._stack[-1] is phase else None
        event = ProgressEvent(kind, phase.name, parent, max(depth, 0), phase.done,
                              phase.steps, self._fraction(), time.time(),
                              tuple((p.name, p.done, p.steps) for p in self._stack))
        try:
            self._on_event(event)
        except Exception:  # a view's bug must not break TensorRT's callback
            self.callback_errors += 1


def phase_label(path: tuple[tuple[str, int, int], ...],
                hide: frozenset[str] = frozenset()) -> str:
    """The innermost open phase not in ``hide``, with its step: "Optimizing graph (12/30)".

    A phase with one step says nothing with "0/1" and is shown by its name alone.
    """
    for name, done, steps in reversed(path):
        if name in hide:
            continue
        return name if steps <= 1 else f"{name} ({min(done, steps)}/{steps})"
    return ""


def is_cancelled(cancel: CancelFlag) -> bool:
    if cancel is None:
        return False
    if hasattr(cancel, "is_set"):
        return bool(cancel.is_set())
    return bool(cancel())


def make_progress_monitor(trt: ModuleType, tracker: PhaseTracker, cancel: CancelFlag) -> Any:
    """An ``trt.IProgressMonitor`` feeding ``tracker``; returns False to cancel."""
    return _define_monitor(trt)(tracker, cancel)


@functools.cache  # one class per TensorRT module
def _define_monitor(trt: ModuleType) -> type:
    base: Any = trt.IProgressMonitor

    class Monitor(base):
        def __init__(self, tracker: PhaseTracker, cancel: CancelFlag) -> None:
            base.__init__(self)
            self.tracker = tracker
            self.cancel = cancel
            self.cancelled = False

        def phase_start(self, phase_name: str, parent_phase: str | None, num_steps: int
                        ) -> None:
            self.tracker.start(phase_name, parent_phase, num_steps)

        def step_complete(self, phase_name: str, step: int) -> bool:
            self.tracker.step(phase_name, step)
            try:
                if is_cancelled(self.cancel):
                    self.cancelled = True
            except Exception:  # a broken cancel flag must not crash the build
                return True
            return not self.cancelled

        def phase_finish(self, phase_name: str) -> None:
            self.tracker.finish(phase_name)

    return Monitor
