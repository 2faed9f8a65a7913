"""trt-workbench build / engine, run in-process through main()."""

from __future__ import annotations

import json
from pathlib import Path

from workbench.cli import main


def test_build_then_engine(sample, tmp_path: Path, capsys) -> None:
    out = tmp_path / "r.engine"
    code = main(["build", str(sample("resnet_block")), "-o", str(out), "--shapes",
                 "image:1x3x16x16,2x3x32x32,4x3x64x64", "--opt-level", "2"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert out.exists() and Path(f"{out}.json").exists()
    assert "--minShapes=image:1x3x16x16" in captured.err
    assert "--builderOptimizationLevel=2" in captured.err
    assert "Engine generation completed" in captured.err  # the live log
    assert "saved" in captured.out
    assert main(["engine", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "profile 0: image:1x3x16x16,2x3x32x32,4x3x64x64" in shown and "verdict:" in shown


def test_build_json_and_no_overwrite(sample, tmp_path: Path, capsys) -> None:
    out = tmp_path / "m.engine"
    assert main(["build", str(sample("mlp_dynamic_batch")), "-o", str(out), "--json",
                 "--precision", "fp16"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["plan_size"] == out.stat().st_size and data["settings"]["precision"] == "fp16"
    assert main(["build", str(sample("mlp_dynamic_batch")), "-o", str(out)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main(["engine", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["plan_sha256"] == data["plan_sha256"]


def test_bad_inputs_exit_1_with_a_clear_message(sample, tmp_path: Path, capsys) -> None:
    assert main(["build", str(sample("mlp_dynamic_batch")), "-o", str(tmp_path / "x"),
                 "--shapes", "features:8x64,4x64,1x64"]) == 1
    assert "min ≤ opt ≤ max" in capsys.readouterr().err
    fake = tmp_path / "fake.engine"
    fake.write_bytes(sample("tiny_cnn").read_bytes())
    assert main(["engine", str(fake)]) == 1
    assert "not a TensorRT engine" in capsys.readouterr().err


def test_convert_writes_the_fp16_graph_and_refuses_unknown_nodes(tmp_path: Path,
                                                                   sample) -> None:
    import onnx

    model_path = str(sample("fp16_overflow"))
    out = tmp_path / "fp16.onnx"
    keep = ["rms.square", "rms.mean", "rms.add_eps", "rms.sqrt"]
    assert main(["convert", model_path, "--keep-fp32", *keep, "-o", str(out)]) == 0
    model = onnx.load(str(out))
    kept = {n.name for n in model.graph.node if n.op_type != "Cast"} & set(keep)
    assert kept == set(keep)
    assert main(["convert", model_path, "--keep-fp32", "nope",
                 "-o", str(tmp_path / "other.onnx")]) == 1
    assert not (tmp_path / "other.onnx").exists()
    assert main(["convert", model_path, "-o", str(out)]) == 1  # never overwrites


def test_engine_layers_lists_the_fused_onnx_nodes(tmp_path: Path, sample, capsys) -> None:
    engine = tmp_path / "resnet.engine"
    assert main(["build", str(sample("resnet_block")), "-o", str(engine)]) == 0
    capsys.readouterr()
    assert main(["engine", str(engine), "--layers"]) == 0
    out = capsys.readouterr().out
    assert "ONNX nodes fused into it" in out
    assert "block.residual_add" in out  # fused with the conv/bn/relu around it


def test_convert_streams_external_weights_and_keeps_the_source(tmp_path: Path,
                                                               realistic) -> None:
    """An external-data model is converted tensor by tensor into OUTPUT.data (the path that
    works over 2 GiB), the source files untouched, the result buildable."""
    import hashlib

    import numpy as np
    import onnx
    from onnx import numpy_helper

    from workbench.backends.trt.build import build_engine
    from workbench.settings.settings import BuildSettings

    model = onnx.load(realistic("gpt_like"))
    source = tmp_path / "src"
    source.mkdir()
    onnx.save(model, source / "gpt.onnx", save_as_external_data=True, location="gpt.data",
              size_threshold=1024)
    digest = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in source.iterdir()}
    out = tmp_path / "gpt.fp16.onnx"
    assert main(["convert", str(source / "gpt.onnx"), "-o", str(out)]) == 0
    assert (tmp_path / "gpt.fp16.onnx.data").exists()
    assert digest == {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                      for p in source.iterdir()}
    converted = onnx.load(str(out))  # reads the .data beside it
    weights = [numpy_helper.to_array(t) for t in converted.graph.initializer
               if t.data_type == onnx.TensorProto.FLOAT16]
    assert weights and all(np.isfinite(w).all() for w in weights)
    assert build_engine(out, BuildSettings()).card.plan_size > 0  # the FP16 graph as it is
    assert main(["convert", str(source / "gpt.onnx"), "-o", str(out)]) == 1  # exists
    assert main(["convert", str(source / "gpt.onnx"), "-o", str(source / "gpt.onnx"),
                 "--overwrite"]) == 1  # never over its own input
