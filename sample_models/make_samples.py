"""Regenerate every sample model, deterministically (fixed seeds, fixed opsets).

    python sample_models/make_samples.py [OUT_DIR]

The committed files in sample_models/ are exactly what this script writes; a test
regenerates them into a temporary folder and compares bytes. Each model is built in code
with onnx.helper, and ``SAMPLES`` records what each one is, what it teaches, and what the
workbench is expected to find in it (the tests read these expectations).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

__all__ = ["SAMPLES", "Sample", "main", "write_samples"]

OPSET = 17  # LayerNormalization needs 17; every TensorRT flavour we support parses 17.
IR_VERSION = 8
PRODUCER = "trt-workbench make_samples.py"
FLOAT = TensorProto.FLOAT


@dataclass(frozen=True)
class Sample:
    """A sample model and what the workbench should find in it."""

    name: str
    what: str
    teaches: str
    build: Callable[[Path], None] = field(repr=False)
    # "ok" models parse and build; the others name the problem the workbench must report.
    problem: str = "ok"
    files: tuple[str, ...] = ()


def _init(name: str, array: np.ndarray) -> TensorProto:
    return numpy_helper.from_array(array, name)


def _rand(rng: np.random.Generator, *shape: int, scale: float = 0.1) -> np.ndarray:
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def _model(
    graph: onnx.GraphProto, extra_opsets: tuple[tuple[str, int], ...] = (), opset: int = OPSET
) -> onnx.ModelProto:
    opsets = [helper.make_opsetid("", opset)]
    opsets += [helper.make_opsetid(domain, version) for domain, version in extra_opsets]
    model = helper.make_model(graph, opset_imports=opsets, producer_name=PRODUCER)
    model.ir_version = IR_VERSION
    model.producer_version = "1"
    return model


def _save(model: onnx.ModelProto, path: Path) -> None:
    path.write_bytes(model.SerializeToString())


def tiny_cnn(path: Path) -> None:
    rng = np.random.default_rng(1)
    nodes = [
        helper.make_node("Conv", ["input", "conv1.w", "conv1.b"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "conv2.w", "conv2.b"], ["c2"], name="conv2", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        helper.make_node("GlobalAveragePool", ["r2"], ["gap"], name="gap"),
        helper.make_node("Flatten", ["gap"], ["flat"], name="flatten"),
        helper.make_node("Gemm", ["flat", "fc.w", "fc.b"], ["logits"], name="fc", transB=1),
    ]
    inits = [
        _init("conv1.w", _rand(rng, 8, 3, 3, 3)), _init("conv1.b", _rand(rng, 8)),
        _init("conv2.w", _rand(rng, 16, 8, 3, 3)), _init("conv2.b", _rand(rng, 16)),
        _init("fc.w", _rand(rng, 10, 16)), _init("fc.b", _rand(rng, 10)),
    ]
    graph = helper.make_graph(
        nodes, "tiny_cnn",
        [helper.make_tensor_value_info("input", FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("logits", FLOAT, [1, 10])], inits,
    )
    _save(_model(graph), path)


def mlp_dynamic_batch(path: Path) -> None:
    rng = np.random.default_rng(2)
    nodes = [
        helper.make_node("MatMul", ["features", "fc1.w"], ["h1"], name="fc1"),
        helper.make_node("Add", ["h1", "fc1.b"], ["h1b"], name="fc1_bias"),
        helper.make_node("Relu", ["h1b"], ["a1"], name="relu1"),
        helper.make_node("MatMul", ["a1", "fc2.w"], ["h2"], name="fc2"),
        helper.make_node("Add", ["h2", "fc2.b"], ["h2b"], name="fc2_bias"),
        helper.make_node("Softmax", ["h2b"], ["probabilities"], name="softmax", axis=-1),
    ]
    inits = [
        _init("fc1.w", _rand(rng, 64, 128)), _init("fc1.b", _rand(rng, 128)),
        _init("fc2.w", _rand(rng, 128, 10)), _init("fc2.b", _rand(rng, 10)),
    ]
    graph = helper.make_graph(
        nodes, "mlp_dynamic_batch",
        [helper.make_tensor_value_info("features", FLOAT, ["batch", 64])],
        [helper.make_tensor_value_info("probabilities", FLOAT, ["batch", 10])], inits,
    )
    _save(_model(graph), path)


def resnet_block(path: Path) -> None:
    rng = np.random.default_rng(3)
    c = 16
    nodes = [
        helper.make_node("Conv", ["image", "stem.w", "stem.b"], ["s"], name="stem", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["s"], ["s_act"], name="stem_relu"),
        helper.make_node("Conv", ["s_act", "block.conv1.w", "block.conv1.b"], ["b1"], name="block.conv1", pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["b1", "bn1.scale", "bn1.bias", "bn1.mean", "bn1.var"], ["b1n"], name="block.bn1"),
        helper.make_node("Relu", ["b1n"], ["b1a"], name="block.relu1"),
        helper.make_node("Conv", ["b1a", "block.conv2.w", "block.conv2.b"], ["b2"], name="block.conv2", pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["b2", "bn2.scale", "bn2.bias", "bn2.mean", "bn2.var"], ["b2n"], name="block.bn2"),
        helper.make_node("Add", ["b2n", "s_act"], ["res"], name="block.residual_add"),
        helper.make_node("Relu", ["res"], ["features"], name="block.relu_out"),
    ]
    inits = [_init("stem.w", _rand(rng, c, 3, 3, 3, scale=0.2)), _init("stem.b", _rand(rng, c))]
    for i in (1, 2):
        inits += [
            _init(f"block.conv{i}.w", _rand(rng, c, c, 3, 3)), _init(f"block.conv{i}.b", _rand(rng, c)),
            _init(f"bn{i}.scale", (1 + _rand(rng, c)).astype(np.float32)), _init(f"bn{i}.bias", _rand(rng, c)),
            _init(f"bn{i}.mean", _rand(rng, c)), _init(f"bn{i}.var", (1 + np.abs(_rand(rng, c))).astype(np.float32)),
        ]
    graph = helper.make_graph(
        nodes, "resnet_block",
        [helper.make_tensor_value_info("image", FLOAT, ["batch", 3, "height", "width"])],
        [helper.make_tensor_value_info("features", FLOAT, ["batch", c, "height", "width"])], inits,
    )
    _save(_model(graph), path)


def transformer_block(path: Path) -> None:
    rng = np.random.default_rng(4)
    vocab, d, heads = 512, 64, 4
    dh = d // heads
    n = helper.make_node
    nodes = [
        n("Gather", ["embedding.weight", "token_ids"], ["x0"], name="embedding", axis=0),
        n("LayerNormalization", ["x0", "ln1.g", "ln1.b"], ["x1"], name="ln1", axis=-1, epsilon=1e-5),
    ]
    for proj in ("q", "k", "v"):
        nodes += [
            n("MatMul", ["x1", f"attn.{proj}.w"], [f"{proj}0"], name=f"attn.{proj}_proj"),
            n("Reshape", [f"{proj}0", "heads_shape"], [f"{proj}1"], name=f"attn.{proj}_split_heads"),
            n("Transpose", [f"{proj}1"], [f"{proj}h"], name=f"attn.{proj}_transpose",
              perm=[0, 2, 3, 1] if proj == "k" else [0, 2, 1, 3]),
        ]
    nodes += [
        n("MatMul", ["qh", "kh"], ["scores0"], name="attn.scores"),
        n("Mul", ["scores0", "attn.scale"], ["scores"], name="attn.scale_scores"),
        n("Softmax", ["scores"], ["probs"], name="attn.softmax", axis=-1),
        n("MatMul", ["probs", "vh"], ["ctx0"], name="attn.context"),
        n("Transpose", ["ctx0"], ["ctx1"], name="attn.merge_transpose", perm=[0, 2, 1, 3]),
        n("Reshape", ["ctx1", "merge_shape"], ["ctx"], name="attn.merge_heads"),
        n("MatMul", ["ctx", "attn.o.w"], ["attn_out"], name="attn.out_proj"),
        n("Add", ["x0", "attn_out"], ["x2"], name="attn.residual"),
        n("LayerNormalization", ["x2", "ln2.g", "ln2.b"], ["x3"], name="ln2", axis=-1, epsilon=1e-5),
        n("MatMul", ["x3", "mlp.fc1.w"], ["m0"], name="mlp.fc1"),
        n("Add", ["m0", "mlp.fc1.b"], ["m1"], name="mlp.fc1_bias"),
        # GELU written out with Erf (opset 17 has no Gelu op): 0.5 * x * (1 + erf(x / sqrt 2)).
        n("Div", ["m1", "sqrt2"], ["g0"], name="mlp.gelu.div"),
        n("Erf", ["g0"], ["g1"], name="mlp.gelu.erf"),
        n("Add", ["g1", "one"], ["g2"], name="mlp.gelu.add"),
        n("Mul", ["m1", "g2"], ["g3"], name="mlp.gelu.mul"),
        n("Mul", ["g3", "half"], ["m2"], name="mlp.gelu.half"),
        n("MatMul", ["m2", "mlp.fc2.w"], ["m3"], name="mlp.fc2"),
        n("Add", ["x2", "m3"], ["hidden_states"], name="mlp.residual"),
    ]
    f32 = np.float32
    inits = [
        _init("embedding.weight", _rand(rng, vocab, d, scale=0.5)),
        _init("ln1.g", np.ones(d, f32)), _init("ln1.b", np.zeros(d, f32)),
        _init("ln2.g", np.ones(d, f32)), _init("ln2.b", np.zeros(d, f32)),
        _init("attn.q.w", _rand(rng, d, d)), _init("attn.k.w", _rand(rng, d, d)),
        _init("attn.v.w", _rand(rng, d, d)), _init("attn.o.w", _rand(rng, d, d)),
        # Reshape's 0 copies the input dim, so batch and sequence stay dynamic.
        _init("heads_shape", np.array([0, 0, heads, dh], np.int64)),
        _init("merge_shape", np.array([0, 0, d], np.int64)),
        _init("attn.scale", np.array(1 / np.sqrt(dh), f32)),
        _init("mlp.fc1.w", _rand(rng, d, 4 * d)), _init("mlp.fc1.b", _rand(rng, 4 * d)),
        _init("mlp.fc2.w", _rand(rng, 4 * d, d)),
        _init("sqrt2", np.array(np.sqrt(2), f32)), _init("one", np.array(1, f32)),
        _init("half", np.array(0.5, f32)),
    ]
    graph = helper.make_graph(
        nodes, "transformer_block",
        [helper.make_tensor_value_info("token_ids", TensorProto.INT64, ["batch", "sequence"])],
        [helper.make_tensor_value_info("hidden_states", FLOAT, ["batch", "sequence", d])], inits,
    )
    _save(_model(graph), path)


def fp16_overflow(path: Path) -> None:
    """An RMS norm computed without pre-scaling: x² overflows FP16 though outputs are small."""
    rng = np.random.default_rng(5)
    n = helper.make_node
    nodes = [
        n("MatMul", ["x", "proj.w"], ["h"], name="proj"),
        n("Mul", ["h", "h"], ["h_squared"], name="rms.square"),
        n("ReduceMean", ["h_squared"], ["mean_square"], name="rms.mean", axes=[-1], keepdims=1),
        n("Add", ["mean_square", "rms.eps"], ["mean_square_eps"], name="rms.add_eps"),
        n("Sqrt", ["mean_square_eps"], ["rms"], name="rms.sqrt"),
        n("Div", ["h", "rms"], ["h_normed"], name="rms.normalize"),
        n("MatMul", ["h_normed", "head.w"], ["y"], name="head"),
    ]
    inits = [
        # Large projection weights: |h| stays below 65504 (~2e3) but h² reaches ~1e6.
        _init("proj.w", _rand(rng, 64, 64, scale=100.0)),
        _init("rms.eps", np.array(1e-6, np.float32)),
        _init("head.w", _rand(rng, 64, 8, scale=0.1)),
    ]
    graph = helper.make_graph(
        nodes, "fp16_overflow",
        [helper.make_tensor_value_info("x", FLOAT, ["batch", 64])],
        [helper.make_tensor_value_info("y", FLOAT, ["batch", 8])], inits,
    )
    _save(_model(graph), path)


def _external_weights_model(rng: np.random.Generator, name: str) -> onnx.ModelProto:
    nodes = [
        helper.make_node("MatMul", ["x", "fc1.w"], ["h"], name="fc1"),
        helper.make_node("Relu", ["h"], ["a"], name="relu"),
        helper.make_node("MatMul", ["a", "fc2.w"], ["y"], name="fc2"),
    ]
    inits = [_init("fc1.w", _rand(rng, 32, 64)), _init("fc2.w", _rand(rng, 64, 4))]
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("x", FLOAT, ["batch", 32])],
        [helper.make_tensor_value_info("y", FLOAT, ["batch", 4])], inits,
    )
    return _model(graph)


def _move_to_external(model: onnx.ModelProto, location: str) -> bytes:
    """Point every initializer at ``location``; return the bytes that file would hold."""
    blob = b""
    for tensor in model.graph.initializer:
        raw = numpy_helper.to_array(tensor).tobytes()
        offset = len(blob)
        blob += raw
        tensor.ClearField("float_data")
        tensor.ClearField("raw_data")
        tensor.data_location = TensorProto.EXTERNAL
        for key, value in (("location", location), ("offset", str(offset)), ("length", str(len(raw)))):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, value
    return blob


def external_weights(path: Path) -> None:
    model = _external_weights_model(np.random.default_rng(6), "external_weights")
    blob = _move_to_external(model, "external_weights.data")
    (path.parent / "external_weights.data").write_bytes(blob)
    _save(model, path)


def missing_external_data(path: Path) -> None:
    model = _external_weights_model(np.random.default_rng(7), "missing_external_data")
    _move_to_external(model, "missing_external_data.data")  # the data file is never written
    _save(model, path)


def hostile_external_data(path: Path) -> None:
    model = _external_weights_model(np.random.default_rng(8), "hostile_external_data")
    _move_to_external(model, "../../../../etc/passwd")
    _save(model, path)


def unsupported_op(path: Path) -> None:
    rng = np.random.default_rng(9)
    nodes = [
        helper.make_node("Conv", ["image", "conv.w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("FancyActivation", ["r"], ["f"], name="fancy_activation",
                         domain="com.example.custom", alpha=0.5),
        helper.make_node("GlobalAveragePool", ["f"], ["pooled"], name="pool"),
        helper.make_node("Flatten", ["pooled"], ["logits"], name="flatten"),
    ]
    graph = helper.make_graph(
        nodes, "unsupported_op",
        [helper.make_tensor_value_info("image", FLOAT, [1, 3, 16, 16])],
        [helper.make_tensor_value_info("logits", FLOAT, [1, 8])],
        [_init("conv.w", _rand(rng, 8, 3, 3, 3))],
    )
    _save(_model(graph, (("com.example.custom", 1),)), path)


def ml_domain_classifier(path: Path) -> None:
    rng = np.random.default_rng(10)
    nodes = [
        helper.make_node("MatMul", ["features", "pre.w"], ["z"], name="preprocess"),
        helper.make_node(
            "LinearClassifier", ["z"], ["label", "scores"], name="classifier", domain="ai.onnx.ml",
            classlabels_ints=[0, 1, 2], coefficients=_rand(rng, 3 * 4, scale=1.0).tolist(),
            intercepts=[0.1, -0.2, 0.0], post_transform="SOFTMAX",
        ),
    ]
    graph = helper.make_graph(
        nodes, "ml_domain_classifier",
        [helper.make_tensor_value_info("features", FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("label", TensorProto.INT64, ["batch"]),
         helper.make_tensor_value_info("scores", FLOAT, ["batch", 3])],
        [_init("pre.w", _rand(rng, 4, 4, scale=1.0))],
    )
    _save(_model(graph, (("ai.onnx.ml", 3),)), path)


def needs_constant_folding(path: Path) -> None:
    """ReduceMean whose axes are computed from the input's rank, as exporters write
    ``x.mean(dim=-1)``. TensorRT needs the axes as a build-time constant; folding constants
    (the rank is known) turns the Shape → Shape → Sub subgraph into an initializer.
    """
    rng = np.random.default_rng(11)
    n = helper.make_node
    nodes = [
        n("Conv", ["image", "conv.w", "conv.b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        n("Relu", ["c"], ["r"], name="relu"),
        n("Shape", ["r"], ["r_shape"], name="axes.shape"),
        n("Shape", ["r_shape"], ["r_rank"], name="axes.rank"),
        n("Sub", ["r_rank", "one"], ["last_axis"], name="axes.last"),
        n("ReduceMean", ["r", "last_axis"], ["row_mean"], name="mean_over_width", keepdims=0),
        n("ReduceMax", ["row_mean", "last_axis_minus_one"], ["features"], name="max_over_height",
          keepdims=0),
    ]
    inits = [
        _init("conv.w", _rand(rng, 8, 4, 3, 3, scale=1.0)),
        _init("conv.b", _rand(rng, 8)),
        _init("one", np.array([1], np.int64)),
        _init("last_axis_minus_one", np.array([2], np.int64)),
    ]
    graph = helper.make_graph(
        nodes, "needs_constant_folding",
        [helper.make_tensor_value_info("image", FLOAT, ["batch", 4, "height", "width"])],
        [helper.make_tensor_value_info("features", FLOAT, ["batch", 8])],
        inits,
    )
    _save(_model(graph, opset=18), path)


def truncated(path: Path) -> None:
    source = path.parent / "tiny_cnn.onnx"
    if not source.exists():
        tiny_cnn(source)
    data = source.read_bytes()
    path.write_bytes(data[: len(data) // 2 + 1])


SAMPLES: tuple[Sample, ...] = (
    Sample("tiny_cnn", "Conv-ReLU-Pool ×2 + Gemm, static 1×3×32×32 input",
           "the smallest complete path: inspect, parse, build, run", tiny_cnn),
    Sample("mlp_dynamic_batch", "two Dense layers + Softmax, input [batch, 64]",
           "one symbolic dim → one optimization profile", mlp_dynamic_batch),
    Sample("resnet_block", "residual CNN block with BatchNorm, input [batch, 3, height, width]",
           "several dynamic dims; profiles seeded from symbolic names", resnet_block),
    Sample("transformer_block", "embedding from INT64 token ids, LayerNorm, 4-head attention "
           "with Softmax, GELU MLP; input [batch, sequence]",
           "integer inputs, LayerNorm/Softmax in FP16, dynamic batch and sequence", transformer_block),
    Sample("fp16_overflow", "RMS norm without pre-scaling: h² reaches ~10⁶ although every "
           "output is small", "FP16 overflow found by per-layer drift and fixed by a keep-FP32 list",
           fp16_overflow),
    Sample("external_weights", "small MLP whose weights live in external_weights.data",
           "external data resolved next to the model", external_weights,
           files=("external_weights.data",)),
    Sample("unsupported_op", "a custom-domain op (com.example.custom::FancyActivation) "
           "between Conv and pooling", "parse errors mapped to a node; plugins", unsupported_op,
           problem="unsupported_op"),
    Sample("ml_domain_classifier", "MatMul + ai.onnx.ml LinearClassifier",
           "non-TensorRT domains: run that part with ONNX Runtime", ml_domain_classifier,
           problem="ml_domain"),
    Sample("needs_constant_folding", "ReduceMean whose axes are computed from the input's "
           "rank (Shape → Shape → Sub), as exporters write mean(dim=-1)",
           "shape tensors that must be build-time constants: fold constants",
           needs_constant_folding, problem="needs_constant_folding"),
    Sample("truncated", "tiny_cnn.onnx cut in half", "corrupt downloads get a clear error",
           truncated, problem="truncated"),
    Sample("missing_external_data", "points at missing_external_data.data, which is not there",
           "missing external data is named, not a crash", missing_external_data,
           problem="missing_external_data"),
    Sample("hostile_external_data", "external-data location ../../../../etc/passwd",
           "external data outside the model folder is refused", hostile_external_data,
           problem="hostile_external_data"),
)


def write_samples(out_dir: Path) -> list[Path]:
    """Write every sample (and its side files) into ``out_dir``; return the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for sample in SAMPLES:
        path = out_dir / f"{sample.name}.onnx"
        sample.build(path)
        written.append(path)
        written.extend(out_dir / extra for extra in sample.files)
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out_dir = Path(args[0]) if args else Path(__file__).resolve().parent
    for path in write_samples(out_dir):
        print(f"{path.stat().st_size:>9,d}  {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
