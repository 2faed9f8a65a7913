"""The CPU evaluator's AveragePool agrees with ONNX Runtime (issue 25).

onnx.reference spread a ``ceil_mode`` window's overhang on both sides of the input: an
EfficientNet export's pooler (kernel_shape [1280, 1280], ceil_mode=1 on a 7×7 map, a global
average) gave all zeros in FP32 while ONNX Runtime's logits reached 0.5.
"""

from __future__ import annotations

import itertools

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from workbench.backends.ort import OrtRunner
from workbench.backends.reference import stream_values


def _pool_model(x_shape: tuple[int, ...], **attrs: object) -> onnx.ModelProto:
    node = helper.make_node("AveragePool", ["x"], ["y"], name="pool", **attrs)
    graph = helper.make_graph(
        [node], "pool", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    model.ir_version = 9
    return model


def _cpu(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    out = {}
    for _node, produced in stream_values(model, {}, {"x": x}):
        out.update(produced)
    return out["y"]


def _ort(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    with OrtRunner(model) as runner:
        return runner.infer({"x": x})["y"]


def test_oversized_ceil_mode_window_is_the_global_mean() -> None:
    x = np.random.default_rng(0).standard_normal((1, 4, 7, 7)).astype(np.float32)
    for include in (0, 1):
        model = _pool_model(x.shape, kernel_shape=[1280, 1280], strides=[1280, 1280],
                            ceil_mode=1, count_include_pad=include)
        got = _cpu(model, x)
        assert got.shape == (1, 4, 1, 1)
        np.testing.assert_allclose(got, x.mean(axis=(2, 3), keepdims=True), rtol=1e-5)
        np.testing.assert_allclose(got, _ort(model, x), rtol=1e-5, atol=1e-6)


CASES = [
    dict(kernel_shape=[3, 3]),
    dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
    dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=1),
    dict(kernel_shape=[2, 3], strides=[2, 2], ceil_mode=1),
    dict(kernel_shape=[3, 3], strides=[2, 2], pads=[0, 1, 1, 0], ceil_mode=1,
         count_include_pad=1),
    dict(kernel_shape=[3, 3], auto_pad="SAME_UPPER", strides=[2, 2]),
    dict(kernel_shape=[3, 2], auto_pad="SAME_LOWER", strides=[2, 1], count_include_pad=1),
    dict(kernel_shape=[2, 2], auto_pad="VALID", strides=[2, 2]),
    dict(kernel_shape=[3, 3], dilations=[2, 2], pads=[2, 2, 2, 2]),
]


@pytest.mark.parametrize(("attrs", "shape"),
                         list(itertools.product(CASES, [(2, 3, 7, 9), (1, 2, 8, 8)])))
def test_average_pool_matches_onnxruntime(attrs: dict[str, object],
                                          shape: tuple[int, ...]) -> None:
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    model = _pool_model(shape, **attrs)
    np.testing.assert_allclose(_cpu(model, x), _ort(model, x), rtol=1e-5, atol=1e-6)


def test_fp16_pool_stays_fp16() -> None:
    x = np.random.default_rng(2).standard_normal((1, 2, 5, 5)).astype(np.float16)
    node = helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[1280, 1280],
                            ceil_mode=1, strides=[1280, 1280])
    graph = helper.make_graph(
        [node], "p", [helper.make_tensor_value_info("x", TensorProto.FLOAT16, [1, 2, 5, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT16, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    got = _cpu(model, x)
    assert got.dtype == np.float16
    np.testing.assert_allclose(got, x.astype(np.float32).mean(axis=(2, 3), keepdims=True),
                               rtol=1e-3)
