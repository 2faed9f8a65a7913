"""Text lines of a precision report (kept apart so that ``precision.py`` stays small)."""

from __future__ import annotations

from collections.abc import Sequence

from workbench.compare.drift import DriftReport
from workbench.settings.fields import Precision

__all__ = ["drift_lines", "drift_reason", "fallback_notes"]


def drift_lines(drift: DriftReport, precision: Precision = Precision.FP16) -> list[str]:
    """The per-layer part of ``PrecisionReport.summary()``."""
    lines = [
        f"  per-layer drift: {len(drift.layers)} tensors, threshold {drift.threshold:g} "
        "(max|candidate - fp32| / max|fp32|)",
        f"  first node over threshold: {drift.first_bad_node or 'none'}"
        + (f" (tensor {drift.first_bad_tensor})" if drift.first_bad_tensor else ""),
    ]
    lines += ["  benign saturation: " + item.describe() for item in drift.benign[:10]]
    lines += [f"  out of {precision.upper()} range: " + issue.describe()
              for issue in drift.out_of_range[:10]]
    if len(drift.out_of_range) > 10:
        lines.append(f"  ... and {len(drift.out_of_range) - 10} more range findings")
    if drift.suggested_keep_fp32:
        lines.append("  suggested keep-FP32 list: " + " ".join(drift.suggested_keep_fp32))
        lines.append(f"    ({drift_reason(drift, precision)})")
    return lines


def fallback_notes(nodes: Sequence[str], precision: Precision) -> list[str]:
    """What the report says of nodes the CPU evaluator could not evaluate itself."""
    if not nodes:
        return []
    shown = ", ".join(nodes[:8]) + (f" and {len(nodes) - 8} more" if len(nodes) > 8 else "")
    return [f"not evaluated in {precision.upper()}: {shown} (onnx.reference cannot evaluate "
            f"them; ONNX Runtime computed them in FP32 from the {precision.upper()} inputs, and "
            f"their outputs were rounded to {precision.upper()})"]


def drift_reason(drift: DriftReport, precision: Precision) -> str:
    """The drift report's reason in the words of the precision compared: BF16 has FP32's
    range (no range check runs), so its reason never speaks of the FP16 range."""
    if precision is Precision.FP16:
        return drift.reason
    return (drift.reason.replace("no value leaves the FP16 range; ", "")
            .replace(" and the FP16 range", ""))
