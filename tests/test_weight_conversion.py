"""Weights converted once, at memory speed, with the same bits as before (issue 28).

- ONNX Runtime's Cast (``cast_array``) gives NumPy's bits, specials included;
- the one-pass ``round_to`` gives what the plain rule (clamp, count, keep tiny values,
  cast) gives, on tensors built to hit every branch;
- a file with large inline weights is read in place (its weights become references into
  its own bytes) and compares exactly as the staged copy did;
- a second comparison of the same file converts no weight and runs no FP32 session, and a
  changed file is converted again.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from workbench.app.precision import compare_cache
from workbench.app.precision.compare import compare_precision
from workbench.backends.ort import cast_array
from workbench.inspection.external_data import external_weight
from workbench.inspection.inline_weights import inline_as_external
from workbench.transforms import external
from workbench.transforms.precision.values import FP16_MAX, round_to

SPECIALS = np.array([0.0, -0.0, 1e-8, -1e-8, 2.9802322e-08, -2.9802322e-08, 3e-8, -3e-8,
                     5.9604645e-08, 6e-8, 65504, -65504, 65510, -65510, 65520, -65520, 1e9,
                     -1e9, np.inf, -np.inf, np.nan, 6.1e-5, -6.0e-5, 1 / 3, 1.0],
                    np.float32)


def _plain_rule(values: np.ndarray) -> tuple[np.ndarray, int]:
    """The rule as the workbench wrote it before issue 28 (several full passes)."""
    wide = np.asarray(values, dtype=np.float32)
    finite = np.isfinite(wide)
    over = finite & (np.abs(wide) > FP16_MAX)
    clamped = int(np.count_nonzero(over))
    if clamped:
        wide = np.where(over, np.sign(wide) * FP16_MAX, wide)
    tiny = finite & (wide != 0) & (np.abs(wide) < np.finfo(np.float16).smallest_subnormal)
    if np.any(tiny):
        wide = np.where(tiny, np.sign(wide) * np.finfo(np.float16).smallest_subnormal, wide)
    with np.errstate(over="ignore"):
        return wide.astype(np.float16), clamped


def _tensors() -> list[np.ndarray]:
    rng = np.random.default_rng(28)
    cases = []
    for size in (0, 1, 7, 20_000, 70_000):
        base = rng.standard_normal(size).astype(np.float32)
        cases.append(base)
        for special in SPECIALS:
            if size:
                case = base.copy()
                case[rng.integers(0, size)] = special
                cases.append(case)
        cases.append((rng.standard_normal(size) * 10.0 ** rng.integers(-12, 7, size))
                     .astype(np.float32))
        cases += [np.zeros(size, np.float32), -np.zeros(size, np.float32)]
    cases.append(SPECIALS.reshape(5, 5))
    return cases


def test_onnx_runtime_cast_gives_numpys_bits_both_ways() -> None:
    rng = np.random.default_rng(3)
    wide = (rng.standard_normal(50_000) * 10.0 ** rng.integers(-10, 6, 50_000)).astype(np.float32)
    wide[:SPECIALS.size] = SPECIALS
    with np.errstate(over="ignore"):
        expected = wide.astype(np.float16)
    half = cast_array(wide, np.float16)
    assert half.dtype == np.float16 and half.shape == wide.shape
    same = half.view(np.uint16) == expected.view(np.uint16)
    assert np.all(same | (np.isnan(half) & np.isnan(expected)))
    back = cast_array(expected, np.float32)
    assert np.array_equal(back, expected.astype(np.float32), equal_nan=True)


@pytest.mark.parametrize("fast", [False, True], ids=["numpy cast", "onnxruntime cast"])
def test_one_pass_rounding_matches_the_plain_rule(fast: bool) -> None:
    for values in _tensors():
        half, clamped = round_to(values, TensorProto.FLOAT16, cast_array if fast else None)
        expected, expected_clamped = _plain_rule(values)
        assert clamped == expected_clamped
        assert half.shape == values.shape
        same = half.view(np.uint16) == expected.view(np.uint16)
        assert np.all(same | (np.isnan(half) & np.isnan(expected)))


def _mlp(path: Path, hidden: int = 160) -> Path:
    rng = np.random.default_rng(5)
    w1 = (rng.standard_normal((hidden, hidden)) * 0.1).astype(np.float32)
    w1[0, :3] = [1e-9, -1e-9, 0.0]  # flushed to ±0 by a plain cast: kept as the subnormal
    w2 = (rng.standard_normal((hidden, 8)) * 0.1).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w1"], ["h"], name="fc1"),
         helper.make_node("Relu", ["h"], ["r"], name="relu"),
         helper.make_node("MatMul", ["r", "w2"], ["y"], name="fc2")],
        "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, hidden])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 8])],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2"),
         numpy_helper.from_array(np.ones(3, np.float32), "unused_small")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def test_inline_weights_are_read_in_place(tmp_path: Path) -> None:
    path = _mlp(tmp_path / "mlp.onnx")
    shell = inline_as_external(path, 1 << 16)
    assert shell is not None
    original = {t.name: numpy_helper.to_array(t) for t in onnx.load(path).graph.initializer}
    assert [t.name for t in shell.graph.initializer] == list(original)  # order kept
    by_name = {t.name: t for t in shell.graph.initializer}
    assert by_name["w1"].data_location == TensorProto.EXTERNAL  # 100 KB: in place
    assert by_name["w2"].data_location != TensorProto.EXTERNAL  # 5 KB: parsed
    assert np.array_equal(external_weight(by_name["w1"], tmp_path, mapped=True), original["w1"])
    assert {e.key: e.value for e in by_name["w1"].external_data}["location"] == "mlp.onnx"
    assert inline_as_external(path, 1 << 30) is None  # nothing that large: the ordinary load


def test_a_truncated_file_is_left_to_the_ordinary_load(tmp_path: Path) -> None:
    data = _mlp(tmp_path / "mlp.onnx").read_bytes()
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(data[: len(data) // 2])
    assert inline_as_external(cut, 1 << 10) is None


def test_in_place_staging_compares_like_the_staged_copy(tmp_path: Path, monkeypatch) -> None:
    path = _mlp(tmp_path / "mlp.onnx")
    feeds = {"x": np.random.default_rng(1).standard_normal((2, 160)).astype(np.float32)}
    compare_cache.clear()
    monkeypatch.setattr(external, "INLINE_LIMIT", 50_000)  # w1 (100 KB) is "large"
    with external.staged_model(path) as staged:
        assert staged.path == path.resolve() and staged.folder == tmp_path
        assert external.external_data_refs(staged.model)
    in_place = compare_precision(path, inputs=feeds, backend="numpy")
    monkeypatch.setattr(external, "_inline_in_place", lambda source: None)
    compare_cache.clear()
    copied = compare_precision(path, inputs=feeds, backend="numpy")
    assert in_place.to_dict()["drift"] == copied.to_dict()["drift"]
    assert in_place.to_dict()["outputs"] == copied.to_dict()["outputs"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mlp.onnx"]  # nothing written


def test_a_rerun_converts_nothing_and_runs_no_fp32_session(tmp_path: Path,
                                                          monkeypatch) -> None:
    from workbench.app.precision import compare as precision

    path = _mlp(tmp_path / "mlp.onnx")
    monkeypatch.setattr(external, "INLINE_LIMIT", 50_000)
    conversions: list[str] = []
    sessions: list[int] = []
    convert, fp32 = compare_cache._convert, precision.fp32_outputs
    monkeypatch.setattr(compare_cache, "_convert",
                        lambda t, *a: conversions.append(t.name) or convert(t, *a))
    monkeypatch.setattr(precision, "fp32_outputs",
                        lambda *a, **k: sessions.append(1) or fp32(*a, **k))
    compare_cache.clear()
    first = compare_precision(path, backend="numpy")
    again = compare_precision(path, backend="numpy", per_layer=False, keep_fp32=["fc2"])
    assert (conversions, len(sessions)) == (["w1"], 1)
    assert again.outputs.outputs[0].elements == first.outputs.outputs[0].elements
    os.utime(path, ns=(1, 1))  # the file changed (as far as anyone can tell)
    compare_precision(path, backend="numpy")
    assert (conversions, len(sessions)) == (["w1", "w1"], 2)
    compare_precision(path, backend="numpy", precision="bf16")
    assert conversions == ["w1", "w1", "w1"]  # another precision, another conversion
    compare_cache.clear()


def test_the_mask_fix_after_a_comparison_runs_one_fp32_session(realistic, tmp_path,
                                                               monkeypatch) -> None:
    """Before the clamp: the comparison's FP32 answer; after it: one session, whose answer
    the clamped copy's comparison then reuses."""
    from workbench.app.precision import compare as precision
    from workbench.app.precision import mask_fix
    from workbench.app.precision.mask_fix import verify_mask_clamp

    model = realistic("gpt_like")
    sessions: list[str] = []
    fp32 = precision.fp32_outputs

    def counted(source, feeds, **options):  # type: ignore[no-untyped-def]
        sessions.append(str(source))
        return fp32(source, feeds, **options)

    monkeypatch.setattr(precision, "fp32_outputs", counted)
    monkeypatch.setattr(mask_fix, "fp32_outputs", counted)
    compare_cache.clear()
    report = compare_precision(model, backend="numpy")
    assert report.mask_constants and len(sessions) == 1
    fixed = verify_mask_clamp(model, out_path=tmp_path / "clamped.onnx", backend="numpy")
    assert fixed.verified and len(sessions) == 2  # only the clamped copy's FP32 run
    assert sessions[1] == str((tmp_path / "clamped.onnx").resolve())
    compare_cache.clear()


