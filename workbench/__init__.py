"""TensorRT Workbench: explore NVIDIA TensorRT from Jupyter.

Everything is importable from here; heavy modules (TensorRT, ONNX Runtime, widgets) load
only when the name that needs them is first used, so ``import workbench`` stays cheap and
works on machines without TensorRT or Jupyter.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from workbench.core.version import __version__

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # errors and records
    "WorkbenchError": "workbench.core.errors",
    "ModelLoadError": "workbench.core.errors",
    "BackendUnavailableError": "workbench.core.errors",
    "BuildSettingsError": "workbench.core.errors",
    "BuildError": "workbench.core.errors",
    "BuildCancelled": "workbench.core.errors",
    "EngineSaveError": "workbench.core.errors",
    "EngineLoadError": "workbench.core.errors",
    "InferenceInputError": "workbench.core.errors",
    "ComparisonError": "workbench.core.errors",
    "TensorSpec": "workbench.core.records",
    "LogBus": "workbench.core.logbus",
    "LogRecord": "workbench.core.logbus",
    # inspection (onnx only)
    "load_model": "workbench.inspection.loading",
    "inspect_model": "workbench.inspection.summary",
    "ModelSummary": "workbench.inspection.summary",
    "NodeInfo": "workbench.inspection.summary",
    # build settings (pure Python)
    "BuildSettings": "workbench.build.settings",
    "ShapeProfile": "workbench.build.settings",
    # TensorRT backend
    "backend_info": "workbench.backends.trt.compat",
    "diagnose": "workbench.backends.trt.parse",
    "ParseReport": "workbench.triage.diagnosis",
    "fold_constants": "workbench.transforms.folding",
    "reduce_failure": "workbench.backends.trt.reduce",
    "reduce_build_failure": "workbench.backends.trt.reduce",
    "check_profiles": "workbench.app.profile_check",
    "build_engine": "workbench.backends.trt.build",
    "BuildJob": "workbench.app.jobs",
    "Task": "workbench.app.tasks",
    "TaskKind": "workbench.app.tasks",
    "TaskState": "workbench.app.tasks",
    "Event": "workbench.app.tasks",
    "EngineArtifact": "workbench.build.engines",
    "EngineCard": "workbench.build.engines",
    "save_engine": "workbench.build.engines",
    "load_engine": "workbench.backends.trt.engine",
    # inference and comparison
    "OrtRunner": "workbench.backends.ort",
    "TrtRunner": "workbench.backends.trt.runner",
    "make_inputs": "workbench.feeds.inputs",
    "compare_outputs": "workbench.compare.metrics",
    "ComparisonReport": "workbench.compare.metrics",
    "Tolerances": "workbench.compare.tolerances",
    "compare_precision": "workbench.app.precision",
    "save_inputs": "workbench.feeds.inputs",
    "load_inputs": "workbench.feeds.inputs",
    "explain_build_failure": "workbench.triage.diagnosis",
    "PrecisionReport": "workbench.app.precision",
    # session and panel
    "WorkbenchSession": "workbench.app.session",
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
    from workbench.core.errors import (  # noqa: F401
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
    from workbench.core.logbus import LogBus, LogRecord  # noqa: F401
    from workbench.core.records import TensorSpec  # noqa: F401
    from workbench.inspection.loading import load_model  # noqa: F401
