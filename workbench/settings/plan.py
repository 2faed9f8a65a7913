"""The build plan: the ONE mapping from build settings to what TensorRT is told.

``make_plan`` turns ``BuildSettings`` and the installed
TensorRT's ``BackendFeatures`` into a frozen
``BuildPlan``: the precision strategy, the graph conversion step (if any), the builder
flags, the optimization profiles, the compute-capability targets and the keep-FP32 list.

* ``workbench.backends.trt.build.build_engine`` executes a plan;
* ``workbench.settings.render.trtexec_command`` and
  ``python_script``
  print it.

Nothing else maps settings to TensorRT, so the three cannot disagree, and a combination this
TensorRT cannot build is refused here, once, with the same error for all three.

Precision strategies (``PrecisionStrategy``):

==================  ==========================================================================
``AS_IS``           FP32: the graph is built as it is
``BUILDER_FLAG``    weak typing (TensorRT 10): ``BuilderFlag.FP16/BF16``; keep-FP32 nodes'
                    layers pinned to FP32 under ``OBEY_PRECISION_CONSTRAINTS``
``CONVERTED_GRAPH`` strongly typed (TensorRT 11, RTX): the ONNX graph is converted to the
                    precision (keep-FP32 nodes left in FP32, I/O types kept), then built
==================  ==========================================================================

A conversion exists for the precisions in ``GRAPH_CONVERSIONS`` (the converter is
``workbench.transforms.precision.convert.convert_graph``): FP16 and BF16, so reduced-precision
builds on strongly typed TensorRT work in the builder and both renderings alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from workbench.core.records import Choice, TensorSpec
from workbench.settings.features import BackendFeatures
from workbench.settings.fields import HardwareCompatibility, Precision, ProfilingVerbosity

if TYPE_CHECKING:
    from workbench.settings.profiles import Profile
    from workbench.settings.settings import BuildSettings

__all__ = [
    "GRAPH_CONVERSIONS",
    "BuildPlan",
    "GraphConversion",
    "PrecisionStrategy",
    "make_plan",
]

# Precisions workbench.transforms.precision.convert.convert_graph can convert a graph to.
GRAPH_CONVERSIONS: frozenset[Precision] = frozenset({Precision.FP16, Precision.BF16})

# BuildSettings flag -> (feature it needs, trt.BuilderFlag member)
_FLAG_SETTINGS: tuple[tuple[str, str, str], ...] = (
    ("version_compatible", "version_compatible", "VERSION_COMPATIBLE"),
    ("refit", "refit", "REFIT"),
    ("strip_plan", "strip_plan", "STRIP_PLAN"),
)


class PrecisionStrategy(Choice):
    AS_IS = "as_is"
    BUILDER_FLAG = "builder_flag"
    CONVERTED_GRAPH = "converted_graph"


@dataclass(frozen=True)
class GraphConversion:
    """The step before parsing on strongly typed TensorRT: convert the ONNX graph."""

    precision: Precision
    keep_fp32: tuple[str, ...]

    def output_path(self, model_path: str) -> str:
        """Where the renderings write the converted graph: ``model.fp16.onnx``."""
        stem = model_path[:-5] if model_path.endswith(".onnx") else model_path
        return f"{stem}.{self.precision.value}.onnx"


@dataclass(frozen=True)
class BuildPlan:
    """Everything a build does, decided; executed by the builder, printed by the renderers.

    Attributes:
        settings: The settings it was made from (profiles filled in when inputs were given).
        features: The TensorRT it is for.
        strategy: How the precision is reached.
        conversion: The graph conversion step (CONVERTED_GRAPH only).
        flags: ``trt.BuilderFlag`` member names to set, in order.
        layer_pins: ONNX nodes whose TensorRT layers are pinned to FP32 (BUILDER_FLAG only).
        timing_cache: The cache file, or None (none asked, or this TensorRT has none).
        notes: What the build log says about the plan (e.g. a timing cache ignored).
    """

    settings: BuildSettings
    features: BackendFeatures
    strategy: PrecisionStrategy
    conversion: GraphConversion | None
    flags: tuple[str, ...]
    layer_pins: tuple[str, ...]
    timing_cache: str | None
    notes: tuple[str, ...] = ()

    @property
    def precision(self) -> Precision:
        return self.settings.precision

    @property
    def strongly_typed(self) -> bool:
        """The network's types come from the (converted) graph: ``--stronglyTyped``."""
        return self.strategy is PrecisionStrategy.CONVERTED_GRAPH

    @property
    def profiles(self) -> tuple[Profile, ...]:
        return self.settings.profiles

    @property
    def targets(self) -> tuple[str, ...]:
        """Compute capabilities to build for (empty: TensorRT's default)."""
        return self.settings.compute_capabilities

    @property
    def optimization_level(self) -> int:
        return self.settings.optimization_level

    @property
    def workspace_mib(self) -> int | None:
        return self.settings.workspace_mib

    @property
    def hardware_compatibility(self) -> HardwareCompatibility:
        return self.settings.hardware_compatibility

    @property
    def profiling_verbosity(self) -> ProfilingVerbosity:
        return self.settings.profiling_verbosity

    @property
    def log_severity(self) -> str:
        return self.settings.log_severity

    def opt_shapes(self, profile: int = 0) -> dict[str, tuple[int, ...]]:
        """The opt shape of every dynamic input in ``profile`` (empty: no profiles)."""
        if not self.profiles:
            return {}
        return {shape.input: shape.opt for shape in self.profiles[profile]}

    def shape_ranges(self, profile: int = 0
                     ) -> dict[str, tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]]:
        """min / opt / max of every dynamic input in ``profile``."""
        if not self.profiles:
            return {}
        return {s.input: (s.min, s.opt, s.max) for s in self.profiles[profile]}


