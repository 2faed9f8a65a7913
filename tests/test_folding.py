"""Constant folding (onnx only) fixes needs_constant_folding.onnx for real TensorRT-RTX."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import tensorrt_rtx as trt

import workbench
from workbench.backends.trt.parse import fold_and_diagnose
from workbench.core.errors import ModelLoadError, WorkbenchError


def _ort_run(model: bytes | str, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def test_fold_turns_shape_subgraph_into_an_initializer(sample) -> None:
    path = sample("needs_constant_folding")
    result = workbench.fold_constants(path)
    assert result.folded_nodes == ("axes.rank", "axes.last")
    assert result.removed_nodes == ("axes.shape",)
    assert [n.name for n in result.model.graph.node] == [
        "conv", "relu", "mean_over_width", "max_over_height"
    ]
    last_axis = {t.name: t for t in result.model.graph.initializer}["last_axis"]
    assert list(last_axis.int64_data or np.frombuffer(last_axis.raw_data, np.int64)) == [3]
    # same outputs as the original, on a dynamic shape the original allows
    x = np.random.default_rng(0).standard_normal((2, 4, 5, 7)).astype(np.float32)
    before = _ort_run(str(path), {"image": x})[0]
    after = _ort_run(result.model.SerializeToString(), {"image": x})[0]
    np.testing.assert_array_equal(before, after)


def test_folded_model_parses_and_builds_with_tensorrt(sample, tmp_path: Path) -> None:
    out = tmp_path / "folded.onnx"
    result, report = fold_and_diagnose(sample("needs_constant_folding"), out_path=out)
    assert out.is_file() and result.out_path == out.resolve()
    assert report, report.text()
    logger = trt.Logger(trt.Logger.ERROR)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    assert parser.parse(out.read_bytes(), path=str(out))
    config = builder.create_builder_config()
    profile = builder.create_optimization_profile()
    profile.set_shape("image", (1, 4, 8, 8), (2, 4, 16, 16), (4, 4, 32, 32))
    config.add_optimization_profile(profile)
    plan = builder.build_serialized_network(network, config)
    assert plan is not None and plan.nbytes > 0


def test_frozen_input_shapes(sample) -> None:
    result = workbench.fold_constants(
        sample("needs_constant_folding"), input_shapes={"image": [1, 4, 16, 16]}
    )
    assert result.frozen_inputs == (("image", (1, 4, 16, 16)),)
    dims = [d.dim_value for d in result.model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 4, 16, 16]
    # with every shape static, the first Shape folds too
    assert "axes.shape" in result.folded_nodes


def test_healthy_model_is_unchanged_and_source_untouched(sample) -> None:
    model = workbench.load_model(sample("tiny_cnn"))
    before = model.SerializeToString()
    result = workbench.fold_constants(model)
    assert not result.changed
    assert model.SerializeToString() == before


@pytest.mark.parametrize(
    ("shapes", "fragment"),
    [({"nope": [1]}, "no such input"), ({"image": [1, 4]}, "4 positive dimensions"),
     ({"image": [1, 3, 8, 8]}, "fixes at 4")],
)
def test_bad_input_shapes(sample, shapes, fragment: str) -> None:
    with pytest.raises(ModelLoadError) as info:
        workbench.fold_constants(sample("needs_constant_folding"), input_shapes=shapes)
    assert fragment in info.value.message


def test_never_overwrites(sample, tmp_path: Path) -> None:
    out = tmp_path / "folded.onnx"
    out.write_bytes(b"keep me")
    with pytest.raises(WorkbenchError, match="already exists"):
        workbench.fold_constants(sample("needs_constant_folding"), out_path=out)
    assert out.read_bytes() == b"keep me"
    workbench.fold_constants(sample("needs_constant_folding"), out_path=out, overwrite=True)
    assert out.read_bytes() != b"keep me"
    assert [p.name for p in tmp_path.iterdir()] == ["folded.onnx"]  # no temp files left
