"""The quant part: quantize the current model to Q/DQ, compare it against FP32, find a
minimal exclusion list.

All three run in the QUANTIZE task slot (one at a time) and honour ``QuantPart.cancel``
between calibration batches and between search trials. The quantized model is a new file
under ``work_dir`` (``<model>.int8.onnx``, never over an earlier one); the current model stays
loaded, so the comparison has its FP32 side, and ``session.use_quantized_model()`` opens the
Q/DQ file for the Build tab.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING

from workbench.app.session.tasks import TaskKind, background, current_task, progress_reporter
from workbench.core.errors import WorkbenchError

if TYPE_CHECKING:
    from workbench.app.quant.compare import QuantReport
    from workbench.app.quant.exclusions import ExclusionResult
    from workbench.app.quant.quantize import Calibration, QuantizeResult
    from workbench.app.session.parts.runs import RunPart
    from workbench.app.session.state import SessionState
    from workbench.compare.tolerances import Tolerances
    from workbench.inspection.quantization import QuantInfo
    from workbench.transforms.quant.settings import QuantSettings

__all__ = ["QuantPart"]


class QuantPart:
    """INT8/FP8 Q/DQ: ``quantized`` (the file), ``report`` (against FP32), ``exclusions``."""

    def __init__(self, state: SessionState, runs: RunPart) -> None:
        self.state = state
        self.runs = runs
        state.on_new_model(self._reset)
        self._reset()

    def _reset(self) -> None:
        self.quantized: QuantizeResult | None = None
        self.report: QuantReport | None = None
        self.exclusions: ExclusionResult | None = None
        self._cancel = threading.Event()

    @background(TaskKind.QUANTIZE, "quantizing (Q/DQ)")
    def quantize(self, settings: QuantSettings | None = None,
                 calibration: Calibration = None, exclude: Iterable[str] = (),
                 seed: int = 0) -> QuantizeResult:
        """Quantize the current model with the TensorRT preset (or ``settings``) into a new
        file ``derived["int8"]`` (``"fp8"`` for FP8); ``exclude`` adds node names to leave
        in float. Calibration: generated feeds (the Run tab's sizes) or ``.npz`` files."""
        from workbench.app.quant.quantize import quantize_model
        from workbench.transforms.quant.settings import QuantSettings

        settings = settings or QuantSettings.tensorrt()
        if exclude:
            settings = settings.with_exclude((*settings.exclude, *exclude))
        self._cancel.clear()
        kind = settings.precision.value
        self.quantized = result = quantize_model(
            self.state.model_source(), self.state.derived_path(kind), settings, calibration,
            seed=seed, options=self.runs.feed_options, cancel=self._cancel.is_set,
            on_progress=progress_reporter())
        self.state.derived[kind] = result.path
        return result

    def cancel(self) -> None:
        """Stop the running quantization or exclusion search at its next batch or trial."""
        self._cancel.set()

    @background(TaskKind.QUANTIZE, "comparing INT8 against FP32")
    def compare(self, tolerances: Tolerances | None = None, seed: int = 0,
                per_tensor: bool = True) -> QuantReport:
        """The last quantized model against the current (FP32) one, on CPU with ONNX
        Runtime's graph optimizations off: outputs, per-tensor SQNR, first bad node."""
        from workbench.app.quant.compare import compare_quantized

        done = self.require_quantized()
        options = self.runs.feed_options
        self.report = report = compare_quantized(
            self.state.model_source(), done.path, self.runs.feeds_given(), seed, tolerances,
            per_tensor, dims=options.dims, int_ranges=options.int_ranges,
            on_progress=progress_reporter())
        return report

    @background(TaskKind.QUANTIZE, "searching an INT8 exclusion list")
    def find_exclusions(self, tolerances: Tolerances | None = None, seed: int = 0,
                        max_trials: int = 12, calibration: Calibration = None
                        ) -> ExclusionResult:
        """A minimal, verified list of nodes to leave in float (re-quantize, re-compare);
        cancelled by ``cancel`` after the current trial."""
        from workbench.app.quant.exclusions import find_exclusions

        self._cancel.clear()
        quantized, last = self.quantized, self.report
        settings = quantized.settings if quantized is not None else None
        start = last if (last is not None and last.nodes and quantized is not None
                         and last.quantized == str(quantized.path)) else None
        task = current_task()
        self.exclusions = found = find_exclusions(
            self.state.model_source(), settings, calibration, self.runs.feeds_given(), seed,
            tolerances, options=self.runs.feed_options, max_trials=max_trials, start=start,
            cancel=self._cancel.is_set,
            on_trial=(lambda k, n, names: task.report(
                f"exclusion trial: {', '.join(names) or 'nothing'} left in float", k, n))
            if task is not None else None)
        return found

    def info(self) -> QuantInfo:
        """The current model's Q/DQ pairs with their scales, or ORT integer operators
        (the Model tab's 'Quantization' table)."""
        from workbench.inspection.loading import load_model
        from workbench.inspection.quantization import quantization_info

        return quantization_info(load_model(self.state.model_source(), load_weights=False))

    def require_quantized(self) -> QuantizeResult:
        """The last quantization's result, or an error saying to quantize first."""
        if self.quantized is None:
            raise WorkbenchError("No quantized model yet.",
                                 expected="a finished session.quantize()",
                                 found="none for the current model",
                                 fix="run session.quantize() (or press 'Quantize') first")
        return self.quantized
