"""Versions and machine, as a bug report needs them: nothing more about the user's machine.

The list is fixed and public (``FIELDS``): package versions, the Python and OS release,
the CPU architecture and the GPU TensorRT sees. No host name, user name, paths or
environment variables, so a report or bundle can be attached to a public issue as is.
"""

from __future__ import annotations

import importlib.metadata
import platform

from workbench.core.errors import WorkbenchError

__all__ = ["FIELDS", "environment_info"]

FIELDS: tuple[str, ...] = (
    "workbench", "python", "os", "machine", "tensorrt", "tensorrt_gpu",
    "onnx", "onnxruntime", "numpy", "ml_dtypes",
)

_PACKAGES = ("onnx", "onnxruntime", "numpy", "ml_dtypes")


def _package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _tensorrt() -> tuple[str, str]:
    from workbench.backends.trt import compat

    try:
        info = compat.backend_info()
    except WorkbenchError as err:
        return f"unavailable ({err.summary})", "unknown"
    gpu = info.gpu
    gpu_text = (f"{gpu.name} (compute capability {gpu.compute_capability})"
                if gpu.present else "none")
    return f"{info.label} ({info.flavour} {info.version})", gpu_text


def environment_info() -> dict[str, str]:
    """The ``FIELDS``, as text (asks TensorRT once, lazily)."""
    from workbench.core.version import __version__

    trt, gpu = _tensorrt()
    info = {
        "workbench": __version__,
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "machine": platform.machine(),
        "tensorrt": trt,
        "tensorrt_gpu": gpu,
    }
    info.update({name: _package_version(name) for name in _PACKAGES})
    return {key: info[key] for key in FIELDS}
