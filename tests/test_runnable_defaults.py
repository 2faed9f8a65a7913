"""Default profiles and generated inputs start where the model runs, found by running it:
a strided Conv stack (a raw-waveform front end) needs hundreds of samples, and a text
recogniser runs at one image height only. The session's defaults pass its own profile check;
when no size runs, the refusal names the dims and the sizes tried. Trials run under a
memory cap, so no size can ask the machine for gigabytes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from workbench.app.session.profile_check import check_profiles, refuse
from workbench.app.session.session import WorkbenchSession
from workbench.backends.ort import TRIAL_MEMORY_CAP, OrtRunner
from workbench.core.errors import InferenceInputError
from workbench.settings.settings import BuildSettings


def _save(model: onnx.ModelProto, path: Path) -> Path:
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def _weight(name: str, shape: list[int]) -> onnx.TensorProto:
    values = np.random.default_rng(0).standard_normal(int(np.prod(shape))) * 0.1
    return helper.make_tensor(name, TensorProto.FLOAT, shape, values.astype(np.float32))


def waveform_model(path: Path) -> Path:
    """[batch, samples] → three strided Conv1d (k10 s5, k8 s4, k8 s4): needs ≥ 185 samples."""
    nodes = [helper.make_node("Unsqueeze", ["input_values", "one"], ["x"], name="unsqueeze"),
             helper.make_node("Conv", ["x", "w0"], ["c0"], name="conv0", strides=[5]),
             helper.make_node("Conv", ["c0", "w1"], ["c1"], name="conv1", strides=[4]),
             helper.make_node("Conv", ["c1", "w2"], ["hidden"], name="conv2", strides=[4])]
    graph = helper.make_graph(
        nodes, "wave", [helper.make_tensor_value_info("input_values", TensorProto.FLOAT,
                                                      ["batch", "samples"])],
        [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["batch", 4, "frames"])],
        [helper.make_tensor("one", TensorProto.INT64, [1], [1]), _weight("w0", [4, 1, 10]),
         _weight("w1", [4, 4, 8]), _weight("w2", [4, 4, 8])])
    return _save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def one_height_model(path: Path) -> Path:
    """[batch, 1, height, width] + a [1, 1, 32, 1] constant: only height 32 broadcasts."""
    nodes = [helper.make_node("Add", ["image", "rows"], ["shifted"], name="add_rows"),
             helper.make_node("Relu", ["shifted"], ["out"], name="relu")]
    graph = helper.make_graph(
        nodes, "ocr", [helper.make_tensor_value_info("image", TensorProto.FLOAT,
                                                     ["batch", 1, "height", "width"])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["batch", 1, "height", "width"])],
        [_weight("rows", [1, 1, 32, 1])])
    return _save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


@pytest.fixture
def session(tmp_path: Path) -> WorkbenchSession:
    made = WorkbenchSession(engines_dir=tmp_path / "engines", work_dir=tmp_path / "out")
    yield made
    made.close()


def test_waveform_defaults_start_where_the_conv_stack_runs(
        tmp_path: Path, session: WorkbenchSession) -> None:
    path = waveform_model(tmp_path / "wave.onnx")
    seeded = check_profiles(path, BuildSettings())
    assert not seeded and seeded.refusals[0].bound == "min"  # the seeded profile fails
    session.load(path)
    (profile,) = session.default_settings().profiles[0]
    assert (profile.min[1], profile.opt[1], profile.max[1]) == (192, 192, 768)
    assert "default profile set to sizes that run: input_values:" in (
        session.default_profile_note)
    assert session.check_profiles(session.default_settings())  # its own check passes
    assert session.make_inputs(0)["input_values"].shape == (1, 192)
    assert session.run().outputs["hidden"].shape[-1] >= 1
    compared = session.compare("fp16")  # at Run's sizes, from the seed (repro-able)
    assert compared.inputs[0].shape == (1, 192) and compared.seed == 0


def test_a_height_only_one_size_works_at_stays_while_the_width_grows(
        tmp_path: Path, session: WorkbenchSession) -> None:
    session.load(one_height_model(tmp_path / "ocr.onnx"))
    (profile,) = session.default_settings().profiles[0]
    assert profile.min[2:] == (32, 32)
    assert profile.opt[2:] == (32, 224) and profile.max[2:] == (32, 512)
    assert session.check_profiles(session.default_settings())
    assert session.make_inputs(0)["image"].shape == (1, 1, 32, 224)
    session.run()


def test_when_no_size_runs_the_refusal_names_the_dims_and_the_sizes_tried(
        tmp_path: Path) -> None:
    path = one_height_model(tmp_path / "ocr.onnx")
    model = onnx.load(path)
    model.graph.initializer[0].CopyFrom(_weight("rows", [1, 1, 33, 1]))  # no rung is 33
    onnx.save(model, path)
    check = check_profiles(path, BuildSettings())
    assert not check and check.suggestion is None
    fix = refuse(check).fix or ""
    assert "no size ran: height, width tried at 32, 64" in fix
    assert "add_rows" in refuse(check).summary


def test_trial_runs_cannot_ask_for_gigabytes(tmp_path: Path) -> None:
    """An outer product of n×n floats: 60000 would need 14 GB; the capped arena says no."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 1])
    xt = helper.make_tensor_value_info("xt", TensorProto.FLOAT, [1, "n"])
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "xt"], ["z"], name="outer"),
         helper.make_node("ReduceSum", ["z"], ["y"], keepdims=0, name="sum")],
        "outer", [x, xt], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])])
    path = _save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]),
                 tmp_path / "outer.onnx")
    n = 60_000
    assert n * n * 4 > 4 * TRIAL_MEMORY_CAP
    with OrtRunner(path, capped=True) as runner:
        small = runner.infer({"x": np.ones((100, 1), np.float32),
                              "xt": np.ones((1, 100), np.float32)})
        assert float(small["y"]) == 10_000
        with pytest.raises(InferenceInputError, match="Available memory"):
            runner.infer({"x": np.ones((n, 1), np.float32), "xt": np.ones((1, n), np.float32)})


def test_the_build_tab_says_the_default_profile_was_set_by_running(tmp_path: Path) -> None:
    from ui_support import make_panel

    panel = make_panel(tmp_path, waveform_model(tmp_path / "wave.onnx"))
    assert "default profile set to sizes that run: input_values:1x192,1x192,8x768" in (
        panel.build.profile_note.value)
    panel.close()


def test_a_missing_model_gets_the_load_error_not_a_raw_one(tmp_path: Path) -> None:
    from workbench.core.errors import ModelLoadError

    with pytest.raises(ModelLoadError, match="not found"):
        check_profiles(tmp_path / "missing.onnx", BuildSettings())
