"""TensorRT Workbench: explore NVIDIA TensorRT from Jupyter.

Everything is importable from here; heavy modules (TensorRT, ONNX Runtime, widgets) load
only when the name that needs them is first used, so ``import workbench`` stays cheap and
works on machines without TensorRT or Jupyter.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from workbench.core.version import __version__

# One logger per package (workbench.app, workbench.ui, …), silent unless the user configures
# logging: a library never prints by default.
logging.getLogger("workbench").addHandler(logging.NullHandler())

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
    "Precision": "workbench.build.fields",
    "BuildPlan": "workbench.build.plan",
    "make_plan": "workbench.build.plan",
    "BackendFeatures": "workbench.build.features",
    # TensorRT backend
    "backend_info": "workbench.backends.trt.compat",
    "diagnose": "workbench.backends.trt.parse",
    "ParseReport": "workbench.triage.diagnosis",
    "fold_constants": "workbench.transforms.folding",
    "rewrite_global_pools": "workbench.transforms.global_pool",
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
    "model_feeds": "workbench.feeds.generator",
    "feed_plan": "workbench.feeds.generator",
    "FeedOptions": "workbench.feeds.generator",
    "compare_outputs": "workbench.compare.metrics",
    "ComparisonReport": "workbench.compare.metrics",
    "Tolerances": "workbench.compare.tolerances",
    "compare_precision": "workbench.app.precision",
    "save_inputs": "workbench.feeds.inputs",
    "load_inputs": "workbench.feeds.inputs",
    "explain_build_failure": "workbench.triage.diagnosis",
    "PrecisionReport": "workbench.app.precision",
    "find_keep_list": "workbench.app.keep_search",
    "verify_mask_clamp": "workbench.app.mask_fix",
    "MaskFixResult": "workbench.app.mask_fix",
    "clamp_mask_constants": "workbench.transforms.mask_clamp",
    "convert_precision": "workbench.transforms.fp16",
    # INT8 / FP8 Q/DQ for TensorRT
    "QuantizationError": "workbench.core.errors",
    "QuantSettings": "workbench.transforms.quant_settings",
    "quantize_model": "workbench.app.quantize",
    "compare_quantized": "workbench.app.int8_compare",
    "find_exclusions": "workbench.app.int8_exclusions",
    "quantization_info": "workbench.inspection.quantization",
    # sharing: bug bundles and model-zoo triage (session.report() writes the HTML report)
    "make_bundle": "workbench.app.bundle",
    "triage_folder": "workbench.app.zoo",
    "ZooReport": "workbench.app.zoo",
    "compare_zoos": "workbench.app.zoo",
    "render_zoo": "workbench.app.zoo_html",
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


if TYPE_CHECKING:  # let type checkers and IDEs see the real names (test_public_api checks)
    from workbench.app.bundle import make_bundle  # noqa: F401
    from workbench.app.int8_compare import compare_quantized  # noqa: F401
    from workbench.app.int8_exclusions import find_exclusions  # noqa: F401
    from workbench.app.jobs import BuildJob  # noqa: F401
    from workbench.app.keep_search import find_keep_list  # noqa: F401
    from workbench.app.mask_fix import MaskFixResult, verify_mask_clamp  # noqa: F401
    from workbench.app.precision import PrecisionReport, compare_precision  # noqa: F401
    from workbench.app.profile_check import check_profiles  # noqa: F401
    from workbench.app.quantize import quantize_model  # noqa: F401
    from workbench.app.session import WorkbenchSession  # noqa: F401
    from workbench.app.tasks import Event, Task, TaskKind, TaskState  # noqa: F401
    from workbench.app.zoo import ZooReport, compare_zoos, triage_folder  # noqa: F401
    from workbench.app.zoo_html import render_zoo  # noqa: F401
    from workbench.backends.ort import OrtRunner  # noqa: F401
    from workbench.backends.trt.build import build_engine  # noqa: F401
    from workbench.backends.trt.compat import backend_info  # noqa: F401
    from workbench.backends.trt.engine import load_engine  # noqa: F401
    from workbench.backends.trt.parse import diagnose  # noqa: F401
    from workbench.backends.trt.reduce import reduce_build_failure, reduce_failure  # noqa: F401
    from workbench.backends.trt.runner import TrtRunner  # noqa: F401
    from workbench.build.engines import EngineArtifact, EngineCard, save_engine  # noqa: F401
    from workbench.build.features import BackendFeatures  # noqa: F401
    from workbench.build.fields import Precision  # noqa: F401
    from workbench.build.plan import BuildPlan, make_plan  # noqa: F401
    from workbench.build.settings import BuildSettings, ShapeProfile  # noqa: F401
    from workbench.compare.metrics import ComparisonReport, compare_outputs  # noqa: F401
    from workbench.compare.tolerances import Tolerances  # noqa: F401
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
        QuantizationError,
        WorkbenchError,
    )
    from workbench.core.logbus import LogBus, LogRecord  # noqa: F401
    from workbench.core.records import TensorSpec  # noqa: F401
    from workbench.feeds.generator import FeedOptions, feed_plan, model_feeds  # noqa: F401
    from workbench.feeds.inputs import load_inputs, make_inputs, save_inputs  # noqa: F401
    from workbench.inspection.loading import load_model  # noqa: F401
    from workbench.inspection.quantization import quantization_info  # noqa: F401
    from workbench.inspection.summary import ModelSummary, NodeInfo, inspect_model  # noqa: F401
    from workbench.transforms.folding import fold_constants  # noqa: F401
    from workbench.transforms.fp16 import convert_precision  # noqa: F401
    from workbench.transforms.global_pool import rewrite_global_pools  # noqa: F401
    from workbench.transforms.mask_clamp import clamp_mask_constants  # noqa: F401
    from workbench.transforms.quant_settings import QuantSettings  # noqa: F401
    from workbench.triage.diagnosis import ParseReport, explain_build_failure  # noqa: F401
    from workbench.ui.panel import Workbench  # noqa: F401
