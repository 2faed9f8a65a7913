"""Every dynamic dim gets a size control, compared inputs default to their constant, and
every flow runs at the sizes set (issue 25). Headless widgets over a real session."""

from __future__ import annotations

from pathlib import Path

import onnx
from onnx import TensorProto, helper, numpy_helper
from ui_support import make_panel

from sample_models.realistic_other import if_switch
from workbench.feeds.generator import FeedOptions, feed_plan, model_feeds
from workbench.feeds.inputs import dim_key


def anonymous_dims(path: Path) -> Path:
    """Dims as Paddle and other exporters write them: ``?``, empty, unnamed, p2o names."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["?", "?"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["p2o.DynamicDimension.0", 4])
    z = helper.make_tensor_value_info("z", TensorProto.FLOAT, [None, 3])
    z.type.tensor_type.shape.dim[0].dim_param = ""  # empty name
    w = helper.make_tensor_value_info("w", TensorProto.FLOAT, [2, 2])
    w.type.tensor_type.shape.dim[0].Clear()  # neither value nor name
    nodes = [helper.make_node("ReduceSum", ["x"], ["sx"], keepdims=1),
             helper.make_node("ReduceSum", ["y"], ["sy"], keepdims=1),
             helper.make_node("ReduceSum", ["z"], ["sz"], keepdims=1),
             helper.make_node("ReduceSum", ["w"], ["sw"], keepdims=1)]
    graph = helper.make_graph(nodes, "anonymous_dims", [x, y, z, w], [
        helper.make_tensor_value_info(n, TensorProto.FLOAT, None)
        for n in ("sx", "sy", "sz", "sw")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8  # every supported Python's ONNX Runtime reads it (3.10's: IR <= 11)
    onnx.save(model, path)
    return path


def test_dim_keys() -> None:
    assert dim_key("x", 0, "batch") == "batch"
    assert dim_key("x", 1, "?") == "x[1]" and dim_key("x", 0, "") == "x[0]"
    assert dim_key("x", 2, None) == "x[2]" and dim_key("x", 0, 5) is None


def test_every_dynamic_dim_has_a_size_box_and_run_uses_it(tmp_path: Path) -> None:
    panel = make_panel(tmp_path, anonymous_dims(tmp_path / "anonymous_dims.onnx"))
    run, compare = panel.run, panel.compare
    expected = {"x[0]", "x[1]", "p2o.DynamicDimension.0", "z[0]", "w[0]"}
    assert set(run.feed_controls.dims) == expected
    assert set(compare.feed_controls.dims) == expected
    run.feed_controls.dims["x[1]"].value = 37
    run.feed_controls.dims["p2o.DynamicDimension.0"].value = 5
    run.run_button.click()
    assert panel.session.tasks["run"].join(60), run.error.value
    inputs = panel.session.outputs.inputs
    assert inputs["x"].shape[1] == 37 and inputs["y"].shape == (5, 4)
    # the Compare tab shows the sizes set in the Run tab, and compares at them
    assert compare.feed_controls.dims["x[1]"].value == 37
    compare.run_button.click()
    assert panel.session.tasks["compare"].join(120), compare.error.value
    shapes = {spec.name: spec.shape for spec in panel.session.comparison.inputs}
    assert shapes["x"][1] == 37 and shapes["y"] == (5, 4)
    panel.close()


def test_compared_input_defaults_to_the_constant(tmp_path: Path) -> None:
    path = if_switch(tmp_path)
    model = onnx.load(path)
    plan = {row.name: row for row in feed_plan(model)}
    assert plan["sr"].values == "[16000, 16001)"
    assert "compares sr with 16000" in plan["sr"].why
    assert int(model_feeds(model)["sr"]) == 16000
    assert int(model_feeds(model, options=FeedOptions(int_ranges={"sr": (8000, 8001)}))["sr"]) \
        == 8000  # what you set wins
    panel = make_panel(tmp_path, path)
    low, high = panel.run.feed_controls.ranges["sr"]
    assert (low.value, high.value) == (16000, 16001)
    panel.close()


def _deep_drift_model(path: Path) -> Path:
    """A ``samples`` input through a strided Conv that needs at least 64 samples."""
    weight = numpy_helper.from_array(
        __import__("numpy").random.default_rng(0).standard_normal((4, 1, 64)).astype("float32"),
        "w")
    graph = helper.make_graph(
        [helper.make_node("Unsqueeze", ["input_values", "axis"], ["u"]),
         helper.make_node("Conv", ["u", "w"], ["c"], strides=[32], name="conv"),
         helper.make_node("ReduceMean", ["c"], ["y"], keepdims=1, name="mean")],
        "wave", [helper.make_tensor_value_info("input_values", TensorProto.FLOAT,
                                               ["batch", "samples"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [weight, numpy_helper.from_array(__import__("numpy").array([1], "int64"), "axis")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def test_keep_search_and_compare_use_the_sizes_set(tmp_path: Path) -> None:
    panel = make_panel(tmp_path, _deep_drift_model(tmp_path / "wave.onnx"))
    session = panel.session
    panel.compare.feed_controls.dims["samples"].value = 1600
    panel.compare.feed_controls.apply()
    result = session.find_keep_list(max_trials=2)
    assert result.report is not None
    (spec,) = result.report.inputs
    assert spec.shape[1] == 1600  # not the default sizes
    assert "'samples': 1600" in session.python_compare()
    panel.close()


def test_keep_search_on_wav2vec2_runs_at_the_samples_set(tmp_path: Path) -> None:
    """The issue's case: samples = 16000 set in Compare; the search ran 1×16 and failed."""
    from sample_models.exports.registry import export_path

    panel = make_panel(tmp_path, export_path("wav2vec2_dynamo"))
    panel.compare.feed_controls.dims["samples"].value = 16000
    panel.compare.feed_controls.apply()
    result = panel.session.find_keep_list(max_trials=2)
    assert result.report is not None, result.summary()
    assert [spec.shape for spec in result.report.inputs] == [(1, 16000)]
    panel.close()
