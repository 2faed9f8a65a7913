"""A minimal, verified INT8 exclusion list: nodes to leave in float, in ONNX node names.

Candidates are the quantized nodes ranked by the noise each adds
(``worst_nodes``: its output's noise power
minus its inputs' before their Q/DQ). The search is the FP16 keep list's
(``workbench.app.precision.subset_search``): the shortest passing prefix by bisection, then
1-minimal pruning. Each trial re-quantizes the model without those nodes (ONNX Runtime's
``nodes_to_exclude``, same calibration) and re-compares the outputs; nothing is assumed.
The trial models live in a temporary folder; the answer is a list of names to pass as
``QuantSettings(exclude=...)``, ``session.quantize(exclude=...)`` or
``trt-workbench quantize --exclude``.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.app.precision.subset_search import Trials, outcome_text, prune, shortest_prefix
from workbench.app.quant.compare import QuantReport, compare_quantized
from workbench.app.quant.quantize import Calibration, quantize_model
from workbench.compare.tolerances import Tolerances
from workbench.feeds.generator import FeedOptions
from workbench.inspection.loading import ModelSource
from workbench.transforms.quant.settings import QuantSettings

__all__ = ["ExclusionResult", "find_exclusions"]

Feeds = Mapping[str, np.ndarray] | str | Path | None


@dataclass(frozen=True)
class ExclusionResult:
    """The exclusion list, how it was verified, and what it cost."""

    exclude: tuple[str, ...]
    verified: bool  # re-quantized without them, the comparison passed
    minimal: bool  # putting any one of them back was tried and failed
    trials: int
    seconds: float
    candidates: tuple[tuple[str, float], ...]  # (node, added noise at dB), ranked
    cancelled: bool = False
    message: str = ""
    base: QuantReport | None = field(default=None, repr=False)
    report: QuantReport | None = field(default=None, repr=False)

    def summary(self) -> str:
        if self.verified and not self.exclude:
            return f"No exclusion needed: {self.message} ({self.trials} trials)."
        listed = ", ".join(self.exclude) or "none"
        return f"leave in float: {listed} — " + outcome_text(
            self.verified, self.minimal, self.trials, self.seconds, self.cancelled, self.message)

    def to_dict(self) -> dict[str, Any]:
        return {"exclude": list(self.exclude), "verified": self.verified,
                "minimal": self.minimal, "trials": self.trials, "seconds": self.seconds,
                "cancelled": self.cancelled, "message": self.message,
                "candidates": [{"node": n, "added_sqnr_db": db} for n, db in self.candidates]}


def find_exclusions(
    source: ModelSource, settings: QuantSettings | None = None,
    calibration: Calibration = None, inputs: Feeds = None, seed: int = 0,
    tolerances: Tolerances | None = None, *, options: FeedOptions | None = None,
    max_trials: int = 12, start: QuantReport | None = None,
    on_trial: Callable[[int, int, tuple[str, ...]], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> ExclusionResult:
    """Search the smallest set of nodes to leave unquantized so that the outputs pass.

    Args:
        source: The float model.
        settings: Quantization settings (the TensorRT preset when None); their own
            ``exclude`` is the starting point, kept in every trial.
        calibration: As for ``quantize_model``.
        seed: As for ``quantize_model``; also seeds the
            comparison's generated feeds.
        options: As for ``quantize_model``.
        inputs: As for ``compare_quantized``.
        tolerances: As for ``compare_quantized``.
        max_trials: Re-quantize-and-compare runs the search may make.
        start: A per-tensor report of this model quantized with ``settings`` (saves a run).
        on_trial: Called as ``on_trial(k, max_trials, exclude)`` before trial k.
        cancel: Returns True to stop after the current trial.
    """
    began = time.perf_counter()
    settings = settings or QuantSettings.tensorrt()
    given = settings.exclude
    dims = dict(options.dims) if options else None
    ranges = dict(options.int_ranges) if options else None
    with tempfile.TemporaryDirectory(prefix="workbench-int8-search-") as tmp:
        made = iter(range(1, 10_000))

        def evaluate(extra: tuple[str, ...], per_tensor: bool = False) -> QuantReport:
            path = Path(tmp) / f"trial-{next(made)}.onnx"
            quantize_model(source, path, settings.with_exclude((*given, *extra)),
                           calibration, seed=seed, options=options, cancel=cancel)
            return compare_quantized(source, path, inputs, seed, tolerances, per_tensor,
                                     dims=dims, int_ranges=ranges)

        base = start or evaluate((), per_tensor=True)
        # only what ORT quantizes can be excluded (a Transpose reading a dequantized value
        # keeps reading it whatever the list says)
        ops = set(settings.op_types)
        ranked = tuple((n.node, n.added_sqnr_db)
                       for n in base.worst_nodes(count=10**9, every=True)
                       if n.node not in given and (not ops or n.op_type in ops))
        run = Trials(evaluate, lambda report: report.outputs.passed, max_trials, on_trial,
                     cancel)

        def done(exclude: tuple[str, ...], verified: bool, minimal: bool,
                 message: str = "", report: QuantReport | None = None) -> ExclusionResult:
            return ExclusionResult((*given, *exclude), verified, minimal, run.trials,
                                   time.perf_counter() - began, ranked, run.cancelled,
                                   message, base, report)

        if base.outputs.passed:
            return done((), True, True, "the INT8 outputs pass with everything quantized",
                        base)
        names = tuple(name for name, _ in ranked)
        if not names:
            return done((), False, False, "no candidate: no quantized node adds noise")
        full = run.passes(names)
        if full is None:
            return done(names, False, False, "no trial could run within the budget")
        if not full:
            return done(names, False, False, "even leaving every quantized candidate in "
                        "float fails: the error is not quantization noise (check the "
                        "tolerances against the FP32 outputs' scale)", run.reports[names])
        exclude, minimal = prune(run, shortest_prefix(run, names))
        return done(exclude, True, minimal, report=run.reports[exclude])
