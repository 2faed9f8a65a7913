"""workbench.inspect_model: concrete facts about every sample, problems as data, JSON round trip."""

from __future__ import annotations

import resource
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from workbench import ModelLoadError, ModelSummary, TensorSpec, inspect_model
from workbench.inspection.summary import NodeInfo, OpsetInfo

OK_SAMPLES = (
    "tiny_cnn", "mlp_dynamic_batch", "resnet_block", "transformer_block", "fp16_overflow",
    "external_weights", "unsupported_op", "ml_domain_classifier", "needs_constant_folding",
)

# (parameter count, parameter bytes), from the initializer shapes in make_samples.py.
PARAMETERS = {
    # conv1 8·3·3·3 + 8, conv2 16·8·3·3 + 16, fc 10·16 + 10 (all float32)
    "tiny_cnn": (216 + 8 + 1152 + 16 + 160 + 10, 1562 * 4),
    # fc1 64·128 + 128, fc2 128·10 + 10
    "mlp_dynamic_batch": (8192 + 128 + 1280 + 10, 9610 * 4),
    # stem 16·3·3·3 + 16; 2 × (conv 16·16·3·3 + 16, 4 BN vectors of 16)
    "resnet_block": (432 + 16 + 2 * (2304 + 16 + 4 * 16), 5216 * 4),
    # embedding 512·64, 4 LN vectors of 64, q/k/v/o 64·64, fc1 64·256 + 256, fc2 256·64,
    # 3 float scalars + scale; heads_shape (4) and merge_shape (3) are int64
    "transformer_block": (
        32768 + 4 * 64 + 4 * 4096 + 16384 + 256 + 16384 + 4 + 4 + 3,
        (32768 + 256 + 16384 + 16384 + 256 + 16384 + 4) * 4 + 7 * 8,
    ),
    "fp16_overflow": (64 * 64 + 1 + 64 * 8, 4609 * 4),  # proj, eps, head
    "external_weights": (32 * 64 + 64 * 4, 2304 * 4),
    "unsupported_op": (8 * 3 * 3 * 3, 216 * 4),
    "ml_domain_classifier": (4 * 4, 16 * 4),
    # conv.w 8·4·3·3, conv.b 8 (float32); two int64 scalars-as-1D
    "needs_constant_folding": (288 + 8 + 1 + 1, 296 * 4 + 2 * 8),
}


@pytest.fixture(scope="module")
def summaries() -> dict[str, ModelSummary]:
    root = Path(__file__).resolve().parent.parent / "sample_models"
    return {name: inspect_model(root / f"{name}.onnx") for name in OK_SAMPLES}


def test_tiny_cnn(summaries: dict[str, ModelSummary]) -> None:
    s = summaries["tiny_cnn"]
    assert len(s.nodes) == 8
    assert s.inputs == (TensorSpec("input", "float32", (1, 3, 32, 32)),)
    assert s.outputs == (TensorSpec("logits", "float32", (1, 10)),)
    assert s.producer_name == "trt-workbench make_samples.py"
    assert s.producer_version == "1"
    assert s.ir_version == 8
    assert s.opsets == (OpsetInfo("", 17),)
    assert dict(s.op_histogram) == {
        "Conv": 2, "Relu": 2, "MaxPool": 1, "GlobalAveragePool": 1, "Flatten": 1, "Gemm": 1,
    }
    assert s.op_histogram[0] == ("Conv", 2)  # most frequent first
    assert s.nodes[0] == NodeInfo(
        0, "conv1", "Conv", "", ("input", "conv1.w", "conv1.b"), ("c1",),
        (("pads", "[1, 1, 1, 1]"),),
    )
    assert s.find_node("pool1") is not None
    assert s.find_node("pool1").attribute("kernel_shape") == "[2, 2]"  # type: ignore[union-attr]
    assert s.find_node("nope") is None
    assert s.checker_problems == ()
    assert s.subgraph_count == 0
    assert s.symbolic_dims() == {}


@pytest.mark.parametrize("name", sorted(PARAMETERS))
def test_parameter_counts(summaries: dict[str, ModelSummary], name: str) -> None:
    count, nbytes = PARAMETERS[name]
    assert (summaries[name].parameter_count, summaries[name].parameter_bytes) == (count, nbytes)


def test_dynamic_dims_by_name(summaries: dict[str, ModelSummary]) -> None:
    mlp = summaries["mlp_dynamic_batch"]
    assert mlp.inputs == (TensorSpec("features", "float32", ("batch", 64)),)
    assert mlp.symbolic_dims() == {"batch": [("features", 0)]}
    resnet = summaries["resnet_block"]
    assert resnet.symbolic_dims() == {
        "batch": [("image", 0)], "height": [("image", 2)], "width": [("image", 3)],
    }
    transformer = summaries["transformer_block"]
    assert transformer.input_specs == (TensorSpec("token_ids", "int64", ("batch", "sequence")),)
    assert transformer.outputs[0].shape == ("batch", "sequence", 64)


