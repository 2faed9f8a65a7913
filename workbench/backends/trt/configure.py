"""Execute a ``BuildPlan`` on a builder config: what the plan
says, told to TensorRT in the order the trtexec and Python renderings print it.

Split from build.py so that the per-family branches (weak-typing flags and layer pins,
RTX compute capabilities) sit together; ``compat.BRANCHES`` names them for the API test.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType
from typing import Any

from workbench.core.errors import BuildSettingsError
from workbench.core.fileio import write_atomic
from workbench.settings.plan import BuildPlan

__all__ = ["configure", "save_timing_cache"]


def configure(trt: ModuleType, builder: Any, network: Any, config: Any,
               plan: BuildPlan) -> None:
    """Tell TensorRT what ``plan`` says, in the order the renderings print it."""
    config.builder_optimization_level = plan.optimization_level
    if plan.workspace_mib is not None:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, plan.workspace_mib << 20)
    for flag in plan.flags:
        config.set_flag(_builder_flag(trt, flag))
    if plan.layer_pins:
        _pin_fp32_layers(trt, network, plan.layer_pins)
    for profile in plan.profiles:
        trt_profile = builder.create_optimization_profile()
        for shape in profile:
            trt_profile.set_shape(shape.input, shape.min, shape.opt, shape.max)
        config.add_optimization_profile(trt_profile)
    if plan.hardware_compatibility.value != "none":
        config.hardware_compatibility_level = getattr(
            trt.HardwareCompatibilityLevel, plan.hardware_compatibility.name)
    if plan.targets:
        _set_compute_capabilities(trt, config, plan.targets)
    config.profiling_verbosity = getattr(trt.ProfilingVerbosity, plan.profiling_verbosity.name)
    if plan.timing_cache:
        _load_timing_cache(config, plan.timing_cache)


def _builder_flag(trt: ModuleType, name: str) -> Any:
    """A plan's flag name as ``trt.BuilderFlag`` (spelled out: the API test reads these)."""
    if name in ("FP16", "BF16", "OBEY_PRECISION_CONSTRAINTS"):
        return _weak_precision_flag(trt, name)
    flags = {"VERSION_COMPATIBLE": trt.BuilderFlag.VERSION_COMPATIBLE,
             "REFIT": trt.BuilderFlag.REFIT, "STRIP_PLAN": trt.BuilderFlag.STRIP_PLAN}
    return flags[name]


def _weak_precision_flag(trt: ModuleType, name: str) -> Any:
    """Weak typing only (TensorRT 10): the plan sets these for BUILDER_FLAG precision."""
    flags = {"FP16": trt.BuilderFlag.FP16, "BF16": trt.BuilderFlag.BF16,
             "OBEY_PRECISION_CONSTRAINTS": trt.BuilderFlag.OBEY_PRECISION_CONSTRAINTS}
    return flags[name]


def _pin_fp32_layers(trt: ModuleType, network: Any, keep: tuple[str, ...]) -> None:
    """Weak typing's keep-FP32: pin the layers TensorRT made from those ONNX nodes.

    The ONNX parser names a node's layer after the node (extra layers get a suffix), so a
    layer belongs to a kept node when its name is the node's name or starts with it + "_".
    OBEY (a flag of the plan) makes TensorRT honour the pins instead of treating them as
    hints.
    """
    pinned: set[str] = set()
    for index in range(network.num_layers):
        layer = network.get_layer(index)
        owner = next((n for n in keep if layer.name == n or layer.name.startswith(n + "_")),
                     None)
        if owner is None:
            continue
        layer.precision = trt.float32
        for output in range(layer.num_outputs):
            if layer.get_output_type(output) in (trt.float16, trt.bfloat16, trt.float32):
                layer.set_output_type(output, trt.float32)
        pinned.add(owner)
    missing = [name for name in keep if name not in pinned]
    if missing:
        raise BuildSettingsError(
            "Some keep-FP32 nodes match no TensorRT layer.",
            expected="names of ONNX nodes in this model (the parser names layers after them)",
            found=", ".join(missing),
            fix="check the names in the panel's Model tab (the node table), or with "
            "`trt-workbench inspect MODEL --layers`",
        )


def _set_compute_capabilities(trt: ModuleType, config: Any, targets: tuple[str, ...]) -> None:
    config.num_compute_capabilities = len(targets)
    for index, target in enumerate(targets):
        config.set_compute_capability(
            getattr(trt.ComputeCapability, "SM" + target.replace(".", "")), index)


def _load_timing_cache(config: Any, path: str) -> None:
    data = Path(path).read_bytes() if os.path.isfile(path) else b""
    config.set_timing_cache(config.create_timing_cache(data), False)


def save_timing_cache(config: Any, path: str) -> None:
    cache = config.get_timing_cache()
    if cache is None:
        return
    # atomic: a concurrent reader sees the old or the new cache
    write_atomic(path, bytes(memoryview(cache.serialize())), overwrite=True)
