"""What a TensorRT offers a build, as a frozen record the build plan is made from.

``workbench.backends.trt.compat.backend_features`` probes the installed TensorRT and
returns a ``BackendFeatures``; renderings made where no TensorRT is importable use
``BackendFeatures.typical``. The plan (``workbench.settings.plan``) never imports
TensorRT: everything it needs to decide is here.
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.core.errors import BackendUnavailableError
from workbench.settings.fields import Precision

__all__ = ["FEATURES", "FEATURE_FIXES", "BackendFeatures"]

# feature name -> what it is, for messages (compat probes each one)
FEATURES: dict[str, str] = {
    "weak_typing_fp16": "BuilderFlag.FP16 (weakly typed FP16 builds, TensorRT 10)",
    "weak_typing_bf16": "BuilderFlag.BF16 (weakly typed BF16 builds, TensorRT 10)",
    "strongly_typed": "strongly typed networks (precision comes from the ONNX graph)",
    "compute_capability_targets": "IBuilderConfig.set_compute_capability (TensorRT-RTX)",
    "engine_validity": "Runtime.get_engine_validity (TensorRT-RTX)",
    "progress_monitor": "IProgressMonitor (build phases, steps and cancel)",
    "engine_inspector": "EngineInspector (per-layer engine information)",
    "version_compatible": "BuilderFlag.VERSION_COMPATIBLE",
    "refit": "BuilderFlag.REFIT",
    "strip_plan": "BuilderFlag.STRIP_PLAN",
    "timing_cache": "IBuilderConfig timing caches",
    "hardware_compatibility": "HardwareCompatibilityLevel",
    "gpu": "an NVIDIA GPU with a working driver",
}

FEATURE_FIXES: dict[str, str] = {
    "weak_typing_fp16": "on TensorRT 11 and TensorRT-RTX use precision='fp16', which "
    "converts the graph instead",
    "weak_typing_bf16": "install TensorRT 10, or convert the graph to BF16 yourself",
    "compute_capability_targets": "only TensorRT-RTX builds for explicit targets; full "
    "TensorRT builds for the GPU it runs on",
}

_RTX_FEATURES = frozenset({
    "strongly_typed", "compute_capability_targets", "engine_validity", "progress_monitor",
    "engine_inspector", "version_compatible", "refit", "strip_plan", "hardware_compatibility",
})
_TRT_FEATURES = frozenset({
    "strongly_typed", "progress_monitor", "engine_inspector", "version_compatible", "refit",
    "strip_plan", "timing_cache", "hardware_compatibility",
})


@dataclass(frozen=True)
class BackendFeatures:
    """The installed TensorRT, as far as a build plan is concerned.

    Attributes:
        flavour: ``"tensorrt"`` or ``"tensorrt_rtx"`` — also the Python module's name.
        label: ``"TensorRT-RTX 1.7.1"``, for messages.
        features: Names from ``FEATURES`` this TensorRT has.
        module_path: Where the module was imported from (messages only).
    """

    flavour: str
    label: str
    features: frozenset[str]
    module_path: str = ""

    @property
    def tool(self) -> str:
        """The trtexec of this flavour (TensorRT-RTX ships it as ``tensorrt_rtx``)."""
        return "tensorrt_rtx" if self.flavour == "tensorrt_rtx" else "trtexec"

    @property
    def module(self) -> str:
        return self.flavour

    def has(self, feature: str) -> bool:
        return feature in self.features

    def has_builder_flag(self, precision: Precision) -> bool:
        """True when weak typing offers ``BuilderFlag.<PRECISION>`` (TensorRT 10)."""
        return precision.reduced and self.has(f"weak_typing_{precision.value}")

    @property
    def strongly_typed(self) -> bool:
        """No precision flags: precision comes from the graph (TensorRT 11, RTX)."""
        return not self.has("weak_typing_fp16")

    def require(self, feature: str) -> None:
        """Raise BackendUnavailableError naming ``feature`` and this TensorRT."""
        if self.has(feature):
            return
        where = f" ({self.module_path})" if self.module_path else ""
        raise BackendUnavailableError(
            f"{self.label} does not offer {feature}.",
            expected=FEATURES.get(feature, feature), found=f"{self.label}{where}",
            fix=FEATURE_FIXES.get(feature, "use a TensorRT version that has it"),
        )

    @classmethod
    def typical(cls, rtx: bool = True, strongly_typed: bool = True) -> BackendFeatures:
        """Features of a typical install, for renderings made without TensorRT.

        ``rtx``: TensorRT-RTX (what installs from PyPI); else full TensorRT, 10.x when not
        ``strongly_typed`` (FP16/BF16 builder flags), 11.x when it is.
        """
        if rtx:
            return cls("tensorrt_rtx", "TensorRT-RTX", _RTX_FEATURES)
        if strongly_typed:
            return cls("tensorrt", "TensorRT 11", _TRT_FEATURES)
        return cls("tensorrt", "TensorRT 10",
                   _TRT_FEATURES | {"weak_typing_fp16", "weak_typing_bf16"})
