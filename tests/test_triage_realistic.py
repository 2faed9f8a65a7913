"""Triage and the Model tab on the realistic corpus (sample_models/realistic.py): each model
gets the right group, cause and an applicable fix, and the detector's default profile builds."""

from __future__ import annotations

import pytest

import workbench
from workbench.app.profile_check import check_profiles
from workbench.build.settings import BuildSettings

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_quantized_dynamic_gets_one_group_per_op_with_the_family_fix(realistic) -> None:
    report = workbench.diagnose(realistic("quantized_dynamic"))
    assert len(report.groups) < len(report.issues)
    ops = {g.op_type for g in report.groups}
    assert {"DynamicQuantizeLinear", "MatMulInteger", "ConvInteger"} <= ops
    for group in report.groups:
        assert group.category == "ort_quantization" and group.messages == ("false",)
        assert "Q/DQ" in group.cause and "trt-workbench quantize" in " ".join(group.fixes)


def test_paddle_detector_default_profile_runs_and_builds(realistic) -> None:
    path = realistic("paddle_detector")
    assert check_profiles(path, BuildSettings())
    artifact = workbench.build_engine(path)
    (shape,) = artifact.card.settings.profiles[0]
    assert shape.opt[2] % 32 == 0 and shape.opt[3] % 32 == 0


def test_paddle_detector_weights_in_constant_nodes_are_counted(realistic) -> None:
    summary = workbench.inspect_model(realistic("paddle_detector"))
    assert summary.constant_parameter_count > 0
    assert summary.parameter_count >= summary.constant_parameter_count


def test_if_switch_profile_refused_then_fixed_by_the_suggestion(realistic) -> None:
    path = realistic("if_switch")
    check = check_profiles(path, BuildSettings())
    assert not check and check.suggestion, check.text()
    assert any("sample_rate_switch" in f.node for f in check.refusals)
    workbench.build_engine(path, BuildSettings(profiles=[check.suggestion]))


def _too_short(path) -> workbench.BuildSettings:
    """The profile seeded without the graph's minimums (samples 1/16/64: shorter than the
    Conv window), which TensorRT cannot build: what the default was before it was raised."""
    from workbench.build.settings import default_profiles

    inputs = workbench.inspect_model(path).inputs
    return workbench.BuildSettings(profiles=(default_profiles(inputs),))


def test_if_switch_build_failure_names_the_branch_and_the_deciding_input(realistic) -> None:
    with pytest.raises(workbench.BuildError) as info:
        workbench.build_engine(realistic("if_switch"), _too_short(realistic("if_switch")))
    message = info.value.message
    assert "of If 'sample_rate_switch'" in message and "input_values={'sr': 16000}" in message


def test_model_tab_on_the_detector_and_the_if_model(realistic) -> None:
    from workbench.app.session import WorkbenchSession
    from workbench.ui.model_tab import ModelTab

    session = WorkbenchSession()
    tab = ModelTab(session)
    session.load(realistic("paddle_detector"))
    tab.on_model(session.model)
    assert "of them in Constant nodes" in tab.summary.value
    assert tab.hide_constants.value  # many Constants: hidden by default
    assert ">Constant<" not in tab.nodes.value and ">Conv<" in tab.nodes.value
    assert "float32 [" in tab.nodes.value  # intermediate shapes from shape inference
    session.load(realistic("if_switch"))
    tab.on_model(session.model)
    bodies = [o for o in tab.graph_choice.options if "then_branch" in o]
    assert bodies and tab.graph_choice.layout.display == ""
    tab.graph_choice.value = bodies[0]
    assert "Conv" in tab.nodes.value
    session.close()