def test_the_mask_fix_converts_none_of_the_weights_the_clamp_left(realistic, tmp_path,
                                                                  monkeypatch) -> None:
    """The clamped copy holds the original's weight bytes (save_staged copied them): its
    comparison takes the original's converted weights instead of converting them again,
    and gives the same report as a comparison that converted them."""
    from onnx.external_data_helper import set_external_data

    from workbench.app.precision.mask_fix import verify_mask_clamp

    model = onnx.load(realistic("gpt_like"))
    for tensor in model.graph.initializer:  # the weights external, the masks inline
        if tensor.data_type == TensorProto.FLOAT and tensor.dims:
            set_external_data(tensor, "gpt.data")
    onnx.save(model, tmp_path / "gpt.onnx")
    external_weights = sum(t.data_location == TensorProto.EXTERNAL
                           for t in onnx.load(tmp_path / "gpt.onnx",
                                              load_external_data=False).graph.initializer)
    conversions: list[str] = []
    convert = compare_cache._convert
    monkeypatch.setattr(compare_cache, "_convert",
                        lambda t, *a: conversions.append(t.name) or convert(t, *a))
    compare_cache.clear()
    assert compare_precision(tmp_path / "gpt.onnx", backend="numpy").mask_constants
    assert len(conversions) == external_weights > 10
    fixed = verify_mask_clamp(tmp_path / "gpt.onnx", out_path=tmp_path / "clamped.onnx",
                              backend="numpy")
    assert fixed.verified and len(conversions) == external_weights  # none again
    compare_cache.clear()  # the same comparison of the copy, converting every weight
    fresh = compare_precision(tmp_path / "clamped.onnx", backend="numpy")
    assert len(conversions) == 2 * external_weights
    assert fresh.to_dict()["drift"] == fixed.after.to_dict()["drift"]
    assert fresh.to_dict()["outputs"] == fixed.after.to_dict()["outputs"]
    compare_cache.clear()
