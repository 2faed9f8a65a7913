"""Small models that reproduce the four ways an FP16 conversion used to mix types.

Each is what a real export looks like at the failing spot (issue 17): a graph output that
the graph also consumes (BERT's last_hidden_state feeding the pooler), a model's own
``Cast(to=FLOAT)`` before a MatMul (a JAX one-hot), a graph input feeding MatMul/Conv
directly (a scikit-learn MLP, a voice-activity model), and a Conv inside an ``If`` branch.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

__all__ = ["CASES", "make_case"]

_OPSET = [helper.make_opsetid("", 17)]


def _init(name: str, shape: tuple[int, ...], seed: int, scale: float = 0.2) -> onnx.TensorProto:
    values = np.random.default_rng(seed).standard_normal(shape).astype(np.float32) * scale
    return numpy_helper.from_array(values, name)


def _model(graph: onnx.GraphProto) -> onnx.ModelProto:
    model = helper.make_model(graph, opset_imports=_OPSET, producer_name="fp16_cases")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def output_consumed_inside() -> onnx.ModelProto:
    """``hidden`` is a graph output and also feeds the pooler's Gather → Gemm."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4, 8])
    nodes = [
        helper.make_node("MatMul", ["x", "w_in"], ["proj"], name="encoder.proj"),
        helper.make_node("LayerNormalization", ["proj", "ln_scale", "ln_bias"], ["hidden"],
                         name="encoder.ln", axis=-1),
        helper.make_node("Gather", ["hidden", "first"], ["cls"], name="pooler.gather", axis=1),
        helper.make_node("Gemm", ["cls", "w_pool", "b_pool"], ["pool_lin"], name="pooler.dense",
                         transB=1),
        helper.make_node("Tanh", ["pool_lin"], ["pooled"], name="pooler.tanh"),
    ]
    inits = [
        _init("w_in", (8, 8), 1), _init("ln_scale", (8,), 2, 1.0), _init("ln_bias", (8,), 3),
        numpy_helper.from_array(np.array(0, np.int64), "first"),
        _init("w_pool", (8, 8), 4), _init("b_pool", (8,), 5),
    ]
    outs = [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, [2, 4, 8]),
            helper.make_tensor_value_info("pooled", TensorProto.FLOAT, [2, 8])]
    return _model(helper.make_graph(nodes, "output_consumed_inside", [x], outs, inits))


def own_cast_to_float() -> onnx.ModelProto:
    """A one-hot made by the model's own ``Cast(to=FLOAT)`` feeds a MatMul, added to FP16 math."""
    ids = helper.make_tensor_value_info("ids", TensorProto.INT64, [2, 4])
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4, 8])
    nodes = [
        helper.make_node("Unsqueeze", ["ids", "last_axis"], ["ids_col"], name="onehot.unsqueeze"),
        helper.make_node("Equal", ["ids_col", "classes"], ["hits"], name="onehot.equal"),
        helper.make_node("Cast", ["hits"], ["onehot"], name="onehot.cast", to=TensorProto.FLOAT),
        helper.make_node("MatMul", ["onehot", "table"], ["embedded"], name="embed.matmul"),
        helper.make_node("MatMul", ["x", "w_x"], ["xw"], name="dense.matmul"),
        helper.make_node("Add", ["embedded", "xw"], ["sum"], name="dense.add"),
        helper.make_node("Relu", ["sum"], ["y"], name="dense.relu"),
    ]
    inits = [
        numpy_helper.from_array(np.array([-1], np.int64), "last_axis"),
        numpy_helper.from_array(np.arange(16, dtype=np.int64), "classes"),
        _init("table", (16, 8), 6), _init("w_x", (8, 8), 7),
    ]
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4, 8])
    return _model(helper.make_graph(nodes, "own_cast_to_float", [ids, x], [out], inits))


def input_feeds_math() -> onnx.ModelProto:
    """Graph inputs go straight into a MatMul and a Conv.

    The MatMul reads the input through a no-op ``Cast(to=FLOAT)``, as scikit-learn exports do:
    a conversion that drops cast pairs ends up feeding the FP32 input to FP16 math.
    """
    x = helper.make_tensor_value_info("features", TensorProto.FLOAT, [3, 8])
    img = helper.make_tensor_value_info("audio", TensorProto.FLOAT, [1, 1, 64])
    nodes = [
        helper.make_node("Cast", ["features"], ["features_f"], name="mlp.cast",
                         to=TensorProto.FLOAT),
        helper.make_node("MatMul", ["features_f", "w1"], ["h1"], name="mlp.matmul"),
        helper.make_node("Add", ["h1", "b1"], ["h2"], name="mlp.add"),
        helper.make_node("Relu", ["h2"], ["scores"], name="mlp.relu"),
        helper.make_node("Conv", ["audio", "kernel", "kbias"], ["conv"], name="vad.conv",
                         pads=[1, 1]),
        helper.make_node("Sigmoid", ["conv"], ["speech"], name="vad.sigmoid"),
    ]
    inits = [_init("w1", (8, 4), 8), _init("b1", (4,), 9), _init("kernel", (4, 1, 3), 10),
             _init("kbias", (4,), 11)]
    outs = [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [3, 4]),
            helper.make_tensor_value_info("speech", TensorProto.FLOAT, [1, 4, 64])]
    return _model(helper.make_graph(nodes, "input_feeds_math", [x, img], outs, inits))


