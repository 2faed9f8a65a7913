"""Reduced-precision graphs: the FP16/BF16 path of strongly typed TensorRT.

TensorRT 11 and TensorRT-RTX have no FP16 builder flag: precision is whatever the ONNX
graph says. So FP16 means converting the graph (weights and activations) to float16,
keeping the model's input and output types, and optionally keeping chosen nodes in FP32.
The same conversion feeds the builder and the accuracy comparison, so what is measured is
what gets built.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import onnx

from workbench.core.errors import BuildSettingsError

__all__ = ["convert_to_fp16", "convert_weight_to_fp16", "missing_nodes"]

_WEIGHT_SLICE = 1 << 22  # values per slice in convert_weight_to_fp16
# onnxconverter-common's defaults (convert_float_to_float16 and convert_np_to_float16):
# values it clamps (magnitudes at most 1e-7 but not zero, or at least 1e4 but finite)
_FP16_MIN_POSITIVE = 1e-7
_FP16_MAX_FINITE = 1e4


def missing_nodes(model: onnx.ModelProto, names: Iterable[str]) -> list[str]:
    """The names in ``names`` that are not node names of the model's main graph."""
    present = {node.name for node in model.graph.node}
    return [name for name in dict.fromkeys(names) if name not in present]


def convert_to_fp16(model: onnx.ModelProto, keep_fp32: Iterable[str] = ()) -> onnx.ModelProto:
    """Return a float16 copy of ``model``; I/O types stay as they were.

    Args:
        model: An FP32 ONNX model (with its weights loaded).
        keep_fp32: Names of nodes to leave in FP32 (Casts are inserted around them).
    """
    from onnxconverter_common import float16  # pure Python, imports onnx only

    keep = tuple(keep_fp32)
    unknown = missing_nodes(model, keep)
    if unknown:  # the converter would ignore them silently and convert those nodes anyway
        raise BuildSettingsError(
            "keep_fp32 names nodes that are not in the model.",
            expected="node names of this graph (not tensor names)",
            found=", ".join(unknown),
            fix="list the node names with `trt-workbench inspect MODEL --layers`",
        )
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    return float16.convert_float_to_float16(
        copy,
        keep_io_types=True,
        node_block_list=list(keep) or None,
        disable_shape_infer=False,
    )


def convert_weight_to_fp16(values: np.ndarray) -> np.ndarray:
    """One FP32 weight as :func:`convert_to_fp16` converts it (same clamping, same warnings).

    For weights kept out of the proto (external data read one tensor at a time): the
    converter turns their type to FLOAT16 without touching data it does not hold, and
    this converts the values the same way, so the graph is the one the builder gets.
    """
    from onnxconverter_common import float16

    flat = np.ascontiguousarray(values, dtype=np.float32).reshape(-1)
    converted = np.empty(flat.shape, np.float16)
    for start in range(0, flat.size, _WEIGHT_SLICE):
        part = flat[start:start + _WEIGHT_SLICE]
        out = converted[start:start + part.size]
        with np.errstate(over="ignore"):  # overflowing values are the clamped ones below
            out[...] = part  # the plain cast is right for every value the converter leaves
        magnitude = np.abs(part)
        clamped = np.flatnonzero(((magnitude > 0) & (magnitude <= _FP16_MIN_POSITIVE))
                                 | ((magnitude >= _FP16_MAX_FINITE) & np.isfinite(part)))
        if clamped.size:  # the converter's own function on exactly those values (and warnings)
            out[clamped] = float16.convert_np_to_float16(part[clamped])
    return converted.reshape(np.shape(values))
