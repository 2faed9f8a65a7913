"""`trt-workbench inspect`: every sample, the clear error on broken ones, exit codes 0/1/2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.cli import main

ROOT = Path(__file__).resolve().parent.parent
VALID = (
    "tiny_cnn", "mlp_dynamic_batch", "resnet_block", "transformer_block", "fp16_overflow",
    "external_weights",
    # valid ONNX that TensorRT rejects: inspection must still work on them
    "unsupported_op", "ml_domain_classifier", "needs_constant_folding",
)
BROKEN = {
    "truncated": "is not a valid ONNX model: the protobuf cannot be decoded",
    "missing_external_data": "external data file 'missing_external_data.data' is missing",
    "hostile_external_data": "points at external data outside the model folder",
}


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["inspect", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name", VALID)
def test_valid_samples_exit_0(sample, capsys: pytest.CaptureFixture[str], name: str) -> None:
    code, out, err = run_cli(capsys, str(sample(name)))
    assert code == 0, err
    assert err == ""
    assert out.startswith(f"Model {name} — ")
    for heading in ("Inputs", "Outputs", "Operators", "  parameters "):
        assert heading in out


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_samples_exit_1(sample, capsys: pytest.CaptureFixture[str], name: str) -> None:
    code, out, err = run_cli(capsys, str(sample(name)))
    assert code == 1
    assert out == ""
    assert err.startswith("error: ")
    assert BROKEN[name] in err
    assert "expected:" in err and "found:" in err and "what to do:" in err


def test_summary_text(sample, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, str(sample("mlp_dynamic_batch")))
    assert code == 0
    assert "  features  float32  [batch, 64]" in out
    assert "  probabilities  float32  [batch, 10]" in out
    assert "9,610 (37.5 KiB) in 4 initializers" in out
    assert "batch = features[0]" in out
    assert "Layers" not in out and "Inferred intermediate shapes" not in out


def test_layers_table(sample, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, str(sample("tiny_cnn")), "--layers")
    assert code == 0
    layers = out.split("\nLayers\n", 1)[1].splitlines()
    assert layers[0].split() == ["#", "name", "op", "inputs", "outputs", "attributes"]
    assert len(layers) == 1 + 8
    assert layers[3].split() == ["2", "pool1", "MaxPool", "r1", "p1", "kernel_shape=[2,",
                                 "2],", "strides=[2,", "2]"]


def test_shapes_table(sample, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, str(sample("unsupported_op")), "--shapes")
    assert code == 0
    shapes = out.split("\nInferred intermediate shapes\n", 1)[1]
    assert "  r       float32  [1, 8, 16, 16]" in shapes
    assert "  f       ?        ? (not inferred)" in shapes
    assert "untyped from node 'fancy_activation' (com.example.custom::FancyActivation)" in out


def test_json_is_the_full_summary(sample, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, str(sample("transformer_block")), "--json")
    assert code == 0
    data = json.loads(out)
    assert data["inputs"] == [{"name": "token_ids", "dtype": "int64",
                               "shape": ["batch", "sequence"]}]
    assert data["parameter_count"] == 82443
    assert len(data["nodes"]) == 29
    assert data["op_histogram"]["MatMul"] == 8
    assert len(data["shape_inference"]["tensors"]) == 28


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["inspect"], ["inspect", "a.onnx", "--no-such-flag"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
        assert "usage: trt-workbench" in capsys.readouterr().err


def test_missing_file_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, str(tmp_path / "nope.onnx"))
    assert code == 1
    assert "error: Model file not found" in err


def test_console_script(sample) -> None:
    script = Path(sys.executable).parent / "trt-workbench"
    assert script.exists(), "console script missing: pip install -e ."
    ok = subprocess.run([str(script), "inspect", str(sample("tiny_cnn"))],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "  input  float32  [1, 3, 32, 32]" in ok.stdout
    bad = subprocess.run([str(script), "inspect", str(sample("truncated"))],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1
    assert "truncated.onnx is not a valid ONNX model" in bad.stderr
    usage = subprocess.run([str(script), "inspect"], capture_output=True, text=True, timeout=120)
    assert usage.returncode == 2