def make_plan(settings: BuildSettings, features: BackendFeatures,
              inputs: Sequence[TensorSpec] | None = None) -> BuildPlan:
    """Decide the build: the one place settings become TensorRT calls.

    Args:
        settings: What the user chose.
        features: What the TensorRT offers (``compat.backend_features()``, or
            ``BackendFeatures.typical`` for a rendering without TensorRT).
        inputs: The model's inputs: profiles are seeded and validated against them.

    Raises:
        BackendUnavailableError: this TensorRT cannot build these settings (the builder
            and both renderings refuse with this same error).
        BuildSettingsError: the profiles do not fit ``inputs``.
    """
    if inputs is not None:
        settings = settings.resolved(inputs)
    strategy, conversion, flags, pins = _precision_steps(settings, features)
    for setting, feature, flag in _FLAG_SETTINGS:
        if getattr(settings, setting):
            features.require(feature)
            flags.append(flag)
    if settings.compute_capabilities:
        features.require("compute_capability_targets")
    timing_cache = settings.timing_cache
    notes: tuple[str, ...] = ()
    if timing_cache and not features.has("timing_cache"):
        notes = (f"{features.label} has no timing cache (its timing-cache calls are no-ops): "
                 f"{timing_cache} is neither read nor written",)
        timing_cache = None
    return BuildPlan(settings, features, strategy, conversion, tuple(flags), pins,
                     timing_cache, notes)


def _precision_steps(settings: BuildSettings, features: BackendFeatures) -> tuple[
        PrecisionStrategy, GraphConversion | None, list[str], tuple[str, ...]]:
    precision = settings.precision
    if not precision.reduced:
        return PrecisionStrategy.AS_IS, None, [], ()
    if features.has_builder_flag(precision):
        flags = [precision.name]
        if settings.keep_fp32:
            flags.append("OBEY_PRECISION_CONSTRAINTS")
        return PrecisionStrategy.BUILDER_FLAG, None, flags, settings.keep_fp32
    # every reduced precision has a graph conversion (a new one needs its converter first)
    assert precision in GRAPH_CONVERSIONS, precision
    return PrecisionStrategy.CONVERTED_GRAPH, GraphConversion(precision, settings.keep_fp32), \
        [], ()
