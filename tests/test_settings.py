"""BuildSettings: validation against model inputs, default profiles, renderings, JSON."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.core.errors import BuildSettingsError
from workbench.core.records import TensorSpec
from workbench.settings.settings import BuildSettings, ShapeProfile, default_profiles

IMAGE = TensorSpec("image", "float32", ("batch", 3, "height", "width"))
TOKENS = TensorSpec("token_ids", "int64", ("batch", "sequence"))


def test_default_profiles_follow_the_documented_rule() -> None:
    (image,) = default_profiles([IMAGE])
    assert image.min == (1, 3, 32, 32) and image.opt == (1, 3, 224, 224)
    assert image.max == (8, 3, 512, 512)
    (tokens,) = default_profiles([TOKENS])
    assert (tokens.min, tokens.opt, tokens.max) == ((1, 1), (1, 128), (8, 512))
    assert default_profiles([TensorSpec("x", "float32", (1, 3))]) == ()


def test_resolved_fills_profiles_only_for_dynamic_models() -> None:
    assert BuildSettings().resolved([IMAGE]).profiles == (default_profiles([IMAGE]),)
    assert BuildSettings().resolved([TensorSpec("x", "float32", (1, 3))]).profiles == ()


@pytest.mark.parametrize(("shape", "fragment"), [
    (ShapeProfile("image", (1, 3, 8), (1, 3, 8), (1, 3, 8)), "wrong rank"),
    (ShapeProfile("image", (1, 4, 8, 8), (1, 4, 8, 8), (1, 4, 8, 8)), "fixed at 3"),
    (ShapeProfile("image", (4, 3, 8, 8), (1, 3, 8, 8), (8, 3, 8, 8)), "min ≤ opt ≤ max"),
    (ShapeProfile("picture", (1, 3, 8, 8), (1, 3, 8, 8), (1, 3, 8, 8)), "'picture'"),
])
def test_invalid_profiles_are_named(shape: ShapeProfile, fragment: str) -> None:
    with pytest.raises(BuildSettingsError) as info:
        BuildSettings(profiles=(shape,)).validate([IMAGE])
    assert fragment in info.value.message


def test_every_dynamic_input_needs_a_profile() -> None:
    settings = BuildSettings(profiles=(ShapeProfile("image", (1, 3, 8, 8), (1, 3, 8, 8),
                                                    (1, 3, 8, 8)),))
    with pytest.raises(BuildSettingsError, match="token_ids"):
        settings.validate([IMAGE, TOKENS])


@pytest.mark.parametrize("kwargs", [
    {"precision": "int8"}, {"optimization_level": 6}, {"workspace_mib": 0},
    {"compute_capabilities": ("9.0",)}, {"keep_fp32": ("a",)},
    {"hardware_compatibility": "turing"},
])
def test_bad_scalars_are_refused(kwargs: dict) -> None:
    with pytest.raises(BuildSettingsError):
        BuildSettings(**kwargs)


def test_shape_text_parses() -> None:
    shape = ShapeProfile.parse("image:1x3x8x8,2x3x16x16,4x3x32x32")
    assert shape.opt == (2, 3, 16, 16) and shape.text() == "image:1x3x8x8,2x3x16x16,4x3x32x32"
    assert ShapeProfile.parse("x:2x4").max == (2, 4)
    with pytest.raises(BuildSettingsError, match="whole number"):
        ShapeProfile.parse("x:1xa")


def test_json_round_trip_with_two_profiles() -> None:
    one = ShapeProfile("image", (1, 3, 8, 8), (1, 3, 16, 16), (2, 3, 32, 32))
    two = ShapeProfile("image", (4, 3, 8, 8), (4, 3, 16, 16), (8, 3, 32, 32))
    settings = BuildSettings(precision="fp16", keep_fp32=("block.bn1",), workspace_mib=512,
                             optimization_level=2, profiles=((one,), (two,)), refit=True,
                             compute_capabilities=("SM89", "12.0"), timing_cache="t.cache")
    again = BuildSettings.from_dict(json.loads(json.dumps(settings.to_dict())))
    assert again == settings and again.compute_capabilities == ("8.9", "12.0")
    with pytest.raises(BuildSettingsError, match="unknown keys"):
        BuildSettings.from_dict({"precison": "fp16"})


def test_trtexec_command_is_exact() -> None:
    shape = ShapeProfile("image", (1, 3, 8, 8), (1, 3, 16, 16), (2, 3, 32, 32))
    settings = BuildSettings(precision="fp16", workspace_mib=1024, optimization_level=4,
                             profiles=(shape,), hardware_compatibility="ampere_plus",
                             version_compatible=True, refit=True, strip_plan=True,
                             timing_cache="my cache.bin", profiling_verbosity="detailed")
    assert shlex.split(settings.to_trtexec("m.onnx", "m.engine")) == [
        "trtexec", "--onnx=m.onnx", "--saveEngine=m.engine", "--minShapes=image:1x3x8x8",
        "--optShapes=image:1x3x16x16", "--maxShapes=image:2x3x32x32",
        "--memPoolSize=workspace:1024M", "--builderOptimizationLevel=4", "--fp16",
        "--hardwareCompatibilityLevel=ampere+", "--versionCompatible", "--refit",
        "--stripWeights", "--timingCacheFile=my cache.bin", "--profilingVerbosity=detailed",
    ]
    strong = settings.to_trtexec("m.fp16.onnx", "m.engine", strongly_typed=True)
    assert "--stronglyTyped" in strong and "--fp16" not in strong


def test_to_python_script_builds_an_engine(tmp_path: Path, sample) -> None:
    shape = ShapeProfile("features", (1, 64), (4, 64), (8, 64))
    settings = BuildSettings(precision="fp16", profiles=(shape,), compute_capabilities=("8.9",),
                             timing_cache=str(tmp_path / "cache.bin"))
    model = tmp_path / "mlp.onnx"
    model.write_bytes(sample("mlp_dynamic_batch").read_bytes())
    script = tmp_path / "build.py"
    script.write_text(settings.to_python(str(model), str(tmp_path / "mlp.engine")))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "mlp.engine").stat().st_size > 1000
    assert (tmp_path / "mlp.fp16.onnx").exists()


def test_trtexec_keeps_fp32_nodes_on_weak_typing() -> None:
    settings = BuildSettings(precision="fp16", keep_fp32=("rms.square", "rms.mean"))
    command = settings.to_trtexec("m.onnx", "m.engine", strongly_typed=False)
    assert "--fp16" in command
    assert "--precisionConstraints=obey" in command
    assert "--layerPrecisions=rms.square:fp32,rms.mean:fp32" in command


def test_trtexec_strongly_typed_converts_first() -> None:
    settings = BuildSettings(precision="fp16", keep_fp32=("rms.square",))
    command = settings.to_trtexec("m.onnx", "m.engine", strongly_typed=True,
                                  tool="tensorrt_rtx")
    convert, build = command.split(" && ")
    assert convert == ("trt-workbench convert m.onnx --precision fp16 --keep-fp32 rms.square "
                       "-o m.fp16.onnx")
    assert build.startswith("tensorrt_rtx --onnx=m.fp16.onnx ")
    assert "--stronglyTyped" in build and "--fp16" not in build


@pytest.mark.parametrize("shape", [
    ("p2o.DynamicDimension.0", 3, "p2o.DynamicDimension.1", "p2o.DynamicDimension.2"),
    ("?", 1, None, None), ("N", "unk__1", "unk__2", 4),
])
def test_image_like_inputs_seed_multiples_of_32_whatever_the_dims_are_called(shape) -> None:
    from workbench.settings.settings import seed_profile

    profile = seed_profile(TensorSpec("x", "float32", shape))
    spatial = (2, 3) if shape[1] in (1, 3) else (1, 2)
    for dims in (profile.min, profile.opt, profile.max):
        assert all(dims[axis] % 32 == 0 and dims[axis] >= 32 for axis in spatial), dims
    assert (profile.min[0], profile.opt[0], profile.max[0]) == (1, 1, 8)


def test_seed_profile_of_a_static_input_is_its_shape() -> None:
    from workbench.settings.settings import seed_profile

    profile = seed_profile(TensorSpec("x", "float32", (2, 3)))
    assert profile.min == profile.opt == profile.max == (2, 3)


def test_seeding_starts_where_the_graph_can_run() -> None:
    from workbench.settings.settings import seed_profile

    spec = TensorSpec("input", "float32", ("batch", "samples"))
    raised = seed_profile(spec, {"samples": 64})
    assert (raised.min, raised.opt, raised.max) == ((1, 64), (1, 64), (8, 64))
    assert seed_profile(spec, {"samples": 8}).opt == (1, 16)  # already long enough
