"""Bug bundles whose repro runs as written (issue 25): real TensorRT-RTX, real repro.py runs.

A reduced model's input may be an internal tensor of the user's model: its repro must not
pass profiles of the user's inputs (it did: "Profile 0 names an input the model does not
have", and an empty verbose.log). Each bundle is unzipped and its repro.py run to the same
error TensorRT gave the workbench.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from reference_models import efficientnet_pooler, save

from workbench.app.bundle import make_bundle
from workbench.app.bundle_settings import settings_for_model
from workbench.app.session import WorkbenchSession
from workbench.build.settings import BuildSettings, ShapeProfile
from workbench.core.records import TensorSpec


def _unpack_and_run(bundle: Path, folder: Path
                    ) -> tuple[dict[str, str], subprocess.CompletedProcess[str]]:
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(folder)
        texts = {n: archive.read(n).decode() for n in archive.namelist() if n != "model.onnx"}
    run = subprocess.run([sys.executable, "repro.py"], cwd=folder, capture_output=True,
                         text=True, timeout=300, check=False)
    return texts, run


def test_parse_failure_of_a_reduced_model_with_an_internal_input(tmp_path: Path) -> None:
    model = efficientnet_pooler(batch="batch")
    source = save(model, tmp_path)
    session = WorkbenchSession(work_dir=tmp_path / "out")
    session.load(source)
    session.settings = session.default_settings()  # profiles name pixel_values
    assert "pixel_values" in str(session.settings.profiles)
    result = session.bundle(tmp_path / "bug.zip")
    assert result.stage == "parse" and result.reduced and result.reproduced
    texts, run = _unpack_and_run(result.path, tmp_path / "unzipped")
    reduced = onnx.load(tmp_path / "unzipped" / "model.onnx")
    assert [i.name for i in reduced.graph.input] == ["r"]  # an internal tensor of the model
    assert "pixel_values" not in texts["repro.sh"] and "pixel_values" not in texts["repro.py"]
    assert "--minShapes=r:1x16x7x7" in texts["repro.sh"]
    assert "profiles re-derived from the bundled model's own inputs (r)" in texts["README.md"]
    log = texts["verbose.log"]
    assert "[V]" in log and "Parameter check failed" in log
    assert run.returncode == 1, run.stdout + run.stderr
    assert "/pooler/AveragePool" in run.stderr and "Parameter check failed" in run.stderr


def _relu_then_skip(path: Path) -> Path:
    """Relu, then a U-Net skip (pool, upsample, add) that TensorRT refuses to build at odd
    sizes: the reduction drops the Relu, so the bundled model's input is ``act``."""
    graph = helper.make_graph(
        [helper.make_node("Relu", ["image"], ["act"], name="act"),
         helper.make_node("MaxPool", ["act"], ["pooled"], kernel_shape=[2, 2],
                          strides=[2, 2], name="down"),
         helper.make_node("Resize", ["pooled", "", "scales"], ["up"], mode="nearest",
                          name="up"),
         helper.make_node("Add", ["act", "up"], ["skip"], name="skip_add")],
        "relu_skip", [helper.make_tensor_value_info("image", TensorProto.FLOAT,
                                                    ["batch", 3, "height", "width"])],
        [helper.make_tensor_value_info("skip", TensorProto.FLOAT,
                                       ["batch", 3, "height", "width"])],
        [numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_build_failure_of_a_reduced_model_keeps_the_failing_sizes(tmp_path: Path) -> None:
    source = _relu_then_skip(tmp_path / "relu_skip.onnx")
    odd = BuildSettings(profiles=((ShapeProfile.parse("image:1x3x33x33,2x3x33x33,4x3x33x33"),),))
    result = make_bundle(source, tmp_path / "bug.zip", odd)
    assert result.stage == "build" and result.reproduced, result.summary()
    texts, run = _unpack_and_run(result.path, tmp_path / "unzipped")
    assert "--optShapes=image:2x3x33x33" in texts["repro.sh"]
    assert "broadcast dimensions must be conformable" in texts["verbose.log"]
    assert run.returncode != 0
    assert "conformable" in run.stdout + run.stderr


def test_profiles_follow_dim_names_onto_an_internal_input(tmp_path: Path) -> None:
    """The reduced model's input ``act`` shares the dims ``batch``/``height``/``width`` of the
    user's ``image``: it gets the sizes the user's profile gave them."""
    graph = helper.make_graph(
        [helper.make_node("Relu", ["act"], ["y"])], "reduced",
        [helper.make_tensor_value_info("act", TensorProto.FLOAT, ["batch", 3, "height", "w2"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    path = tmp_path / "reduced.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    original = (TensorSpec("image", "float32", ("batch", 3, "height", "width")),)
    settings = BuildSettings(profiles=((ShapeProfile.parse(
        "image:1x3x33x40,2x3x33x40,4x3x33x40"),),))
    derived, note = settings_for_model(settings, path, original)
    (profile,) = derived.profiles
    (shape,) = profile
    assert shape.input == "act"
    assert shape.min[:3] == (1, 3, 33) and shape.opt[:3] == (2, 3, 33)
    assert shape.max[:3] == (4, 3, 33)  # w2 is not the user's: seeded
    assert note is not None and "image is not an input of it" in note
    same, unchanged = settings_for_model(derived, path, original)
    assert same == derived and unchanged is None
