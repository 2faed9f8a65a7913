"""Patterns real exporters write that hand-built graphs lacked, pinned with onnx.helper:
value_info for every tensor (weights included, as torch's dynamo exporter writes it), node
metadata, and operators the CPU FP16 evaluator has no kernel for. The committed real
exports (tests/test_real_export_flows.py) carry the same patterns as exporters write them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, shape_inference

import workbench
from sample_models.exports import EXPORTS, export_path
from workbench.core.errors import ConversionError
from workbench.graph import GraphValues, graph_values, walk_graphs
from workbench.transforms.precision.fp16 import convert_precision
from workbench.transforms.precision.typing_rules import graph_types

DYNAMO = [entry.name for entry in EXPORTS if entry.name.endswith("_dynamo")]


def _dynamo_like_mlp() -> onnx.ModelProto:
    """Gemm → LayerNorm → Gelu → Gemm with value_info for the weights too, and node
    metadata_props, as torch.onnx.export(dynamo=True) writes them (opset 20)."""
    rng = np.random.default_rng(0)
    weights = {
        "l.weight": rng.standard_normal((32, 16)), "l.bias": rng.standard_normal(32),
        "n.weight": np.ones(32), "n.bias": np.zeros(32),
        "o.weight": rng.standard_normal((4, 32)), "o.bias": rng.standard_normal(4),
    }
    inits = [helper.make_tensor(n, TensorProto.FLOAT, v.shape, v.astype(np.float32).ravel())
             for n, v in weights.items()]
    nodes = [
        helper.make_node("Gemm", ["x", "l.weight", "l.bias"], ["linear"], name="node_linear",
                         transB=1),
        helper.make_node("LayerNormalization", ["linear", "n.weight", "n.bias"],
                         ["layer_norm"], name="node_layer_norm", axis=-1),
        helper.make_node("Gelu", ["layer_norm"], ["gelu"], name="node_gelu"),
        helper.make_node("Gemm", ["gelu", "o.weight", "o.bias"], ["logits"],
                         name="node_linear_1", transB=1),
    ]
    for node in nodes:
        entry = node.metadata_props.add()
        entry.key, entry.value = "pkg.torch.onnx.stack_trace", f'File "model.py", {node.name}'
    graph = helper.make_graph(
        nodes, "main_graph",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 16])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 4])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    model.ir_version = 10
    inferred = shape_inference.infer_shapes(model)
    # the dynamo exporter's value_info: every intermediate and every weight, typed FP32
    inferred.graph.value_info.extend(
        helper.make_tensor_value_info(n, TensorProto.FLOAT, list(v.shape))
        for n, v in weights.items())
    return inferred


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_value_info_of_weights_and_intermediates_follows_the_conversion(precision: str) -> None:
    model = _dynamo_like_mlp()
    conversion = convert_precision(model, precision)  # raised InferenceError (10) vs (1)
    graph = conversion.model.graph
    low = TensorProto.FLOAT16 if precision == "fp16" else TensorProto.BFLOAT16
    initializers = {t.name: t.data_type for t in graph.initializer}
    assert initializers["l.weight"] == low
    typed = {vi.name: vi.type.tensor_type.elem_type for vi in graph.value_info}
    assert not set(typed) & set(initializers)  # the weight declares its own type
    assert typed["layer_norm"] == low and typed["gelu"] == low
    # one type per tensor: what inference derives is what value_info says
    inferred = graph_types(conversion.model)[""]
    assert all(inferred[name] == elem for name, elem in typed.items())
    # the exporter's node metadata is kept
    assert all(len(node.metadata_props) == 1 for node in graph.node
               if node.op_type != "Cast")
    # the original is untouched
    assert {vi.name for vi in model.graph.value_info} >= set(initializers)


@pytest.mark.parametrize("name", DYNAMO)
def test_real_dynamo_exports_convert_with_one_type_per_value(name: str) -> None:
    """The committed dynamo exports declare every weight and intermediate in value_info;
    converted, each value has one type: what the conversion's record says, written once."""
    model = onnx.load(export_path(name))
    assert graph_values(model.graph).disagreements() == []
    weights = {t.name for t in model.graph.initializer}
    assert weights & {vi.name for vi in model.graph.value_info}  # the pattern is there
    for precision, low in (("fp16", TensorProto.FLOAT16), ("bf16", TensorProto.BFLOAT16)):
        converted = convert_precision(model, precision).model
        for _path, graph in walk_graphs(converted.graph):
            assert graph_values(graph).disagreements() == []
        graph = converted.graph
        declared = {vi.name: vi.type.tensor_type.elem_type for vi in graph.value_info}
        assert low in declared.values()  # intermediates retyped, not dropped
        assert not set(declared) & {t.name for t in graph.initializer}
        # the model's outputs keep their types
        assert [o.type.tensor_type.elem_type for o in graph.output] == \
            [o.type.tensor_type.elem_type for o in model.graph.output]


def test_a_stale_type_is_refused_naming_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    """Had the record not been written back (the bug of the first FP16 conversion: weights
    in FP16, their value_info still FP32), the conversion refuses, naming the value."""
    monkeypatch.setattr(GraphValues, "write_types", lambda self: None)
    with pytest.raises(ConversionError) as caught:
        convert_precision(_dynamo_like_mlp(), "fp16")
    message = caught.value.message
    assert "stale type" in message
    assert "l.weight is declared float16 and float32" in message


def test_dynamo_like_model_compares_and_builds(tmp_path: Path) -> None:
    path = tmp_path / "mlp.onnx"
    onnx.save(_dynamo_like_mlp(), path)
    for precision in ("fp16", "bf16"):
        report = workbench.compare_precision(path, precision)
        assert report.verdict == "PASSED", report.summary()
    artifact = workbench.build_engine(path, workbench.BuildSettings(precision="fp16"))
    assert artifact.plan


def test_a_node_the_cpu_evaluator_cannot_run_is_evaluated_by_onnx_runtime(
        tmp_path: Path) -> None:
    """onnx.reference has no GlobalLpPool kernel: that node is evaluated by ONNX Runtime
    (FP32 on the FP16 inputs, rounded back), the comparison completes and says so."""
    rng = np.random.default_rng(0)
    weight = helper.make_tensor("w", TensorProto.FLOAT, [4, 3, 3, 3],
                                rng.standard_normal(108).astype(np.float32))
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("GlobalLpPool", ["c"], ["p"], name="lp_pool", p=2),
             helper.make_node("Relu", ["p"], ["y"], name="relu")]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "lp.onnx"
    onnx.save(model, path)
    for per_layer in (True, False):
        report = workbench.compare_precision(path, per_layer=per_layer)
        assert report.verdict == "PASSED"
        assert report.not_evaluated == ("lp_pool",)
        assert "not evaluated in FP16: lp_pool" in report.summary()
