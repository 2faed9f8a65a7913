"""Records and readers for TrtRunner: engine I/O, latency statistics, what blocks running.

``read_engine_io`` turns a deserialized ``ICudaEngine`` into neutral records (named I/O
tensors of TensorRT 10+, never binding indices). ``LatencyStats`` is numpy-only and so is
testable anywhere. TensorRT is reached only through the objects passed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from workbench.backends.runner import ProfileRange
from workbench.backends.trt.compat import load_trt
from workbench.backends.trt.runtime.cuda_buffers import PYCUDA_MISSING, load_pycuda, probe_gpu
from workbench.core.errors import BackendUnavailableError, EngineLoadError, InferenceInputError
from workbench.core.records import TensorSpec

__all__ = [
    "EngineIO",
    "LatencyStats",
    "fix_for",
    "numpy_dtype_name",
    "read_engine_io",
    "run_blockers",
]

# TensorRT DataType name -> NumPy dtype name. BF16/FP8/FP4/INT4 have no NumPy twin, so
# engines with such I/O tensors are reported rather than guessed at.
_DTYPES = {
    "FLOAT": "float32", "HALF": "float16", "INT8": "int8", "INT32": "int32",
    "INT64": "int64", "BOOL": "bool", "UINT8": "uint8",
}


def numpy_dtype_name(trt_dtype: Any, tensor: str = "?") -> str:
    name = getattr(trt_dtype, "name", str(trt_dtype)).split(".")[-1]
    if name not in _DTYPES:
        raise EngineLoadError(
            f"I/O tensor {tensor!r} has TensorRT type {name}, which NumPy cannot hold.",
            expected="I/O types " + ", ".join(sorted(_DTYPES)),
            found=name,
            fix="rebuild keeping I/O types (e.g. FP32 I/O with an FP16/BF16 graph inside)",
        )
    return _DTYPES[name]


@dataclass(frozen=True)
class EngineIO:
    """An engine's inputs and outputs, the shape ranges and opt shapes of one profile."""

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    ranges: dict[str, ProfileRange]
    opt_shapes: dict[str, tuple[int, ...]]


def read_engine_io(engine: Any, profile_index: int = 0) -> EngineIO:
    """Read named I/O tensors and profile ``profile_index``'s shapes from an ICudaEngine."""
    profiles = int(engine.num_optimization_profiles)
    if not 0 <= profile_index < max(profiles, 1):
        raise InferenceInputError(
            f"The engine has no optimization profile {profile_index}.",
            expected=f"profile_index from 0 to {profiles - 1}",
            found=str(profile_index),
            fix="pick one of the engine's profiles",
        )
    inputs, outputs = [], []
    ranges: dict[str, ProfileRange] = {}
    opt: dict[str, tuple[int, ...]] = {}
    for i in range(engine.num_io_tensors):
        name = engine.get_tensor_name(i)
        dims = tuple(int(d) for d in engine.get_tensor_shape(name))
        spec = TensorSpec(
            name,
            numpy_dtype_name(engine.get_tensor_dtype(name), name),
            tuple(d if d >= 0 else None for d in dims),
        )
        # Compare by name: the engine may come from either flavour's module.
        if engine.get_tensor_mode(name).name != "INPUT":
            outputs.append(spec)
            continue
        inputs.append(spec)
        if engine.is_shape_inference_io(name):
            raise EngineLoadError(
                f"Input {name!r} is a shape tensor, which TrtRunner does not feed.",
                expected="execution tensors only",
                found="a shape-tensor input (its values set shapes)",
                fix="freeze the shape inputs as constants before building",
            )
        if spec.is_dynamic:
            low, mid, high = engine.get_tensor_profile_shape(name, profile_index)
            ranges[name] = (tuple(int(d) for d in low), tuple(int(d) for d in high))
            opt[name] = tuple(int(d) for d in mid)
    return EngineIO(tuple(inputs), tuple(outputs), ranges, opt)


@dataclass(frozen=True)
class LatencyStats:
    """Per-inference GPU compute time (CUDA events), summarised like trtexec does.

    ``throughput_qps`` is inferences per second of wall time for the timed loop.
    """

    iterations: int
    warmup: int
    min_ms: float
    mean_ms: float
    median_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    throughput_qps: float

    @classmethod
    def from_samples(
        cls, samples_ms: Sequence[float], wall_s: float, warmup: int = 0
    ) -> LatencyStats:
        if not samples_ms:
            raise ValueError("LatencyStats needs at least one sample")
        values = np.asarray(samples_ms, dtype=np.float64)
        p50, p90, p99 = np.percentile(values, [50, 90, 99])
        return cls(
            iterations=len(values),
            warmup=warmup,
            min_ms=float(values.min()),
            mean_ms=float(values.mean()),
            median_ms=float(p50),
            p90_ms=float(p90),
            p99_ms=float(p99),
            max_ms=float(values.max()),
            throughput_qps=len(values) / wall_s if wall_s > 0 else float("inf"),
        )

    def summary(self) -> str:
        return (
            f"GPU compute over {self.iterations} runs (after {self.warmup} warm-up): "
            f"min {self.min_ms:.4f} ms, median {self.median_ms:.4f} ms, "
            f"p90 {self.p90_ms:.4f} ms, p99 {self.p99_ms:.4f} ms, max {self.max_ms:.4f} ms; "
            f"throughput {self.throughput_qps:.1f} inferences/s"
        )

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def run_blockers(device_index: int) -> list[str]:
    """Every reason engines cannot run here, most basic first (empty when they can)."""
    problems = []
    try:
        trt = load_trt()
    except BackendUnavailableError as err:
        trt = None
        problems.append(f"no TensorRT could be imported ({err.found})")
    probe = probe_gpu(device_index)
    if not probe.present:
        problems.append(probe.reason)
    try:
        load_pycuda()
    except BackendUnavailableError:
        problems.append(PYCUDA_MISSING)
    if trt is not None and probe.present and trt.__name__ == "tensorrt_rtx":
        runnable = [f"{major}.{minor}" for major, minor in _rtx_runnable_ccs(trt)]
        if probe.compute_capability not in runnable:
            problems.append(
                "TensorRT-RTX cannot run engines on compute capability "
                f"{probe.compute_capability} ({probe.name}); it runs on {', '.join(runnable)}"
            )
    return problems


def _rtx_runnable_ccs(trt: Any) -> list[tuple[int, int]]:
    """Compute capabilities TensorRT-RTX targets, read from its ComputeCapability enum."""
    found = []
    for name in dir(trt.ComputeCapability):
        if name.startswith("SM") and name[2:].isdigit():
            digits = name[2:]
            found.append((int(digits[:-1]), int(digits[-1])))
    return sorted(found)


def fix_for(problem: str) -> str:
    if problem.startswith("no TensorRT"):
        return "pip install tensorrt-rtx, or full TensorRT from NVIDIA's package index"
    if problem.startswith("no NVIDIA GPU"):
        return ("run on a machine with an NVIDIA GPU; here, use OrtRunner (ONNX Runtime, CPU) "
                "and build engines ahead of time")
    if problem.startswith("pycuda"):
        return "pip install 'trt-workbench[gpu]' on a machine with the CUDA toolkit"
    return "use full TensorRT (pip install tensorrt from NVIDIA's index) on this GPU"
