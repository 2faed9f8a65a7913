"""Regression tests: each input below was found by the fuzzer (minimized by hand) and once
escaped as an exception other than WorkbenchError, or killed the process."""

from __future__ import annotations

import json
import math
from pathlib import Path

import onnx
import pytest

from workbench.backends.trt.build import build_engine
from workbench.backends.trt.parse import diagnose
from workbench.core.errors import BuildError, BuildSettingsError, ModelLoadError
from workbench.inspection.loading import load_model
from workbench.inspection.summary import inspect_model
from workbench.settings.settings import BuildSettings, ShapeProfile

pytestmark = pytest.mark.fuzz


def _flipped(sample, name: str, flips: list[tuple[int, int]]) -> bytes:
    data = bytearray(sample(name).read_bytes())
    for offset, mask in flips:
        data[offset] ^= mask
    return bytes(data)


def test_parser_segfault_on_one_flipped_bit_is_contained(sample, tmp_path: Path) -> None:
    """unsupported_op.onnx with bit 3 of byte 56 flipped: the Conv node loses its output.
    TensorRT-RTX 1.7.1's parser segfaults on any node without outputs (parse,
    parse_from_file, supports_model_v2); diagnose and build_engine used to die with it."""
    path = tmp_path / "flipped.onnx"
    path.write_bytes(_flipped(sample, "unsupported_op", [(56, 8)]))
    assert not onnx.load(path).graph.node[0].output
    report = diagnose(path)
    assert not report and report.flavour == ""
    assert "TensorRT's ONNX parser crashed" in report.issues[0].cause
    assert "SIGSEGV" in report.issues[0].raw
    with pytest.raises(ModelLoadError, match="parser crashed"):
        build_engine(path)
    assert diagnose(sample("unsupported_op")).categories  # and a valid model still parses


def test_node_without_outputs_as_bytes(sample) -> None:
    model = onnx.load(sample("tiny_cnn"))
    del model.graph.node[2].output[:]
    report = diagnose(model.SerializeToString())
    assert not report and "crashed" in report.issues[0].cause


@pytest.mark.parametrize(("name", "old", "new"), [
    ("ml_domain_classifier", b"LinearClassifier", b"Line\xc5\x11Classifier"),  # op_type
    ("tiny_cnn", b"conv1.w", b"\xc1\xcbnv1.w"),  # an initializer name
])
def test_names_that_are_not_utf8(sample, name: str, old: bytes, new: bytes) -> None:
    """protobuf hands invalid UTF-8 in proto2 strings back as bytes; diagnose then raised
    UnicodeDecodeError (from TensorRT's error text and from onnx.helper)."""
    data = sample(name).read_bytes().replace(old, new, 1)
    for call in (load_model, inspect_model):
        with pytest.raises(ModelLoadError, match="not UTF-8 text"):
            call(data)
    report = diagnose(data)
    assert not report and "not UTF-8" in report.issues[0].cause


@pytest.mark.parametrize("field", ["ir_version", "opset"])
def test_versions_beyond_int32(sample, field: str) -> None:
    """inspect_model raised TypeError from onnx's CheckerContext (an int32 field)."""
    model = onnx.load(sample("tiny_cnn"))
    if field == "ir_version":
        model.ir_version = 2**40
    else:
        model.opset_import[0].version = 2**31
    summary = inspect_model(model.SerializeToString())
    assert summary.checker_problems  # reported inside the summary, not raised


def test_undefined_element_type(sample, tmp_path: Path) -> None:
    """An input of elem_type 999: diagnose and build_engine raised ValueError('Enum
    DataType has no name defined for value 999')."""
    for name in ("unsupported_op", "tiny_cnn"):
        model = onnx.load(sample(name))
        model.graph.input[0].type.tensor_type.elem_type = 999
        path = tmp_path / f"{name}_999.onnx"
        path.write_bytes(model.SerializeToString())
        report = diagnose(path)
        assert not report and "999" in report.text()
        with pytest.raises(BuildError, match="could not parse"):
            build_engine(path)


@pytest.mark.parametrize("data", [
    {"keep_fp32": True},
    {"workspace_mib": ""},
    {"workspace_mib": ["verbose"]},
    {"optimization_level": "7.5"},
    {"optimization_level": math.nan},
    {"compute_capabilities": -2147483648},
    {"profiles": 3},
    {"profiles": [[{"input": "x", "min": ["x"], "opt": [1], "max": [1]}]]},
    {"profiles": [[{"input": "x", "min": [None], "opt": [1], "max": [1]}]]},
    {"profiles": [["not a mapping"]]},
    {"precision": "fp16", "keep_fp32": "rms.square"},
    {"version_compatible": math.nan},  # truthy: would have turned the flag on
    {"refit": "false"},
    {"timing_cache": math.nan},  # build_engine's os.path.isfile(nan) raised TypeError
])
def test_settings_of_the_wrong_type(data: dict) -> None:
    """BuildSettings.from_dict raised TypeError / ValueError on these."""
    with pytest.raises(BuildSettingsError, match=r"wrong type|Unknown"):
        BuildSettings.from_dict(data)


def test_shape_profile_with_fractional_dims() -> None:
    with pytest.raises(BuildSettingsError, match="wrong type"):
        ShapeProfile("x", (1.5,), (2,), (3,))
    assert ShapeProfile("x", (1.0,), ("2",), (3,)).min == (1,)  # whole numbers still pass


def test_card_with_non_text_compute_capabilities(sample, tmp_path: Path) -> None:
    """A card whose compute_capabilities held a list made load_engine raise TypeError
    (joining them into the explanation)."""
    from workbench.backends.trt.runtime.engine import load_engine
    from workbench.engines.card import card_path_for, save_engine

    artifact = build_engine(sample("mlp_dynamic_batch"))
    path = save_engine(artifact, tmp_path / "mlp.engine")
    card = json.loads(card_path_for(path).read_text())
    card["compute_capabilities"] = [[{}]]
    card_path_for(path).write_text(json.dumps(card))
    loaded = load_engine(path)
    assert "[{}]" in loaded.explanation and not loaded.deserialized
