"""Commands and scripts that reproduce a workbench action outside the workbench.

Everything the panel does can be done again by hand: the build as a trtexec (or
``tensorrt_rtx``) command line or a bare-API script, the comparison as a script. What the
renderings say depends on the installed TensorRT (weak or strong typing, the tool's name),
decided once here. Pure Python: TensorRT is only asked, lazily, what it is.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from workbench.core.errors import WorkbenchError

if TYPE_CHECKING:
    from workbench.build.settings import BuildSettings

__all__ = ["BuildTarget", "build_target", "compare_script", "python_script", "trtexec_command"]


@dataclass(frozen=True)
class BuildTarget:
    """How a build is expressed for the installed TensorRT."""

    tool: str  # "trtexec" (full TensorRT) or "tensorrt_rtx" (TensorRT-RTX's trtexec)
    strongly_typed: bool
    module: str  # the Python module of the bare-API script


# With no TensorRT importable, show TensorRT-RTX's form: it is what installs from PyPI.
RTX_TARGET = BuildTarget("tensorrt_rtx", True, "tensorrt_rtx")


def build_target() -> BuildTarget:
    """The target for the TensorRT this process would use."""
    try:
        compat = importlib.import_module("workbench.backends.trt.compat")
        info = compat.backend_info()
    except WorkbenchError:
        return RTX_TARGET
    rtx = info.family == "tensorrt_rtx"
    return BuildTarget("tensorrt_rtx" if rtx else "trtexec", info.strongly_typed, info.flavour)


def trtexec_command(settings: BuildSettings, model_path: str, engine_path: str,
                    target: BuildTarget | None = None) -> str:
    """The command line that builds the same engine as ``settings``."""
    target = target or build_target()
    return settings.to_trtexec(model_path, engine_path, strongly_typed=target.strongly_typed,
                               tool=target.tool)


def python_script(settings: BuildSettings, model_path: str, engine_path: str,
                  target: BuildTarget | None = None) -> str:
    """A standalone script (bare TensorRT API) that builds the same engine."""
    target = target or build_target()
    return settings.to_python(model_path, engine_path, module=target.module)


def compare_script(model_path: str, precision: str = "fp16", keep_fp32: tuple[str, ...] = (),
                   seed: int = 0, dims: dict[str, int] | None = None,
                   int_ranges: dict[str, tuple[int, int]] | None = None) -> str:
    """The script equivalent of an FP16-vs-FP32 comparison."""
    feeds = (f",\n    dims={dict(dims)!r}" if dims else "") + (
        f",\n    int_ranges={dict(int_ranges)!r}" if int_ranges else "")
    return (f"import workbench\nreport = workbench.compare_precision(\n"
            f"    {model_path!r}, {precision!r}, keep_fp32={keep_fp32!r}, "
            f"seed={seed}{feeds})\nprint(report.summary())\n")
