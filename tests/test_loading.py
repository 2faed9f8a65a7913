"""workbench.load_model: every bad input is a ModelLoadError that says what was expected,
what was found and what to do; good inputs load from a path, bytes or a ModelProto."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from workbench import ModelLoadError, load_model


def load_error(source: object) -> str:
    with pytest.raises(ModelLoadError) as info:
        load_model(source)  # type: ignore[arg-type]
    message = info.value.message
    # Every load error has the three parts users rely on.
    assert "\n  expected: " in message
    assert "\n  found:    " in message
    assert "\n  what to do: " in message
    return message


def external_model(folder: Path, location: str, data: bytes | None, length: int = 16) -> Path:
    """A one-node model whose 2x2 float weight lives at ``location``; writes ``data`` there."""
    weight = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[2, 2])
    weight.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", str(length))):
        entry = weight.external_data.add()
        entry.key, entry.value = key, value
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], "ext",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 2])], [weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    folder.mkdir(parents=True, exist_ok=True)
    if data is not None:
        (folder / location).write_bytes(data)
    path = folder / "model.onnx"
    path.write_bytes(model.SerializeToString())
    return path


# --- errors -------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    message = load_error(tmp_path / "nope.onnx")
    assert "Model file not found" in message
    assert "nope.onnx" in message
    assert "an existing .onnx file" in message
    assert "check the path" in message


def test_directory(tmp_path: Path) -> None:
    message = load_error(tmp_path)
    assert "is a folder, not a model file" in message
    assert "found:    a directory" in message
    assert "point at the .onnx file inside it" in message


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.onnx"
    path.write_bytes(b"")
    message = load_error(path)
    assert "is empty (0 bytes)" in message
    assert "found:    an empty file" in message
    assert "re-export the model" in message


def test_empty_bytes() -> None:
    assert "<model bytes> is empty (0 bytes)" in load_error(b"")


def test_text_bytes_are_not_onnx() -> None:
    message = load_error(b"hello world")
    assert "is not a valid ONNX model: the protobuf cannot be decoded" in message
    assert "11 bytes of text data starting b'hello world'" in message
    assert "torch.onnx.export" in message


def test_random_bytes_are_not_onnx() -> None:
    data = np.random.default_rng(0).bytes(4096)
    message = load_error(data)
    assert "is not a valid ONNX model" in message
    assert "4096 bytes of binary data" in message


def test_bytes_that_decode_but_hold_no_graph() -> None:
    message = load_error(b"\x08\x07")  # a valid protobuf: ir_version = 7, nothing else
    assert "decodes, but holds no ONNX graph" in message
    assert "probably not an ONNX file" in message


def test_unsupported_source_type() -> None:
    message = load_error(12345)
    assert "Cannot load a model from this kind of object" in message
    assert "found:    int" in message


def test_truncated_sample(sample) -> None:
    message = load_error(sample("truncated"))
    assert "truncated.onnx is not a valid ONNX model" in message
    assert "expected: a complete ONNX ModelProto" in message
    assert "looks truncated or corrupted" in message


def test_missing_external_data_sample(sample) -> None:
    message = load_error(sample("missing_external_data"))
    assert "external data file 'missing_external_data.data' is missing" in message
    assert "needed by tensor 'fc1.w'" in message
    assert "found:    no such file" in message
    assert "copy the .data file(s)" in message


def test_hostile_external_data_sample(sample) -> None:
    message = load_error(sample("hostile_external_data"))
    assert "outside the model folder ('../../../../etc/passwd'" in message
    assert "escapes it (via '..' or a symbolic link)" in message
    assert "refused for safety" in message


def test_absolute_location_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "weights.bin"
    target.parent.mkdir()
    target.write_bytes(bytes(16))
    message = load_error(external_model(tmp_path / "model", str(target), None))
    assert "an absolute or empty location" in message
    assert "refused for safety" in message


def test_symlink_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "secret.bin"
    outside.write_bytes(bytes(16))
    folder = tmp_path / "model"
    path = external_model(folder, "weights.data", None)
    os.symlink(outside, folder / "weights.data")
    message = load_error(path)
    assert "points at external data outside the model folder ('weights.data'" in message
    assert str(outside) in message
    assert "via '..' or a symbolic link" in message


def test_external_data_shorter_than_declared(tmp_path: Path) -> None:
    message = load_error(external_model(tmp_path, "weights.data", bytes(8), length=16))
    assert "External data of tensor 'w' runs past the end of 'weights.data'" in message
    assert "at least 16 bytes (offset 0 + length 16)" in message
    assert "found:    a file of 8 bytes" in message


def test_bytes_with_external_data_have_no_folder(sample) -> None:
    message = load_error(sample("external_weights").read_bytes())
    assert "keeps weights in external files ('external_weights.data')" in message
    assert "was given as bytes" in message
    assert "pass the .onnx file's path instead of its bytes" in message


# --- successful loads ---------------------------------------------------------------------


def test_load_from_path_bytes_and_proto(sample) -> None:
    path = sample("tiny_cnn")
    from_path = load_model(path)
    from_str = load_model(str(path))
    from_bytes = load_model(path.read_bytes())
    assert from_path == from_str == from_bytes
    assert len(from_path.graph.node) == 8
    assert load_model(from_path) is from_path


def expected_external_weights() -> dict[str, np.ndarray]:
    # make_samples.py: rng = default_rng(6); fc1.w = N(32, 64) * 0.1, then fc2.w = N(64, 4) * 0.1
    rng = np.random.default_rng(6)
    fc1 = (rng.standard_normal((32, 64)) * 0.1).astype(np.float32)
    fc2 = (rng.standard_normal((64, 4)) * 0.1).astype(np.float32)
    return {"fc1.w": fc1, "fc2.w": fc2}


def test_external_weights_loaded(sample) -> None:
    model = load_model(sample("external_weights"))
    loaded = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    expected = expected_external_weights()
    assert loaded.keys() == expected.keys()
    for name, array in expected.items():
        np.testing.assert_array_equal(loaded[name], array)
        assert loaded[name].dtype == np.float32


def test_external_weights_without_loading(sample) -> None:
    model = load_model(sample("external_weights"), load_weights=False)
    for tensor in model.graph.initializer:
        assert tensor.data_location == TensorProto.EXTERNAL
        assert tensor.raw_data == b""
        assert {e.key: e.value for e in tensor.external_data}["location"] == (
            "external_weights.data"
        )
    assert [list(t.dims) for t in model.graph.initializer] == [[32, 64], [64, 4]]


def test_loaded_model_passes_the_checker(sample) -> None:
    onnx.checker.check_model(load_model(sample("external_weights")))
