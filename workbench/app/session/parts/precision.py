"""The precision part: FP16/BF16 against FP32 (ONNX Runtime and the CPU evaluator), the
keep-FP32 search and the verified mask fix, on the inputs of the runs part."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from workbench.app.session.tasks import Event, TaskKind, background, progress_reporter
from workbench.app.share import reproduce
from workbench.core.errors import WorkbenchError
from workbench.settings.fields import Precision, PrecisionArg, reduced_precision

if TYPE_CHECKING:
    from pathlib import Path

    from workbench.app.precision.compare import PrecisionReport
    from workbench.app.precision.keep_search import KeepSearchResult
    from workbench.app.precision.mask_fix import MaskFixResult
    from workbench.app.session.parts.runs import RunPart
    from workbench.app.session.state import SessionState
    from workbench.compare.tolerances import Tolerances

# PrecisionArg and reduced_precision live with Precision (settings/fields.py); named here too
__all__ = ["PrecisionArg", "PrecisionPart", "reduced_precision"]


class PrecisionPart:
    """The last ``comparison``, ``keep_search`` and ``mask_fix`` of the current model."""

    def __init__(self, state: SessionState, runs: RunPart) -> None:
        self.state = state
        self.runs = runs
        self._keep_cancel = threading.Event()
        state.on_new_model(self._reset)
        self._reset()

    def _reset(self) -> None:
        self.comparison: PrecisionReport | None = None
        self.keep_search: KeepSearchResult | None = None
        self.mask_fix: MaskFixResult | None = None

    @background(TaskKind.COMPARE, "comparing precisions")
    def compare(self, precision: PrecisionArg = Precision.FP16,
                tolerances: Tolerances | None = None, keep_fp32: tuple[str, ...] = (),
                seed: int = 0,
                on_progress: Callable[[str, int, int], None] | None = None
                ) -> PrecisionReport:
        """FP32 (ONNX Runtime) against ``precision``: per-output metrics, per-layer drift.

        ``on_progress`` defaults to the running Task's ``report`` (the panel's progress)."""
        from workbench.app.precision.compare import compare_precision

        precision, runs = reduced_precision(precision), self.runs
        self.comparison = report = compare_precision(
            self.state.model_source(), precision, inputs=runs.feeds_given(),
            keep_fp32=keep_fp32, seed=seed, tolerances=tolerances, dims=runs.feed_dims(),
            int_ranges=runs.feed_options.int_ranges,
            on_progress=on_progress or progress_reporter())
        return report

    @background(TaskKind.KEEP_SEARCH, "searching a keep-FP32 list")
    def find_keep_list(self, precision: PrecisionArg = Precision.FP16,
                       tolerances: Tolerances | None = None,
                       seed: int = 0, max_trials: int = 10) -> KeepSearchResult:
        """Search a minimal, verified keep-FP32 list (``keep_search.find_keep_list``).

        Emits ``Event.KEEP_SEARCH`` with ``(trial, budget, keep_list)`` before each trial;
        ``cancel_keep_search`` stops it after the current trial."""
        from workbench.app.precision.keep_search import find_keep_list

        precision = reduced_precision(precision)
        self._keep_cancel.clear()
        last = self.comparison
        start = last if (last is not None and not last.keep_fp32 and last.drift is not None
                         and last.precision == precision) else None
        runs, events = self.runs, self.state.events
        self.keep_search = found = find_keep_list(
            self.state.model_source(), precision, inputs=runs.feeds_given(), seed=seed,
            tolerances=tolerances, dims=runs.feed_dims(),
            int_ranges=runs.feed_options.int_ranges, max_trials=max_trials, start=start,
            cancel=self._keep_cancel.is_set,
            on_trial=lambda k, n, keep: events.emit(Event.KEEP_SEARCH, (k, n, keep)))
        return found

    def cancel_keep_search(self) -> None:
        """Stop the keep-list search after its current trial."""
        self._keep_cancel.set()

    def use_keep_list(self, keep_fp32: tuple[str, ...],
                      precision: PrecisionArg = Precision.FP16) -> None:
        """Carry a keep list to the build settings (``Event.USE_KEEP_FP32``; the Build tab
        shows it)."""
        self.state.events.emit(Event.USE_KEEP_FP32,
                               (tuple(keep_fp32), reduced_precision(precision)))

    @background(TaskKind.MASK_FIX, "clamping mask constants and re-running")
    def clamp_masks(self, precision: PrecisionArg = Precision.FP16,
                    tolerances: Tolerances | None = None,
                    keep_fp32: tuple[str, ...] = (), seed: int = 0) -> MaskFixResult:
        """The optional mask fix, verified: the model's ``finfo.min`` mask constants clamped
        to -1e4 in a new file (``derived["masks-clamped"]``), then FP32 before vs after and
        the comparison of the clamped model, on the inputs ``compare`` uses.
        ``use_clamped_model`` opens the file."""
        from workbench.app.precision.mask_fix import verify_mask_clamp

        precision, runs = reduced_precision(precision), self.runs
        out_path = self.state.derived_path("masks-clamped")
        self.mask_fix = result = verify_mask_clamp(
            self.state.model_source(), precision, inputs=runs.feeds_given(),
            keep_fp32=keep_fp32, seed=seed, tolerances=tolerances, dims=runs.feed_dims(),
            int_ranges=runs.feed_options.int_ranges, out_path=out_path)
        self.state.derived["masks-clamped"] = out_path
        return result

    def clamped_model(self) -> Path:
        """The file ``clamp_masks`` wrote (``session.use_clamped_model()`` opens it)."""
        path = self.state.derived.get("masks-clamped")
        if path is None:
            raise WorkbenchError("No clamped model to open yet.",
                                 expected="a finished clamp_masks()",
                                 found="none in this session for the current model",
                                 fix="run session.clamp_masks() (or press 'Clamp mask "
                                 "constants and re-run') first")
        return path

    def python_compare(self, precision: PrecisionArg = Precision.FP16,
                       keep_fp32: tuple[str, ...] = (), seed: int = 0) -> str:
        """The script equivalent of ``compare``."""
        runs = self.runs
        return reproduce.compare_script(self.state.model_path_text(),
                                        reduced_precision(precision), keep_fp32,
                                        seed, runs.feed_dims(),
                                        dict(runs.feed_options.int_ranges))
