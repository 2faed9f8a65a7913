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


def _weight(name: str, shape: tuple[int, ...], seed: int) -> onnx.NodeProto:
    """A weight held in a Constant node, as Paddle2ONNX writes them."""
    value = np.random.default_rng(seed).standard_normal(shape).astype(np.float32) * 0.1
    return h.make_node("Constant", [], [name], value=numpy_helper.from_array(value, name),
                       name=f"p2o.Constant.{seed}")


def detector(folder: Path, stages: int = 5) -> Path:
    """A stride-32 detector: dims named p2o.DynamicDimension.*, weights in Constant nodes,
    ``stages`` stride-2 Convs, then an FPN of Resize ×2 + Add back up: every spatial size
    must be a multiple of 2**stages or an Add gets mismatched sizes."""
    nodes, x, skips = [], "x", []
    for k in range(stages):
        nodes.append(_weight(f"w{k}", (4, 3 if k == 0 else 4, 3, 3), k))
        nodes.append(h.make_node("Conv", [x, f"w{k}"], [f"c{k}"], pads=[1, 1, 1, 1],
                                 strides=[2, 2], name=f"p2o.Conv.{k}"))
        skips.append(f"c{k}")
        x = f"c{k}"
    nodes.append(h.make_node("Constant", [], ["scales"], name="p2o.Constant.scales",
                             value=numpy_helper.from_array(
                                 np.array([1, 1, 2, 2], np.float32), "scales")))
    nodes.append(h.make_node("Constant", [], ["roi"], name="p2o.Constant.roi",
                             value=numpy_helper.from_array(np.zeros(0, np.float32), "roi")))
    for k in range(stages - 1, 0, -1):
        nodes.append(h.make_node("Resize", [x, "roi", "scales"], [f"u{k}"], mode="nearest",
                                 name=f"p2o.Resize.{k}"))
        nodes.append(h.make_node("Add", [f"u{k}", skips[k - 1]], [f"a{k}"],
                                 name=f"p2o.Add.{k}"))
        x = f"a{k}"
    dims = ["p2o.DynamicDimension.0", 3, "p2o.DynamicDimension.1", "p2o.DynamicDimension.2"]
    graph = h.make_graph(nodes, "det", [h.make_tensor_value_info("x", T.FLOAT, dims)],
                         [h.make_tensor_value_info(x, T.FLOAT, None)])
    return _save(graph, folder / "detector.onnx", [h.make_opsetid("", 11)])


def if_switch(folder: Path) -> Path:
    """Silero-VAD-like: ``input`` [batch, samples], scalar ``sr``; If sr == 16000 a Conv1d
    with a 96-sample window, else one with 32 (Convs inside the branches)."""
    def branch(tag: str, kernel: int, stride: int, seed: int) -> onnx.GraphProto:
        weight = numpy_helper.from_array(
            np.random.default_rng(seed).standard_normal((4, 1, kernel)).astype(np.float32),
            f"{tag}.w")
        return h.make_graph(
            [h.make_node("Constant", [], [f"{tag}.axes"], name=f"{tag}.axes_const",
                         value=numpy_helper.from_array(np.array([1], np.int64), "a")),
             h.make_node("Unsqueeze", ["input", f"{tag}.axes"], [f"{tag}.x"],
                         name=f"{tag}.add_channel"),
             h.make_node("Conv", [f"{tag}.x", f"{tag}.w"], [f"{tag}.c"], strides=[stride],
                         name=f"{tag}.stft_conv"),
             h.make_node("ReduceMean", [f"{tag}.c"], [f"{tag}.out"], axes=[2], keepdims=0,
                         name=f"{tag}.mean")],
            tag, [], [h.make_tensor_value_info(f"{tag}.out", T.FLOAT, None)], [weight])

    sixteen = numpy_helper.from_array(np.array(16000, np.int64), "sixteen_k")
    nodes = [h.make_node("Equal", ["sr", "sixteen_k"], ["is16k"], name="is_16k"),
             h.make_node("If", ["is16k"], ["features"], name="sample_rate_switch",
                         then_branch=branch("sr16k", 96, 32, 1),
                         else_branch=branch("sr8k", 32, 16, 2)),
             h.make_node("Sigmoid", ["features"], ["speech"], name="head")]
    graph = h.make_graph(
        nodes, "vad",
        [h.make_tensor_value_info("input", T.FLOAT, ["batch", "samples"]),
         h.make_tensor_value_info("sr", T.INT64, [])],
        [h.make_tensor_value_info("speech", T.FLOAT, ["batch", 4])], [sixteen])
    return _save(graph, folder / "if_switch.onnx")
