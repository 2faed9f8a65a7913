"""Small models where INT8 quantization breaks at a known node (for the exclusion search).

``outlier_mlp``: one input channel is scaled by 500 before ``fc1`` (the activation outliers
of transformer LLMs look like this) but ``fc1`` barely uses it. Per-tensor INT8 of fc1's
input spends its 255 levels on the outlier (a step of ~4), every other channel rounds to
0, and fc1's output is mostly lost. Leaving ``fc1`` unquantized fixes it; ``fc2`` is
harmless. The minimal exclusion list is exactly ``("fc1",)``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

__all__ = ["OUTLIER_BAD_NODE", "outlier_mlp", "write_outlier_mlp"]

OUTLIER_BAD_NODE = "fc1"


def outlier_mlp() -> onnx.ModelProto:
    rng = np.random.default_rng(26)
    gain = np.ones(32, np.float32)
    gain[0] = 500.0
    w1 = (rng.standard_normal((32, 64)) * 0.3).astype(np.float32)
    w1[0] *= 1e-3  # the outlier channel hardly matters to fc1's result
    w2 = (rng.standard_normal((64, 16)) * 0.3).astype(np.float32)
    inits = [numpy_helper.from_array(gain, "gain"), numpy_helper.from_array(w1, "w1"),
             numpy_helper.from_array(w2, "w2"),
             numpy_helper.from_array(np.zeros(16, np.float32) + 0.1, "b2")]
    nodes = [
        helper.make_node("Mul", ["x", "gain"], ["scaled"], name="scale"),
        helper.make_node("MatMul", ["scaled", "w1"], ["h"], name="fc1"),
        helper.make_node("Relu", ["h"], ["h_relu"], name="relu"),
        helper.make_node("MatMul", ["h_relu", "w2"], ["y_lin"], name="fc2"),
        helper.make_node("Add", ["y_lin", "b2"], ["y"], name="fc2_bias"),
    ]
    graph = helper.make_graph(
        nodes, "outlier_mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 32])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 16])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="quant_cases")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def write_outlier_mlp(folder: Path) -> Path:
    path = Path(folder) / "outlier_mlp.onnx"
    onnx.save(outlier_mlp(), path)
    return path