def conv_in_if_branch() -> onnx.ModelProto:
    """A sample-rate switch: each ``If`` branch runs its own Conv on the outer-scope graph
    input (directly in one branch, after a gain in the other); nothing outside reads it."""
    audio = helper.make_tensor_value_info("audio", TensorProto.FLOAT, [1, 1, 64])
    fast = helper.make_tensor_value_info("fast", TensorProto.BOOL, [])

    def branch(tag: str, seed: int, gain: bool) -> onnx.GraphProto:
        out = helper.make_tensor_value_info(f"{tag}_out", TensorProto.FLOAT, None)
        nodes = []
        source = "audio"
        if gain:
            nodes.append(helper.make_node("Mul", ["audio", "gain"], [f"{tag}_scaled"],
                                          name=f"{tag}.gain"))
            source = f"{tag}_scaled"
        nodes += [
            helper.make_node("Conv", [source, f"{tag}_kernel"], [f"{tag}_conv"],
                             name=f"{tag}.conv", pads=[1, 1]),
            helper.make_node("Relu", [f"{tag}_conv"], [f"{tag}_out"], name=f"{tag}.relu"),
        ]
        return helper.make_graph(nodes, tag, [], [out], [_init(f"{tag}_kernel", (4, 1, 3), seed)])

    nodes = [
        helper.make_node("If", ["fast"], ["branch_out"], name="rate.switch",
                         then_branch=branch("fast", 12, False),
                         else_branch=branch("slow", 13, True)),
        helper.make_node("ReduceMean", ["branch_out"], ["energy"], name="energy.mean",
                         axes=[2], keepdims=0),
    ]
    inits = [numpy_helper.from_array(np.array(1.5, np.float32), "gain")]
    out = helper.make_tensor_value_info("energy", TensorProto.FLOAT, [1, 4])
    return _model(helper.make_graph(nodes, "conv_in_if_branch", [audio, fast], [out], inits))


def masked_attention(overflow_after: bool = False) -> onnx.ModelProto:
    """One attention head with a BERT-style additive mask of ``finfo(float32).min``.

    ``attention_mask`` [2, 6] (int64, 1 = attend) → Where(mask, 0, -3.4e38) → Add to the
    scores → Softmax. With ``overflow_after``, a computed activation overflows FP16 after
    the mask path (a sum of squares of values near 300, as an RMS norm without scaling).
    """
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 6, 8])
    mask = helper.make_tensor_value_info("attention_mask", TensorProto.INT64, [2, 6])
    minimum = float(np.finfo(np.float32).min)
    nodes = [
        helper.make_node("MatMul", ["x", "wq"], ["q"], name="attn.q"),
        helper.make_node("MatMul", ["x", "wk"], ["k"], name="attn.k"),
        helper.make_node("MatMul", ["x", "wv"], ["v"], name="attn.v"),
        helper.make_node("Transpose", ["k"], ["kt"], name="attn.kt", perm=[0, 2, 1]),
        helper.make_node("MatMul", ["q", "kt"], ["scores"], name="attn.scores"),
        helper.make_node("Unsqueeze", ["attention_mask", "axis1"], ["mask3"], name="mask.unsq"),
        helper.make_node("Cast", ["mask3"], ["keep"], name="mask.bool", to=TensorProto.BOOL),
        helper.make_node("Constant", [], ["neg"], name="mask.min",
                         value=numpy_helper.from_array(np.array(minimum, np.float32))),
        helper.make_node("Where", ["keep", "zero", "neg"], ["additive"], name="mask.where"),
        helper.make_node("Add", ["scores", "additive"], ["masked"], name="attn.add_mask"),
        helper.make_node("Softmax", ["masked"], ["probs"], name="attn.softmax", axis=-1),
        helper.make_node("MatMul", ["probs", "v"], ["context"], name="attn.context"),
    ]
    out = "context"
    if overflow_after:
        nodes += [
            helper.make_node("Mul", ["context", "gain"], ["big"], name="rms.gain"),
            helper.make_node("Mul", ["big", "big"], ["square"], name="rms.square"),
            helper.make_node("ReduceMean", ["square"], ["mean"], name="rms.mean", axes=[-1]),
            helper.make_node("Sqrt", ["mean"], ["rms"], name="rms.sqrt"),
            helper.make_node("Div", ["big", "rms"], ["y"], name="rms.div"),
        ]
        out = "y"
    inits = [_init("wq", (8, 8), 21, 0.5), _init("wk", (8, 8), 22, 0.5),
             _init("wv", (8, 8), 23, 0.5),
             numpy_helper.from_array(np.array([1], np.int64), "axis1"),
             numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
             numpy_helper.from_array(np.array(2000.0, np.float32), "gain")]
    graph = helper.make_graph(nodes, "masked_attention", [x, mask], [
        helper.make_tensor_value_info(out, TensorProto.FLOAT, [2, 6, 8])], inits)
    return _model(graph)


def attention_feeds(fully_masked_row: bool = False) -> dict[str, np.ndarray]:
    """Inputs for :func:`masked_attention`: the last two keys of sample 1 masked (padding),
    or every key of sample 1 masked."""
    rng = np.random.default_rng(5)
    mask = np.ones((2, 6), np.int64)
    mask[1, 4:] = 0
    if fully_masked_row:
        mask[1, :] = 0
    return {"x": (rng.standard_normal((2, 6, 8)) * 4).astype(np.float32),
            "attention_mask": mask}


CASES = {
    "output_consumed_inside": output_consumed_inside,
    "own_cast_to_float": own_cast_to_float,
    "input_feeds_math": input_feeds_math,
    "conv_in_if_branch": conv_in_if_branch,
}


def make_case(name: str) -> onnx.ModelProto:
    return CASES[name]()
