"""What one FP16 comparison does, counted (issue 28): its fixed cost was bookkeeping.

Counts, never wall-clock: a conversion looks each operator's schema up once per operator
type (not per node), runs ONNX inference twice (the original's types, then one strict check
of the converted graph), and
a per-layer comparison runs ONNX Runtime once and each graph through the evaluator once.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import shape_inference

from sample_models.exports import export_path, hand_feeds
from workbench.app.precision import compare as precision
from workbench.app.precision import compare_cache, layerwise
from workbench.app.precision.compare import compare_precision
from workbench.core.errors import ConversionError
from workbench.transforms.precision import typing_rules
from workbench.transforms.precision.fp16 import convert_precision
from workbench.transforms.precision.typing_rules import check_types

EXPORT = "qwen2_dynamo"  # 193 nodes of 23 operator types, value_info and stack traces


def _count_inference(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    calls: list[bool] = []
    infer = shape_inference.infer_shapes

    def counted(model, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(bool(kwargs.get("strict_mode")))
        return infer(model, *args, **kwargs)

    monkeypatch.setattr(shape_inference, "infer_shapes", counted)
    return calls


def test_a_conversion_looks_schemas_up_per_operator_type_and_infers_twice(monkeypatch) -> None:
    model = onnx.load(export_path(EXPORT))
    op_types = {(node.op_type, node.domain) for node in model.graph.node}
    assert len(model.graph.node) > 5 * len(op_types)
    typing_rules._schema.cache_clear()
    typing_rules._slot_params.cache_clear()
    calls = _count_inference(monkeypatch)
    convert_precision(model, "fp16")
    assert typing_rules._schema.cache_info().misses <= len(op_types)
    assert typing_rules._slot_params.cache_info().misses <= 2 * len(op_types)
    assert calls == [False, True]  # the original's types; the strict check of the result
    # the skeletons inference reads leave the exporter's stack traces out
    skeleton = typing_rules._skeleton(model)
    assert not any(node.metadata_props for node in skeleton.graph.node)
    assert any(node.metadata_props for node in model.graph.node)


def test_a_mixed_graph_fails_strict_inference_and_gets_its_node_named() -> None:
    """Strict inference comes first (no inference of its own for the binding check on a
    graph that passes); a mixed node fails it and the binding check names the node and
    both types."""
    converted = convert_precision(onnx.load(export_path(EXPORT)), "fp16").model
    types = typing_rules.graph_types(converted)[""]
    add = next(n for n in converted.graph.node if n.op_type == "Add"
               and types.get(n.input[0]) == onnx.TensorProto.FLOAT16)
    cast = onnx.helper.make_node("Cast", [add.input[0]], ["mixed_in"], name="mix",
                                 to=onnx.TensorProto.FLOAT)
    converted.graph.node.insert(list(converted.graph.node).index(add), cast)
    add.input[0] = "mixed_in"
    with pytest.raises(ConversionError, match="mixes types") as raised:
        check_types(converted, "fp16")
    assert "float32" in raised.value.message and add.name in raised.value.message


def test_per_layer_runs_ort_once_and_each_graph_once(monkeypatch) -> None:
    sessions: list[int] = []
    evaluations: list[int] = []
    fp32, stream = precision.fp32_outputs, layerwise.stream_values
    monkeypatch.setattr(precision, "fp32_outputs",
                        lambda *a, **k: sessions.append(1) or fp32(*a, **k))

    def counted(model, *args, **kwargs):  # type: ignore[no-untyped-def]
        evaluations.append(len(model.graph.node))
        return stream(model, *args, **kwargs)

    monkeypatch.setattr(layerwise, "stream_values", counted)
    compare_cache.clear()
    report = compare_precision(export_path(EXPORT), inputs=hand_feeds(EXPORT),
                               backend="numpy")
    assert report.verdict == "PASSED" and report.reference_check is not None
    assert len(sessions) == 1 and len(evaluations) == 2  # FP32 and FP16, once each
    compare_cache.clear()


def test_small_models_evaluate_both_graphs_on_one_thread() -> None:
    model = onnx.load(export_path(EXPORT), load_external_data=False)
    feeds = hand_feeds(EXPORT)
    assert not layerwise.large_model(model, feeds)
    big = {"x": np.zeros(layerwise.SIDE_BY_SIDE_MIN_BYTES // 4, np.float32)}
    assert layerwise.large_model(model, big)


def test_a_small_models_fp32_reference_runs_its_graph_as_written(monkeypatch) -> None:
    """ORT's graph optimizations cost a small model more than its one reference run: the
    FP32 reference of a model under SIDE_BY_SIDE_MIN_BYTES runs unoptimized, a larger one
    optimized (and the mask fix decides the same way, from the same rule)."""
    made: list[bool] = []

    class Recording(precision.OrtRunner):  # type: ignore[misc]
        def __init__(self, *args, graph_optimizations: bool = True, **kwargs) -> None:  # type: ignore[no-untyped-def]
            made.append(graph_optimizations)
            super().__init__(*args, graph_optimizations=graph_optimizations, **kwargs)

    monkeypatch.setattr(precision, "OrtRunner", Recording)
    compare_cache.clear()
    report = compare_precision(export_path(EXPORT), inputs=hand_feeds(EXPORT), per_layer=False,
                               backend="numpy")
    assert report.verdict == "PASSED" and made == [False]
    compare_cache.clear()  # the rule's threshold itself: test_small_models_evaluate_…
