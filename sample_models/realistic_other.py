"""Non-transformer models shaped like real exports: a Paddle detector, an ONNX Runtime
dynamic-quantized model, an ``If`` (sample-rate switch) model, a scikit-learn MLP and a JAX
classifier. Each is small (KB) and seeded.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import NodeProto, TensorProto, helper, numpy_helper

from sample_models.onnx_parts import Weights, make_model, save_inline

__all__ = ["if_switch", "jax_classifier", "paddle_detector", "quantized_dynamic", "sklearn_mlp"]

FLOAT = TensorProto.FLOAT
n = helper.make_node


class _PaddleGraph:
    """Paddle2ONNX style: every weight is a ``Constant`` node; nodes named ``p2o.Op.N``."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[NodeProto] = []
        self.count: dict[str, int] = {}

    def _name(self, op: str) -> str:
        index = self.count.get(op, 0)
        self.count[op] = index + 1
        return f"p2o.{op}.{index}"

    def constant(self, array: np.ndarray) -> str:
        name = self._name("Constant")
        self.nodes.append(n("Constant", [], [name + ".out"], name=name,
                            value=numpy_helper.from_array(np.asarray(array), name + ".value")))
        return name + ".out"

    def op(self, op: str, inputs: list[str], **attrs: object) -> str:
        name = self._name(op)
        self.nodes.append(n(op, inputs, [name + ".out"], name=name, **attrs))
        return name + ".out"

    def conv_bn_relu(self, x: str, cin: int, cout: int, stride: int, big_var: bool = False) -> str:
        weight = (self.rng.standard_normal((cout, cin, 3, 3)) * np.sqrt(2 / (9 * cin))).astype(np.float32)
        conv = self.op("Conv", [x, self.constant(weight)], kernel_shape=[3, 3],
                       strides=[stride, stride], pads=[1, 1, 1, 1])
        var = (1 + np.abs(self.rng.standard_normal(cout))).astype(np.float32)
        mean = (self.rng.standard_normal(cout) * 0.1).astype(np.float32)
        if big_var:
            # A dead channel as Paddle exports keep it: variance 1.2e8, beyond FP16's 65504.
            var[0], mean[0] = 1.2e8, 3.0
        bn = self.op("BatchNormalization", [
            conv, self.constant(np.ones(cout, np.float32)), self.constant(np.zeros(cout, np.float32)),
            self.constant(mean), self.constant(var)], epsilon=1e-5)
        return self.op("Relu", [bn])

    def upsample(self, x: str, factor: int) -> str:
        roi = self.constant(np.zeros(0, np.float32))  # opset 11 needs it, even empty
        scales = self.constant(np.array([1, 1, factor, factor], np.float32))
        return self.op("Resize", [x, roi, scales], mode="nearest")

    def lateral(self, x: str, cin: int, cout: int) -> str:
        weight = (self.rng.standard_normal((cout, cin, 1, 1)) * 0.3).astype(np.float32)
        return self.op("Conv", [x, self.constant(weight)], kernel_shape=[1, 1])


def paddle_detector(folder: Path, name: str = "paddle_detector") -> Path:
    """A DB-style text detector: 5 stride-2 stages, an FPN of Adds and a Concat of upsampled
    branches. Spatial sizes that are not multiples of 32 break the Adds (broadcast errors)."""
    g = _PaddleGraph(seed=30)
    widths = [8, 16, 16, 32, 32]
    x, cin, levels = "x", 3, []
    for stage, cout in enumerate(widths):
        x = g.conv_bn_relu(x, cin, cout, stride=2, big_var=stage == 1)
        levels.append(x)
        cin = cout
    # Laterals of the stride-4 … stride-32 levels.
    lat = [g.lateral(level, c, 16) for level, c in zip(levels[1:], widths[1:], strict=True)]
    p5 = lat[3]
    p4 = g.op("Add", [g.upsample(p5, 2), lat[2]])
    p3 = g.op("Add", [g.upsample(p4, 2), lat[1]])
    p2 = g.op("Add", [g.upsample(p3, 2), lat[0]])
    fused = g.op("Concat", [g.upsample(p5, 8), g.upsample(p4, 4), g.upsample(p3, 2), p2], axis=1)
    head = g.conv_bn_relu(fused, 64, 16, stride=1)
    logits = g.lateral(head, 16, 1)
    g.nodes.append(n("Sigmoid", [g.upsample(logits, 4)], ["sigmoid_0.tmp_0"], name="p2o.Sigmoid.0"))
    dyn = [f"p2o.DynamicDimension.{i}" for i in range(3)]
    graph = helper.make_graph(
        g.nodes, "paddle_detector",
        [helper.make_tensor_value_info("x", FLOAT, [dyn[0], 3, dyn[1], dyn[2]])],
        [helper.make_tensor_value_info("sigmoid_0.tmp_0", FLOAT, [dyn[0], 1, dyn[1], dyn[2]])])
    return save_inline(make_model(graph, "PaddlePaddle", opset=11), folder / f"{name}.onnx")


