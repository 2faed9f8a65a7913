"""The verified, 1-minimal subset search shared by the FP16 keep list and the INT8 exclusions.

Given candidate node names ranked so that the likeliest culprits come first, and a trial
that re-runs the comparison with a subset left in higher precision: find the shortest
passing prefix of the candidates (bisection over the prefix length), then drop nodes while
the comparison still passes (greedy, last first). Every answer is a trial that was run,
never assumed; the trial budget and a cancel check bound the cost.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["Trials", "outcome_text", "prune", "shortest_prefix"]

R = TypeVar("R")
Names = tuple[str, ...]


class Trials(Generic[R]):
    """Runs ``evaluate(subset)`` at most ``budget`` times, remembering every result.

    Args:
        evaluate: Re-runs the comparison with ``subset`` kept (or excluded).
        passed: Whether a result passes.
        budget: How many evaluations may run.
        on_trial: Called as ``on_trial(k, budget, subset)`` before evaluation k.
        cancel: Returns True to stop before the next evaluation.
    """

    def __init__(self, evaluate: Callable[[Names], R], passed: Callable[[R], bool],
                 budget: int, on_trial: Callable[[int, int, Names], None] | None = None,
                 cancel: Callable[[], bool] | None = None) -> None:
        self.evaluate, self.passed = evaluate, passed
        self.budget, self.on_trial, self.cancel = budget, on_trial, cancel
        self.trials, self.cancelled = 0, False
        self.reports: dict[Names, R] = {}

    def passes(self, subset: Names) -> bool | None:
        """Whether the comparison passes with ``subset``; None when out of budget/cancelled."""
        if subset in self.reports:
            return self.passed(self.reports[subset])
        if self.cancel is not None and self.cancel():
            self.cancelled = True
        if self.cancelled or self.trials >= self.budget:
            return None
        self.trials += 1
        if self.on_trial is not None:
            self.on_trial(self.trials, self.budget, subset)
        self.reports[subset] = report = self.evaluate(subset)
        return self.passed(report)


def shortest_prefix(trials: Trials[R], names: Names) -> Names:
    """The shortest prefix of ``names`` known to pass (``names`` itself must pass)."""
    low, high = 0, len(names)  # prefix `high` passes; prefix `low` is not known to
    while high - low > 1:
        middle = (low + high) // 2
        verdict = trials.passes(names[:middle])
        if verdict is None:
            break
        if verdict:
            high = middle
        else:
            low = middle
    return names[:high]


def prune(trials: Trials[R], subset: Names) -> tuple[Names, bool]:
    """Drop nodes while the comparison still passes (last first). Returns the subset and
    whether it is 1-minimal: every single drop of it was tried and failed (the empty
    subset, the base run, is known to fail)."""
    changed = True
    while changed:
        changed = False
        for name in reversed(subset):
            trial = tuple(n for n in subset if n != name)
            verdict = trials.passes(trial) if trial else None
            if verdict is None and trial:
                return subset, False
            if verdict:
                subset, changed = trial, True
                break
    return subset, True


def outcome_text(verified: bool, minimal: bool, trials: int, seconds: float, cancelled: bool,
                 message: str) -> str:
    """How a search ended, for its summary line (the keep list's and the exclusions')."""
    status = ("verified, 1-minimal" if verified and minimal else
              "verified, not proven minimal (trial budget spent)" if verified else
              "NOT verified")
    return (f"{status}; {trials} trials in {seconds:.1f} s"
            + (" (cancelled)" if cancelled else "") + (f". {message}" if message else ""))
