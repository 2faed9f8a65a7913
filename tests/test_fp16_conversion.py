"""The FP16/BF16 graph conversion is type-consistent on the shapes real exports have.

Each case in ``sample_models.fp16_cases`` made TensorRT-RTX refuse the FP16 graph that
onnxconverter-common's conversion produced ("IMatrixMultiplyLayer must have same input
types", "IConvolutionLayer `input` and `kernel` must be of same type"); the first test
keeps showing that, so the reproducers stay honest. The rest builds for real with
TensorRT-RTX and compares on CPU.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from sample_models.fp16_cases import CASES, make_case
from workbench.app.precision.compare import compare_precision
from workbench.backends.trt.build import build_engine
from workbench.core.errors import BuildError, ConversionError
from workbench.graph import graph_values, walk_graphs
from workbench.settings.settings import BuildSettings
from workbench.transforms.precision.fp16 import (
    BLOCKED_OPERATOR,
    KEPT_BY_USER,
    TYPE_RULE,
    convert_precision,
)
from workbench.transforms.precision.typing_rules import check_types, graph_types


def _node(model: onnx.ModelProto, name: str, graph: onnx.GraphProto | None = None):
    graph = model.graph if graph is None else graph
    return next(node for node in graph.node if node.name == name)


def _types(model: onnx.ModelProto, path: str = "") -> dict[str, int]:
    return graph_types(model)[path]


@pytest.mark.parametrize("case", ["output_consumed_inside", "own_cast_to_float"])
def test_the_old_conversion_fails_on_tensorrt_and_the_check_names_it(case: str) -> None:
    from onnxconverter_common import float16

    old = float16.convert_float_to_float16(make_case(case), keep_io_types=True)
    with pytest.raises(BuildError, match="must have same input types"):
        build_engine(old, BuildSettings(precision="fp32"))  # its types as they are
    with pytest.raises(ConversionError) as caught:
        check_types(old, "fp16")
    assert "float32" in caught.value.message and "float16" in caught.value.message


@pytest.mark.parametrize("case", sorted(CASES))
def test_fp16_builds_with_tensorrt_and_compares(case: str) -> None:
    model = make_case(case)
    artifact = build_engine(model, BuildSettings(precision="fp16"))
    assert len(artifact.plan) > 0
    assert artifact.conversion is not None and artifact.conversion.low_nodes >= 4
    assert any("FP16 conversion:" in line for line in artifact.log_lines)
    report = compare_precision(model, backend="numpy")
    assert report.passed, report.summary()
    assert report.conversion is not None and not report.conversion.kept
    assert "nodes in FP16" in report.summary()


def test_graph_output_read_inside_stays_fp32_while_the_pooler_reads_fp16() -> None:
    converted = convert_precision(make_case("output_consumed_inside")).model
    types = _types(converted)
    assert types["hidden"] == TensorProto.FLOAT  # the output keeps its type
    gemm = _node(converted, "pooler.dense")
    assert types[gemm.input[0]] == TensorProto.FLOAT16
    gather = _node(converted, "pooler.gather")
    assert gather.input[0] != "hidden"  # reads the LayerNormalization's FP16 tensor


def test_models_own_cast_to_float_becomes_a_cast_to_fp16() -> None:
    converted = convert_precision(make_case("own_cast_to_float")).model
    cast = _node(converted, "onehot.cast")
    assert helper.get_attribute_value(cast.attribute[0]) == TensorProto.FLOAT16
    assert _types(converted)[_node(converted, "embed.matmul").input[0]] == TensorProto.FLOAT16


def test_graph_inputs_feeding_matmul_and_conv_get_casts() -> None:
    converted = convert_precision(make_case("input_feeds_math")).model
    types = _types(converted)
    for name in ("mlp.matmul", "vad.conv"):
        assert types[_node(converted, name).input[0]] == TensorProto.FLOAT16, name
    assert [vi.type.tensor_type.elem_type for vi in converted.graph.input] == [1, 1]


def test_conv_inside_if_branches_reads_fp16() -> None:
    converted = convert_precision(make_case("conv_in_if_branch")).model
    switch = _node(converted, "rate.switch")
    for attr in switch.attribute:
        branch, path = attr.g, f"0.{attr.name}"
        conv = next(node for node in branch.node if node.op_type == "Conv")
        types = _types(converted, path)
        assert types[conv.input[0]] == types[conv.input[1]] == TensorProto.FLOAT16
        assert types[branch.output[0].name] == TensorProto.FLOAT  # the If keeps its type


def test_keep_list_is_honoured_with_casts_on_its_boundary() -> None:
    model = make_case("output_consumed_inside")
    conversion = convert_precision(model, "fp16", ["pooler.dense"])
    converted, report = conversion.model, conversion.report
    types = _types(converted)
    gemm = _node(converted, "pooler.dense")
    assert [types[name] for name in gemm.input] == [TensorProto.FLOAT] * 3
    assert report.by_reason() == {KEPT_BY_USER: ("pooler.dense",)}
    assert types[_node(converted, "pooler.tanh").input[0]] == TensorProto.FLOAT16
    assert "1 kept by user" in report.describe()
    artifact = build_engine(model, BuildSettings(precision="fp16", keep_fp32=("pooler.dense",)))
    assert artifact.conversion.by_reason() == {KEPT_BY_USER: ("pooler.dense",)}


def _blocked_and_type_rule_model() -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 4])
    nodes = [
        helper.make_node("EyeLike", ["x"], ["eye"], name="eye", dtype=TensorProto.FLOAT),
        helper.make_node("Mul", ["x", "eye"], ["diag"], name="diag"),
        helper.make_node("CumSum", ["diag", "axis"], ["running"], name="running"),
        helper.make_node("Relu", ["running"], ["y"], name="relu"),
    ]
    axis = numpy_helper.from_array(np.array(1, np.int64), "axis")
    graph = helper.make_graph(nodes, "rules", [x], [helper.make_tensor_value_info(
        "y", TensorProto.FLOAT, [4, 4])], [axis])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_blocked_operators_and_type_rules_are_reported_with_their_reason() -> None:
    report = convert_precision(_blocked_and_type_rule_model()).report
    assert report.by_reason() == {TYPE_RULE: ("eye",), BLOCKED_OPERATOR: ("running",)}
    assert report.low_nodes == 2
    text = "\n".join(report.lines())
    assert "FP32 (type rule): eye" in text and "FP32 (blocked operator): running" in text


def test_a_mixed_graph_is_refused_naming_the_node_and_both_types() -> None:
    model = make_case("input_feeds_math")
    weight = next(t for t in model.graph.initializer if t.name == "w1")
    weight.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(weight).astype(np.float16),
                                            "w1"))
    with pytest.raises(ConversionError) as caught:
        check_types(model, "fp16")
    message = caught.value.message
    assert "'mlp.matmul'" in message
    assert "is float32 but input 1 (w1) is float16" in message


def test_weights_beyond_fp16_are_clamped_and_counted() -> None:
    model = make_case("input_feeds_math")
    bias = next(t for t in model.graph.initializer if t.name == "b1")
    bias.CopyFrom(numpy_helper.from_array(np.array([1e6, -1e6, 1.0, 1e-12], np.float32), "b1"))
    report = convert_precision(model).report
    assert report.clamped_values == 2 and report.clamped_tensors == ("b1",)
    converted = convert_precision(model).model
    values = numpy_helper.to_array(next(t for t in converted.graph.initializer
                                        if t.name == "b1"))
    assert values.dtype == np.float16 and values[0] == 65504 and values[3] > 0


def test_bf16_rounds_weights_and_builds() -> None:
    import ml_dtypes

    model = make_case("own_cast_to_float")
    conversion = convert_precision(model, "bf16")
    table = next(t for t in conversion.model.graph.initializer if t.name == "table")
    assert table.data_type == TensorProto.BFLOAT16
    original = numpy_helper.to_array(next(t for t in model.graph.initializer
                                          if t.name == "table"))
    rounded = numpy_helper.to_array(table)
    assert np.array_equal(rounded, original.astype(ml_dtypes.bfloat16))
    assert "nodes in BF16" in conversion.report.describe()
    artifact = build_engine(model, BuildSettings(precision="bf16"))
    assert artifact.conversion is not None and artifact.conversion.precision == "bf16"


def test_weights_left_on_disk_change_type_only_for_the_caller_to_convert(tmp_path) -> None:
    from workbench.transforms.precision.fp16 import convert_weight

    model = make_case("output_consumed_inside")
    path = tmp_path / "m.onnx"
    onnx.save_model(make_case("output_consumed_inside"), str(path), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="m.data", size_threshold=0)
    lazy = onnx.load(str(path), load_external_data=False)
    converted = convert_precision(lazy).model
    weight = next(t for t in converted.graph.initializer if t.name == "w_in")
    assert weight.data_type == TensorProto.FLOAT16
    assert weight.data_location == TensorProto.EXTERNAL and not weight.raw_data
    values = numpy_helper.to_array(next(t for t in model.graph.initializer if t.name == "w_in"))
    assert convert_weight(values).dtype == np.float16
    assert convert_weight(np.array([1e5], np.float32))[0] == 65504


def _cast_before_an_if_reading_outer_names() -> onnx.ModelProto:
    """x → MatMul (x is cast to FP16 in the main graph) → h; If(flag) whose branches read
    the main graph's z in FP16 math (each branch casts it); y = h + branch output."""
    rng = np.random.default_rng(3)

    def weight(name: str) -> onnx.TensorProto:
        return numpy_helper.from_array(rng.standard_normal((2, 2)).astype(np.float32), name)

    def branch(tag: str, op: str) -> onnx.GraphProto:
        node = (helper.make_node("MatMul", ["z", f"{tag}_w"], [f"{tag}_out"], name=f"{tag}.mm")
                if op == "MatMul" else helper.make_node("Neg", ["z"], [f"{tag}_out"],
                                                        name=f"{tag}.neg"))
        inits = [weight(f"{tag}_w")] if op == "MatMul" else []
        return helper.make_graph([node], tag, [], [helper.make_tensor_value_info(
            f"{tag}_out", TensorProto.FLOAT, [2, 2])], inits)

    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"], name="pre.mm"),
             helper.make_node("If", ["flag"], ["b"], name="switch",
                              then_branch=branch("then", "MatMul"),
                              else_branch=branch("else", "Neg")),
             helper.make_node("Add", ["h", "b"], ["y"], name="post.add")]
    inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2, 2]) for n in ("x", "z")]
    graph = helper.make_graph(
        nodes, "g", [*inputs, helper.make_tensor_value_info("flag", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 2])], [weight("w")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_value_info_of_each_graph_names_only_its_own_tensors() -> None:
    """Each graph's types are recorded in its own view: the main graph's Cast made before an
    If keeps its value_info entry (converting the branches reset the one list of new
    tensors the conversion kept for every scope, so that entry was lost), and every graph
    declares only tensors its own nodes make."""
    converted = convert_precision(_cast_before_an_if_reading_outer_names()).model
    for path, graph in walk_graphs(converted.graph):
        made = {name for node in graph.node for name in node.output}
        assert {vi.name for vi in graph.value_info} <= made, path
        assert graph_values(graph).disagreements() == [], path
    x_cast = next(node for node in converted.graph.node if node.input[0] == "x")
    assert x_cast.op_type == "Cast"
    declared = {vi.name: vi for vi in converted.graph.value_info}
    assert declared[x_cast.output[0]].type.tensor_type.elem_type == TensorProto.FLOAT16
    reads = [node.input[0] for _, graph in walk_graphs(converted.graph) if graph is not
             converted.graph for node in graph.node if node.op_type == "Cast"]
    assert reads.count("z") == 2  # each branch casts the outer z itself
