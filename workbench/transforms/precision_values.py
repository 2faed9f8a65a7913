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

from collections.abc import Callable
from typing import Any

import ml_dtypes
import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

from workbench.core.errors import BuildSettingsError

__all__ = ["BF16_MAX", "FP16_MAX", "LOW_TYPES", "Cast", "convert_tensor", "low_type_of",
           "round_to"]

FP16_MAX = float(np.finfo(np.float16).max)
BF16_MAX = float(ml_dtypes.finfo(ml_dtypes.bfloat16).max)
_FP16_TINY = float(np.finfo(np.float16).smallest_subnormal)
_HALF_MAX_BITS = int(np.array(FP16_MAX, np.float16).view(np.uint16))  # 0x7bff
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


Cast = Callable[[np.ndarray, "np.dtype[Any]"], np.ndarray]


def _numpy_cast(values: np.ndarray, dtype: np.dtype[Any]) -> np.ndarray:
    return values.astype(dtype)


def round_to(values: np.ndarray, low: int, cast: Cast | None = None) -> tuple[np.ndarray, int]:
    """``values`` in the reduced type, and how many finite values had to be clamped.

    ``cast`` converts float32 to float16 (NumPy's ``astype`` when None; the comparison
    passes ONNX Runtime's, which gives the same bits ~8× faster). The common case costs
    the cast and a few integer reductions over the FP16 result: the clamp and the
    smallest-subnormal rule below are only taken when those reductions say they change
    something, and then over the whole tensor exactly as written.
    """
    wide = np.asarray(values, dtype=np.float32)
    if low == TensorProto.BFLOAT16:
        rounded = wide.astype(ml_dtypes.bfloat16)
        over = np.isinf(rounded) & np.isfinite(wide)
        clamped = int(np.count_nonzero(over))
        if clamped:
            rounded[over] = (np.sign(wide[over]) * BF16_MAX).astype(ml_dtypes.bfloat16)
        return rounded, clamped
    cast = cast or _numpy_cast
    with np.errstate(over="ignore", invalid="ignore"):  # values beyond FP16: handled below
        half = cast(wide, np.dtype(np.float16))
    if not wide.size:
        return half, 0
    if _beyond_range(half):
        return _round_slowly(wide, cast)
    if _maybe_flushed(wide, half):
        if not half.flags.writeable:
            half = half.copy()
        _keep_tiny(wide, half)
    return half, 0


def _beyond_range(half: np.ndarray) -> bool:
    """Any |value| >= 65504, inf or NaN in the FP16 result (from its bit patterns: positive
    halves are 0x0000-0x7fff as int16, negative ones 0x8000-0xffff as uint16)."""
    return bool(half.view(np.int16).max() >= _HALF_MAX_BITS
                or half.view(np.uint16).max() >= _HALF_MAX_BITS | 0x8000)


def _maybe_flushed(wide: np.ndarray, half: np.ndarray) -> bool:
    """Whether a non-zero value may have rounded to ±0: more +0 halves than +0.0 inputs,
    or any -0 half (then the exact rule decides)."""
    bits = half.view(np.uint16)
    positive_zeros = bits.size - int(np.count_nonzero(bits))
    if positive_zeros and positive_zeros != wide.size - int(
            np.count_nonzero(wide.view(np.uint32))):
        return True
    return bool(half.view(np.int16).min() == np.iinfo(np.int16).min)


def _keep_tiny(wide: np.ndarray, half: np.ndarray) -> None:
    """Tiny non-zero values keep their sign and FP16's smallest subnormal (in place): the
    ones the cast flushed to ±0 (values below that subnormal but above half of it already
    round to it)."""
    flat_half = half.reshape(-1)
    zeros = np.flatnonzero((flat_half.view(np.uint16) & 0x7FFF) == 0)
    if not zeros.size:
        return
    values = wide.reshape(-1)[zeros]
    hit = values != 0
    if np.any(hit):
        flat_half[zeros[hit]] = (np.sign(values[hit]) * _FP16_TINY).astype(np.float16)


def _round_slowly(wide: np.ndarray, cast: Cast) -> tuple[np.ndarray, int]:
    """NaN, infinities or values beyond FP16: clamp (and count), then cast."""
    finite = np.isfinite(wide)
    over = finite & (np.abs(wide) > FP16_MAX)
    clamped = int(np.count_nonzero(over))
    if clamped:
        wide = np.where(over, np.sign(wide) * FP16_MAX, wide).astype(np.float32)
    half = cast(wide, np.dtype(np.float16))
    if not half.flags.writeable:
        half = half.copy()
    _keep_tiny(wide, half)
    return half, clamped


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
