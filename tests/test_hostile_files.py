"""Hostile files: external data that escapes the model folder or lies about its size, a
3 GiB model, engines whose card lies, engines and host code, empty and foreign engines.

Each case is refused with a message that says what was wrong (asserted on its text), or,
for engines that merely do not fit this machine, explained in ``mismatches``.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import sys
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from workbench.backends.trt import compat
from workbench.backends.trt.build import build_engine
from workbench.backends.trt.parse import diagnose
from workbench.backends.trt.runtime.engine import _deserialize, load_engine
from workbench.core.errors import EngineLoadError, ModelLoadError
from workbench.engines.card import card_path_for
from workbench.inspection.loading import load_model
from workbench.inspection.summary import inspect_model

sys.path.insert(0, str(Path(__file__).resolve().parent / "fuzz"))
from hostile_cases import HOSTILE_CASES, HostileCase, run_hostile_case

OUTSIDE = "outside the model folder"


def _with_location(sample, folder: Path, location: str, length: int | None = None) -> Path:
    """external_weights.onnx copied into ``folder`` with every tensor pointing at
    ``location`` (and its data file copied beside it)."""
    model = onnx.load(sample("external_weights"), load_external_data=False)
    for tensor in model.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = location
            if entry.key == "length" and length is not None:
                entry.value = str(length)
    shutil.copy(sample("external_weights").with_suffix(".data"), folder)
    path = folder / "model.onnx"
    path.write_bytes(model.SerializeToString())
    return path


def _refused_everywhere(path: Path, fragment: str) -> None:
    """load_model, inspect_model and build_engine raise; diagnose gives a falsy report."""
    for call in (load_model, inspect_model, build_engine):
        with pytest.raises(ModelLoadError, match=fragment):
            call(path)
    report = diagnose(path)
    assert not report and report.flavour == "" and fragment in report.issues[0].raw


@pytest.fixture()
def secret(tmp_path: Path) -> Path:
    target = tmp_path / "elsewhere" / "secret.bin"
    target.parent.mkdir()
    target.write_bytes(b"s3cret" * 2000)
    return target


def test_absolute_external_data_path_is_refused(sample, tmp_path: Path, secret: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    path = _with_location(sample, folder, str(secret))
    _refused_everywhere(path, OUTSIDE)
    with pytest.raises(ModelLoadError, match="an absolute or empty location"):
        load_model(path)


def test_dotdot_external_data_path_is_refused(sample, tmp_path: Path, secret: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    path = _with_location(sample, folder, "../elsewhere/secret.bin")
    _refused_everywhere(path, OUTSIDE)
    with pytest.raises(ModelLoadError, match=r"via '\.\.' or a symbolic link"):
        inspect_model(path)


def test_symlink_pointing_out_is_refused(sample, tmp_path: Path, secret: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "weights.bin").symlink_to(secret)
    path = _with_location(sample, folder, "weights.bin")
    _refused_everywhere(path, OUTSIDE)
    with pytest.raises(ModelLoadError, match=str(secret.resolve())):
        load_model(path)  # the message names where the link really points


def test_nul_byte_in_location_is_refused(sample, tmp_path: Path) -> None:
    # Found by fuzzing: os.path.realpath raised ValueError("embedded null byte").
    path = _with_location(sample, tmp_path, "external_weights.data\x00.txt")
    _refused_everywhere(path, OUTSIDE)


def test_external_data_larger_than_the_file(sample, tmp_path: Path) -> None:
    path = _with_location(sample, tmp_path, "external_weights.data", length=10**9)
    _refused_everywhere(path, "runs past the end")
    with pytest.raises(ModelLoadError, match="a file of 9216 bytes"):
        load_model(path, load_weights=False)


def _rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _three_gib_model(folder: Path) -> Path:
    """A model whose one weight is 3 GiB of external data in a sparse file."""
    count = 3 * 2**30 // 4
    weight = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[count],
                         data_location=TensorProto.EXTERNAL)
    for key, value in (("location", "big.data"), ("offset", "0"), ("length", str(count * 4))):
        weight.external_data.add(key=key, value=value)
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "w"], ["y"], name="add")], "three_gib",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [count])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [count])], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = folder / "big.onnx"
    path.write_bytes(model.SerializeToString())
    with open(folder / "big.data", "wb") as data:
        data.truncate(count * 4)  # sparse: no disk blocks, no memory
    return path


def test_three_gib_model_is_inspected_by_path_without_loading(tmp_path: Path) -> None:
    path = _three_gib_model(tmp_path)
    before = _rss_mib()
    summary = inspect_model(path)
    model = load_model(path, load_weights=False)
    grown = _rss_mib() - before
    assert summary.external_data_bytes == 3 * 2**30
    assert summary.parameter_count == 3 * 2**30 // 4
    assert summary.external_data_files == ("big.data",)
    assert model.graph.initializer[0].data_location == TensorProto.EXTERNAL
    assert grown < 200, f"RSS grew by {grown:.0f} MiB inspecting a 3 GiB model"


def test_three_gib_onnx_file_is_refused_before_reading(tmp_path: Path) -> None:
    # Found while hardening: the whole file was read into memory first (MemoryError under
    # a memory limit); protobuf cannot hold more than 2 GiB anyway.
    path = tmp_path / "huge.onnx"
    with open(path, "wb") as handle:
        handle.truncate(3 * 2**30)
    before = _rss_mib()
    for call in (load_model, inspect_model, diagnose, build_engine):
        with pytest.raises(ModelLoadError, match=r"3\.0 GiB: too large to be an ONNX protobuf"):
            call(path)
    assert _rss_mib() - before < 100


# -- engines -----------------------------------------------------------------------------------


def _edit_card(path: Path, **changes: object) -> None:
    card_file = card_path_for(path)
    data = json.loads(card_file.read_text())
    data.update(changes)
    card_file.write_text(json.dumps(data))


def test_card_lying_about_the_flavour(saved: Path) -> None:
    _edit_card(saved, flavour="tensorrt", trt_version="10.13.0.35")
    loaded = load_engine(saved)
    assert not loaded.can_run and not loaded.deserialized
    assert loaded.mismatches[0].startswith("flavour: built with TensorRT 10.13.0, installed")
    assert "it cannot run here (flavour" in loaded.explanation


def test_card_lying_about_the_version(saved: Path) -> None:
    _edit_card(saved, trt_version="0.9.0.1")
    loaded = load_engine(saved)
    assert not loaded.can_run
    assert loaded.mismatches[0].startswith("version: built with TensorRT-RTX 0.9.0, installed")


def test_card_lying_about_the_hash(saved: Path) -> None:
    _edit_card(saved, plan_sha256="0" * 64)
    with pytest.raises(EngineLoadError, match="the plan's SHA-256 differs") as err:
        load_engine(saved)
    assert "SHA-256 " + "0" * 64 in err.value.message


def test_card_lying_about_the_size(saved: Path) -> None:
    _edit_card(saved, plan_size=12)
    with pytest.raises(EngineLoadError, match="does not have the size its card records"):
        load_engine(saved)


def test_card_that_is_not_an_object(saved: Path) -> None:
    # Found by fuzzing: "outputs": "text" escaped as AttributeError from EngineCard.from_dict.
    _edit_card(saved, outputs="1.7.1")
    with pytest.raises(EngineLoadError, match="is unreadable") as err:
        load_engine(saved)
    assert "AttributeError" in err.value.message
    _edit_card(saved, outputs=[], settings={"precision": "int8"})
    with pytest.raises(EngineLoadError, match="Unknown precision 'int8'"):
        load_engine(saved)


class _RuntimeSpy:
    """Wraps the real TensorRT module: records every Runtime it creates."""

    def __init__(self, trt) -> None:
        self._trt = trt
        self.runtimes: list = []

    def Runtime(self, logger):  # mirrors trt.Runtime
        runtime = self._trt.Runtime(logger)
        self.runtimes.append(runtime)
        return runtime

    def __getattr__(self, name: str):
        return getattr(self._trt, name)


@pytest.mark.parametrize("trust", [False, True])
def test_host_code_is_refused_unless_trusted(artifact, saved: Path, trust: bool,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a GPU nothing deserializes; what is checked is the switch TensorRT itself
    honours (Runtime.engine_host_code_allowed) on the real runtime the loader makes."""
    loaded = load_engine(saved, trust_host_code=trust)
    assert loaded.host_code_allowed is trust
    assert load_engine(saved).host_code_allowed is False  # the default never trusts
    spy = _RuntimeSpy(compat.load_trt())
    monkeypatch.setattr(compat, "load_trt", lambda: spy)
    if compat.backend_info().gpu_present:
        pytest.skip("needs a machine without a GPU (deserialization fails there on purpose)")
    with pytest.raises(EngineLoadError, match="could not deserialize"):
        _deserialize(artifact.plan, trust, saved)
    assert [r.engine_host_code_allowed for r in spy.runtimes] == [trust]


