"""Build failures by cause, profiles checked by running them, control flow folded away,
and the build-failure reducer: on a stride-32 detector and an If-switched audio model
(tests/triage_models.py), with TensorRT-RTX for real."""

from __future__ import annotations

from pathlib import Path

import pytest
import triage_models

import workbench
from workbench.app.session.profile_check import check_profiles, require_runnable_profiles
from workbench.core.errors import BuildError, BuildSettingsError
from workbench.settings.settings import BuildSettings, ShapeProfile

# The profile the old seeding gave a detector with dims named p2o.DynamicDimension.*
OLD_SEED = BuildSettings(profiles=[[ShapeProfile("x", (1, 3, 1, 1), (16, 3, 16, 16),
                                                 (64, 3, 64, 64))]])


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("triage_build")
    return {"detector": triage_models.detector(folder),
            "if_switch": triage_models.if_switch(folder)}


def test_default_profile_of_the_detector_checks_and_builds(models) -> None:
    assert check_profiles(models["detector"], BuildSettings())
    artifact = workbench.build_engine(models["detector"])
    (shape,) = artifact.card.settings.profiles[0]
    assert all(d % 32 == 0 for bound in (shape.min, shape.opt, shape.max) for d in bound[2:])


def test_a_profile_the_detector_cannot_run_is_refused_with_sizes_that_run(models) -> None:
    check = check_profiles(models["detector"], OLD_SEED)
    assert not check
    (failure,) = check.refusals
    assert failure.bound == "opt" and failure.node.startswith("p2o.Add.")
    with pytest.raises(BuildSettingsError) as info:
        require_runnable_profiles(models["detector"], OLD_SEED)
    assert failure.node in info.value.message and "sizes that run" in info.value.message
    # the suggestion is applicable as given: it runs and it builds
    fixed = BuildSettings(profiles=[check.suggestion])
    assert check_profiles(models["detector"], fixed)
    workbench.build_engine(models["detector"], fixed)


def test_shape_constraint_build_failure_is_explained_by_node_and_profile(models) -> None:
    with pytest.raises(BuildError) as info:
        workbench.build_engine(models["detector"], OLD_SEED)
    message = info.value.message
    assert "Profile 0's opt shapes (x=16x3x16x16)" in message
    assert "p2o.Add." in message and "multiples of 32" in message
    assert "workbench.check_profiles(" in message
    assert "NVIDIA" not in message and "internal error" not in message.split("|")[0].lower()


def _too_short(path) -> workbench.BuildSettings:
    """The profile seeded without the graph's minimums (samples 1/16/64: shorter than the
    Conv window), which TensorRT cannot build: what the default was before it was raised."""
    from workbench.settings.settings import default_profiles

    inputs = workbench.inspect_model(path).inputs
    return workbench.BuildSettings(profiles=(default_profiles(inputs),))


def test_control_flow_failure_names_the_if_and_the_input_that_decides_it(models) -> None:
    with pytest.raises(BuildError) as info:
        workbench.build_engine(models["if_switch"], _too_short(models["if_switch"]))
    message = info.value.message
    assert "then_branch of If 'sample_rate_switch'" in message
    assert "input_values={'sr': 16000}" in message
    assert "reduce_failure" not in message  # parse-only: no circular advice


def test_folding_the_if_with_the_deciding_input_value_removes_it(models, tmp_path) -> None:
    out = tmp_path / "folded.onnx"
    result = workbench.fold_constants(models["if_switch"], input_values={"sr": 16000},
                                      out_path=out)
    ops = [n.op_type for n in result.model.graph.node]
    assert "If" not in ops and "Conv" in ops and ("sr", "16000") in result.frozen_values
    assert [i.name for i in result.model.graph.input] == ["input"]
    check = check_profiles(out, BuildSettings())
    assert not check and check.suggestion  # one branch: its own window
    workbench.build_engine(out, BuildSettings(profiles=[check.suggestion]))


def test_profile_check_runs_both_branches_of_the_if(models) -> None:
    check = check_profiles(models["if_switch"], BuildSettings())
    assert any("sr16k.stft_conv" in f.node for f in check.refusals), check.text()
    workbench.build_engine(models["if_switch"], BuildSettings(profiles=[check.suggestion]))


def test_reduce_build_failure_keeps_the_failing_if(models, tmp_path) -> None:
    result = workbench.reduce_build_failure(models["if_switch"], tmp_path / "reduced.onnx",
                                            _too_short(models["if_switch"]))
    assert result.path.is_file() and "sample_rate_switch" in result.node_names
    assert len(result.node_indices) < result.original_node_count
    assert "sr16k.stft_conv" in result.error
    with pytest.raises(workbench.WorkbenchError, match="builds"):
        workbench.reduce_build_failure(models["detector"], tmp_path / "r2.onnx")


def test_session_refuses_the_profile_and_the_build_tab_offers_the_suggestion(models) -> None:
    from workbench.app.session.session import WorkbenchSession
    from workbench.ui.build.tab import BuildTab

    session = WorkbenchSession()
    tab = BuildTab(session)
    session.load(models["detector"])
    tab.on_model(session.model)
    with pytest.raises(BuildSettingsError, match=r"p2o\.Add") as refused:
        session.start_build(OLD_SEED)  # refused before a build starts
    assert "sizes that run" in refused.value.message
    def settled() -> None:
        if tab.check_thread is not None:
            tab.check_thread.join(60)

    tab.form.profile_editor.seed(session.model.summary.inputs, OLD_SEED.profiles[0])
    settled()
    assert "✘ the model cannot run this profile" in tab.form.valid.value
    assert tab.build_button.disabled and tab.suggest_button.layout.display == ""
    tab.use_suggestion()
    settled()
    assert "✔ settings valid for this model" in tab.form.valid.value
    assert not tab.build_button.disabled
    session.close()


@pytest.mark.parametrize(("line", "cause", "fix"), [
    ("IBuilder::buildSerializedNetwork: Error Code 4: Internal Error (kOPT values for profile 0 "
     "violate shape constraints: p2o.Add.250: dimensions not compatible for elementwise. "
     "Broadcast has incompatible dimensions: 4 != 2 && 4 != 1 && 2 != 1. In operator() at "
     "/_src/runtime/core/shapeMachine.cpp:652)", "node 'p2o.Add.250'", "check_profiles"),
    ("kMIN values for profile 1 violate shape constraints: reshape_3: reshape would change "
     "volume. In operator()", "a Reshape's target", "check_profiles"),
    ("Error Code 2: Internal Error (graphScope.cpp:123: ScopeType::kUNDEFINED)",
     "inside control flow", "without control flow"),
])
def test_build_failures_recognised_from_tensorrt_text_alone(line: str, cause: str,
                                                            fix: str) -> None:
    explained, fixes = workbench.explain_build_failure([line])
    assert cause in explained and any(fix in f for f in fixes), (explained, fixes)
    assert not any("reduce_failure(" in f for f in fixes)  # parse-only: never for builds


def test_cli_build_refuses_a_profile_the_model_cannot_run(models, tmp_path, capsys) -> None:
    from workbench.cli import main

    out = tmp_path / "det.engine"
    code = main(["build", str(models["detector"]), "-o", str(out),
                 "--shapes", "x:1x3x16x16,1x3x16x16,4x3x64x64"])
    text = capsys.readouterr()
    assert code == 1 and not out.exists()
    assert "p2o.Add." in text.err + text.out and "sizes that run" in text.err + text.out
