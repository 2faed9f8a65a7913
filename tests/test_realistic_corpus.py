"""The realistic corpus (sample_models/realistic.py): every model is valid ONNX that ONNX
Runtime runs, and the registry's record of what TensorRT does with it holds for real."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from sample_models.realistic import (
    GPT_LADDER,
    REALISTIC,
    GptShape,
    gpt_like,
    gpt_param_bytes,
    make_big_gpt,
    realistic_model,
    remove_model,
)

NAMES = [entry.name for entry in REALISTIC]


def hand_feeds(path: Path, batch: int = 2, size: int = 64) -> dict[str, np.ndarray]:
    """Feeds written by hand from the registry (not by the workbench's generator)."""
    import onnxruntime as ort

    entry = realistic_model(path.stem)
    ranges = {name: (low, high) for name, low, high in entry.index_ranges}
    rng = np.random.default_rng(0)
    feeds = {}
    for spec in ort.InferenceSession(str(path)).get_inputs():
        shape = [d if isinstance(d, int) else (batch if axis == 0 else size)
                 for axis, d in enumerate(spec.shape)]
        if spec.name == "state":  # [2, batch, 16]: the batch is on axis 1
            shape = [2, batch, 16]
        if spec.type == "tensor(float)":
            feeds[spec.name] = rng.standard_normal(shape).astype(np.float32)
        elif spec.name == "attention_mask":
            feeds[spec.name] = np.ones(shape, np.int64)
        elif spec.name == "sr":
            feeds[spec.name] = np.array(16000, np.int64)
        else:
            low, high = ranges[spec.name]
            feeds[spec.name] = rng.integers(low, high, shape).astype(np.int64)
    return feeds


@pytest.mark.parametrize("name", NAMES)
def test_corpus_model_is_valid_small_and_runs(realistic, name: str) -> None:
    import onnxruntime as ort

    path = realistic(name)
    assert path.stat().st_size < 2 * 1024 * 1024
    onnx.checker.check_model(onnx.load(path), full_check=True)
    outputs = ort.InferenceSession(str(path)).run(None, hand_feeds(path))
    for value in outputs:
        assert np.isfinite(value).all()


def test_token_type_ids_outside_the_embedding_fail_in_onnx_runtime(realistic) -> None:
    """The failure users saw: token_type_ids of 0–9 stop at the 2-row embedding Gather."""
    import onnxruntime as ort

    path = realistic("bert_like")
    feeds = hand_feeds(path)
    feeds["token_type_ids"][0, 0] = 3
    with pytest.raises(Exception, match=r"idx=3 must be within the inclusive range \[-2,1\]"):
        ort.InferenceSession(str(path)).run(None, feeds)


def test_detector_needs_multiples_of_32(realistic) -> None:
    import onnxruntime as ort

    session = ort.InferenceSession(str(realistic("paddle_detector")))
    ok = session.run(None, {"x": np.zeros((1, 3, 64, 96), np.float32)})[0]
    assert ok.shape == (1, 1, 64, 96)
    with pytest.raises(Exception, match="broadcast"):
        session.run(None, {"x": np.zeros((1, 3, 48, 48), np.float32)})


def test_detector_is_paddle_shaped(realistic) -> None:
    model = onnx.load(realistic("paddle_detector"))
    assert not model.graph.initializer, "Paddle exports hold weights in Constant nodes"
    dims = [d.dim_param for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["p2o.DynamicDimension.0", "", "p2o.DynamicDimension.1",
                    "p2o.DynamicDimension.2"]
    variances = [onnx.numpy_helper.to_array(node.attribute[0].t) for node in model.graph.node
                 if node.op_type == "Constant"]
    assert max(float(v.max()) for v in variances if v.size) > 65504


def test_quantized_model_has_the_integer_ops(realistic) -> None:
    ops = {node.op_type for node in onnx.load(realistic("quantized_dynamic")).graph.node}
    assert {"DynamicQuantizeLinear", "MatMulInteger", "ConvInteger"} <= ops


@pytest.mark.parametrize("name", NAMES)
def test_registry_records_what_the_parser_does(realistic, name: str) -> None:
    """TensorRT-RTX's parser, for real, as the registry says (the default build is checked
    through the panel in test_ui_realistic.py)."""
    from workbench import diagnose

    entry, path = realistic_model(name), realistic(name)
    report = diagnose(path)
    assert report.parsed is entry.parses, report
    if not entry.parses:
        assert all(entry.parse_error in issue.raw for issue in report.issues), report.issues


def test_gpt_ladder_sizes() -> None:
    millions = {name: shape.param_count() / 1e6 for name, shape in GPT_LADDER.items()}
    assert 8 < millions["gpt_10m"] < 13
    assert 100 < millions["gpt_120m"] < 140
    assert 700 < millions["gpt_770m"] < 800


def test_gpt_like_external_data_matches_the_inline_model(tmp_path: Path) -> None:
    import onnxruntime as ort

    inline = gpt_like(tmp_path / "a", layers=1, d_model=32, heads=2, vocab=50, seq=16)
    external = gpt_like(tmp_path / "b", layers=1, d_model=32, heads=2, vocab=50, seq=16,
                        external=True)
    assert (tmp_path / "b" / "gpt_like.onnx.data").stat().st_size == gpt_param_bytes(
        GptShape(1, 32, 2, 50, 16))
    feeds = {"input_ids": np.arange(10, dtype=np.int64).reshape(2, 5)}
    a = ort.InferenceSession(str(inline)).run(None, feeds)[0]
    b = ort.InferenceSession(str(external)).run(None, feeds)[0]
    np.testing.assert_array_equal(a, b)


def test_big_gpt_is_over_2_gib_without_holding_it(tmp_path: Path) -> None:
    """The over-2-GiB generator writes external data (sparse zeros) with a tiny proto."""
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    path = make_big_gpt(tmp_path)
    try:
        grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        data = path.with_name(path.name + ".data")
        assert data.stat().st_size > 2.2 * 2**30
        assert path.stat().st_size < 8 * 1024 * 1024
        assert grown_mib < 512, f"writing grew peak RSS by {grown_mib:.0f} MiB"
        model = onnx.load(path, load_external_data=False)
        assert len({t.external_data[0].value for t in model.graph.initializer
                    if t.data_location == onnx.TensorProto.EXTERNAL}) == 1
    finally:
        remove_model(path)
    assert not path.exists()
