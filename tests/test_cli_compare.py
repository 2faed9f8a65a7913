"""trt-workbench run / compare, through main() as a user calls them."""

from __future__ import annotations

import json

import numpy as np

from workbench.cli import main
from workbench.feeds.inputs import load_inputs


def test_run_onnx_and_save_outputs(sample, tmp_path, capsys) -> None:
    out = tmp_path / "y.npz"
    saved = tmp_path / "x.npz"
    code = main(["run", str(sample("transformer_block")), "--seed", "3", "--dim", "sequence=5",
                 "--save-outputs", str(out), "--save-inputs", str(saved)])
    text = capsys.readouterr().out
    assert code == 0
    assert "input  token_ids: int64 [1, 5]" in text
    assert "output hidden_states: float32 [1, 5, 64]" in text
    assert load_inputs(out)["hidden_states"].shape == (1, 5, 64)
    # running again from the saved inputs gives the same outputs
    again = tmp_path / "y2.npz"
    assert main(["run", str(sample("transformer_block")), "--inputs", str(saved),
                 "--save-outputs", str(again)]) == 0
    np.testing.assert_array_equal(load_inputs(again)["hidden_states"],
                                  load_inputs(out)["hidden_states"])


def test_run_engine_without_gpu_fails_clearly(tmp_path, capsys) -> None:
    engine = tmp_path / "model.engine"
    engine.write_bytes(b"ftrt" + bytes(200))
    assert main(["run", str(engine)]) == 1
    err = capsys.readouterr().err
    assert "TensorRT engine" in err and "run the engine on a GPU machine" in err


def test_run_bad_inputs_file(sample, tmp_path, capsys) -> None:
    bad = tmp_path / "x.npz"
    bad.write_text("nope")
    assert main(["run", str(sample("tiny_cnn")), "--inputs", str(bad)]) == 1
    assert "not a readable .npz" in capsys.readouterr().err


def test_compare_fails_then_passes_with_the_suggested_list(sample, capsys) -> None:
    model = str(sample("fp16_overflow"))
    assert main(["compare", model, "--precision", "fp16"]) == 1
    text = capsys.readouterr().out
    assert "FAILED" in text and "first node over threshold: rms.square" in text
    assert "numpy float16 via onnx.reference on CPU" in text
    assert "--keep-fp32 rms.square rms.mean rms.add_eps rms.sqrt" in text
    assert main(["compare", model, "--keep-fp32", "rms.square", "rms.mean", "rms.add_eps",
                 "rms.sqrt"]) == 0
    assert "PASSED" in capsys.readouterr().out


def test_compare_json(sample, capsys) -> None:
    assert main(["compare", str(sample("tiny_cnn")), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["passed"] is True and data["precision"] == "fp16"
    assert data["outputs"]["outputs"][0]["name"] == "logits"


def test_compare_unknown_node_and_bf16(sample, capsys) -> None:
    assert main(["compare", str(sample("tiny_cnn")), "--keep-fp32", "nope"]) == 1
    assert "not in the model" in capsys.readouterr().err
    assert main(["compare", str(sample("tiny_cnn")), "--precision", "bf16"]) == 0
    out = capsys.readouterr().out
    assert "BF16 vs FP32" in out and "nodes in BF16" in out and "bfloat16" in out


def test_compare_find_keep_prints_a_verified_list_and_the_build_line(sample, capsys) -> None:
    assert main(["compare", str(sample("fp16_overflow")), "--find-keep"]) == 1
    out = capsys.readouterr().out
    assert "verified, 1-minimal" in out
    assert "--keep-fp32 rms.square rms.mean rms.add_eps rms.sqrt" in out
