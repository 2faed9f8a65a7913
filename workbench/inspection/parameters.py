"""Parameter counts of a model: initializers, sparse initializers and Constant-node weights
(onnx only; from dims and declared lengths, so external weights are never read)."""

from __future__ import annotations

from typing import Any

import onnx

from workbench.inspection.protos import element_count, tensor_nbytes

__all__ = ["parameter_stats"]

# Constant nodes of these types hold weights (Paddle2ONNX keeps every weight in one); integer
# Constants are shapes and axes, not parameters.
_WEIGHT_TYPES = frozenset({onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16,
                           onnx.TensorProto.BFLOAT16, onnx.TensorProto.DOUBLE})


def parameter_stats(graphs: list[onnx.GraphProto]) -> dict[str, Any]:
    """Parameters of every initializer, subgraphs' included, from dims and declared lengths."""
    count = nbytes = external = constant_count = constant_bytes = 0
    files: dict[str, None] = {}  # ordered set of external data files
    for graph in graphs:
        for node in graph.node:
            if node.op_type != "Constant" or node.domain not in ("", "ai.onnx"):
                continue
            for attr in node.attribute:
                if attr.name == "value" and attr.t.data_type in _WEIGHT_TYPES:
                    constant_count += element_count(attr.t)
                    constant_bytes += tensor_nbytes(attr.t)
        for tensor in graph.initializer:
            count += element_count(tensor)
            size = tensor_nbytes(tensor)
            nbytes += size
            if tensor.data_location == onnx.TensorProto.EXTERNAL:
                external += size
                files.update((e.value, None) for e in tensor.external_data if e.key == "location")
        for sparse in graph.sparse_initializer:
            count += element_count(sparse.values)
            nbytes += tensor_nbytes(sparse.values) + tensor_nbytes(sparse.indices)
    return {
        "parameter_count": count + constant_count,
        "parameter_bytes": nbytes + constant_bytes,
        "constant_parameter_count": constant_count,
        "constant_parameter_bytes": constant_bytes,
        "external_data_bytes": external,
        "external_data_files": tuple(files),
    }
