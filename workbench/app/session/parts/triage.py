"""The triage part: ask TensorRT's parser about the model, and the fixes that write a new
copy and open it (fold constants, global pools, frozen inputs, float biases, reduce)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from workbench.app.session.tasks import TaskKind, background
from workbench.core.errors import QuantizationError

if TYPE_CHECKING:
    from workbench.app.session.state import SessionState
    from workbench.backends.trt.reduce import ReduceResult
    from workbench.inspection.control_flow import FreezeChoice
    from workbench.triage.diagnosis import ParseReport

__all__ = ["TriagePart"]


def _freezing(values: dict[str, object]) -> str:
    text = ", ".join(f"{name} = {value}" for name, value in values.items())
    return f"freezing {text} and folding"


class TriagePart:
    """Parse triage of the current model (``diagnosis``) and the repairs it suggests."""

    def __init__(self, state: SessionState) -> None:
        self.state = state
        self.diagnosis: ParseReport | None = None
        self.reduction: ReduceResult | None = None
        state.on_new_model(self._reset)

    def _reset(self) -> None:
        self.diagnosis = None
        self.reduction = None

    @background(TaskKind.DIAGNOSE, "running parse triage")
    def diagnose(self) -> ParseReport:
        """Ask TensorRT's parser about the current model; keeps and returns the ParseReport."""
        from workbench.backends.trt.parse import diagnose

        self.diagnosis = report = diagnose(self.state.model_source())
        return report

    @background(TaskKind.FOLD, "folding constants and diagnosing again")
    def fold_and_retry(self, input_shapes: dict[str, list[int]] | None = None) -> ParseReport:
        """Fold constants into a new file, open it as the current model, diagnose it again.

        Returns the new ParseReport; the folded file is ``derived["folded"]``.
        """
        from workbench.backends.trt.parse import fold_and_diagnose

        out_path = self.state.derived_path("folded")
        result, report = fold_and_diagnose(self.state.model_source(), input_shapes, out_path)
        self.state.open_derived("folded", result.out_path or out_path)
        self.diagnosis = report
        return report

    @background(TaskKind.FOLD, "rewriting global pools and diagnosing again")
    def rewrite_global_pools(self) -> ParseReport:
        """Write a copy with each pooling window that covers its whole input as a global
        pool (``workbench.rewrite_global_pools``), open it and diagnose it again; the file
        is ``derived["global-pool"]``."""
        from workbench.backends.trt.parse import diagnose
        from workbench.transforms.global_pool import rewrite_global_pools

        written, _pools = rewrite_global_pools(self.state.model_source(),
                                               self.state.derived_path("global-pool"))
        self.state.open_derived("global-pool", written)
        self.diagnosis = report = diagnose(written)
        return report

    @background(TaskKind.REDUCE, "reducing to the minimal failing model")
    def reduce(self) -> Path:
        """Reduce the failing model to its smallest failing subgraph; returns the file."""
        from workbench.backends.trt.reduce import reduce_failure

        out_path = self.state.derived_path("reduced")
        self.reduction = reduction = reduce_failure(self.state.model_source(),
                                                    out_path=out_path)
        written = Path(reduction.path)
        self.state.derived["reduced"] = written
        return written

    # -- control flow: freeze an input that decides an If ------------------------------

    def freeze_choices(self) -> tuple[FreezeChoice, ...]:
        """Graph-input values an If compares with (``sr = 16000``); () without If nodes."""
        from workbench.inspection.control_flow import control_flow, freeze_choices
        from workbench.inspection.loading import load_model

        model = self.state.require_model()
        if not model.summary.subgraph_count:  # no If: skip reading the graph again
            return ()
        return freeze_choices(control_flow(load_model(self.state.model_source(),
                                                      load_weights=False)))

    @background(TaskKind.FREEZE, _freezing)
    def freeze_inputs(self, values: dict[str, object]) -> Path:
        """Fix graph inputs to ``values`` in a copy, fold it (an If they decide keeps only
        the branch taken), and open the copy; the file is ``derived["frozen"]``. The model
        that was open is not changed: one engine per value, as with any frozen export."""
        from workbench.transforms.folding import fold_constants

        out_path = self.state.derived_path("frozen")
        result = fold_constants(self.state.model_source(), out_path=out_path,
                                input_values=values)
        return self.state.open_derived("frozen", result.out_path or out_path)

    # -- Q/DQ parse fix ---------------------------------------------------------------

    @background(TaskKind.FLOAT_BIASES,
                "folding int32 biases to float and diagnosing again")
    def float_biases(self) -> ParseReport:
        """The parse triage fix for ORT's int32 biases: fold each int32 DequantizeLinear into
        the float bias it computes (same numbers) in a new file ``derived["float-biases"]``,
        open it and diagnose it again. Needs no FP32 model."""
        from workbench.inspection.loading import load_model
        from workbench.transforms.quant.qdq_bias import float_biases
        from workbench.transforms.saving import save_model_atomic

        fixed, folded = float_biases(load_model(self.state.model_source()))
        if not folded:
            raise QuantizationError(
                "No int32 DequantizeLinear to fold.",
                expected="a Q/DQ model whose biases ONNX Runtime quantized to int32",
                found="no DequantizeLinear reads an int32 initializer",
                fix="this repair applies to the 'qdq_int32_bias' parse problem only")
        out_path = self.state.derived_path("float-biases")
        save_model_atomic(fixed, out_path)
        del fixed
        self.state.open_derived("float-biases", out_path)
        return self.diagnose()
