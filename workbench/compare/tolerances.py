"""Tolerances for output comparison: a default, per-output overrides, and justified presets.

NumPy-free and onnx-free. The presets are deliberately looser than Polygraphy's 1e-5
default for reduced precisions: judging an FP16 engine with FP32 tolerances calls a healthy
model FAILED, which is the most common false alarm users meet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from workbench.core.errors import ComparisonError

__all__ = ["PRESETS", "Tolerance", "Tolerances"]


@dataclass(frozen=True)
class Tolerance:
    """One output's thresholds for the elementwise rule (fails only beyond both)."""

    atol: float
    rtol: float

    def __post_init__(self) -> None:
        for label, value in (("atol", self.atol), ("rtol", self.rtol)):
            try:
                # floats always, so a report saved and loaded again compares equal
                object.__setattr__(self, label, float(value))
            except (TypeError, ValueError) as err:
                raise ComparisonError(
                    f"Tolerance {label} must be a number.", expected=f"a float {label}",
                    found=repr(value), fix=f"pass a {label} such as 1e-3",
                ) from err
            if not getattr(self, label) >= 0:  # also rejects NaN
                raise ComparisonError(
                    f"Tolerance {label} must be a non-negative number.",
                    expected=f"{label} >= 0",
                    found=repr(value),
                    fix=f"pass a {label} such as 1e-3",
                )


@dataclass(frozen=True)
class _Preset:
    tolerance: Tolerance
    justification: str


PRESETS: dict[str, _Preset] = {
    "fp32": _Preset(
        Tolerance(atol=1e-5, rtol=1e-5),
        "FP32 has a unit roundoff of 6e-8. Two FP32 backends differ only by summation order "
        "and kernel choice, which for layers with hundreds of terms moves results by ~1e-6 "
        "relative; 1e-5 (Polygraphy's default) leaves a 10× margin and still catches real bugs.",
    ),
    "tf32": _Preset(
        Tolerance(atol=1e-3, rtol=5e-3),
        "TF32 rounds the inputs of matrix multiplies and convolutions to a 10-bit mantissa "
        "(unit roundoff 4.9e-4) but accumulates in FP32, so errors stay near one TF32 "
        "rounding per layer, a few 1e-4 relative after several layers: rtol 5e-3 allows ~10 "
        "roundings; atol 1e-3 covers outputs near zero, where relative error is meaningless.",
    ),
    "fp16": _Preset(
        Tolerance(atol=1e-2, rtol=1e-2),
        "FP16 has a unit roundoff of 4.9e-4 and every activation is rounded, not just matmul "
        "inputs; a dozen layers accumulate 10–20 roundings, i.e. ~5e-3 relative. 1e-2 on "
        "both gives a 2× margin over that. Overflow (|x| > 65504) or underflow gives inf, "
        "NaN or errors of order 1, which these tolerances still fail loudly.",
    ),
    "bf16": _Preset(
        Tolerance(atol=5e-2, rtol=5e-2),
        "BF16 keeps FP32's range (no overflow) but has only an 8-bit mantissa: unit roundoff "
        "3.9e-3, 8× FP16's. Scaling the FP16 preset by the same factor gives 8e-2; 5e-2 is "
        "the usual compromise, still far below the O(1) errors of a broken layer.",
    ),
    "int8": _Preset(
        Tolerance(atol=1e-1, rtol=1e-1),
        "INT8 Q/DQ rounds each quantized tensor to 255 levels of its calibrated range: one "
        "rounding is up to half a step (range/254), and a few quantized layers leave errors "
        "of a few steps, 1–3% of a tensor's range (30–40 dB SQNR). For outputs whose values "
        "span a few units that is up to ~0.1 absolute; 1e-1 on both passes it and still "
        "fails a tensor whose range was calibrated wrong (an outlier channel that flattens "
        "the others: errors of the order of the values themselves). Outputs on another "
        "scale need their own atol (Tolerances.with_override). Judged on CPU fake "
        "quantization; a TensorRT engine adds its own rounding.",
    ),
}


@dataclass(frozen=True)
class Tolerances:
    """A default tolerance, optional per-output overrides, and the preset it came from."""

    default: Tolerance = field(default_factory=lambda: PRESETS["fp32"].tolerance)
    per_output: tuple[tuple[str, Tolerance], ...] = ()
    preset_name: str | None = None

    @classmethod
    def preset(cls, name: str) -> Tolerances:
        """``fp32``, ``tf32``, ``fp16``, ``bf16`` or ``int8``; ``PRESETS`` says why."""
        if name not in PRESETS:
            raise ComparisonError(
                f"Unknown tolerance preset {name!r}.",
                expected="one of " + ", ".join(PRESETS),
                found=repr(name),
                fix="pick a preset, or pass Tolerances(Tolerance(atol, rtol))",
            )
        return cls(PRESETS[name].tolerance, (), name)

    @classmethod
    def fp32(cls) -> Tolerances:
        return cls.preset("fp32")

    @classmethod
    def tf32(cls) -> Tolerances:
        return cls.preset("tf32")

    @classmethod
    def fp16(cls) -> Tolerances:
        return cls.preset("fp16")

    @classmethod
    def bf16(cls) -> Tolerances:
        return cls.preset("bf16")

    @property
    def justification(self) -> str:
        if self.preset_name is None:
            return "custom tolerances"
        return PRESETS[self.preset_name].justification

    def with_override(self, output: str, atol: float, rtol: float) -> Tolerances:
        """A copy in which ``output`` uses its own thresholds."""
        kept = tuple(item for item in self.per_output if item[0] != output)
        return Tolerances(self.default, (*kept, (output, Tolerance(atol, rtol))), self.preset_name)

    def for_output(self, name: str) -> Tolerance:
        for output, tolerance in self.per_output:
            if output == name:
                return tolerance
        return self.default

    def describe(self) -> str:
        base = self.preset_name or "custom"
        text = f"{base}: atol={self.default.atol:g}, rtol={self.default.rtol:g}"
        for output, tol in self.per_output:
            text += f"; {output}: atol={tol.atol:g}, rtol={tol.rtol:g}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "preset": self.preset_name,
            "default": {"atol": self.default.atol, "rtol": self.default.rtol},
            "per_output": {n: {"atol": t.atol, "rtol": t.rtol} for n, t in self.per_output},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Tolerances:
        try:
            default = Tolerance(float(data["default"]["atol"]), float(data["default"]["rtol"]))
            per_output = tuple(
                (str(name), Tolerance(float(t["atol"]), float(t["rtol"])))
                for name, t in dict(data.get("per_output") or {}).items()
            )
            preset = data.get("preset")
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise ComparisonError(
                "Malformed tolerances in a saved report.",
                expected='{"default": {"atol": x, "rtol": y}, "per_output": {...}}',
                found=f"{type(err).__name__}: {err}",
                fix="re-save the report with save_report()",
            ) from err
        if preset is not None and preset not in PRESETS:
            preset = None  # an unknown preset name from a newer version: keep the numbers
        return cls(default, per_output, preset)
