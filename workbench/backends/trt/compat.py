"""Which TensorRT is installed, and what it can do: feature detection in one place.

Full TensorRT (``import tensorrt``) is preferred when it imports; otherwise TensorRT for
RTX (``import tensorrt_rtx``). ``WORKBENCH_TRT=tensorrt|tensorrt_rtx`` overrides.

Every other backend module asks ``backend_info`` / ``require`` instead of probing
``hasattr(trt, ...)`` itself, and the API families that can reach each branch are declared
in ``BRANCHES``, which the API conformance test checks against the real bindings.
"""

from __future__ import annotations

import ctypes
import functools
import importlib
import os
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from workbench.core.errors import BackendUnavailableError
from workbench.settings.features import FEATURES, BackendFeatures

__all__ = [
    "BRANCHES",
    "FAMILIES",
    "FEATURES",
    "FLAVOURS",
    "BackendInfo",
    "GpuInfo",
    "backend_features",
    "backend_info",
    "family_of",
    "gpu_info",
    "load_trt",
    "probe_gpu",
    "require",
]

FLAVOURS: tuple[str, ...] = ("tensorrt", "tensorrt_rtx")

# API families: the code paths differ between these, not between minor versions.
FAMILIES: tuple[str, ...] = ("tensorrt-10", "tensorrt-11", "tensorrt_rtx")
WEAK_TYPING: frozenset[str] = frozenset({"tensorrt-10"})
RTX_ONLY: frozenset[str] = frozenset({"tensorrt_rtx"})
ALL: frozenset[str] = frozenset(FAMILIES)

# "module:function" (qualified name inside workbench/backends/trt/) -> families that reach
# it. Anything not listed is reachable by every family, so every ``trt.X.Y`` it uses must
# exist in all of them. tests/test_api_conformance.py enforces this against the bindings.
BRANCHES: dict[str, frozenset[str]] = {
    "configure:_weak_precision_flag": WEAK_TYPING,
    "configure:_pin_fp32_layers": WEAK_TYPING,
    "configure:_set_compute_capabilities": RTX_ONLY,
    "engine:_header_validity": RTX_ONLY,
    "runner_io:_rtx_runnable_ccs": RTX_ONLY,  # called only when trt.__name__ is tensorrt_rtx
    "compat:_probe_features": ALL,
}



@functools.cache
def load_trt() -> ModuleType:
    """Import and return the TensorRT module to use (cached)."""
    wanted = os.environ.get("WORKBENCH_TRT", "").strip()
    if wanted and wanted not in FLAVOURS:
        raise BackendUnavailableError(
            f"WORKBENCH_TRT={wanted!r} is not a TensorRT flavour.",
            expected="WORKBENCH_TRT=tensorrt or WORKBENCH_TRT=tensorrt_rtx (or unset)",
            found=repr(wanted),
            fix="unset WORKBENCH_TRT to pick automatically, or set one of the two names",
        )
    candidates = (wanted,) if wanted else FLAVOURS
    problems = []
    for name in candidates:
        try:
            return importlib.import_module(name)
        # A broken install raises OSError or RuntimeError, not only ImportError.
        except Exception as err:
            problems.append(f"import {name}: {type(err).__name__}: {err}")
    raise BackendUnavailableError(
        "No TensorRT could be imported.",
        expected="TensorRT for RTX (pip install tensorrt-rtx) or full TensorRT",
        found="; ".join(problems),
        fix="pip install tensorrt-rtx (works without a GPU), or on a GPU machine install "
        "full TensorRT from NVIDIA's package index",
    )


@dataclass(frozen=True)
class GpuInfo:
    """What the CUDA driver says about one NVIDIA GPU (asked without pycuda or TensorRT)."""

    present: bool
    name: str | None = None
    compute_capability: str | None = None
    count: int = 0
    reason: str = ""
    driver_version: int = 0


def probe_gpu(index: int = 0) -> GpuInfo:
    """Ask the CUDA driver API (libcuda) about GPU ``index``: quiet, and never crashes.

    TensorRT's own probes print CUDA errors to stderr and the log when there is no GPU, so
    the driver library is asked instead: no library, a failing cuInit or too few devices
    all mean no GPU, and ``reason`` says which.
    """
    try:
        cuda = ctypes.CDLL("libcuda.so.1")
    except OSError as err:
        return GpuInfo(False, reason=f"no NVIDIA GPU found (no CUDA driver: {err})")
    status = cuda.cuInit(0)
    if status != 0:
        return GpuInfo(False, reason="no NVIDIA GPU found (the CUDA driver did not "
                       f"initialise: CUresult {status})")
    count, version = ctypes.c_int(0), ctypes.c_int(0)
    cuda.cuDriverGetVersion(ctypes.byref(version))
    if cuda.cuDeviceGetCount(ctypes.byref(count)) != 0 or count.value <= index:
        return GpuInfo(False, count=count.value, driver_version=version.value,
                       reason=f"no NVIDIA GPU found (the driver sees {count.value} device(s))")
    device, major, minor = ctypes.c_int(0), ctypes.c_int(0), ctypes.c_int(0)
    cuda.cuDeviceGet(ctypes.byref(device), index)
    cuda.cuDeviceGetAttribute(ctypes.byref(major), 75, device)  # COMPUTE_CAPABILITY_MAJOR
    cuda.cuDeviceGetAttribute(ctypes.byref(minor), 76, device)  # COMPUTE_CAPABILITY_MINOR
    name = ctypes.create_string_buffer(256)
    cuda.cuDeviceGetName(name, 256, device)
    return GpuInfo(True, name.value.decode(errors="replace"), f"{major.value}.{minor.value}",
                   count.value, driver_version=version.value)


