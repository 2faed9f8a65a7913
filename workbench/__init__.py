"""TensorRT Workbench: explore NVIDIA TensorRT from Jupyter.

Everything is importable from here; heavy modules (TensorRT, ONNX Runtime, widgets) load
only when the name that needs them is first used, so ``import workbench`` stays cheap and
works on machines without TensorRT or Jupyter.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # errors and records
    "WorkbenchError": "workbench.errors",
    "ModelLoadError": "workbench.errors",
    "BackendUnavailableError": "workbench.errors",
    "BuildSettingsError": "workbench.errors",
    "BuildError": "workbench.errors",
    "BuildCancelled": "workbench.errors",
    "EngineSaveError": "workbench.errors",
    "EngineLoadError": "workbench.errors",
    "InferenceInputError": "workbench.errors",
    "ComparisonError": "workbench.errors",
    "TensorSpec": "workbench.records",
    "LogBus": "workbench.logbus",
    "LogRecord": "workbench.logbus",
    # inspection (onnx only)
    "load_model": "workbench.inspection.loading",
    "inspect_model": "workbench.inspection.summary",
    "ModelSummary": "workbench.inspection.summary",
    "NodeInfo": "workbench.inspection.summary",
    # build settings (pure Python)
    "BuildSettings": "workbench.settings",
    "ShapeProfile": "workbench.settings",
    # TensorRT backend
    "backend_info": "workbench.backends.trt.compat",
    "diagnose": "workbench.backends.trt.parse",
    "ParseReport": "workbench.diagnosis",
    "fold_constants": "workbench.transforms.folding",
    "reduce_failure": "workbench.backends.trt.reduce",
    "build_engine": "workbench.backends.trt.build",
    "BuildJob": "workbench.jobs",
    "EngineArtifact": "workbench.engines",
    "EngineCard": "workbench.engines",
    "save_engine": "workbench.engines",
    "load_engine": "workbench.backends.trt.engine",
    # inference and comparison
    "OrtRunner": "workbench.backends.ort",
    "TrtRunner": "workbench.backends.trt.runner",
    "make_inputs": "workbench.inputs",
    "compare_outputs": "workbench.compare.metrics",
    "ComparisonReport": "workbench.compare.metrics",
    "Tolerances": "workbench.compare.tolerances",
    "compare_precision": "workbench.precision",
    "PrecisionReport": "workbench.precision",
    # session and panel
    "WorkbenchSession": "workbench.session",
    "Workbench": "workbench.ui.panel",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'workbench' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value  # cache: later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:  # let type checkers and IDEs see the real names
    from workbench.errors import (  # noqa: F401
        BackendUnavailableError,
        BuildCancelled,
        BuildError,
        BuildSettingsError,
        ComparisonError,
        EngineLoadError,
        EngineSaveError,
        InferenceInputError,
        ModelLoadError,
        WorkbenchError,
    )
    from workbench.inspection.loading import load_model  # noqa: F401
    from workbench.logbus import LogBus, LogRecord  # noqa: F401
    from workbench.records import TensorSpec  # noqa: F401
