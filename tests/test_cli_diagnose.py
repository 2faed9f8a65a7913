"""trt-workbench diagnose: exit codes, readable text and JSON (real TensorRT-RTX)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.triage.diagnosis import ParseReport


def test_clean_model_exits_0(sample, capsys) -> None:
    assert main(["diagnose", str(sample("tiny_cnn"))]) == 0
    assert "parses cleanly" in capsys.readouterr().out


def test_failing_model_exits_1_with_node_cause_fixes_islands(sample, capsys) -> None:
    assert main(["diagnose", str(sample("unsupported_op"))]) == 1
    out = capsys.readouterr().out
    assert "does NOT parse" in out
    assert "node 2 'fancy_activation' (com.example.custom::FancyActivation)" in out
    assert "cause: TensorRT has no built-in layer" in out
    assert "fix 2: write a TensorRT plugin" in out
    assert "UNSUPPORTED node 2 (fancy_activation)" in out


def test_corrupt_file_exits_1(sample, capsys) -> None:
    assert main(["diagnose", str(sample("truncated"))]) == 1
    out = capsys.readouterr().out
    assert "[invalid_model]" in out and "not a valid ONNX model" in out


def test_missing_file_exits_1(tmp_path: Path, capsys) -> None:
    assert main(["diagnose", str(tmp_path / "nope.onnx")]) == 1
    assert "Model file not found" in capsys.readouterr().err


def test_usage_error_exits_2(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["diagnose"])
    assert info.value.code == 2


def test_json_output_round_trips(sample, capsys) -> None:
    assert main(["diagnose", str(sample("ml_domain_classifier")), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False
    report = ParseReport.from_dict(data)
    assert report.issues[0].category == "ml_domain"


def test_fold_and_reduce(sample, tmp_path: Path, capsys) -> None:
    folded, reduced = tmp_path / "folded.onnx", tmp_path / "min.onnx"
    code = main([
        "diagnose", str(sample("needs_constant_folding")), "--fold", str(folded),
        "--reduce", str(reduced), "--json",
    ])
    assert code == 0  # the folded model parses
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False
    assert data["fold"]["report"]["ok"] is True
    assert data["reduce"]["node_names"] == ["mean_over_width"]
    assert folded.is_file() and reduced.is_file()
    assert main(["diagnose", str(folded)]) == 0


def test_bad_shape_flag_exits_1(sample, tmp_path: Path, capsys) -> None:
    code = main(["diagnose", str(sample("needs_constant_folding")), "--fold",
                 str(tmp_path / "f.onnx"), "--shape", "image=1xZ"])
    assert code == 1
    assert "Cannot read --shape" in capsys.readouterr().err


def test_fold_with_a_frozen_value_removes_the_if(realistic, tmp_path: Path, capsys) -> None:
    import onnx

    folded = tmp_path / "vad_8k.onnx"
    code = main(["diagnose", str(realistic("if_switch")), "--fold", str(folded),
                 "--value", "sr=8000", "--json"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["fold"]["report"]["ok"] is True
    graph = onnx.load(folded).graph
    assert "If" not in [n.op_type for n in graph.node] and "sr" not in [i.name for i in graph.input]
    assert main(["diagnose", str(realistic("if_switch")), "--fold", str(tmp_path / "x.onnx"),
                 "--value", "sr=eight"]) == 1
    assert "Cannot read --value" in capsys.readouterr().err
