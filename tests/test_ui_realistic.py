"""Every panel flow over every model of the realistic corpus, headless over a real session:
Parse (TensorRT-RTX for real), Build with the default settings, Run with generated inputs
(ONNX Runtime), Compare FP16 against FP32. A model TensorRT cannot parse or build still runs
and compares through ONNX Runtime; what TensorRT does is the registry's record."""

from __future__ import annotations

from pathlib import Path

import pytest
from ui_support import make_panel, wait_until

from sample_models.realistic import REALISTIC, realistic_model
from workbench.core.errors import BuildError
from workbench.feeds.generator import FeedOptions


@pytest.mark.parametrize("name", [entry.name for entry in REALISTIC])
def test_every_panel_flow_on_the_realistic_corpus(tmp_path: Path, realistic, name: str) -> None:
    entry = realistic_model(name)
    panel = make_panel(tmp_path, realistic(name))
    session = panel.session
    # Parse: the automatic diagnosis ran on load.
    verdict = panel.parse.verdict.value
    assert ("cannot parse" not in verdict) is entry.parses, verdict
    # Build with the default settings.
    panel.build.build_button.click()
    if session.build_job is not None:  # else refused before it started (error shown)
        try:
            session.wait_build(120)
        except BuildError:
            assert not entry.builds_with_defaults
    wait_until(lambda: not panel.build.build_button.disabled or panel.build.error.value,
               what="the build to settle")
    if entry.parses:  # the defaults start where the graph runs: every parsed model builds
        assert "Engine built" in panel.build.result.value, panel.build.error.value
    else:
        assert entry.build_error in panel.build.error.value
    # Run with generated inputs: every input in range, every output finite.
    panel.run.generate_button.click()
    assert not panel.run.error.value
    panel.run.run_button.click()
    assert session.tasks["run"].join(60)
    assert not panel.run.error.value, panel.run.error.value
    for name_, stats in ((s.name, s) for s in session.outputs.stats()):
        assert stats.nan == 0, name_
    # Compare FP16 against FP32 on the same generated inputs.
    panel.compare.run_button.click()
    assert session.tasks["compare"].join(120)
    if entry.compare_error:  # recorded: FP16 conversion does not handle this pattern yet
        assert entry.compare_error in panel.compare.error.value
    else:
        assert not panel.compare.error.value, panel.compare.error.value
        assert "vs FP32" in panel.compare.verdict.value
    panel.close()


def test_run_tab_controls_set_sizes_and_ranges(tmp_path: Path, realistic) -> None:
    panel = make_panel(tmp_path, realistic("bert_like"))
    controls = panel.run.feed_controls
    assert set(controls.dims) == {"batch", "sequence"}
    assert controls.dims["sequence"].value == 128  # the default profile's opt
    assert set(controls.ranges) == {"input_ids", "token_type_ids"}  # the mask gets ones
    assert (controls.ranges["token_type_ids"][0].value,
            controls.ranges["token_type_ids"][1].value) == (0, 2)
    assert "token_type_embedding" in controls.plan.value and "ones" in controls.plan.value
    controls.dims["sequence"].value = 40
    panel.run.generate_button.click()
    feeds = panel.session.inputs
    assert feeds["input_ids"].shape == (1, 40) and feeds["token_type_ids"].max() <= 1
    assert (feeds["attention_mask"] == 1).all()
    # The Compare tab shows the same options, and uses them.
    assert panel.compare.feed_controls.dims["sequence"].value == 40
    # A range the graph cannot take: the run names the input, the value and the node.
    controls.ranges["token_type_ids"][1].value = 10
    panel.run.generate_button.click()
    panel.run.run_button.click()
    assert panel.session.tasks["run"].join(60)
    error = panel.run.error.value
    assert "Input &#x27;token_type_ids&#x27; holds" in error and "token_type_embedding" in error
    assert "0…2" in error
    panel.close()


def test_long_runtime_messages_are_whole_and_expandable(tmp_path: Path, realistic) -> None:
    """The runtime's own text is kept whole (details), never cut mid-sentence."""
    panel = make_panel(tmp_path, realistic("paddle_detector"))
    panel.session.make_inputs(0, FeedOptions(dims={"p2o.DynamicDimension.1": 48}))
    panel.run.run_button.click()
    assert panel.session.tasks["run"].join(60)
    error = panel.run.error.value
    assert "p2o.Add" in error and "<details>" in error
    assert "3 by 4" in error.split("<details>")[1]  # the whole ORT message
    assert "multiples of 32" in error
    panel.close()


def test_a_long_field_folds_whole_instead_of_being_cut() -> None:
    from workbench.core.errors import WorkbenchError
    from workbench.ui.common import error_html

    long = "The first sentence says what broke. " + "then a very long tail " * 40 + "END."
    html = error_html(WorkbenchError("Something failed.", found=long))
    shown, folded = html.split("<summary>", 1)[1].split("</summary>", 1)
    assert shown == "The first sentence says what broke."
    assert "END." in folded and "<details" in html
