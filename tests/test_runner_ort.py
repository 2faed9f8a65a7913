"""OrtRunner for real: specs, inference, intermediates, and the Runner contract's checks."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from workbench.backends.ort import OrtRunner
from workbench.backends.runner import validate_feeds
from workbench.core.errors import InferenceInputError, ModelLoadError
from workbench.core.records import TensorSpec
from workbench.inspection.input_roles import input_roles


def _two_input_model() -> onnx.ModelProto:
    nodes = [
        helper.make_node("Add", ["a", "b"], ["s"], name="add"),
        helper.make_node("Relu", ["s"], ["y"], name="relu"),
    ]
    graph = helper.make_graph(
        nodes, "two_inputs",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["batch", 4]),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def test_input_specs_from_model(sample) -> None:
    runner = OrtRunner(sample("mlp_dynamic_batch"))
    assert runner.input_specs() == (TensorSpec("features", "float32", ("batch", 64)),)
    assert runner.output_names() == ("probabilities",)


def test_infer_matches_numpy() -> None:
    a = np.arange(8, dtype=np.float32).reshape(2, 4) - 4
    b = np.ones((2, 4), np.float32)
    with OrtRunner(_two_input_model()) as runner:
        out = runner.infer({"a": a, "b": b})
    np.testing.assert_array_equal(out["y"], np.maximum(a + b, 0))


def test_expose_intermediates_returns_every_tensor(sample) -> None:
    runner = OrtRunner(sample("transformer_block"), expose_intermediates=True)
    with runner:
        out = runner.infer({"token_ids": np.array([[1, 2, 3]], np.int64)})
    assert next(iter(out)) == "hidden_states"  # the model's outputs come first
    for name in ("x0", "x1", "scores", "probs", "g1", "hidden_states"):
        assert name in out
    np.testing.assert_allclose(out["probs"].sum(-1), 1.0, rtol=1e-5)
    assert runner.producers()["probs"] == "attn.softmax"
    assert runner.skipped_intermediates == ()


def test_intermediates_agree_with_plain_run(sample) -> None:
    feeds = {"x": np.random.default_rng(0).standard_normal((3, 64)).astype(np.float32)}
    with OrtRunner(sample("fp16_overflow")) as plain:
        y = plain.infer(feeds)["y"]
    with OrtRunner(sample("fp16_overflow"), expose_intermediates=True) as full:
        out = full.infer(feeds)
    np.testing.assert_allclose(out["y"], y, rtol=1e-5, atol=1e-6)
    assert out["h_squared"].max() > 65504  # the overflow the FP16 sample is about


def test_index_ranges_bound_token_ids_by_vocab(sample) -> None:
    model = onnx.load(sample("transformer_block"))
    roles = input_roles(model)
    assert roles["token_ids"].kind == "index" and roles["token_ids"].range == (0, 512)


def test_infer_before_activate_is_refused() -> None:
    with pytest.raises(InferenceInputError, match="not active"):
        OrtRunner(_two_input_model()).infer({})


def test_custom_op_model_fails_clearly(sample) -> None:
    with pytest.raises(ModelLoadError, match="ONNX Runtime cannot load") as info:
        OrtRunner(sample("unsupported_op")).activate()
    assert "custom-op library" in info.value.message


def test_corrupt_model_is_a_load_error(sample) -> None:
    with pytest.raises(ModelLoadError, match="not a valid ONNX model"):
        OrtRunner(sample("truncated"))


SPECS = (TensorSpec("a", "float32", ("batch", 4)), TensorSpec("b", "float32", ("batch", 4)))


@pytest.mark.parametrize(
    ("feeds", "fragments"),
    [
        ({"a": np.zeros((1, 4), np.float32)}, ["Input names do not match", "add b"]),
        ({"a": np.zeros((1, 4), np.float32), "b": np.zeros((1, 4), np.float32),
          "c": np.zeros(1)}, ["remove or rename c"]),
        ({"a": np.zeros((1, 4), np.complex64), "b": np.zeros((1, 4), np.float32)},
         ["wrong dtype", "expected: float32", "found:    complex64", "astype(np.float32)"]),
        ({"a": np.zeros(4, np.float32), "b": np.zeros((1, 4), np.float32)},
         ["wrong rank", "2 dims", "batch dimension"]),
        ({"a": np.zeros((1, 5), np.float32), "b": np.zeros((1, 5), np.float32)},
         ["size 5 on axis 1, which is fixed", "give axis 1 size 4"]),
        ({"a": np.zeros((2, 4), np.float32), "b": np.zeros((3, 4), np.float32)},
         ["Symbolic dim 'batch' has two different sizes", "2 in 'a'", "3 in 'b'"]),
    ],
    ids=["missing", "unknown", "dtype", "rank", "static-dim", "symbolic-dim"],
)
def test_validation_errors_say_what_is_wrong(feeds, fragments) -> None:
    with pytest.raises(InferenceInputError) as info:
        validate_feeds(SPECS, feeds)
    for fragment in fragments:
        assert fragment in info.value.message


def test_runner_validates_before_ort_sees_the_feeds() -> None:
    with OrtRunner(_two_input_model()) as runner, pytest.raises(InferenceInputError, match="rank"):
        runner.infer({"a": np.zeros(4, np.float32), "b": np.zeros(4, np.float32)})


def test_float_token_ids_are_refused() -> None:
    specs = (TensorSpec("token_ids", "int64", ("batch", "sequence")),)
    with pytest.raises(InferenceInputError, match="'token_ids' has the wrong dtype"):
        validate_feeds(specs, {"token_ids": np.zeros((1, 3), np.float32)})


def test_float64_feeds_are_cast_to_the_declared_dtype() -> None:
    checked = validate_feeds(SPECS, {"a": np.zeros((1, 4)), "b": np.zeros((1, 4))})
    assert checked["a"].dtype == np.float32


def test_profile_range_is_enforced() -> None:
    with pytest.raises(InferenceInputError, match="outside the engine's optimization profile"):
        validate_feeds(SPECS, {"a": np.zeros((9, 4), np.float32),
                               "b": np.zeros((9, 4), np.float32)},
                       {"a": ((1, 4), (8, 4))})


def test_scalar_input_keeps_its_shape() -> None:
    specs = (TensorSpec("sr", "int64", ()),)
    checked = validate_feeds(specs, {"sr": np.array(16000, dtype=np.int64)})
    assert checked["sr"].shape == ()
    assert int(checked["sr"]) == 16000
