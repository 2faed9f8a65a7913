"""TrtRunner without a GPU: honest reasons, validation before any GPU work, real RTX plans.

The engine here is a real TensorRT-RTX build of ``mlp_dynamic_batch.onnx`` (building needs
no GPU; deserializing does). Steps that need a GPU skip with a reason that says so; on a
GPU machine with an engine-capable TensorRT they run for real.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from workbench.backends.trt.compat import load_trt
from workbench.backends.trt.runtime.cuda_buffers import PYCUDA_MISSING, load_pycuda, probe_gpu
from workbench.backends.trt.runtime.runner import TrtRunner, _signature
from workbench.backends.trt.runtime.runner_io import (
    LatencyStats,
    _rtx_runnable_ccs,
    numpy_dtype_name,
)
from workbench.core.errors import BackendUnavailableError, EngineLoadError, InferenceInputError
from workbench.core.records import TensorSpec

CAN_RUN, WHY_NOT = TrtRunner.can_run()
needs_gpu = pytest.mark.skipif(
    not CAN_RUN, reason=f"needs an NVIDIA GPU with an engine-capable TensorRT: {WHY_NOT}"
)
PROFILE = {"features": ((1, 64), (4, 64), (8, 64))}  # min, opt, max


def _build(onnx_path: Path) -> tuple[bytes, tuple[TensorSpec, ...], tuple[TensorSpec, ...]]:
    """A real TensorRT build (CPU is enough), with the network's I/O as TensorSpecs."""
    try:
        trt = load_trt()
    except BackendUnavailableError as err:
        pytest.skip(f"needs TensorRT to build the sample engine: {err.found}")
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    assert parser.parse_from_file(str(onnx_path)), parser.get_error(0)
    config = builder.create_builder_config()
    profile = builder.create_optimization_profile()
    for name, (low, opt, high) in PROFILE.items():
        profile.set_shape(name, low, opt, high)
    config.add_optimization_profile(profile)
    plan = builder.build_serialized_network(network, config)
    assert plan is not None, "TensorRT failed to build the sample"

    def spec(tensor) -> TensorSpec:
        dims = tuple(int(d) for d in tensor.shape)
        shape = tuple(d if d >= 0 else None for d in dims)
        return TensorSpec(tensor.name, numpy_dtype_name(tensor.dtype, tensor.name), shape)

    inputs = tuple(spec(network.get_input(i)) for i in range(network.num_inputs))
    outputs = tuple(spec(network.get_output(i)) for i in range(network.num_outputs))
    return bytes(plan), inputs, outputs


@pytest.fixture(scope="module")
def mlp_engine(sample) -> tuple[bytes, tuple[TensorSpec, ...], tuple[TensorSpec, ...]]:
    return _build(sample("mlp_dynamic_batch"))


@pytest.fixture()
def declared_runner(mlp_engine) -> TrtRunner:
    plan, inputs, outputs = mlp_engine
    ranges = {name: (low, high) for name, (low, _, high) in PROFILE.items()}
    return TrtRunner(plan, io_specs=(inputs, outputs), profiles=ranges)


# ---- what can run here ---------------------------------------------------------------------
def test_can_run_gives_every_honest_reason() -> None:
    ok, reason = TrtRunner.can_run()
    if ok:
        pytest.skip(f"engines can run here: {reason}")
    probe = probe_gpu()
    if not probe.present:
        assert "no NVIDIA GPU found" in reason
    try:
        load_pycuda()
    except BackendUnavailableError:
        assert PYCUDA_MISSING in reason
        assert "pip install 'trt-workbench[gpu]'" in reason


def test_activate_raises_with_the_reason(mlp_engine) -> None:
    if CAN_RUN:
        pytest.skip("engines can run here; the refusal path is not taken")
    runner = TrtRunner(mlp_engine[0])
    with pytest.raises(BackendUnavailableError) as info:
        runner.activate()
    message = info.value.message
    assert "TensorRT engines cannot run here" in message
    assert WHY_NOT.split(";")[0] in message
    assert "what to do:" in message
    assert not runner.is_active
    with pytest.raises(BackendUnavailableError), runner:
        pass  # the context manager refuses the same way
    runner.deactivate()  # harmless when never activated


def test_rtx_refuses_hopper_by_its_own_target_list() -> None:
    try:
        trt = load_trt()
    except BackendUnavailableError as err:
        pytest.skip(f"needs TensorRT: {err.found}")
    if trt.__name__ != "tensorrt_rtx":
        pytest.skip("full TensorRT runs on every supported GPU; the RTX rule does not apply")
    ccs = _rtx_runnable_ccs(trt)
    assert (8, 6) in ccs and (8, 9) in ccs
    assert (9, 0) not in ccs, "TensorRT-RTX must not claim to run on Hopper (9.0)"


# ---- validation before any GPU work ----------------------------------------------------------
def test_declared_io_is_known_without_a_gpu(declared_runner: TrtRunner) -> None:
    (features,) = declared_runner.input_specs()
    assert features == TensorSpec("features", "float32", (None, 64))
    assert declared_runner.output_specs()[0].name == "probabilities"
    assert declared_runner.profile_ranges() == {"features": ((1, 64), (8, 64))}


def test_wrong_name_is_reported_before_activation(declared_runner: TrtRunner) -> None:
    with pytest.raises(InferenceInputError) as info:
        declared_runner.infer({"feature": np.zeros((2, 64), np.float32)})
    assert "Input names do not match" in info.value.summary
    assert "add features" in info.value.message and "remove or rename feature" in info.value.message


def test_wrong_dtype_is_reported_before_activation(declared_runner: TrtRunner) -> None:
    with pytest.raises(InferenceInputError) as info:
        declared_runner.infer({"features": np.zeros((2, 64), np.complex64)})
    assert "wrong dtype" in info.value.summary
    assert "float32" in info.value.message and "complex64" in info.value.message


