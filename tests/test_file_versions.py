"""A rebuild of an unchanged file reuses its validation and SHA-256 (per file version);
a changed file is validated and hashed again. Real TensorRT-RTX builds."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import workbench.backends.trt.build as build_module
from workbench.backends.trt.build import build_engine
from workbench.backends.trt.file_versions import known_version, version_key
from workbench.build.engines import sha256_hex
from workbench.core.errors import ModelLoadError
from workbench.inspection.loading import read_model_file


def test_a_rebuild_reuses_validation_and_hash(tmp_path: Path, sample,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "mlp.onnx"
    shutil.copyfile(sample("mlp_dynamic_batch"), path)
    first = build_engine(path)
    key = version_key(read_model_file(path))
    known = known_version(key)
    assert known is not None and known.sha256 == first.card.onnx_sha256 == sha256_hex(
        path.read_bytes())
    assert known.graph.ByteSize() <= path.stat().st_size  # never more than the file

    calls: list[str] = []
    real_load = build_module.load_model_file
    monkeypatch.setattr(build_module, "load_model_file",
                        lambda *a, **k: calls.append("validate") or real_load(*a, **k))
    second = build_engine(path)
    assert calls == [] and second.card.onnx_sha256 == first.card.onnx_sha256

    # a new version of the file (other bytes, another mtime) is validated and hashed again
    path.write_bytes(path.read_bytes()[:100])
    os.utime(path, ns=(1, 1))
    with pytest.raises(ModelLoadError):
        build_engine(path)
    assert calls == ["validate"]