def _float_ocr_classifier() -> onnx.ModelProto:
    """The FP32 model that quantize_dynamic rewrites: two convs and two dense layers."""
    w = Weights(seed=31)
    nodes = [
        n("Conv", ["x", w.param("conv1.weight", (8, 1, 3, 3), scale=0.3), w.param("conv1.bias", (8,))],
          ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        n("Relu", ["c1"], ["r1"], name="relu1"),
        n("Conv", ["r1", w.param("conv2.weight", (16, 8, 3, 3), scale=0.1), w.param("conv2.bias", (16,))],
          ["c2"], name="conv2", pads=[1, 1, 1, 1], strides=[2, 2]),
        n("Relu", ["c2"], ["r2"], name="relu2"),
        n("GlobalAveragePool", ["r2"], ["gap"], name="gap"),
        n("Flatten", ["gap"], ["flat"], name="flatten"),
        n("MatMul", ["flat", w.param("fc1.weight", (16, 32), scale=0.3)], ["f1"], name="fc1"),
        n("Add", ["f1", w.param("fc1.bias", (32,))], ["f1b"], name="fc1_bias"),
        n("Relu", ["f1b"], ["a1"], name="relu3"),
        n("MatMul", ["a1", w.param("fc2.weight", (32, 10), scale=0.3)], ["logits"], name="fc2"),
    ]
    graph = helper.make_graph(
        nodes, "ocr_classifier",
        [helper.make_tensor_value_info("x", FLOAT, ["batch", 1, 32, 32])],
        [helper.make_tensor_value_info("logits", FLOAT, ["batch", 10])], w.tensors)
    return make_model(graph, "pytorch", opset=17)


def quantized_dynamic(folder: Path, name: str = "quantized_dynamic") -> Path:
    """``onnxruntime.quantization.quantize_dynamic`` of a small OCR classifier: the graph has
    DynamicQuantizeLinear, ConvInteger and MatMulInteger, as ORT-quantized downloads do."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.onnx"
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / "float.onnx"
        save_inline(_float_ocr_classifier(), source)
        # uint8 weights: ONNX Runtime's CPU ConvInteger takes uint8 × uint8 only.
        quantize_dynamic(source, target, op_types_to_quantize=["Conv", "MatMul"],
                         weight_type=QuantType.QUInt8)
    return target


def _branch(w: Weights, tag: str, kernel: int, stride: int) -> onnx.GraphProto:
    """One branch of the sample-rate switch: framing Conv1d → ReLU → mean over time."""
    conv_w = w.param(f"{tag}.conv.weight", (16, 1, kernel), scale=0.2)
    nodes = [
        n("Unsqueeze", ["input", "channel_axis"], [f"{tag}.x"], name=f"{tag}.add_channel"),
        n("Conv", [f"{tag}.x", conv_w], [f"{tag}.frames"], name=f"{tag}.stft_conv",
          kernel_shape=[kernel], strides=[stride]),
        n("Relu", [f"{tag}.frames"], [f"{tag}.act"], name=f"{tag}.relu"),
        n("ReduceMean", [f"{tag}.act"], [f"{tag}.features"], name=f"{tag}.mean", axes=[2], keepdims=0),
    ]
    return helper.make_graph(nodes, f"{tag}_branch", [],
                             [helper.make_tensor_value_info(f"{tag}.features", FLOAT, ["batch", 16])])


def if_switch(folder: Path, name: str = "if_switch") -> Path:
    """Silero-VAD-like: ``input`` [batch, samples], ``state`` [2, batch, 16] and ``sr`` (a
    scalar sample rate) choose one of two Conv front ends through an ``If``."""
    w = Weights(seed=32)
    w.const("channel_axis", np.array([1], np.int64))
    then_branch, else_branch = _branch(w, "sr16k", 64, 32), _branch(w, "sr8k", 32, 16)
    nodes = [
        n("Equal", ["sr", w.const("sr_16k", np.array(16000, np.int64))], ["is_16k"], name="is_16k"),
        n("If", ["is_16k"], ["features"], name="sample_rate_switch",
          then_branch=then_branch, else_branch=else_branch),
        n("Unsqueeze", ["features", w.const("axis0", np.array([0], np.int64))], ["features3d"],
          name="features_to_state"),
        n("Add", ["state", "features3d"], ["state_sum"], name="state_update"),
        n("Tanh", ["state_sum"], ["stateN"], name="state_tanh"),
        n("MatMul", ["features", w.param("decoder.weight", (16, 1), scale=0.3)], ["logit"], name="decoder"),
        n("Sigmoid", ["logit"], ["output"], name="decoder_sigmoid"),
    ]
    graph = helper.make_graph(
        nodes, "if_switch",
        [helper.make_tensor_value_info("input", FLOAT, ["batch", "samples"]),
         helper.make_tensor_value_info("state", FLOAT, [2, "batch", 16]),
         helper.make_tensor_value_info("sr", TensorProto.INT64, [])],
        [helper.make_tensor_value_info("output", FLOAT, ["batch", 1]),
         helper.make_tensor_value_info("stateN", FLOAT, [2, "batch", 16])], w.tensors)
    return save_inline(make_model(graph, "pytorch", opset=16), folder / f"{name}.onnx")


def sklearn_mlp(folder: Path, name: str = "sklearn_mlp") -> Path:
    """skl2onnx's MLPClassifier shape: ``float_input`` [?, 4] feeds a MatMul directly;
    outputs ``label`` (ArgMax, int64) and ``probabilities``."""
    w = Weights(seed=33)
    nodes = [
        n("MatMul", ["float_input", w.param("coefficient", (4, 16), scale=0.5)], ["mul_result"], name="MatMul"),
        n("Add", ["mul_result", w.param("intercepts", (1, 16), scale=0.1)], ["add_result"], name="Add"),
        n("Relu", ["add_result"], ["next_activations"], name="Relu"),
        n("MatMul", ["next_activations", w.param("coefficient1", (16, 3), scale=0.5)], ["mul_result1"], name="MatMul1"),
        n("Add", ["mul_result1", w.param("intercepts1", (1, 3), scale=0.1)], ["out_activations_result"], name="Add1"),
        n("Softmax", ["out_activations_result"], ["probabilities"], name="Softmax", axis=1),
        n("ArgMax", ["probabilities"], ["label"], name="ArgMax", axis=1, keepdims=0),
    ]
    graph = helper.make_graph(
        nodes, "mlp_classifier",
        [helper.make_tensor_value_info("float_input", FLOAT, [None, 4])],
        [helper.make_tensor_value_info("label", TensorProto.INT64, [None]),
         helper.make_tensor_value_info("probabilities", FLOAT, [None, 3])], w.tensors)
    return save_inline(make_model(graph, "skl2onnx", opset=15), folder / f"{name}.onnx")


def jax_classifier(folder: Path, name: str = "jax_classifier") -> Path:
    """jax2onnx-like: class ids → OneHot → the model's own Cast(to=FLOAT) → Einsum, added to
    an Einsum of the float features. ``label_ids`` must lie in [0, 10) (the OneHot depth)."""
    w = Weights(seed=34)
    nodes = [
        n("OneHot", ["label_ids", w.const("depth", np.array(10, np.int64)),
                     w.const("on_off", np.array([0, 1], np.int64))], ["one_hot"], name="one_hot", axis=-1),
        n("Cast", ["one_hot"], ["one_hot_f32"], name="convert_element_type", to=FLOAT),
        n("Einsum", ["one_hot_f32", w.param("class_embedding", (10, 32), scale=0.5)], ["cond"],
          name="dot_general_1", equation="bc,cd->bd"),
        n("Einsum", ["x", w.param("dense_0.kernel", (16, 32), scale=0.3)], ["h0"],
          name="dot_general_0", equation="bi,io->bo"),
        n("Add", ["h0", "cond"], ["h1"], name="add"),
        n("Relu", ["h1"], ["h2"], name="relu"),
        n("MatMul", ["h2", w.param("dense_1.kernel", (32, 4), scale=0.3)], ["logits"], name="dot_general_2"),
    ]
    graph = helper.make_graph(
        nodes, "jax_classifier",
        [helper.make_tensor_value_info("x", FLOAT, ["batch", 16]),
         helper.make_tensor_value_info("label_ids", TensorProto.INT64, ["batch"])],
        [helper.make_tensor_value_info("logits", FLOAT, ["batch", 4])], w.tensors)
    return save_inline(make_model(graph, "jax2onnx", opset=17), folder / f"{name}.onnx")
