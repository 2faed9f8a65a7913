"""What a comparison found: ``PrecisionReport``, its verdict, findings and summary (made by
``compare.compare_precision``; read by the panel, the CLI, reports and bundles)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workbench.app.precision.lines import drift_lines
from workbench.compare.drift import DriftReport
from workbench.compare.metrics import ComparisonReport
from workbench.compare.reference_check import REFERENCE_FIX, ReferenceCheck
from workbench.compare.verdicts import INCONCLUSIVE_FIX, Uninformative
from workbench.core.records import TensorSpec
from workbench.settings.fields import Precision
from workbench.transforms.mask_clamp import SAFE_MASK_VALUE, MaskConstant, tensor_names
from workbench.transforms.precision.fp16 import ConversionReport

__all__ = ["PrecisionReport"]


@dataclass(frozen=True)
class PrecisionReport:
    """FP32 vs reduced precision: outputs, per-layer drift, and what to keep in FP32."""

    model: str
    precision: Precision
    path: str
    outputs: ComparisonReport
    drift: DriftReport | None
    keep_fp32: tuple[str, ...]
    inputs: tuple[TensorSpec, ...]
    seed: int | None
    timings: tuple[tuple[str, float], ...]
    notes: tuple[str, ...] = ()
    conversion: ConversionReport | None = None
    inconclusive: tuple[Uninformative, ...] = ()
    # finfo.min mask constants the optional mask fix would clamp (verify_mask_clamp)
    mask_constants: tuple[MaskConstant, ...] = ()
    # nodes of the reduced-precision graph that ONNX Runtime evaluated instead (in FP32)
    not_evaluated: tuple[str, ...] = ()
    # the CPU evaluator's FP32 outputs checked against ONNX Runtime's (None: not checked)
    reference_check: ReferenceCheck | None = None
    reference_outputs: dict[str, np.ndarray] = field(default_factory=dict, repr=False,
                                                     compare=False)
    candidate_outputs: dict[str, np.ndarray] = field(default_factory=dict, repr=False,
                                                     compare=False)

    @property
    def verdict(self) -> str:
        """PASSED, FAILED, or INCONCLUSIVE (outputs pass but say nothing on these inputs, or
        the evaluator's own FP32 disagrees with ONNX Runtime: then nothing is measured)."""
        if self.reference_disagrees:
            return "INCONCLUSIVE"
        if not self.outputs.passed:
            return "FAILED"
        return "INCONCLUSIVE" if self.inconclusive else "PASSED"

    @property
    def passed(self) -> bool:
        return self.verdict == "PASSED"

    @property
    def reference_disagrees(self) -> bool:
        return self.reference_check is not None and not self.reference_check.agrees

    def __bool__(self) -> bool:
        return self.passed

    @property
    def first_bad_node(self) -> str | None:
        return self.drift.first_bad_node if self.drift else None

    @property
    def first_nonfinite_node(self) -> str | None:
        return self.drift.first_nonfinite_node if self.drift else None

    @property
    def benign(self) -> tuple[Any, ...]:
        """Sentinels (attention masks) that saturate harmlessly in reduced precision."""
        return self.drift.benign if self.drift else ()

    @property
    def findings(self) -> tuple[str, ...]:
        """What the verdict alone does not say: why it is inconclusive, internal drift
        behind passing outputs, the first non-finite value."""
        lines = [f"INCONCLUSIVE: {self.reference_check.describe()}; what to do: "
                 f"{REFERENCE_FIX}"] if self.reference_check and self.reference_disagrees else []
        lines += [f"INCONCLUSIVE {u.describe()}; what to do: {INCONCLUSIVE_FIX}"
                  for u in self.inconclusive]
        drift = self.drift
        if drift is not None and self.outputs.passed and drift.first_bad_node \
                and not self.reference_disagrees:
            worst = max((t.error for t in drift.layers if t.over_threshold), default=0.0)
            lines.append(f"the outputs pass, but inside the graph {drift.first_bad_node} "
                         f"drifts (relative error {worst:.3g} > {drift.threshold:g}): the "
                         "damage is there on other inputs")
        if drift is not None and drift.first_nonfinite_node:
            lines.append(f"first non-finite value: {drift.first_nonfinite_node} "
                         f"(tensor {drift.first_nonfinite_tensor}) is NaN/Inf where FP32 is "
                         "finite")
        return tuple(lines)

    @property
    def mask_fix_offer(self) -> str:
        """The optional mask fix, in words, with the calls that apply and verify it."""
        if not self.mask_constants:
            return ""
        return ("optional fix: clamp the attention-mask constant(s) "
                f"{tensor_names(self.mask_constants)} "
                f"(finfo.min) to -{SAFE_MASK_VALUE:g}, which {self.precision.upper()} holds "
                "exactly; apply and verify with the Compare tab's 'Clamp mask constants and "
                "re-run', session.clamp_masks(), verify_mask_clamp(model, out_path=...) or "
                "trt-workbench compare MODEL --clamp-masks OUT.onnx")

    @property
    def suggested_keep_fp32(self) -> tuple[str, ...]:
        """Nodes to pass back as ``keep_fp32`` (already including the current ones)."""
        if self.drift is None:
            return self.keep_fp32
        extra = [n for n in self.drift.suggested_keep_fp32 if n not in self.keep_fp32]
        return (*self.keep_fp32, *extra)

    @property
    def out_of_range(self) -> tuple[Any, ...]:
        return self.drift.out_of_range if self.drift else ()

    def summary(self) -> str:
        lines = [
            f"{self.precision.upper()} vs FP32 for {self.model}: " + self.verdict,
            *("  " + line for line in self.findings),
            *(["  " + self.mask_fix_offer] if self.mask_constants else []),
            f"  candidate numbers from: {self.path}",
            *([f"  FP32 check: {self.reference_check.describe()}"]
              if self.reference_check is not None and not self.reference_disagrees else []),
            f"  tolerances: {self.outputs.tolerances.describe()}",
            *("  " + o.summary() for o in self.outputs.outputs),
        ]
        if self.keep_fp32:
            lines.append("  kept in FP32: " + ", ".join(self.keep_fp32))
        if self.drift is not None:
            lines += drift_lines(self.drift, self.precision)
        if self.conversion is not None:
            lines += ["  conversion: " + line for line in self.conversion.lines()]
        lines += ["  note: " + note for note in self.notes]
        lines.append("  timings: " + ", ".join(f"{k} {v:.3f}s" for k, v in self.timings))
        lines.append("  rule: " + self.outputs.rule)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model, "precision": self.precision, "path": self.path,
            "passed": self.passed, "verdict": self.verdict,
            "findings": list(self.findings), "keep_fp32": list(self.keep_fp32),
            "first_bad_node": self.first_bad_node,
            "first_nonfinite_node": self.first_nonfinite_node,
            "mask_constants": [c.to_dict() for c in self.mask_constants],
            "mask_fix_offer": self.mask_fix_offer,
            "suggested_keep_fp32": list(self.suggested_keep_fp32),
            "inputs": [spec.to_dict() for spec in self.inputs], "seed": self.seed,
            "timings": dict(self.timings), "notes": list(self.notes),
            "outputs": self.outputs.to_dict(),
            "conversion": None if self.conversion is None else self.conversion.to_dict(),
            "reference_check": (None if self.reference_check is None
                                else self.reference_check.to_dict()),
            "drift": None if self.drift is None else self.drift.to_dict(),
        }
