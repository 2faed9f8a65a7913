"""A minimal, verified keep-FP32 list: candidates, then bisection and 1-minimal pruning.

Like ``polygraphy debug precision``, but in ONNX node names (the names the Build tab,
``BuildSettings(keep_fp32=...)`` and ``trt-workbench build --keep-fp32`` accept), and on
the same conversion the builder uses. Every answer is verified by re-running the
comparison with it; the answer is 1-minimal when dropping any one node makes the
comparison fail again (each such drop is a trial that is run, not assumed).

Candidates, each labelled with the rule that picked it, in topological order:
- ``FP16 range``: nodes producing or consuming FP32 values beyond 65504 (benign
  saturations such as attention masks are never candidates);
- ``non-finite``: the first node whose candidate value is NaN/Inf where FP32 is finite;
- ``drift``: nodes whose relative error exceeds the drift threshold;
- ``AutoCast``: ModelOpt AutoCast's rules, when asked — nodes with an FP32 activation
  above 512 (its ``data_max``) or reading an initializer beyond 65504.

Search (``workbench.app.precision.subset_search``, shared with the INT8 exclusion list): find the
shortest prefix of the candidates that passes (bisection over the prefix
length), then try dropping each node of it (greedy, last first). When even all candidates
fail, the nodes feeding them join once (a kept node may read an input already rounded).
The trial budget is ``max_trials``; the result says whether it was verified and proven
1-minimal within it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.app.precision.compare import CandidateBackend, PrecisionReport, compare_precision
from workbench.app.precision.subset_search import Trials, outcome_text, prune, shortest_prefix
from workbench.compare.tolerances import Tolerances
from workbench.graph import graph_values
from workbench.inspection.loading import ModelSource, load_model
from workbench.settings.fields import Precision, PrecisionArg, reduced_precision
from workbench.transforms.naming import name_nodes

__all__ = ["Candidate", "KeepSearchResult", "find_keep_list", "keep_candidates"]

AUTOCAST_DATA_MAX = 512.0
Trial = Callable[[int, int, tuple[str, ...]], None]


@dataclass(frozen=True)
class Candidate:
    """A node the search may keep in FP32, and the rule that proposed it."""

    node: str
    rule: str


@dataclass(frozen=True)
class KeepSearchResult:
    """What the search found, how it knows, and what it cost."""

    keep_fp32: tuple[str, ...]
    verified: bool  # a comparison with exactly this list passed
    minimal: bool  # dropping any one node was tried and failed
    trials: int
    seconds: float
    candidates: tuple[Candidate, ...]
    cancelled: bool = False
    message: str = ""
    report: PrecisionReport | None = field(default=None, repr=False)

    def summary(self) -> str:
        if self.verified and not self.keep_fp32:
            return (f"No keep list needed: {self.message or 'the comparison passes'} "
                    f"({self.trials} trials).")
        rules = {c.node: c.rule for c in self.candidates}
        listed = ", ".join(f"{n} ({rules.get(n, 'given')})" for n in self.keep_fp32) or "none"
        return f"keep in FP32: {listed} — " + outcome_text(
            self.verified, self.minimal, self.trials, self.seconds, self.cancelled, self.message)

    def to_dict(self) -> dict[str, Any]:
        return {"keep_fp32": list(self.keep_fp32), "verified": self.verified,
                "minimal": self.minimal, "trials": self.trials, "seconds": self.seconds,
                "cancelled": self.cancelled, "message": self.message,
                "candidates": [{"node": c.node, "rule": c.rule} for c in self.candidates]}


def keep_candidates(report: PrecisionReport, autocast: bool = False) -> tuple[Candidate, ...]:
    """Candidates from a per-layer report, labelled with their rule, in graph order."""
    drift = report.drift
    if drift is None:
        return ()
    picked: dict[str, str] = {}
    overflow = {i.tensor for i in drift.out_of_range if i.kind == "overflow"}
    if overflow:
        for node in drift.suggested_keep_fp32:
            picked.setdefault(node, "FP16 range")
    if drift.first_nonfinite_node:
        picked.setdefault(drift.first_nonfinite_node, "non-finite")
    benign = {b.tensor for b in drift.benign}
    for layer in drift.layers:
        if layer.over_threshold:
            picked.setdefault(layer.node, "drift")
        if autocast and layer.tensor not in benign and layer.reference_max_abs > AUTOCAST_DATA_MAX:
            picked.setdefault(layer.node, "AutoCast data_max 512")
    order = {layer.node: layer.index for layer in drift.layers}
    ranked = sorted(picked, key=lambda name: order.get(name, len(order)))
    return tuple(Candidate(name, picked[name]) for name in ranked)


def find_keep_list(
    source: ModelSource,
    precision: PrecisionArg = Precision.FP16,
    inputs: Mapping[str, np.ndarray] | str | Path | None = None,
    seed: int = 0,
    tolerances: Tolerances | None = None,
    *,
    dims: Mapping[str, int] | None = None,
    int_ranges: Mapping[str, tuple[int, int]] | None = None,
    max_trials: int = 10,
    autocast: bool = False,
    start: PrecisionReport | None = None,
    on_trial: Trial | None = None,
    cancel: Callable[[], bool] | None = None,
) -> KeepSearchResult:
    """Search a minimal keep-FP32 list that makes the comparison pass; verify it.

    Args:
        source: The model, as for ``compare_precision``.
        precision: As for ``compare_precision``.
        inputs: As for ``compare_precision``.
        seed: As for ``compare_precision``.
        tolerances: As for ``compare_precision``.
        dims: As for ``compare_precision`` (every trial runs at these sizes).
        int_ranges: As for ``compare_precision`` (every trial uses these ranges).
        max_trials: Comparisons the search may run (each is a full re-run).
        autocast: Also take AutoCast's rules as candidates.
        start: A per-layer report of this model with no keep list (saves one run).
        on_trial: Called as ``on_trial(k, max_trials, keep_list)`` before trial k.
        cancel: Returns True to stop after the current trial.
    """
    began, precision = time.perf_counter(), reduced_precision(precision)
    run = _trials(source, precision, inputs, seed, tolerances, (dims, int_ranges), max_trials,
                  on_trial, cancel)
    base = start or _base_report(source, precision, inputs, seed, tolerances, (dims, int_ranges))
    candidates = keep_candidates(base, autocast)

    def done(keep: tuple[str, ...], verified: bool, minimal: bool, message: str = "",
             report: PrecisionReport | None = None) -> KeepSearchResult:
        return KeepSearchResult(keep, verified, minimal, run.trials,
                                time.perf_counter() - began, candidates, run.cancelled,
                                message, report)

    if base.reference_disagrees and base.reference_check is not None:
        return done((), False, False, "no search: " + base.reference_check.describe(), base)
    if base.outputs.passed:
        return done((), True, True, "the comparison passes without a keep list", base)
    names = tuple(c.node for c in candidates)
    if not names:
        return done((), False, False, "no candidate: nothing overflows or drifts past the "
                    "threshold, so no keep list can be derived")
    full = run.passes(names)
    if full is None:
        return done(names, False, False, "no trial could run within the budget")
    if not full:  # the damage starts upstream: a kept node reads an already rounded input
        wider = _with_producers(source, names)
        full = run.passes(wider) if wider != names else False
        if not full:
            return done(names, False, False, "even keeping every candidate (and the nodes "
                        "feeding them) fails: the problem is outside what FP32 islands fix "
                        "(try other tolerances or real inputs)")
        names = wider
    keep, minimal = prune(run, shortest_prefix(run, names))
    return done(keep, True, minimal, report=run.reports[keep])


def _base_report(source: ModelSource, precision: Precision, inputs: Any, seed: int,
                 tolerances: Tolerances | None,
                 sizes: tuple[Mapping[str, int] | None, Mapping[str, tuple[int, int]] | None],
                 ) -> PrecisionReport:
    """Outputs first: a model that passes needs no candidates, so the search then costs one
    outputs-only comparison. One that fails gets its per-layer report, which reuses the
    FP32 outputs and converted weights the first run kept (``app/compare_cache.py``)."""
    dims, int_ranges = sizes
    report = compare_precision(source, precision, inputs, (), seed, tolerances, False,
                               dims=dims, int_ranges=int_ranges, backend=CandidateBackend.NUMPY)
    if not report.outputs.passed:
        report = compare_precision(source, precision, inputs, (), seed, tolerances, True,
                                   dims=dims, int_ranges=int_ranges, backend=CandidateBackend.NUMPY)
    return report


def _trials(source: ModelSource, precision: Precision, inputs: Any, seed: int,
            tolerances: Tolerances | None,
            sizes: tuple[Mapping[str, int] | None, Mapping[str, tuple[int, int]] | None],
            budget: int, on_trial: Trial | None, cancel: Callable[[], bool] | None,
            ) -> Trials[PrecisionReport]:
    """Each trial is a comparison of outputs only (no per-layer drift) with the keep list,
    at the sizes and ranges the user set (``sizes``: dims, int_ranges)."""
    dims, int_ranges = sizes

    def evaluate(keep: tuple[str, ...]) -> PrecisionReport:
        return compare_precision(source, precision, inputs, keep, seed, tolerances,
                                 per_layer=False, dims=dims, int_ranges=int_ranges,
                                 backend=CandidateBackend.NUMPY)

    return Trials(evaluate, lambda report: report.outputs.passed, budget, on_trial, cancel)


def _with_producers(source: ModelSource, names: tuple[str, ...]) -> tuple[str, ...]:
    """``names`` and the nodes producing their inputs, in graph order."""
    model = name_nodes(load_model(source, load_weights=False))
    values = graph_values(model.graph)
    wanted = set(names)
    for node in model.graph.node:
        if node.name in names:
            made = (values.producer(name) for name in node.input)
            wanted.update(producer.name for producer in made if producer is not None)
    return tuple(node.name for node in model.graph.node if node.name in wanted)
