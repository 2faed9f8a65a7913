"""Save/load round trips, never overwriting, and every kind of bad engine file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.backends.trt.compat import backend_info
from workbench.backends.trt.runtime.engine import load_engine
from workbench.core.errors import EngineLoadError, EngineSaveError
from workbench.engines.card import EngineCard, card_path_for, save_engine


def test_card_json_round_trip(artifact) -> None:
    card = artifact.card
    assert EngineCard.from_dict(json.loads(card.to_json())) == card


def test_save_writes_plan_and_card_and_nothing_else(artifact, saved: Path) -> None:
    assert saved.read_bytes() == artifact.plan
    card = json.loads(card_path_for(saved).read_text())
    assert card["plan_sha256"] == artifact.card.plan_sha256
    assert card["profiles"][0][0]["input"] == "features"
    assert sorted(p.name for p in saved.parent.iterdir()) == ["mlp.engine", "mlp.engine.json"]


def test_never_overwrites(artifact, saved: Path) -> None:
    before = saved.read_bytes()
    card_path_for(saved).write_text("{}")
    with pytest.raises(EngineSaveError, match="already exists"):
        save_engine(artifact, saved)
    assert saved.read_bytes() == before and card_path_for(saved).read_text() == "{}"
    lone = saved.with_name("lone.engine")
    card_path_for(lone).write_text("mine")  # only the card exists: still refused
    with pytest.raises(EngineSaveError):
        save_engine(artifact, lone)
    assert not lone.exists() and card_path_for(lone).read_text() == "mine"
    save_engine(artifact, saved, overwrite=True)
    assert json.loads(card_path_for(saved).read_text())["plan_size"] == len(before)
    assert sorted(p.name for p in saved.parent.iterdir()) == [
        "lone.engine.json", "mlp.engine", "mlp.engine.json"]  # no temp files left


def test_missing_folder_is_a_save_error(artifact, tmp_path: Path) -> None:
    with pytest.raises(EngineSaveError, match="does not exist"):
        save_engine(artifact, tmp_path / "nope" / "x.engine")


def test_load_round_trip_explains_what_needs_a_gpu(artifact, saved: Path) -> None:
    loaded = load_engine(saved)
    assert loaded.plan_sha256 == artifact.card.plan_sha256 and loaded.card == artifact.card
    assert "for compute capability 8.9" in loaded.explanation
    assert not loaded.host_code_allowed
    assert loaded.layers and loaded.layers_source == "build_log"
    if not backend_info().gpu_present:
        assert "and no GPU" in loaded.explanation and not loaded.deserialized
        # RTX's header check itself needs a GPU: no verdict, and it says why
        assert loaded.validity == "unchecked"
        assert loaded.validity_reasons == ("cannot be checked without a GPU",)


def test_mismatched_version_and_flavour_are_explained(saved: Path) -> None:
    card_file = card_path_for(saved)
    card = json.loads(card_file.read_text())
    card.update(flavour="tensorrt", trt_version="10.16.0.32")
    card_file.write_text(json.dumps(card))
    loaded = load_engine(saved)
    assert loaded.explanation.startswith("built with TensorRT 10.16.0 for compute capability 8.9;")
    assert f"this machine has {backend_info().label}" in loaded.explanation
    assert any(m.startswith("flavour:") for m in loaded.mismatches)
    card.update(flavour=backend_info().flavour, trt_version="0.9.0")
    card_file.write_text(json.dumps(card))
    assert any(m.startswith("version:") for m in load_engine(saved).mismatches)


def test_wrong_sha_in_card_is_an_error(saved: Path) -> None:
    card_file = card_path_for(saved)
    card = json.loads(card_file.read_text())
    card["plan_sha256"] = "0" * 64
    card_file.write_text(json.dumps(card))
    with pytest.raises(EngineLoadError, match="SHA-256") as info:
        load_engine(saved)
    assert "0" * 64 in info.value.message


def test_missing_card_warns_but_loads(saved: Path) -> None:
    card_path_for(saved).unlink()
    with pytest.warns(UserWarning, match="no engine card"):
        loaded = load_engine(saved)
    assert loaded.card is None and loaded.warnings
    assert "(from the plan header; no card)" in loaded.explanation


def test_malformed_card(saved: Path) -> None:
    card_path_for(saved).write_text("{not json")
    with pytest.raises(EngineLoadError, match="card"):
        load_engine(saved)


def _corrupt_middle(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes(b ^ 0xFF for b in data[middle:middle + 64]) + data[middle + 64:]


@pytest.mark.parametrize(("name", "mutate", "fragment"), [
    ("empty", lambda d: b"", "empty"),
    ("truncated", lambda d: d[: len(d) // 2], "truncated"),
    ("tiny", lambda d: d[:10], "not a TensorRT engine"),
    ("magic", lambda d: d[:1] + b"X" + d[2:], "not a TensorRT engine"),
    ("size", lambda d: d[:16] + b"\xff" * 8 + d[24:], "truncated"),
])
def test_bad_engine_files_without_card(saved: Path, name: str, mutate, fragment: str) -> None:
    bad = saved.with_name(f"{name}.engine")
    bad.write_bytes(mutate(saved.read_bytes()))
    card_path_for(saved).unlink()
    with pytest.raises(EngineLoadError, match=fragment):
        load_engine(bad)


def test_corrupt_bytes_are_caught_by_the_card(saved: Path) -> None:
    saved.write_bytes(_corrupt_middle(saved.read_bytes()))
    with pytest.raises(EngineLoadError, match="SHA-256"):
        load_engine(saved)


def test_foreign_file_renamed_engine(sample, tmp_path: Path) -> None:
    fake = tmp_path / "model.engine"
    fake.write_bytes(sample("tiny_cnn").read_bytes())
    with pytest.raises(EngineLoadError, match="ONNX model"):
        load_engine(fake)
    with pytest.raises(EngineLoadError, match="not found"):
        load_engine(tmp_path / "absent.engine")


def test_header_version_is_read_without_a_card(saved: Path) -> None:
    card_path_for(saved).unlink()
    data = bytearray(saved.read_bytes())
    data[24:27] = bytes([9, 8, 7])  # the RTX header's version bytes
    saved.write_bytes(bytes(data))
    with pytest.warns(UserWarning):
        loaded = load_engine(saved)
    assert any("9.8.7" in m for m in loaded.mismatches)
    assert "built with TensorRT-RTX 9.8.7" in loaded.explanation


def test_deserialize_needs_a_gpu(saved: Path) -> None:
    if not backend_info().gpu_present:
        pytest.skip("needs an NVIDIA GPU: engines deserialize only on a GPU")
    loaded = load_engine(saved)
    assert loaded.deserialized or loaded.mismatches
