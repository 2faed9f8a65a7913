"""Int32 biases of a Q/DQ model back to float: the fix for TensorRT's refusal, in a copy.

ONNX Runtime's ``quantize_static`` quantizes Conv/Gemm biases to int32 by default, read
through a ``DequantizeLinear``; TensorRT's parser takes DequantizeLinear only from INT8,
UINT8, FP8, INT4 or FP4. The value that DequantizeLinear computes is a constant,
``(q - zero_point) * scale``, so it can be folded into a float initializer with the same
name: the graph computes the same numbers, and TensorRT fuses the float bias into its INT8
kernel. Works without the FP32 model (onnx and NumPy only; the input is not modified).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper

from workbench.graph import graph_values

__all__ = ["float_biases"]


def float_biases(model: onnx.ModelProto) -> tuple[onnx.ModelProto, tuple[str, ...]]:
    """A copy of ``model`` with every int32 ``DequantizeLinear`` of an initializer folded
    into a float32 initializer; returns it and the names of the folded nodes."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    inits = {t.name: t for t in graph.initializer}
    folded: list[str] = []
    kept: list[onnx.NodeProto] = []
    freed: set[str] = set()  # the int32 values, scales and zero points the folds read
    for node in graph.node:
        value = _folded_value(node, inits)
        if value is None:
            kept.append(node)
            continue
        graph.initializer.append(numpy_helper.from_array(value, node.output[0]))
        folded.append(node.name or node.output[0])
        freed.update(node.input)
    if not folded:
        return out, ()
    del graph.node[:]
    graph.node.extend(kept)
    _drop_unused(graph, freed - _used_names(graph))
    return out, tuple(folded)


def _folded_value(node: onnx.NodeProto, inits: dict[str, onnx.TensorProto]
                  ) -> np.ndarray | None:
    if node.op_type != "DequantizeLinear" or node.domain not in ("", "ai.onnx"):
        return None
    stored = inits.get(node.input[0])
    if stored is None or stored.data_type != onnx.TensorProto.INT32 or len(node.input) < 2:
        return None
    scale_init = inits.get(node.input[1])
    if scale_init is None:
        return None
    values = numpy_helper.to_array(stored).astype(np.float64)
    scale = numpy_helper.to_array(scale_init).astype(np.float64)
    zero_init = inits.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    zero = (numpy_helper.to_array(zero_init).astype(np.float64) if zero_init is not None
            else np.zeros_like(scale))
    if scale.size > 1 and values.ndim > 1:  # per-channel along ``axis`` (default 1)
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1) % values.ndim
        shape = [1] * values.ndim
        shape[axis] = scale.size
        scale, zero = scale.reshape(shape), zero.reshape(shape)
    result: np.ndarray = ((values - zero) * scale).astype(np.float32)  # Any on numpy 2.2
    return result


def _used_names(graph: onnx.GraphProto) -> set[str]:
    """Every name a node reads, in this graph and the subgraphs of its nodes."""
    values = graph_values(graph)  # uses include what an If/Loop body reads from this graph
    return {name for name, value in values.items() if value.uses or value.is_output}


def _drop_unused(graph: onnx.GraphProto, names: set[str]) -> None:
    kept = [t for t in graph.initializer if t.name not in names]
    del graph.initializer[:]
    graph.initializer.extend(kept)
