"""Which TensorRT is installed, and what it can do: feature detection in one place.

Full TensorRT (``import tensorrt``) is preferred when it imports; otherwise TensorRT for
RTX (``import tensorrt_rtx``). ``WORKBENCH_TRT=tensorrt|tensorrt_rtx`` overrides.
"""

from __future__ import annotations

import functools
import importlib
import os
from types import ModuleType

from workbench.errors import BackendUnavailableError

__all__ = ["FLAVOURS", "load_trt"]

FLAVOURS: tuple[str, ...] = ("tensorrt", "tensorrt_rtx")


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
