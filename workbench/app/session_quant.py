"""The session's INT8 area: quantize the current model to Q/DQ, compare, find exclusions.

All three run in the QUANTIZE task slot (one at a time) and honour
:meth:`QuantArea.cancel_quantize` between calibration batches and between search trials.
The quantized model is a new file under ``work_dir`` (``<model>.int8.onnx``, never over an
earlier one); the current model stays loaded, so the comparison has its FP32 side, and
:meth:`QuantArea.use_quantized_model` opens the Q/DQ file for the Build tab.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from workbench.app.session_build import BuildArea
from workbench.app.tasks import Task, TaskKind
from workbench.core.errors import QuantizationError, WorkbenchError

if TYPE_CHECKING:
    from workbench.app.int8_compare import QuantReport
    from workbench.app.int8_exclusions import ExclusionResult
    from workbench.app.quantize import Calibration, QuantizeResult
    from workbench.app.session_core import LoadedModel
    from workbench.compare.tolerances import Tolerances
    from workbench.inspection.quantization import QuantInfo
    from workbench.transforms.quant_settings import QuantSettings
    from workbench.triage.diagnosis import ParseReport

__all__ = ["QuantArea"]


class QuantArea(BuildArea):
    """Quantize (INT8/FP8 Q/DQ), compare against FP32, search a minimal exclusion list."""

    def _init_state(self) -> None:
        super()._init_state()
        self.quantized: QuantizeResult | None = None
        self.quant_report: QuantReport | None = None
        self.exclusions: ExclusionResult | None = None
        self._quant_cancel = threading.Event()

    def quantize(self, settings: QuantSettings | None = None,
                 calibration: Calibration = None, exclude: Iterable[str] = (),
                 seed: int = 0) -> QuantizeResult:
        """Quantize the current model with the TensorRT preset (or ``settings``) into a new
        file ``derived["int8"]`` (``"fp8"`` for FP8); ``exclude`` adds node names to leave
        in float. Calibration: generated feeds (the Run tab's sizes) or ``.npz`` files."""
        from workbench.app.quantize import quantize_model
        from workbench.transforms.quant_settings import QuantSettings

        settings = settings or QuantSettings.tensorrt()
        if exclude:
            settings = settings.with_exclude((*settings.exclude, *exclude))
        self._quant_cancel.clear()
        kind = settings.precision.value
        task = self.task(TaskKind.QUANTIZE)
        self.quantized = result = quantize_model(
            self.model_source(), self._derived_path(kind), settings, calibration, seed=seed,
            options=self.feed_options, cancel=self._quant_cancel.is_set,
            on_progress=task.report if task.busy else None)
        self.derived[kind] = result.path
        return result

    def start_quantize(self, settings: QuantSettings | None = None,
                       calibration: Calibration = None, exclude: Iterable[str] = (),
                       seed: int = 0) -> Task[QuantizeResult]:
        exclude = tuple(exclude)
        return self._start(TaskKind.QUANTIZE, "quantizing (Q/DQ)",
                           lambda: self.quantize(settings, calibration, exclude, seed))

    def cancel_quantize(self) -> None:
        """Stop the running quantization or exclusion search at its next batch or trial."""
        self._quant_cancel.set()

    def compare_quantized(self, tolerances: Tolerances | None = None, seed: int = 0,
                          per_tensor: bool = True) -> QuantReport:
        """The last quantized model against the current (FP32) one, on CPU with ONNX
        Runtime's graph optimizations off: outputs, per-tensor SQNR, first bad node."""
        from workbench.app.int8_compare import compare_quantized

        done = self._require_quantized()
        task = self.task(TaskKind.QUANTIZE)
        self.quant_report = report = compare_quantized(
            self.model_source(), done.path, self._feeds_given(), seed, tolerances,
            per_tensor, dims=self.feed_options.dims, int_ranges=self.feed_options.int_ranges,
            on_progress=task.report if task.busy else None)
        return report

    def start_compare_quantized(self, tolerances: Tolerances | None = None,
                                seed: int = 0) -> Task[QuantReport]:
        return self._start(TaskKind.QUANTIZE, "comparing INT8 against FP32",
                           lambda: self.compare_quantized(tolerances, seed))

    def find_exclusions(self, tolerances: Tolerances | None = None, seed: int = 0,
                        max_trials: int = 12, calibration: Calibration = None
                        ) -> ExclusionResult:
        """A minimal, verified list of nodes to leave in float (re-quantize, re-compare);
        cancelled by :meth:`cancel_quantize` after the current trial."""
        from workbench.app.int8_exclusions import find_exclusions

        self._quant_cancel.clear()
        settings = self.quantized.settings if self.quantized is not None else None
        last = self.quant_report
        start = last if (last is not None and last.nodes and self.quantized is not None
                         and last.quantized == str(self.quantized.path)) else None
        task = self.task(TaskKind.QUANTIZE)
        self.exclusions = found = find_exclusions(
            self.model_source(), settings, calibration, self._feeds_given(), seed,
            tolerances, options=self.feed_options, max_trials=max_trials, start=start,
            cancel=self._quant_cancel.is_set,
            on_trial=(lambda k, n, names: task.report(
                f"exclusion trial: {', '.join(names) or 'nothing'} left in float", k, n))
            if task.busy else None)
        return found

    def start_find_exclusions(self, tolerances: Tolerances | None = None, seed: int = 0,
                              max_trials: int = 12) -> Task[ExclusionResult]:
        return self._start(TaskKind.QUANTIZE, "searching an INT8 exclusion list",
                           lambda: self.find_exclusions(tolerances, seed, max_trials))

    def use_quantized_model(self) -> Task[LoadedModel]:
        """Open the last quantized file as the current model (to build or inspect it)."""
        done = self._require_quantized()
        return self.start_load(done.path, label=done.path.name)

    def quantization_info(self) -> QuantInfo:
        """The current model's Q/DQ pairs with their scales, or ORT integer operators
        (the Model tab's 'Quantization' table)."""
        from workbench.inspection.loading import load_model
        from workbench.inspection.quantization import quantization_info

        return quantization_info(load_model(self.model_source(), load_weights=False))

    def float_biases(self) -> ParseReport:
        """The parse triage fix for ORT's int32 biases: fold each int32 DequantizeLinear into
        the float bias it computes (same numbers) in a new file ``derived["float-biases"]``,
        open it and diagnose it again. Needs no FP32 model."""
        from workbench.inspection.loading import load_model
        from workbench.transforms.qdq_bias import float_biases
        from workbench.transforms.saving import save_model_atomic

        fixed, folded = float_biases(load_model(self.model_source()))
        if not folded:
            raise QuantizationError(
                "No int32 DequantizeLinear to fold.",
                expected="a Q/DQ model whose biases ONNX Runtime quantized to int32",
                found="no DequantizeLinear reads an int32 initializer",
                fix="this repair applies to the 'qdq_int32_bias' parse problem only")
        out_path = self._derived_path("float-biases")
        save_model_atomic(fixed, out_path)
        del fixed
        self._open_derived("float-biases", out_path)
        self.diagnosis = report = self.diagnose()
        return report

    def start_float_biases(self) -> Task[ParseReport]:
        return self._start(TaskKind.FLOAT_BIASES, "folding int32 biases to float and "
                           "diagnosing again", self.float_biases)

    def _require_quantized(self) -> QuantizeResult:
        if self.quantized is None:
            raise WorkbenchError("No quantized model yet.",
                                 expected="a finished session.quantize()",
                                 found="none for the current model",
                                 fix="run session.quantize() (or press 'Quantize') first")
        return self.quantized

    def _feeds_given(self) -> dict[str, np.ndarray] | None:
        """Feeds set by hand (an .npz upload); None: generated per seed."""
        return self.inputs if self.input_seed is None and self.inputs is not None else None
