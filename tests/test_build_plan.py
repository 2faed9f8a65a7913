"""One build plan: the builder executes it, the trtexec line and the Python script print it.

The renderings are proven equal to the build for real: the generated script runs in a
subprocess with TensorRT-RTX and must produce the engine ``build_engine`` produces (same
I/O, profile and engine layers — and, since a GPU-less build is deterministic, the same
bytes); the trtexec line is read back into the same settings; unsupported combinations are
refused with the same error by all three.
"""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.app import reproduce
from workbench.backends.trt.build import build_engine
from workbench.backends.trt.layers import layers_from_log
from workbench.build.features import BackendFeatures
from workbench.build.fields import FIELDS, Precision
from workbench.build.plan import GRAPH_CONVERSIONS, PrecisionStrategy, make_plan
from workbench.build.readback import settings_from_trtexec
from workbench.build.render import python_script, trtexec_command
from workbench.build.settings import BuildSettings, ShapeProfile
from workbench.core.errors import BackendUnavailableError, WorkbenchError

RTX = BackendFeatures.typical(rtx=True)
TRT10 = BackendFeatures.typical(rtx=False, strongly_typed=False)
TRT11 = BackendFeatures.typical(rtx=False, strongly_typed=True)
ROOT = Path(__file__).resolve().parent.parent

BATCH = ShapeProfile("features", (1, 64), (4, 64), (16, 64))
SMALL = ShapeProfile("features", (1, 64), (2, 64), (2, 64))
MATRIX = {
    "fp32-default-profile-level0": BuildSettings(optimization_level=0),
    "fp16-keep-profile": BuildSettings(precision="fp16", keep_fp32=("fc2",), profiles=(BATCH,),
                                       optimization_level=1),
    "fp16-two-profiles-targets": BuildSettings(precision="fp16", profiles=((BATCH,), (SMALL,)),
                                               compute_capabilities=("8.9", "12.0"),
                                               optimization_level=2),
    "fp32-targets-workspace": BuildSettings(compute_capabilities=("8.6",), workspace_mib=64,
                                            optimization_level=0,
                                            profiling_verbosity="detailed"),
}


def test_the_schema_is_the_dataclass() -> None:
    """FIELDS names every BuildSettings attribute once, and the CLI/form derive from it."""
    from workbench.cli.trt_cmds import register, settings_from_args

    assert [f.name for f in FIELDS] == [f.name for f in dataclasses.fields(BuildSettings)]
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    options = {a.dest for a in parser._subparsers._group_actions[0].choices["build"]._actions}
    assert {f.name for f in FIELDS} <= options
    args = parser.parse_args(["build", "m.onnx", "-o", "m.engine", "--precision", "fp16",
                              "--shapes", "features:1x64,4x64,16x64", "--opt-level", "1",
                              "--keep-fp32", "fc2"])
    assert settings_from_args(args) == MATRIX["fp16-keep-profile"]


def test_precision_strategy_follows_the_features() -> None:
    keep = BuildSettings(precision="fp16", keep_fp32=("fc2",))
    on_rtx, on_10 = make_plan(keep, RTX), make_plan(keep, TRT10)
    assert on_rtx.strategy is PrecisionStrategy.CONVERTED_GRAPH and on_rtx.strongly_typed
    assert on_rtx.conversion is not None and on_rtx.conversion.keep_fp32 == ("fc2",)
    assert on_rtx.flags == () and on_rtx.layer_pins == ()
    assert on_10.strategy is PrecisionStrategy.BUILDER_FLAG and on_10.conversion is None
    assert on_10.flags == ("FP16", "OBEY_PRECISION_CONSTRAINTS")
    assert on_10.layer_pins == ("fc2",)
    assert make_plan(BuildSettings(), RTX).strategy is PrecisionStrategy.AS_IS
    assert make_plan(BuildSettings(precision="bf16"), TRT10).flags == ("BF16",)
    assert BuildSettings(precision="fp16").precision is Precision.FP16


def test_weak_typing_script_keeps_fp32_nodes() -> None:
    """The script for TensorRT 10 sets OBEY and pins the kept nodes, like the builder."""
    plan = make_plan(BuildSettings(precision="fp16", keep_fp32=("rms.square",)), TRT10)
    script = python_script(plan, "m.onnx", "m.engine")
    assert "config.set_flag(trt.BuilderFlag.FP16)" in script
    assert "config.set_flag(trt.BuilderFlag.OBEY_PRECISION_CONSTRAINTS)" in script
    assert "KEEP_FP32 = ['rms.square']" in script and "layer.precision = trt.float32" in script
    compile(script, "build.py", "exec")