def test_inferred_shapes(summaries: dict[str, ModelSummary]) -> None:
    transformer = summaries["transformer_block"]
    result = transformer.shape_inference
    assert result.ok and result.error is None
    assert len(result.tensors) == 28  # every node output except the graph output
    assert transformer.tensor_spec("scores") == TensorSpec(
        "scores", "float32", ("batch", 4, "sequence", "sequence")
    )
    kh = TensorSpec("kh", "float32", ("batch", 4, 16, "sequence"))  # K transposed for Q·Kᵀ
    assert transformer.tensor_spec("kh") == kh
    # the 128 KiB embedding is an initializer: its spec comes from dims, not values
    assert transformer.tensor_spec("embedding.weight") == TensorSpec(
        "embedding.weight", "float32", (512, 64)
    )
    assert transformer.tensor_spec("nope") is None
    tiny = summaries["tiny_cnn"]
    assert tiny.tensor_spec("p1") == TensorSpec("p1", "float32", (1, 8, 16, 16))
    assert tiny.tensor_spec("flat") == TensorSpec("flat", "float32", (1, 16))


def test_custom_domains_listed(summaries: dict[str, ModelSummary]) -> None:
    custom = summaries["unsupported_op"]
    assert custom.opsets == (OpsetInfo("", 17), OpsetInfo("com.example.custom", 1))
    assert custom.opset_version("com.example.custom") == 1
    assert dict(custom.op_histogram)["com.example.custom::FancyActivation"] == 1
    assert custom.find_node("fancy_activation").attribute("alpha") == "0.5"  # type: ignore[union-attr]
    # ONNX has no schema for the custom op: what follows it is reported as untyped.
    assert custom.shape_inference.missing == ("f", "pooled")
    assert custom.checker_problems == ()  # valid ONNX: custom domains are not checked
    ml = summaries["ml_domain_classifier"]
    assert OpsetInfo("ai.onnx.ml", 3) in ml.opsets
    assert ml.outputs == (
        TensorSpec("label", "int64", ("batch",)), TensorSpec("scores", "float32", ("batch", 3)),
    )


def test_external_data_is_summarised_not_loaded(summaries: dict[str, ModelSummary]) -> None:
    s = summaries["external_weights"]
    assert s.external_data_files == ("external_weights.data",)
    assert s.external_data_bytes == 2304 * 4
    assert s.checker_problems == ()  # checked in the model's folder, not the CWD


def test_all_sources_agree(sample) -> None:
    path = sample("tiny_cnn")
    from_path = inspect_model(path)
    from_bytes = inspect_model(path.read_bytes())
    proto = onnx.load(path)
    before = proto.SerializeToString()
    from_proto = inspect_model(proto)
    assert proto.SerializeToString() == before  # a caller's proto is never modified
    assert from_bytes.source == "<model bytes>"
    assert from_proto.source == "<onnx.ModelProto>"
    assert from_path.source == str(path)
    for other in (from_bytes, from_proto):
        assert other.nodes == from_path.nodes
        assert other.shape_inference == from_path.shape_inference
        assert other.parameter_bytes == from_path.parameter_bytes


def test_broken_samples_raise_load_errors(sample) -> None:
    for name, fragment in (
        ("truncated", "protobuf cannot be decoded"),
        ("missing_external_data", "is missing"),
        ("hostile_external_data", "outside the model folder"),
    ):
        with pytest.raises(ModelLoadError, match=fragment):
            inspect_model(sample(name))


def test_json_round_trip(summaries: dict[str, ModelSummary]) -> None:
    for summary in summaries.values():
        text = summary.to_json()
        again = ModelSummary.from_json(text)
        assert again == summary
        assert again.to_json() == text
        assert ModelSummary.from_dict(summary.to_dict()) == summary


