"""Real TensorRT-RTX builds on the CPU over the sample models."""

from __future__ import annotations

import threading
from pathlib import Path

import onnx
import pytest

from workbench.backends.trt.build import build_engine
from workbench.backends.trt.compat import backend_info
from workbench.build.settings import BuildSettings, ShapeProfile
from workbench.core.errors import (
    BuildCancelled,
    BuildError,
    ModelLoadError,
)
from workbench.core.logbus import LogBus


def test_dynamic_batch_build_with_explicit_profile(sample) -> None:
    shape = ShapeProfile("features", (1, 64), (4, 64), (16, 64))
    artifact = build_engine(sample("mlp_dynamic_batch"), BuildSettings(profiles=(shape,)))
    card = artifact.card
    assert artifact.plan[:4] == b"vtrt" and card.plan_size == len(artifact.plan)
    assert card.profiles == ((shape,),)
    assert [s.name for s in card.inputs] == ["features"]
    assert card.outputs[0].shape == ("batch", 10)
    assert card.flavour == backend_info().flavour and card.trt_version == backend_info().version


def test_three_dynamic_dims_get_seeded_profiles_and_layers(sample) -> None:
    artifact = build_engine(sample("resnet_block"))
    (profile,) = artifact.card.profiles
    assert profile[0].max == (8, 3, 512, 512)
    # DETAILED profiling verbosity: the builder's layer report is parsed from the log
    assert artifact.card.layers_source == "build_log"
    fused = {node for layer in artifact.layers for node in layer.onnx_nodes}
    assert {"stem", "block.conv2", "block.residual_add"} <= fused


def test_int64_inputs_and_two_profiles(sample) -> None:
    small = ShapeProfile("token_ids", (1, 1), (1, 16), (2, 32))
    large = ShapeProfile("token_ids", (4, 32), (8, 64), (8, 128))
    artifact = build_engine(sample("transformer_block"), BuildSettings(profiles=((small,),
                                                                                 (large,))))
    assert artifact.card.inputs[0].dtype == "int64"
    assert len(artifact.card.profiles) == 2


def test_fp16_on_rtx_converts_the_graph(sample) -> None:
    fp32 = build_engine(sample("resnet_block"))
    fp16 = build_engine(sample("resnet_block"), BuildSettings(precision="fp16"))
    assert fp16.card.strongly_typed and fp16.card.settings.precision == "fp16"
    assert fp16.card.plan_sha256 != fp32.card.plan_sha256
    # the card still records the original model: I/O types are kept by the conversion
    assert fp16.card.onnx_sha256 == fp32.card.onnx_sha256
    assert fp16.card.inputs[0].dtype == "float32"


def test_bf16_converts_the_graph_on_a_strongly_typed_tensorrt(sample) -> None:
    artifact = build_engine(sample("tiny_cnn"), BuildSettings(precision="bf16"))
    assert artifact.card.strongly_typed and artifact.card.settings.precision == "bf16"
    assert artifact.conversion is not None and artifact.conversion.precision == "bf16"
    assert artifact.card.inputs[0].dtype == "float32"


def test_log_is_filtered_streamed_and_kept(sample) -> None:
    seen = []
    artifact = build_engine(sample("tiny_cnn"), BuildSettings(log_severity="WARNING"),
                            on_log=seen.append)
    assert all(r.severity in ("WARNING", "ERROR", "INTERNAL_ERROR") for r in artifact.log)
    bus = LogBus("VERBOSE")
    build_engine(sample("tiny_cnn"), on_log=bus)
    assert len(bus) > 50 and any("Engine generation completed" in t for t in bus.lines())


def test_progress_phase_tree(sample) -> None:
    events = []
    build_engine(sample("tiny_cnn"), on_progress=events.append)
    assert events[0].kind == "phase_start" and events[0].phase == "Building engine"
    assert events[-1].kind == "phase_finish" and events[-1].fraction == 1.0
    assert any(e.depth >= 2 for e in events)
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions)


def test_cancel_mid_build_is_quick(sample) -> None:
    calls = []

    def cancel_after_a_few_steps() -> bool:
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(BuildCancelled, match="cancelled"):
        build_engine(sample("resnet_block"), cancel=cancel_after_a_few_steps)
    assert len(calls) == 4  # TensorRT stopped at the first step after the cancel, not later
    event = threading.Event()
    event.set()
    with pytest.raises(BuildCancelled):
        build_engine(sample("tiny_cnn"), cancel=event)


def test_build_error_carries_tensorrt_and_stderr_lines(sample) -> None:
    # REFIT needs a GPU with TensorRT-RTX: the builder fails in Myelin and also writes
    # "Internal Error: MyelinCheckException" straight to stderr, outside the logger.
    if backend_info().gpu_present:
        pytest.skip("on a GPU machine this build succeeds")
    with pytest.raises(BuildError) as info:
        build_engine(sample("mlp_dynamic_batch"), BuildSettings(refit=True))
    details = "\n".join(info.value.details)
    assert "Error Code" in details
    assert "[stderr] Internal Error: MyelinCheckException" in details


def test_unsupported_model_raises_build_error_with_parser_text(sample) -> None:
    with pytest.raises(BuildError) as info:
        build_engine(sample("unsupported_op"))
    assert "FancyActivation" in "\n".join(info.value.details)
    assert "diagnose" in info.value.message


@pytest.mark.parametrize("bad", ["truncated", "hostile_external_data"])
def test_bad_onnx_is_refused_before_tensorrt(sample, bad: str) -> None:
    with pytest.raises(ModelLoadError):
        build_engine(sample(bad))
    with pytest.raises(ModelLoadError):
        build_engine(b"garbage bytes that TensorRT's parser would accept")


def test_model_proto_and_external_weights(sample) -> None:
    artifact = build_engine(onnx.load(str(sample("tiny_cnn"))))
    assert artifact.card.onnx_path is None
    assert build_engine(sample("external_weights")).card.plan_size > 0


def test_timing_cache_is_saved_and_loaded_where_tensorrt_has_one(sample, tmp_path: Path) -> None:
    cache = tmp_path / "timing.cache"
    settings = BuildSettings(timing_cache=str(cache))
    info = backend_info()
    first = build_engine(sample("tiny_cnn"), settings)
    if not info.has("timing_cache"):
        # TensorRT-RTX: the calls are deprecated no-ops, so the build says so and skips them
        assert not cache.exists()
        warning = [r.text for r in first.log if r.source == "workbench"]
        assert warning and "neither read nor written" in warning[0], warning
        return
    assert cache.stat().st_size > 0  # written atomically after the first build
    second = build_engine(sample("tiny_cnn"), settings)  # loads the saved cache
    assert second.plan and cache.stat().st_size > 0