def test_out_of_profile_batch_is_reported_before_activation(declared_runner: TrtRunner) -> None:
    with pytest.raises(InferenceInputError) as info:
        declared_runner.benchmark({"features": np.zeros((16, 64), np.float32)})
    assert "outside the engine's optimization profile" in info.value.summary
    assert "[1, 64] and [8, 64]" in info.value.message


def test_wrong_rank_and_fixed_dim(declared_runner: TrtRunner) -> None:
    with pytest.raises(InferenceInputError, match="wrong rank"):
        declared_runner.validate({"features": np.zeros((64,), np.float32)})
    with pytest.raises(InferenceInputError, match="axis 1, which is fixed"):
        declared_runner.validate({"features": np.zeros((2, 63), np.float32)})


def test_valid_feeds_pass_validation_then_need_activation(declared_runner: TrtRunner) -> None:
    checked = declared_runner.validate({"features": np.ones((3, 64), np.float64)})
    assert checked["features"].dtype == np.float32  # safe cast to the declared dtype
    with pytest.raises(InferenceInputError, match="not active"):
        declared_runner.infer({"features": np.ones((3, 64), np.float32)})


def test_card_specs_match_engine_specs_despite_symbolic_dims() -> None:
    card = (TensorSpec("features", "float32", ("batch", 64)),)
    engine = (TensorSpec("features", "float32", (None, 64)),)
    assert _signature(card) == _signature(engine)
    assert _signature(card) != _signature((TensorSpec("features", "float16", (None, 64)),))


def test_io_unknown_without_engine_or_card(mlp_engine) -> None:
    runner = TrtRunner(mlp_engine[0])
    with pytest.raises(EngineLoadError) as info:
        runner.input_specs()
    assert "io_specs" in info.value.message


def test_bad_engine_paths_fail_at_construction(tmp_path: Path) -> None:
    with pytest.raises(EngineLoadError, match="could not be read"):
        TrtRunner(tmp_path / "missing.engine")
    empty = tmp_path / "empty.engine"
    empty.write_bytes(b"")
    with pytest.raises(EngineLoadError, match="is empty"):
        TrtRunner(empty)
    with pytest.raises(EngineLoadError, match="cannot read an engine"):
        TrtRunner(12345)


def test_plan_from_path_is_read(tmp_path: Path, mlp_engine) -> None:
    path = tmp_path / "mlp.engine"
    path.write_bytes(mlp_engine[0])
    runner = TrtRunner(path, io_specs=(mlp_engine[1], mlp_engine[2]))
    assert runner.input_specs()[0].name == "features"


def test_io_types_numpy_cannot_hold_are_named() -> None:
    try:
        trt = load_trt()
    except BackendUnavailableError as err:
        pytest.skip(f"needs TensorRT: {err.found}")
    assert numpy_dtype_name(trt.DataType.HALF) == "float16"
    assert numpy_dtype_name(trt.DataType.BOOL) == "bool"
    with pytest.raises(EngineLoadError) as info:
        numpy_dtype_name(trt.DataType.BF16, "logits")
    assert "'logits'" in info.value.summary and "BF16" in info.value.summary


# ---- statistics (numpy only) ------------------------------------------------------------------
def test_latency_stats_like_trtexec() -> None:
    samples = [float(v) for v in range(1, 101)]  # 1..100 ms
    stats = LatencyStats.from_samples(samples, wall_s=2.0, warmup=5)
    assert (stats.min_ms, stats.max_ms, stats.iterations, stats.warmup) == (1.0, 100.0, 100, 5)
    assert stats.median_ms == pytest.approx(50.5)
    assert stats.p90_ms == pytest.approx(90.1)
    assert stats.p99_ms == pytest.approx(99.01)
    assert stats.throughput_qps == pytest.approx(50.0)
    assert "p99 99.0100 ms" in stats.summary()
    assert stats.to_dict()["mean_ms"] == pytest.approx(50.5)
    with pytest.raises(ValueError):
        LatencyStats.from_samples([], wall_s=1.0)


# ---- on a GPU with an engine-capable TensorRT ----------------------------------------------
def _reference(onnx_path: Path, features: np.ndarray) -> np.ndarray:
    weights = {t.name: numpy_helper.to_array(t) for t in onnx.load(onnx_path).graph.initializer}
    hidden = np.maximum(features @ weights["fc1.w"] + weights["fc1.b"], 0)
    logits = hidden @ weights["fc2.w"] + weights["fc2.b"]
    exp = np.exp(logits - logits.max(-1, keepdims=True))
    return exp / exp.sum(-1, keepdims=True)


@needs_gpu
def test_infer_dynamic_batches_and_benchmark_on_gpu(mlp_engine, sample) -> None:
    rng = np.random.default_rng(0)
    with TrtRunner(mlp_engine[0]) as runner:
        assert runner.profile_ranges() == {"features": ((1, 64), (8, 64))}
        for batch in (1, 8, 3):  # grow, then shrink into the same buffers
            features = rng.standard_normal((batch, 64)).astype(np.float32)
            out = runner.infer({"features": features})["probabilities"]
            assert out.shape == (batch, 10)  # read back from the execution context
            np.testing.assert_allclose(out, _reference(sample("mlp_dynamic_batch"), features),
                                       rtol=1e-3, atol=1e-4)
        stats = runner.benchmark({"features": features}, warmup=5, iterations=50)
        assert stats.iterations == 50 and 0 < stats.min_ms <= stats.median_ms <= stats.p99_ms
        assert stats.throughput_qps > 0
    assert not runner.is_active
