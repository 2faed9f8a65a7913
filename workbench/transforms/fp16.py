"""Reduced-precision graphs: the FP16/BF16 path of strongly typed TensorRT.

TensorRT 11 and TensorRT-RTX have no FP16 builder flag: precision is whatever the ONNX
graph says. So FP16 means converting the graph (weights and activations) to float16,
keeping the model's input and output types, and optionally keeping chosen nodes in FP32.
The same conversion feeds the builder and the accuracy comparison, so what is measured is
what gets built.
"""

from __future__ import annotations

from collections.abc import Iterable

import onnx

from workbench.core.errors import BuildSettingsError

__all__ = ["convert_to_fp16", "missing_nodes"]


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
            fix="list the node names in the panel's Model tab (the node table), or with "
            "`trt-workbench inspect MODEL --layers`",
        )
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    return float16.convert_float_to_float16(
        copy,
        keep_io_types=True,
        node_block_list=list(keep) or None,
        disable_shape_infer=False,
    )