@pytest.fixture
def without_targets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The installed TensorRT-RTX, described as lacking compute-capability targets (as full
    TensorRT does). Real TensorRT still builds; only the plan's input changes, and the
    refusal happens in the plan, before TensorRT is asked for anything."""
    from workbench.backends.trt import compat

    real = compat.BackendInfo.build_features

    def build_features(self: compat.BackendInfo) -> BackendFeatures:
        features = real(self)
        return dataclasses.replace(
            features, features=features.features - {"compute_capability_targets"})

    monkeypatch.setattr(compat.BackendInfo, "build_features", build_features)


def test_builder_and_renderings_refuse_with_one_error(without_targets: None, sample) -> None:
    settings = BuildSettings(compute_capabilities=("8.9",))
    errors = []
    for render in (reproduce.trtexec_command, reproduce.python_script):
        with pytest.raises(BackendUnavailableError) as info:
            render(settings, "m.onnx", "m.engine")  # for the TensorRT this process uses
        errors.append(info.value)
    with pytest.raises(BackendUnavailableError) as info:
        build_engine(sample("mlp_dynamic_batch"), settings)
    errors.append(info.value)
    assert len({(e.summary, e.expected, e.found, e.fix) for e in errors}) == 1
    assert errors[0].summary.endswith("does not offer compute_capability_targets.")
    assert "only TensorRT-RTX builds for explicit targets" in (errors[0].fix or "")


def test_the_panel_shows_a_refusal_in_both_renderings(without_targets: None, tmp_path: Path,
                                                      sample) -> None:
    from ui_support import make_panel

    panel = make_panel(tmp_path, sample("mlp_dynamic_batch"))
    build = panel.build
    build.form.fields["compute_capabilities"].value = ("8.9",)
    assert build.trtexec.value == build.python.value
    assert build.trtexec.value.startswith("# cannot build: ")
    assert "does not offer compute_capability_targets" in build.trtexec.value
    panel.close()


def test_targets_are_refused_where_tensorrt_has_none() -> None:
    settings = BuildSettings(compute_capabilities=("8.9",))
    messages = set()
    for render in (reproduce.trtexec_command, reproduce.python_script):
        with pytest.raises(BackendUnavailableError) as info:
            render(settings, "m.onnx", "m.engine", TRT10)
        messages.add(info.value.message)
    assert len(messages) == 1 and "compute_capability_targets" in messages.pop()


def test_the_cli_converts_exactly_the_planned_precisions() -> None:
    from workbench.cli import build_parser

    parser = build_parser()
    for precision in GRAPH_CONVERSIONS:
        parser.parse_args(["convert", "m.onnx", "-o", "x.onnx", "--precision", precision.value])
    with pytest.raises(SystemExit):
        parser.parse_args(["convert", "m.onnx", "-o", "x.onnx", "--precision", "fp32"])


@pytest.mark.parametrize("name", sorted(MATRIX))
@pytest.mark.parametrize("features", [RTX, TRT10, TRT11], ids=["rtx", "trt10", "trt11"])
def test_trtexec_line_reads_back_into_the_same_settings(name: str, features) -> None:
    try:
        plan = make_plan(MATRIX[name], features)
    except WorkbenchError:
        assert MATRIX[name].compute_capabilities and not features.has(
            "compute_capability_targets")
        return
    line = trtexec_command(plan, "m.onnx", "m.engine")
    assert settings_from_trtexec(line) == plan.settings
    assert line.split(" && ")[-1].startswith(features.tool + " ")


def _engine_report(text: str) -> tuple[list[tuple[str, str, tuple[str, ...]]], list[str]]:
    """Engine layers (name, type, ONNX nodes) and I/O lines (dtype, dims, profile shapes)."""
    report = text[text.index("Layers:"):]
    layers = [(layer.name, layer.layer_type, layer.onnx_nodes)
              for layer in layers_from_log([report])]
    io = report[report.index("I/O Tensors:"):].splitlines()[1:]
    return layers, [line.strip() for line in io if line.startswith(" Name: ")]


@pytest.fixture(scope="module")
def model_copy(tmp_path_factory: pytest.TempPathFactory, sample) -> Path:
    """A copy, so the script's converted graph (mlp.fp16.onnx) lands in a temporary folder."""
    folder = tmp_path_factory.mktemp("plan")
    target = folder / "mlp.onnx"
    target.write_bytes(sample("mlp_dynamic_batch").read_bytes())
    return target


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_generated_script_builds_the_engine_build_engine_builds(name: str, model_copy: Path,
                                                                tmp_path: Path) -> None:
    settings = dataclasses.replace(MATRIX[name], log_severity="VERBOSE")
    artifact = build_engine(model_copy, settings)
    engine = tmp_path / "script.engine"
    script = tmp_path / "build.py"
    plan = make_plan(artifact.card.settings, RTX)
    script.write_text(python_script(plan, str(model_copy), str(engine)))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    built_layers, built_io = _engine_report("\n".join(r.text for r in artifact.log))
    script_layers, script_io = _engine_report(done.stdout + done.stderr)
    assert script_io == built_io and len(built_io) == 2
    assert "MinShape" in built_io[0]  # the profile is part of what is compared
    assert script_layers == built_layers and built_layers
    assert [layer[0] for layer in built_layers] == [layer.name for layer in artifact.card.layers]
    # A build without a GPU times nothing, so the same plan gives the same bytes.
    assert engine.read_bytes() == artifact.plan
