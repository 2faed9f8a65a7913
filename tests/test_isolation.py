"""The parser-crash probe runs once per model and process, and only for what is new."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import workbench
from workbench.backends.trt import isolation


@pytest.fixture()
def fresh_model(tmp_path: Path, sample) -> Path:
    path = tmp_path / "model.onnx"  # a new path: no probe verdict cached for it yet
    shutil.copy(sample("resnet_block"), path)
    return path


@pytest.fixture()
def probes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """Records the parser calls of every probe started (the real probe still runs)."""
    started: list[tuple[str, ...]] = []
    real = isolation.ParserProbe

    class Counting(real):  # type: ignore[misc, valid-type]
        def __init__(self, model_file, checks):  # type: ignore[no-untyped-def]
            started.append(tuple(checks))
            super().__init__(model_file, checks)

    monkeypatch.setattr(isolation, "ParserProbe", Counting)
    monkeypatch.delenv("WORKBENCH_ISOLATE_PARSER", raising=False)
    return started


def test_build_after_diagnose_reuses_the_verdict(fresh_model: Path, probes: list) -> None:
    assert workbench.diagnose(fresh_model)
    workbench.build_engine(fresh_model)
    assert probes == [("parse", "supports_model_v2")]


def test_diagnose_after_build_probes_what_is_new(fresh_model: Path, probes: list) -> None:
    workbench.build_engine(fresh_model)
    assert workbench.diagnose(fresh_model)
    workbench.build_engine(fresh_model)
    assert probes == [("parse",), ("parse", "supports_model_v2")]


def test_a_changed_file_is_probed_again(fresh_model: Path, probes: list) -> None:
    workbench.build_engine(fresh_model)
    fresh_model.write_bytes(fresh_model.read_bytes())  # same bytes, new mtime
    stat = fresh_model.stat()
    os.utime(fresh_model, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    workbench.build_engine(fresh_model)
    assert probes == [("parse",), ("parse",)]
