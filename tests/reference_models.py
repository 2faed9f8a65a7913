"""Models for the evaluator checks of issue 25 (built with onnx.helper, as exporters write them).

``efficientnet_pooler``: HF EfficientNet's pooler, ``nn.AvgPool2d(1280, ceil_mode=True)``
exported as AveragePool kernel_shape [1280, 1280] (strides the same, count_include_pad=1)
on a 7×7 map: a global average that TensorRT's parser refuses (window beyond its limit) and
that onnx.reference evaluated as zeros. ``lp_pool_ceil``: an LpPool with ``ceil_mode``, on
which onnx.reference still disagrees with ONNX Runtime (a real disagreement, kept to test
that the comparison notices one).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def efficientnet_pooler(batch: int | str = 1) -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.standard_normal((16, 3, 3, 3)).astype(np.float32), "w"),
        numpy_helper.from_array((rng.standard_normal((16, 10)) * 0.1).astype(np.float32), "fcw"),
        numpy_helper.from_array(np.array([-1, 16], dtype=np.int64), "flat_shape"),
    ]
    nodes = [
        helper.make_node("Conv", ["pixel_values", "w"], ["c"], name="/stem/conv",
                         strides=[4, 4], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"], name="/stem/act"),
        helper.make_node("AveragePool", ["r"], ["pooled"], name="/pooler/AveragePool",
                         kernel_shape=[1280, 1280], strides=[1280, 1280], ceil_mode=1,
                         count_include_pad=1, pads=[0, 0, 0, 0]),
        helper.make_node("Reshape", ["pooled", "flat_shape"], ["flat"], name="/flatten"),
        helper.make_node("MatMul", ["flat", "fcw"], ["logits"], name="/classifier/MatMul"),
    ]
    graph = helper.make_graph(
        nodes, "efficientnet_pooler",
        [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, [batch, 3, 28, 28])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def lp_pool_ceil() -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    weight = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w")
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("LpPool", ["c"], ["p"], name="lp_pool", kernel_shape=[3, 3],
                         strides=[3, 3], ceil_mode=1, p=2),
        helper.make_node("Relu", ["p"], ["y"], name="relu"),
    ]
    graph = helper.make_graph(
        nodes, "lp_pool_ceil",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 7, 7])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 3, 3])], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    return model


def save(model: onnx.ModelProto, folder: Path) -> Path:
    path = folder / f"{model.graph.name}.onnx"
    onnx.save(model, path)
    return path


def ort_averages_oversized_windows() -> bool:
    """Whether the installed ONNX Runtime averages the input under a ceil_mode AveragePool
    window larger than it (1.32 does; 1.23, what Python 3.10 resolves, returns ~0, as
    onnx.reference did): tests of that pooler depend on the ONNX Runtime they run with."""
    import onnxruntime as ort

    node = helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[8, 8], strides=[8, 8],
                            ceil_mode=1, count_include_pad=1, pads=[0, 0, 0, 0])
    graph = helper.make_graph(
        [node], "probe", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 2, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (y,) = session.run(None, {"x": np.ones((1, 1, 2, 2), np.float32)})
    return bool(np.isclose(float(np.asarray(y).ravel()[0]), 1.0))
