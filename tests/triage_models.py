"""Focused reproducers of real-model failures for the triage tests (built in code).

The realistic corpus (sample_models/realistic.py) carries the full-size shapes; these are
the smallest graphs that fail the same way, so each test pays only for what it checks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper


def _save(graph: onnx.GraphProto, path: Path, opsets: list | None = None) -> Path:
    model = h.make_model(graph, opset_imports=opsets or [h.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def quantized(folder: Path) -> Path:
    """quantize_dynamic of a Conv → Conv → MatMul → MatMul model: 4 DynamicQuantizeLinear,
    2 ConvInteger, 2 MatMulInteger."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    rng = np.random.default_rng(0)
    w = {name: numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)
         for name, shape in (("c1", (4, 1, 3, 3)), ("c2", (4, 4, 3, 3)), ("m1", (64, 16)),
                             ("m2", (16, 4)))}
    nodes = [h.make_node("Conv", ["x", "c1"], ["a"], pads=[1, 1, 1, 1], name="conv1"),
             h.make_node("Relu", ["a"], ["ra"]),
             h.make_node("Conv", ["ra", "c2"], ["b"], pads=[1, 1, 1, 1], strides=[2, 2],
                         name="conv2"),
             h.make_node("Flatten", ["b"], ["f"]),
             h.make_node("MatMul", ["f", "m1"], ["d"], name="fc1"),
             h.make_node("Relu", ["d"], ["rd"]),
             h.make_node("MatMul", ["rd", "m2"], ["y"], name="fc2")]
    graph = h.make_graph(nodes, "q", [h.make_tensor_value_info("x", T.FLOAT, [1, 1, 8, 8])],
                         [h.make_tensor_value_info("y", T.FLOAT, [1, 4])], list(w.values()))
    fp32 = _save(graph, folder / "fp32.onnx")
    out = folder / "quantized.onnx"
    quantize_dynamic(fp32, out, weight_type=QuantType.QUInt8)
    return out


def string_input(folder: Path) -> Path:
    """A string input read by StringNormalizer (TensorRT: node -1, then 'false')."""
    graph = h.make_graph(
        [h.make_node("StringNormalizer", ["text"], ["norm"], case_change_action="LOWER")], "s",
        [h.make_tensor_value_info("text", T.STRING, [None])],
        [h.make_tensor_value_info("norm", T.STRING, [None])])
    return _save(graph, folder / "string_input.onnx")


def sequence_input(folder: Path) -> Path:
    """A sequence input read by ConcatFromSequence."""
    graph = h.make_graph(
        [h.make_node("ConcatFromSequence", ["frames"], ["y"], axis=0)], "q",
        [h.make_tensor_sequence_value_info("frames", T.FLOAT, [1, 4])],
        [h.make_tensor_value_info("y", T.FLOAT, None)])
    return _save(graph, folder / "sequence_input.onnx")