def test_empty_engine_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.engine"
    path.write_bytes(b"")
    with pytest.raises(EngineLoadError, match=r"is empty \(0 bytes\)"):
        load_engine(path)


@pytest.mark.parametrize(("content", "kind"), [
    (b"PK\x03\x04" + bytes(100), "a zip archive"),
    (b'{"flavour": "tensorrt_rtx"}' + b" " * 64, "JSON text"),
    (b"ftr", "too small to hold even an engine header"),
    (bytes(range(256)) * 4, "unknown data"),
])
def test_foreign_engine_files(tmp_path: Path, content: bytes, kind: str) -> None:
    path = tmp_path / "foreign.engine"
    path.write_bytes(content)
    with pytest.raises(EngineLoadError, match="is not a TensorRT engine") as err:
        load_engine(path)
    assert kind in err.value.message


def test_onnx_model_renamed_to_engine(sample, tmp_path: Path) -> None:
    path = tmp_path / "model.engine"
    path.write_bytes(sample("tiny_cnn").read_bytes())
    with pytest.raises(EngineLoadError, match="looks like an ONNX model"):
        load_engine(path)


def test_truncated_engine(saved: Path) -> None:
    data = saved.read_bytes()
    saved.write_bytes(data[: len(data) // 2])
    os.remove(card_path_for(saved))  # no card: the plan header alone must catch it
    with pytest.raises(EngineLoadError, match="is truncated or padded"):
        load_engine(saved)


@pytest.mark.parametrize("case", HOSTILE_CASES, ids=lambda case: case.name)
def test_hostile_catalogue_is_refused_clearly(case: HostileCase, artifact, tmp_path: Path
                                              ) -> None:
    """The catalogue bench/reliability.py counts: each refused with expected/found/fix."""
    refused, seen = run_hostile_case(case, tmp_path, artifact)
    assert refused, f"{case.name}: {seen}"
