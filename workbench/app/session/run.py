"""Inference for the session: inputs, ONNX Runtime / TensorRT runs, output statistics.

Pure NumPy here; the runners are imported inside the functions (ONNX Runtime and TensorRT
are never imported when this module is). Every function returns frozen records that the
panel shows and a script can use.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from workbench.core.errors import BackendUnavailableError, WorkbenchError
from workbench.core.records import Choice, TensorSpec

if TYPE_CHECKING:
    from workbench.backends.trt.runtime.runner_io import LatencyStats
    from workbench.engines.card import EngineArtifact
    from workbench.inspection.loading import ModelSource

__all__ = ["BACKENDS", "OutputStats", "RunBackend", "RunResult", "inputs_from_npz",
           "run_backend", "run_model", "tensorrt_status"]


class RunBackend(Choice):
    """What runs a model: ONNX Runtime (the model) or TensorRT (the built engine)."""

    ONNXRUNTIME = "onnxruntime"
    TENSORRT = "tensorrt"


BACKENDS: tuple[str, ...] = tuple(backend.value for backend in RunBackend)


def run_backend(backend: RunBackend | str) -> RunBackend:
    """``backend`` as a RunBackend (text is accepted at the public API), or an error."""
    try:
        return RunBackend(backend)
    except ValueError as err:
        text = repr(str(backend))
        raise WorkbenchError(f"Unknown backend {text}.", expected=" or ".join(BACKENDS),
                             found=text, fix="pick one of the two") from err


@dataclass(frozen=True)
class OutputStats:
    """What one output looks like: shape, dtype and value statistics."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    min: float | None
    max: float | None
    mean: float | None
    std: float | None
    nan: int
    inf: int

    @classmethod
    def of(cls, name: str, array: np.ndarray) -> OutputStats:
        values = np.asarray(array)
        numeric = values.dtype.kind in "biuf" and values.size > 0
        data = values.astype(np.float64) if numeric else None
        finite = data[np.isfinite(data)] if data is not None else np.zeros(0)
        has = finite.size > 0
        return cls(
            name, str(values.dtype), tuple(values.shape),
            float(finite.min()) if has else None, float(finite.max()) if has else None,
            float(finite.mean()) if has else None, float(finite.std()) if has else None,
            int(np.isnan(data).sum()) if data is not None else 0,
            int(np.isinf(data).sum()) if data is not None else 0,
        )


@dataclass(frozen=True)
class RunResult:
    """One inference: backend, where the inputs came from, outputs and timing."""

    backend: RunBackend
    input_source: str  # "seed 0" or "file inputs.npz"
    seed: int | None
    inputs: dict[str, np.ndarray] = field(repr=False)
    outputs: dict[str, np.ndarray] = field(repr=False)
    seconds: float = 0.0
    latency: LatencyStats | None = None  # on a GPU
    notes: tuple[str, ...] = ()

    def stats(self) -> list[OutputStats]:
        return [OutputStats.of(name, value) for name, value in self.outputs.items()]

    def input_specs(self) -> tuple[TensorSpec, ...]:
        return tuple(TensorSpec(n, a.dtype.name, tuple(a.shape)) for n, a in self.inputs.items())


def tensorrt_status() -> tuple[bool, str]:
    """(True, GPU description) when TensorRT engines can run here, else (False, why)."""
    try:
        from workbench.backends.trt.runtime.runner import TrtRunner

        ok, why = TrtRunner.can_run()
        return bool(ok), str(why)
    except WorkbenchError as err:
        return False, err.summary + (f" ({err.found})" if err.found else "")
    except ImportError as err:
        return False, f"TensorRT cannot be imported: {err}"


def inputs_from_npz(data: bytes | Path, name: str = "inputs.npz") -> dict[str, np.ndarray]:
    """Feeds from an uploaded ``.npz`` (bytes) or a path; pickles are refused."""
    from workbench.feeds.inputs import load_inputs

    if isinstance(data, Path):
        return dict(load_inputs(data))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / (Path(name).name or "inputs.npz")
        path.write_bytes(data)
        return dict(load_inputs(path))


def run_model(backend: RunBackend | str, model_source: ModelSource, feeds: Mapping[str, np.ndarray],
              engine: EngineArtifact | Path | None = None, benchmark: bool = True
              ) -> tuple[dict[str, np.ndarray], float, LatencyStats | None]:
    """Run once with ``backend``; returns (outputs, seconds, latency stats or None)."""
    if run_backend(backend) is RunBackend.ONNXRUNTIME:
        from workbench.backends.ort import OrtRunner

        with OrtRunner(model_source) as runner:
            started = time.perf_counter()
            outputs = runner.infer(feeds)
            return outputs, time.perf_counter() - started, None
    ok, why = tensorrt_status()
    if not ok:
        raise BackendUnavailableError(
            "TensorRT cannot run engines on this machine.",
            expected="an NVIDIA GPU supported by the installed TensorRT, with pycuda",
            found=why,
            fix="run with ONNX Runtime here; building, saving and checking engines work "
            "without a GPU",
        )
    if engine is None:
        raise WorkbenchError("No engine to run.", expected="a built or reloaded engine",
                             found="none yet", fix="build one in the Build tab, or reload one "
                             "in the Engines tab")
    from workbench.backends.trt.runtime.runner import TrtRunner

    with TrtRunner(engine) as runner:
        started = time.perf_counter()
        outputs = runner.infer(feeds)
        seconds = time.perf_counter() - started
        latency = runner.benchmark(feeds) if benchmark else None
    return outputs, seconds, latency