@functools.cache
def gpu_info() -> GpuInfo:
    """GPU 0, probed once per process (see ``probe_gpu``)."""
    return probe_gpu(0)


def family_of(flavour: str, version: str) -> str:
    """The API family (see ``FAMILIES``) of a flavour and version."""
    if flavour == "tensorrt_rtx":
        return "tensorrt_rtx"
    return "tensorrt-10" if version.split(".")[0] in ("", "8", "9", "10") else "tensorrt-11"


@dataclass(frozen=True)
class BackendInfo:
    """What the installed TensorRT is and can do (``workbench.backend_info()``)."""

    flavour: str
    version: str
    family: str
    module_path: str
    gpu: GpuInfo
    features: tuple[str, ...]

    @property
    def label(self) -> str:
        name = "TensorRT-RTX" if self.flavour == "tensorrt_rtx" else "TensorRT"
        return f"{name} {'.'.join(self.version.split('.')[:3])}"

    @property
    def gpu_present(self) -> bool:
        return self.gpu.present

    @property
    def strongly_typed(self) -> bool:
        return "weak_typing_fp16" not in self.features

    def has(self, feature: str) -> bool:
        return feature in self.features

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(name for name in FEATURES if name not in self.features)

    def machine_text(self) -> str:
        """"TensorRT-RTX 1.7.1 and no GPU" / "TensorRT 10.16.0 and an NVIDIA L4 (8.9)"."""
        if not self.gpu.present:
            return f"{self.label} and no GPU"
        return f"{self.label} and an {self.gpu.name} (compute capability " \
               f"{self.gpu.compute_capability})"

    def build_features(self) -> BackendFeatures:
        """The record a build plan is made from (``workbench.settings.plan``)."""
        return BackendFeatures(self.flavour, self.label, frozenset(self.features),
                               self.module_path)

    def to_dict(self) -> dict[str, Any]:
        return {
            "flavour": self.flavour, "version": self.version, "family": self.family,
            "label": self.label, "module_path": self.module_path,
            "gpu": {"present": self.gpu.present, "name": self.gpu.name,
                    "compute_capability": self.gpu.compute_capability,
                    "count": self.gpu.count, "reason": self.gpu.reason},
            "features": list(self.features), "missing": list(self.missing),
        }


def _probe_features(trt: ModuleType) -> set[str]:
    flags = set(dir(trt.BuilderFlag))
    config = set(dir(trt.IBuilderConfig))
    probes = {
        "weak_typing_fp16": "FP16" in flags,
        "weak_typing_bf16": "BF16" in flags,
        "strongly_typed": True,  # every supported version can build from a typed graph
        "compute_capability_targets": "set_compute_capability" in config
        and hasattr(trt, "ComputeCapability"),
        "engine_validity": hasattr(trt.Runtime, "get_engine_validity"),
        "progress_monitor": hasattr(trt, "IProgressMonitor"),
        "engine_inspector": hasattr(trt, "EngineInspector"),
        "version_compatible": "VERSION_COMPATIBLE" in flags,
        "refit": "REFIT" in flags,
        "strip_plan": "STRIP_PLAN" in flags,
        # TensorRT-RTX keeps the timing-cache calls only as deprecated no-ops (since 1.2).
        "timing_cache": "create_timing_cache" in config and trt.__name__ != "tensorrt_rtx",
        "hardware_compatibility": hasattr(trt, "HardwareCompatibilityLevel"),
    }
    return {name for name, ok in probes.items() if ok}


@functools.cache
def backend_info() -> BackendInfo:
    """Flavour, version, GPU presence and features of the TensorRT in use (cached)."""
    trt = load_trt()
    flavour = trt.__name__.split(".")[0]
    version = str(getattr(trt, "__version__", ""))
    gpu = gpu_info()
    features = _probe_features(trt)
    if gpu.present:
        features.add("gpu")
    return BackendInfo(flavour, version, family_of(flavour, version),
                       str(getattr(trt, "__file__", "")), gpu,
                       tuple(name for name in FEATURES if name in features))


def require(feature: str) -> None:
    """Raise BackendUnavailableError naming ``feature`` and the installed TensorRT."""
    info = backend_info()
    if feature == "gpu" and not info.has(feature):
        raise BackendUnavailableError(
            "This step needs an NVIDIA GPU.",
            expected=FEATURES["gpu"], found=f"{info.machine_text()} ({info.gpu.reason})",
            fix="run it on a machine with a supported NVIDIA GPU and driver; building and "
            "saving engines works here without one",
        )
    info.build_features().require(feature)


def backend_features() -> BackendFeatures:
    """What the installed TensorRT offers a build (the record a BuildPlan is made from)."""
    return backend_info().build_features()
