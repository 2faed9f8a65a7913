"""Weights in reduced precision: FP16 (clamped to its range) and BF16 (real bfloat16 rounding).

FP16 holds magnitudes up to 65504: larger finite weights are clamped there (saturating, as
TensorRT does) and counted, so the report can say so; infinities stay infinities. Tiny
non-zero values keep their sign and at least FP16's smallest subnormal, so an epsilon
added before a square root or division never becomes zero (onnxconverter-common does the
same with a larger floor). BF16 has FP32's range, almost: values are rounded with
``ml_dtypes.bfloat16`` (round to nearest even), the type onnx itself uses, except the few
FP32 values beyond BF16's largest finite (3.39e38), which rounding would make infinite:
``finfo(float32).min``, the additive attention mask of every transformer export, became
-inf and then NaN (-inf · 0) in T5. They are clamped to ±3.39e38 and counted.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

from workbench.core.errors import BuildSettingsError

__all__ = ["BF16_MAX", "FP16_MAX", "LOW_TYPES", "convert_tensor", "low_type_of", "round_to"]

FP16_MAX = float(np.finfo(np.float16).max)
BF16_MAX = float(ml_dtypes.finfo(ml_dtypes.bfloat16).max)
_FP16_TINY = float(np.finfo(np.float16).smallest_subnormal)
LOW_TYPES = {"fp16": TensorProto.FLOAT16, "bf16": TensorProto.BFLOAT16}


def low_type_of(precision: str) -> int:
    """The ONNX element type of a reduced precision name (``"fp16"`` or ``"bf16"``)."""
    if precision not in LOW_TYPES:
        raise BuildSettingsError(
            f"Precision {precision!r} has no graph conversion.",
            expected="'fp16' or 'bf16'", found=repr(precision),
            fix="use precision='fp16' or precision='bf16'",
        )
    return LOW_TYPES[precision]


def round_to(values: np.ndarray, low: int) -> tuple[np.ndarray, int]:
    """``values`` in the reduced type, and how many finite values had to be clamped."""
    wide = np.asarray(values, dtype=np.float32)
    if low == TensorProto.BFLOAT16:
        rounded = wide.astype(ml_dtypes.bfloat16)
        over = np.isinf(rounded) & np.isfinite(wide)
        clamped = int(np.count_nonzero(over))
        if clamped:
            rounded[over] = (np.sign(wide[over]) * BF16_MAX).astype(ml_dtypes.bfloat16)
        return rounded, clamped
    finite = np.isfinite(wide)
    over = finite & (np.abs(wide) > FP16_MAX)
    clamped = int(np.count_nonzero(over))
    if clamped:
        wide = np.where(over, np.sign(wide) * FP16_MAX, wide)
    tiny = finite & (wide != 0) & (np.abs(wide) < _FP16_TINY)
    if np.any(tiny):
        wide = np.where(tiny, np.sign(wide) * _FP16_TINY, wide)
    return wide.astype(np.float16), clamped


def convert_tensor(tensor: onnx.TensorProto, low: int) -> int:
    """Convert an FP32 TensorProto in place; returns the number of clamped values."""
    if tensor.data_location == TensorProto.EXTERNAL:
        raise BuildSettingsError(
            f"The weight {tensor.name!r} was not loaded, so it cannot be converted.",
            expected="a model loaded with its weights (external data read)",
            found="external data reference without its values",
            fix="load the model with load_model(path) (weights included) before converting",
        )
    values, clamped = round_to(numpy_helper.to_array(tensor), low)
    converted = numpy_helper.from_array(values, tensor.name)
    tensor.Clear()
    tensor.CopyFrom(converted)
    return clamped