def invalid_model() -> onnx.ModelProto:
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="relu", bogus=1),
        helper.make_node("NoSuchOp", ["a"], ["y"], name="mystery"),
    ]
    graph = helper.make_graph(
        nodes, "invalid",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_checker_problems_are_listed_not_raised(tmp_path: Path) -> None:
    path = tmp_path / "invalid.onnx"
    path.write_bytes(invalid_model().SerializeToString())
    s = inspect_model(path)
    assert not s.is_valid
    assert len(s.checker_problems) == 2
    assert any("Unrecognized attribute: bogus for operator Relu" in p for p in s.checker_problems)
    assert any(
        "node 1 'mystery' (NoSuchOp)" in p and "No Op registered for NoSuchOp" in p
        for p in s.checker_problems
    )
    assert "Checker problems" in s.describe()
    assert ModelSummary.from_json(s.to_json()) == s


def test_shape_inference_failure_is_text() -> None:
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["m"], name="bad_matmul"),
        helper.make_node("Relu", ["m"], ["y"], name="relu"),
    ]
    graph = helper.make_graph(
        nodes, "mismatch",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.zeros((4, 5), np.float32), "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    s = inspect_model(model)
    error = s.shape_inference.error
    assert error is not None and "bad_matmul" in error and "Incompatible dimensions" in error
    assert not s.shape_inference.ok
    assert f"shape inference failed: {error}" in s.describe()


def control_flow_model() -> onnx.ModelProto:
    def branch(name: str, value: float) -> onnx.GraphProto:
        const = helper.make_node(
            "Constant", [], [f"{name}_out"], name=f"{name}_const",
            value=numpy_helper.from_array(np.full((2, 3), value, np.float32)),
        )
        return helper.make_graph(
            [const], name, [], [helper.make_tensor_value_info(f"{name}_out", TensorProto.FLOAT,
                                                              [2, 3])],
        )

    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Add", ["v_in", "one"], ["v_out"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_in", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_out", TensorProto.FLOAT, [2, 3])],
    )
    nodes = [
        helper.make_node("If", ["flag"], ["chosen"], name="choose",
                         then_branch=branch("then", 1.0), else_branch=branch("else", 2.0)),
        helper.make_node("Loop", ["trips", "", "chosen"], ["looped"], name="repeat", body=body),
    ]
    graph = helper.make_graph(
        nodes, "control_flow",
        [helper.make_tensor_value_info("flag", TensorProto.BOOL, []),
         helper.make_tensor_value_info("trips", TensorProto.INT64, [])],
        [helper.make_tensor_value_info("looped", TensorProto.FLOAT, [2, 3])],
        [numpy_helper.from_array(np.ones((2, 3), np.float32), "one")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_control_flow_subgraphs_counted() -> None:
    s = inspect_model(control_flow_model().SerializeToString())
    assert s.checker_problems == ()
    assert s.subgraph_count == 3  # If: then + else; Loop: body
    choose = s.find_node("choose")
    assert choose is not None
    assert choose.attribute("then_branch") == "<graph 1 nodes>"
    assert s.find_node("repeat").attribute("body") == "<graph 2 nodes>"  # type: ignore[union-attr]
    assert s.tensor_spec("chosen") == TensorSpec("chosen", "float32", (2, 3))
    # the initializer's 6, and the 2x3 Constant weight of each If branch
    assert s.parameter_count == 18 and s.constant_parameter_count == 12
    assert sorted(sub.label for sub in s.subgraphs) == [
        "If 'choose' › else_branch (1 nodes)", "If 'choose' › then_branch (1 nodes)",
        "Loop 'repeat' › body (2 nodes)"]


def test_attributes_summarised_not_dumped() -> None:
    big = numpy_helper.from_array(np.arange(1000, dtype=np.float32).reshape(10, 100), "v")
    nodes = [
        helper.make_node("Constant", [], ["c"], name="const", value=big),
        helper.make_node("Transpose", ["c"], ["y"], name="t", perm=[1, 0]),
    ]
    graph = helper.make_graph(nodes, "attrs", [], [
        helper.make_tensor_value_info("y", TensorProto.FLOAT, [100, 10])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.graph.node[1].attribute.append(helper.make_attribute("many", list(range(20))))
    model.graph.node[1].attribute.append(helper.make_attribute("label", "x" * 100))
    node = inspect_model(model).nodes
    assert node[0].attribute("value") == "<tensor float32 [10, 100]>"
    assert node[1].attribute("perm") == "[1, 0]"
    assert node[1].attribute("many") == "[0, 1, 2, 3, 4, 5, 6, 7, … (20 values)]"
    label = node[1].attribute("label")
    assert label is not None and len(label) < 60 and label.endswith("…'")


def test_initializers_listed_as_inputs_are_not_inputs() -> None:
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "bias"], ["y"])], "old_style",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4]),
         helper.make_tensor_value_info("bias", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4])],
        [numpy_helper.from_array(np.zeros(4, np.float32), "bias")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    s = inspect_model(model)
    assert [spec.name for spec in s.inputs] == ["x"]
    assert s.parameter_count == 4


def test_over_2_gib_of_weights_by_path(tmp_path: Path) -> None:
    """The summary reads only the graph: a 2.5 GiB (sparse) data file is never read."""
    count = 5 * 2**27  # float32 elements: 2.5 GiB
    weight = TensorProto(name="huge", data_type=TensorProto.FLOAT, dims=[count])
    weight.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "huge.data"), ("offset", "0"), ("length", str(count * 4))):
        entry = weight.external_data.add()
        entry.key, entry.value = key, value
    graph = helper.make_graph(
        [helper.make_node("Mul", ["x", "huge"], ["y"], name="scale")], "huge",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [count])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [count])], [weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    (tmp_path / "huge.onnx").write_bytes(model.SerializeToString())
    with open(tmp_path / "huge.data", "wb") as data:
        data.truncate(count * 4)  # sparse: no disk space, no memory
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    s = inspect_model(tmp_path / "huge.onnx")
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    assert grown < 256 << 20  # the 2.5 GiB of weights are never read
    assert s.parameter_bytes == s.external_data_bytes == 5 * 2**29
    assert s.parameter_count == count
    assert s.checker_problems == ()
    assert "2.5 GiB" in s.describe()
