"""What a Q/DQ quantization for TensorRT is asked to do: the TensorRT preset, as data.

TensorRT 11 and TensorRT-RTX build INT8/FP8 engines only from ONNX models with explicit
QuantizeLinear/DequantizeLinear pairs. ONNX Runtime's ``quantize_static`` writes such
models; its defaults do not suit TensorRT, so the preset here fixes the options TensorRT
needs (measured with TensorRT-RTX 1.7 on CPU):

- QDQ format (QOperator ops such as QLinearConv have no TensorRT importer);
- symmetric activations and weights (TensorRT's Q/DQ layers take zero points of 0 only);
- per-channel weights (TensorRT's kernels take per-output-channel weight scales);
- ``QuantizeBias: False``: ORT's default quantizes biases to int32, and TensorRT's parser
  refuses a DequantizeLinear reading int32 ("input has type Int32 but must have type FP8,
  FP4, Int4, Int8, or UInt8"); biases stay float and TensorRT fuses them;
- only the operators TensorRT runs in INT8 (Conv, MatMul, Gemm, ...): quantizing the rest
  adds Q/DQ pairs TensorRT must remove again.

Pure Python (onnx only for validating node names): ``workbench.backends.ort_quant`` turns
a ``QuantSettings`` into ``quantize_static``'s arguments.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import onnx

from workbench.core.errors import QuantizationError
from workbench.core.records import Choice

__all__ = ["TENSORRT_OPS", "Calibrator", "QuantPrecision", "QuantSettings", "check_exclude",
           "quant_precision"]

# Operators TensorRT computes in INT8 when their inputs come through Q/DQ (its "quantizable
# layers": convolution, matrix multiply, pooling, and the elementwise adds of residuals are
# fused). The rest stay float: Q/DQ around them only costs reformat layers.
TENSORRT_OPS: tuple[str, ...] = ("Conv", "ConvTranspose", "MatMul", "Gemm")


class QuantPrecision(Choice):
    """What the Q/DQ pairs quantize to."""

    INT8 = "int8"
    FP8 = "fp8"  # float8 e4m3fn (ORT's QFLOAT8E4M3FN)

    @property
    def label(self) -> str:
        """As reports print it: ``INT8``, ``FP8``."""
        return self.value.upper()


class Calibrator(Choice):
    """How activation ranges are found from the calibration batches (ORT's methods)."""

    MINMAX = "minmax"
    ENTROPY = "entropy"
    PERCENTILE = "percentile"
    DISTRIBUTION = "distribution"  # the only one ORT accepts for FP8


_C = TypeVar("_C", bound=Choice)


def _one_of(kind: type[_C], value: object, what: str, fix: str) -> _C:
    """``value`` (a member or its text) as a member of ``kind``, or a QuantizationError."""
    try:
        return kind(value)
    except ValueError as err:
        found = repr(str(value))
        raise QuantizationError(f"Unknown {what} {found}.",
                                expected=" or ".join(repr(c.value) for c in kind),
                                found=found, fix=fix) from err


def quant_precision(precision: QuantPrecision | str) -> QuantPrecision:
    """``precision`` (enum or text) as a QuantPrecision, or a QuantizationError."""
    return _one_of(QuantPrecision, precision, "quantization precision",
                   "use precision='int8' (the TensorRT preset) or precision='fp8'")


@dataclass(frozen=True)
class QuantSettings:
    """A Q/DQ quantization. The defaults are the TensorRT preset (see the module docstring).

    Args:
        precision: ``int8`` or ``fp8``.
        calibrator: Range method; FP8 needs ``distribution`` (set automatically).
        op_types: Operators to quantize.
        exclude: ONNX node names to leave in float (the exclusion list).
        per_channel: Per-output-channel weight scales.
        symmetric: Symmetric activations and weights (zero point 0).
        quantize_bias: Quantize biases to int32 (TensorRT refuses it; False in the preset).
        calibration_batches: Generated batches when no calibration data is given.
    """

    precision: QuantPrecision = QuantPrecision.INT8  # or its text: normalised on entry
    calibrator: Calibrator = Calibrator.MINMAX
    op_types: tuple[str, ...] = TENSORRT_OPS
    exclude: tuple[str, ...] = ()
    per_channel: bool = True
    symmetric: bool = True
    quantize_bias: bool = False
    calibration_batches: int = 8
    extra: tuple[tuple[str, Any], ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "precision", quant_precision(self.precision))
        calibrator = _one_of(Calibrator, self.calibrator, "calibrator",
                             "use calibrator='minmax' (the TensorRT preset)")
        if self.precision is QuantPrecision.FP8 and calibrator is Calibrator.MINMAX:
            # ORT: "FP8 quantization only supports Distribution"
            calibrator = Calibrator.DISTRIBUTION
        object.__setattr__(self, "calibrator", calibrator)
        object.__setattr__(self, "op_types", tuple(self.op_types))
        object.__setattr__(self, "exclude", tuple(dict.fromkeys(self.exclude)))
        if self.calibration_batches < 1:
            raise QuantizationError(
                "Calibration needs at least one batch.", expected="calibration_batches >= 1",
                found=str(self.calibration_batches), fix="use calibration_batches=8")

    @classmethod
    def tensorrt(cls, **changes: Any) -> QuantSettings:
        """The TensorRT preset, with ``changes`` (e.g. ``exclude=("fc",)``)."""
        return replace(cls(), **changes)

    @classmethod
    def ort_defaults(cls) -> QuantSettings:
        """ONNX Runtime's own defaults (QDQ format): int32 biases, every operator ORT
        quantizes, per-tensor weights. TensorRT's parser refuses what this writes; it is the
        baseline the benchmark measures the preset against."""
        return cls(op_types=(), per_channel=False, symmetric=False, quantize_bias=True)

    def with_exclude(self, nodes: Iterable[str]) -> QuantSettings:
        return replace(self, exclude=tuple(nodes))

    def extra_options(self) -> dict[str, Any]:
        """``quantize_static``'s ``extra_options``."""
        options: dict[str, Any] = {
            "QuantizeBias": self.quantize_bias,
            "ActivationSymmetric": self.symmetric,
            "WeightSymmetric": self.symmetric,
        }
        options.update(dict(self.extra))
        return options

    def describe(self) -> str:
        ops = ", ".join(self.op_types) or "every operator ORT quantizes"
        words = [f"{self.precision.label} Q/DQ", f"calibrator {self.calibrator.value}",
                 "per-channel weights" if self.per_channel else "per-tensor weights",
                 "symmetric" if self.symmetric else "asymmetric",
                 "float biases" if not self.quantize_bias else "int32 biases",
                 f"ops {ops}"]
        if self.exclude:
            words.append(f"excluded {len(self.exclude)}: " + ", ".join(self.exclude))
        return "; ".join(words)

    def to_dict(self) -> dict[str, Any]:
        return {"precision": self.precision.value, "calibrator": self.calibrator.value,
                "op_types": list(self.op_types), "exclude": list(self.exclude),
                "per_channel": self.per_channel, "symmetric": self.symmetric,
                "quantize_bias": self.quantize_bias,
                "calibration_batches": self.calibration_batches}


def check_exclude(model: onnx.ModelProto, exclude: Iterable[str]) -> tuple[str, ...]:
    """``exclude`` if every name is a node of ``model`` (nodes named by
    ``workbench.transforms.naming.name_nodes``), else a QuantizationError naming them."""
    exclude = tuple(exclude)
    names = [node.name for node in model.graph.node]
    unknown = [name for name in exclude if name not in set(names)]
    if unknown:
        shown = ", ".join(names[:12]) + (" ..." if len(names) > 12 else "")
        raise QuantizationError(
            "The exclusion list names nodes that are not in the model.",
            expected=f"ONNX node names of this graph ({shown})",
            found=", ".join(unknown),
            fix="use node names (not tensor names), e.g. from the INT8 report's "
            "first_bad_node or find_exclusions()",
        )
    return exclude
