"""Bug bundles for real TensorRT-RTX failures: a parse failure (reduced) and a build failure.

Each bundle is unzipped and checked as its reader would: the listed files, a repro that
fails the same way when run, and nothing of this machine beyond versions.json (no paths of
the test's folders, the checkout, the home folder; no host name).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from workbench.app.share.bundle import BUNDLE_FILES, make_bundle
from workbench.app.share.versions import FIELDS
from workbench.cli import main
from workbench.core.errors import WorkbenchError
from workbench.settings.settings import BuildSettings, ShapeProfile

ROOT = Path(__file__).resolve().parent.parent


def skip_connection_model(path: Path, external: bool = False) -> Path:
    """A U-Net style skip (pool, upsample, add): parses, but TensorRT refuses to build it
    for odd spatial sizes (the Paddle-detector 'multiples of 32' failure, in miniature)."""
    graph = helper.make_graph(
        [helper.make_node("MaxPool", ["image"], ["pooled"], kernel_shape=[2, 2],
                          strides=[2, 2], name="down"),
         helper.make_node("Resize", ["pooled", "", "scales"], ["up"], mode="nearest",
                          name="up"),
         helper.make_node("Add", ["image", "up"], ["skip"], name="skip_add")],
        "unet_skip", [helper.make_tensor_value_info("image", TensorProto.FLOAT,
                                                    [1, 3, "height", "width"])],
        [helper.make_tensor_value_info("skip", TensorProto.FLOAT, [1, 3, "height", "width"])],
        [numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, path, save_as_external_data=external, size_threshold=0,
              location="weights/skip.data")
    return path


ODD_SIZE = BuildSettings(profiles=((ShapeProfile.parse("image:1x3x33x33"),),))


def unpack(bundle: Path, folder: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(folder)
        return {name: archive.read(name) for name in archive.namelist()}


def machine_strings(*folders: Path) -> list[str]:
    places = {str(f.resolve()) for f in folders} | {str(ROOT), str(Path.cwd()),
                                                    str(Path.home()), socket.gethostname()}
    return sorted(p for p in places if len(p) > 3)


def assert_nothing_of_this_machine(files: dict[str, bytes], *folders: Path) -> None:
    for name, data in files.items():
        if not name.endswith((".md", ".sh", ".py", ".log", ".json")):
            continue  # the model and its weights: the user's own, listed in the README
        text = data.decode("utf-8")
        for place in machine_strings(*folders):
            assert place not in text, f"{name} contains {place!r}"
        assert "site-packages" not in text, name


def test_parse_failure_bundle_reduces_and_reproduces(sample, tmp_path: Path) -> None:
    model = tmp_path / "models" / "unsupported_op.onnx"
    model.parent.mkdir()
    model.write_bytes(sample("unsupported_op").read_bytes())
    result = make_bundle(model, tmp_path / "bug.zip")
    assert result.stage == "parse" and result.reduced and result.reproduced
    files = unpack(result.path, tmp_path / "unzipped")
    assert sorted(files) == sorted(BUNDLE_FILES)
    diagnosis = json.loads(files["diagnosis.json"])
    assert diagnosis["stage"] == "parse" and diagnosis["reproduced_by_bundle"]
    assert diagnosis["reduction"]["op_type"] == "FancyActivation"
    assert diagnosis["model"] == "<model folder>/unsupported_op.onnx"
    reduced = onnx.load_from_string(files["model.onnx"])
    assert [n.op_type for n in reduced.graph.node] == ["FancyActivation"]
    assert "[V]" in files["verbose.log"].decode()  # VERBOSE lines, not just errors
    assert set(json.loads(files["versions.json"])) == set(FIELDS)
    readme = files["README.md"].decode()
    assert "What to attach to a TensorRT issue" in readme
    assert "--verbose" in files["repro.sh"].decode()
    assert_nothing_of_this_machine(files, tmp_path)
    # the repro script, run where the bundle was unpacked, fails on the same node
    run = subprocess.run([sys.executable, "repro.py"], cwd=tmp_path / "unzipped",
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 1 and "FancyActivation" in run.stderr


def test_build_failure_bundle_keeps_the_settings_that_fail(tmp_path: Path) -> None:
    (tmp_path / "weights").mkdir()
    model = skip_connection_model(tmp_path / "unet_skip.onnx", external=True)
    result = make_bundle(model, tmp_path / "bug.zip", ODD_SIZE)
    assert result.stage == "build" and result.reproduced and not result.reduced
    assert "every node is needed" in result.summary()  # 3 nodes: pool, upsample, add
    files = unpack(result.path, tmp_path / "unzipped")
    # the whole model travels with its external data, at its own relative location
    assert "weights/skip.data" in files and "`weights/skip.data`" in files["README.md"].decode()
    onnx.load(tmp_path / "unzipped" / "model.onnx")  # loads with its data, as unpacked
    log = files["verbose.log"].decode()
    assert "broadcast dimensions must be conformable" in log
    assert "Input filename:   ./model.onnx" in log  # the temp folder's path was replaced
    assert "--optShapes=image:1x3x33x33" in files["repro.sh"].decode()
    diagnosis = json.loads(files["diagnosis.json"])
    assert diagnosis["stage"] == "build" and diagnosis["tensorrt"]
    assert_nothing_of_this_machine(files, tmp_path)


def test_bundle_refuses_a_model_that_works_and_an_existing_zip(sample, tmp_path: Path) -> None:
    with pytest.raises(WorkbenchError, match="no failure to bundle"):
        make_bundle(sample("tiny_cnn"), tmp_path / "bug.zip")
    assert not (tmp_path / "bug.zip").exists()
    existing = tmp_path / "old.zip"
    existing.write_bytes(b"keep me")
    with pytest.raises(WorkbenchError, match="already exists"):
        make_bundle(sample("unsupported_op"), existing)
    assert existing.read_bytes() == b"keep me"
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_cli_bundle_and_session_bundle(sample, realistic, tmp_path: Path, capsys) -> None:
    out = tmp_path / "cli.zip"  # if_switch parses, then fails to build: samples 1/16/64 is
    # shorter than its Conv window (the default profile starts at the window, so ask for it)
    assert main(["bundle", str(realistic("if_switch")), "-o", str(out), "--shapes",
                 "input:1x1,1x16,8x64", "state:2x1x16,2x1x16,2x8x16"]) == 0
    assert "build failure [BUILD_FAILED], reduced model" in capsys.readouterr().out
    diagnosis = json.loads(zipfile.ZipFile(out).read("diagnosis.json"))
    assert "sample_rate_switch" in diagnosis["reduction"]["kept_node_names"]
    assert len(diagnosis["reduction"]["kept_node_names"]) < 7
    assert zipfile.ZipFile(out).namelist() == list(BUNDLE_FILES)
    from workbench.app.session.session import WorkbenchSession

    session = WorkbenchSession(work_dir=tmp_path, engines_dir=tmp_path)
    session.load(sample("unsupported_op"))
    assert session.bundle(tmp_path / "session.zip").stage == "parse"
