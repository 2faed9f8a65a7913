"""Build settings and optimization profiles: pure Python, no TensorRT.

A ``BuildSettings`` is what the user chose (its schema, with the choices as enums, is
``workbench.settings.fields``). Together with what the installed TensorRT offers it makes
one ``BuildPlan``, which the builder executes and the trtexec /
Python renderings print (``BuildSettings.to_trtexec``, ``BuildSettings.to_python``).
Validation against the model's inputs happens here, before TensorRT sees anything, so the
errors can say which input and which axis is wrong.

Default profiles are seeded from the symbolic dimension names by
``workbench.settings.profiles.seed_profile`` (re-exported here with ``ShapeProfile``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from workbench.core.errors import BuildSettingsError
from workbench.core.records import Choice, TensorSpec
from workbench.settings.fields import (
    COMPUTE_CAPABILITIES,
    FIELDS,
    LOG_SEVERITIES,
    FieldKind,
    HardwareCompatibility,
    Precision,
    ProfilingVerbosity,
)
from workbench.settings.profiles import (
    Profile,
    ShapeProfile,
    default_profiles,
    dims_text,
    image_spatial_axes,
    seed_profile,
    whole_number,
    wrong_type,
)

__all__ = [
    "HARDWARE_COMPATIBILITY",
    "PRECISIONS",
    "PROFILING_VERBOSITY",
    "BuildSettings",
    "ShapeProfile",
    "default_profiles",
    "image_spatial_axes",
    "seed_profile",
]

# The choices' texts (the enums in workbench.settings.fields are the source).
PRECISIONS: tuple[str, ...] = tuple(p.value for p in Precision)
HARDWARE_COMPATIBILITY: tuple[str, ...] = tuple(h.value for h in HardwareCompatibility)
PROFILING_VERBOSITY: tuple[str, ...] = tuple(v.value for v in ProfilingVerbosity)

@dataclass(frozen=True)
class BuildSettings:
    """Everything that decides how an engine is built.

    ``profiles`` holds optimization profiles; each is a tuple of ``ShapeProfile``, one per
    dynamic input. A flat sequence of ShapeProfile is accepted and means one profile. Empty
    means "seed from the model's symbolic dims" (see ``default_profiles``).
    """

    precision: Precision = Precision.FP32
    keep_fp32: tuple[str, ...] = ()
    workspace_mib: int | None = None
    optimization_level: int = 3
    profiles: tuple[Profile, ...] = ()
    hardware_compatibility: HardwareCompatibility = HardwareCompatibility.NONE
    version_compatible: bool = False
    refit: bool = False
    strip_plan: bool = False
    timing_cache: str | None = None
    compute_capabilities: tuple[str, ...] = ()
    profiling_verbosity: ProfilingVerbosity = ProfilingVerbosity.DETAILED
    log_severity: str = "INFO"

    def __post_init__(self) -> None:
        object.__setattr__(self, "keep_fp32", _as_tuple("keep_fp32", self.keep_fp32))
        object.__setattr__(self, "compute_capabilities", tuple(
            _normalise_cc(cc) for cc in _as_tuple("compute_capabilities",
                                                  self.compute_capabilities)))
        try:
            object.__setattr__(self, "profiles", _normalise_profiles(self.profiles))
        except TypeError as err:
            raise wrong_type("profiles", self.profiles, "a sequence of profiles, each a "
                              "sequence of ShapeProfile") from err
        object.__setattr__(self, "log_severity", str(self.log_severity).upper())
        self._check_scalars()

    def _check_scalars(self) -> None:
        # Given as text or enum; kept as the enum (equal to its text, so both compare).
        for name, choice in (("precision", Precision),
                             ("hardware_compatibility", HardwareCompatibility),
                             ("profiling_verbosity", ProfilingVerbosity)):
            value = getattr(self, name)
            _one_of(name, value, tuple(c.value for c in choice))
            object.__setattr__(self, name, choice(value))
        _one_of("log_severity", self.log_severity, LOG_SEVERITIES)
        if not 0 <= whole_number("optimization_level", self.optimization_level) <= 5:
            raise BuildSettingsError(
                "The builder optimization level is out of range.",
                expected="an integer from 0 (fastest build) to 5 (most tactics tried)",
                found=str(self.optimization_level), fix="use 3, TensorRT's default",
            )
        workspace = self.workspace_mib
        if workspace is not None and whole_number("workspace_mib", workspace) <= 0:
            raise BuildSettingsError(
                "The workspace limit must be positive.",
                expected="a size in MiB > 0, or None for TensorRT's default (all GPU memory)",
                found=str(self.workspace_mib), fix="e.g. workspace_mib=1024",
            )
        for flag in ("version_compatible", "refit", "strip_plan"):
            value = getattr(self, flag)  # "false" or NaN would be truthy: only real booleans
            if not isinstance(value, (bool, int)) or value not in (0, 1):
                raise wrong_type(flag, value, "True or False")
            object.__setattr__(self, flag, bool(value))
        if self.timing_cache is not None:
            if not isinstance(self.timing_cache, (str, os.PathLike)):
                raise wrong_type("timing_cache", self.timing_cache, "a file path or None")
            object.__setattr__(self, "timing_cache", os.fspath(self.timing_cache))
        if self.keep_fp32 and self.precision is Precision.FP32:
            raise BuildSettingsError(
                "keep_fp32 only makes sense with a reduced precision.",
                expected="precision='fp16' or 'bf16' together with keep_fp32",
                found="precision='fp32'", fix="drop keep_fp32 or choose precision='fp16'",
            )

    # -- validation against a model -------------------------------------------------------

    def resolved(self, inputs: Sequence[TensorSpec],
                 minimums: Mapping[str, int] | None = None) -> BuildSettings:
        """These settings with default profiles filled in, validated against ``inputs``
        (``minimums``: the smallest size the graph accepts per symbolic dim)."""
        settings = self
        if not self.profiles and any(spec.is_dynamic for spec in inputs):
            settings = replace(self, profiles=(default_profiles(inputs, minimums),))
        settings.validate(inputs)
        return settings

    def validate(self, inputs: Sequence[TensorSpec]) -> None:
        """Check profiles against the model's inputs; raise BuildSettingsError on the first
        problem (unknown input, rank, static dims, min ≤ opt ≤ max, missing profile)."""
        by_name = {spec.name: spec for spec in inputs}
        dynamic = [spec.name for spec in inputs if spec.is_dynamic]
        if dynamic and not self.profiles:
            raise _missing_profile(dynamic, 0)
        for index, profile in enumerate(self.profiles):
            for shape in profile:
                spec = by_name.get(shape.input)
                if spec is None:
                    raise BuildSettingsError(
                        f"Profile {index} names an input the model does not have: "
                        f"{shape.input!r}.",
                        expected="one of: " + ", ".join(by_name) if by_name else "no inputs",
                        found=repr(shape.input), fix="check the spelling of the input name",
                    )
                _check_shape(index, shape, spec)
            missing = [name for name in dynamic if name not in {s.input for s in profile}]
            if missing:
                raise _missing_profile(missing, index)

    # -- rendering ---------------------------------------------------------------------------

    def to_trtexec(self, model_path: str, engine_path: str = "model.engine", *,
                   strongly_typed: bool | None = None, tool: str = "trtexec") -> str:
        """The equivalent ``trtexec`` command line, via the build plan.

        ``tool="tensorrt_rtx"`` (or ``strongly_typed=True``) renders for a strongly typed
        TensorRT (11.x, RTX), else for TensorRT 10 (see ``workbench.settings.render``).
        """
        from workbench.settings.features import BackendFeatures
        from workbench.settings.plan import make_plan
        from workbench.settings.render import trtexec_command

        typed = tool == "tensorrt_rtx" if strongly_typed is None else strongly_typed
        features = BackendFeatures.typical(rtx=tool == "tensorrt_rtx", strongly_typed=typed)
        return trtexec_command(make_plan(self, features), model_path, engine_path)

    def to_python(self, model_path: str, engine_path: str = "model.engine", *,
                  module: str = "tensorrt_rtx") -> str:
        """A runnable script that builds the same engine with the bare TensorRT API."""
        from workbench.settings.features import BackendFeatures
        from workbench.settings.plan import make_plan
        from workbench.settings.render import python_script

        features = BackendFeatures.typical(rtx=module == "tensorrt_rtx",
                                           strongly_typed=module != "tensorrt")
        return python_script(make_plan(self, features), model_path, engine_path)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values, one key per row of the schema (``workbench.settings.fields``)."""
        return {field.name: _plain(field.kind, getattr(self, field.name)) for field in FIELDS}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BuildSettings:
        if not isinstance(data, Mapping):
            raise wrong_type("build settings", data, "a mapping (dict) of BuildSettings keys")
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise BuildSettingsError(
                "Build settings contain unknown keys.",
                expected="keys of BuildSettings: " + ", ".join(cls.__dataclass_fields__),
                found=", ".join(unknown), fix="remove or rename those keys",
            )
        profiles = known.pop("profiles", ())
        try:
            known["profiles"] = tuple(
                tuple(ShapeProfile.from_dict(s) for s in profile) for profile in profiles)
        except (TypeError, KeyError, AttributeError) as err:
            raise wrong_type("profiles", profiles, "a list of profiles, each a list of "
                              "{input, min, opt, max} mappings") from err
        for key in ("keep_fp32", "compute_capabilities"):
            if key in known:
                known[key] = _as_tuple(key, known[key])
        return cls(**known)


def _plain(kind: FieldKind, value: Any) -> Any:
    """A setting's value as JSON: enums as their text, tuples as lists."""
    if kind is FieldKind.PROFILES:
        return [[shape.to_dict() for shape in profile] for profile in value]
    if isinstance(value, Choice):
        return value.value
    return list(value) if isinstance(value, tuple) else value


def _as_tuple(name: str, value: object) -> tuple[Any, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise wrong_type(name, value, "a list or tuple (of names)")
    return tuple(value)


def _one_of(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise BuildSettingsError(
            f"Unknown {name} {value!r}.",
            expected="one of " + ", ".join(repr(a) for a in allowed),
            found=repr(value), fix=f"choose one of the allowed values for {name}",
        )


def _normalise_cc(value: object) -> str:
    text = str(value).upper().removeprefix("SM").strip()
    if "." not in text and text.isdigit():
        text = f"{text[:-1]}.{text[-1]}"
    if text not in COMPUTE_CAPABILITIES:
        raise BuildSettingsError(
            f"Unknown compute-capability target {value!r}.",
            expected="one of " + ", ".join(COMPUTE_CAPABILITIES) + " (or SM75, SM89, …)",
            found=repr(value),
            fix="TensorRT-RTX targets Turing to Blackwell; Hopper (9.0) is not supported",
        )
    return text


def _normalise_profiles(value: Iterable[Any]) -> tuple[Profile, ...]:
    items = tuple(value)
    if items and all(isinstance(item, ShapeProfile) for item in items):
        return (items,)  # a flat list means one profile
    return tuple(tuple(profile) for profile in items)


def _missing_profile(names: Sequence[str], index: int) -> BuildSettingsError:
    return BuildSettingsError(
        f"Profile {index} has no shapes for dynamic input(s) {', '.join(names)}.",
        expected="a min/opt/max shape for every input with a symbolic or unknown dimension",
        found="no ShapeProfile for " + ", ".join(names),
        fix="add ShapeProfile(name, min, opt, max) for each, or leave profiles empty to "
        "seed them from the symbolic dimension names",
    )


def _check_shape(index: int, shape: ShapeProfile, spec: TensorSpec) -> None:
    where = f"Profile {index}, input {spec.name!r}"
    if spec.shape is not None:
        for label in ("min", "opt", "max"):
            dims = getattr(shape, label)
            if len(dims) != len(spec.shape):
                raise BuildSettingsError(
                    f"{where}: the {label} shape has the wrong rank.",
                    expected=f"{len(spec.shape)} dimensions, like the model's "
                    f"{spec.shape_text()}",
                    found=f"{len(dims)} dimensions: {dims_text(dims)}",
                    fix="give one number per axis",
                )
        for axis, dim in enumerate(spec.shape):
            if isinstance(dim, int) and dim >= 0:
                used = {shape.min[axis], shape.opt[axis], shape.max[axis]}
                if used != {dim}:
                    raise BuildSettingsError(
                        f"{where}: axis {axis} is fixed at {dim} in the model.",
                        expected=f"min = opt = max = {dim} on axis {axis}",
                        found=f"min {shape.min[axis]}, opt {shape.opt[axis]}, "
                        f"max {shape.max[axis]}",
                        fix=f"use {dim} on that axis; only symbolic axes can vary",
                    )
    if not len(shape.min) == len(shape.opt) == len(shape.max):
        raise BuildSettingsError(
            f"{where}: min, opt and max have different ranks.",
            expected="three shapes with the same number of dimensions",
            found=f"{dims_text(shape.min)}, {dims_text(shape.opt)}, {dims_text(shape.max)}",
            fix="give one number per axis in each shape",
        )
    for axis, (lo, mid, hi) in enumerate(zip(shape.min, shape.opt, shape.max, strict=True)):
        if not 0 <= lo <= mid <= hi:
            raise BuildSettingsError(
                f"{where}: axis {axis} breaks min ≤ opt ≤ max.",
                expected="0 ≤ min ≤ opt ≤ max on every axis",
                found=f"min {lo}, opt {mid}, max {hi}",
                fix="reorder the three shapes (INPUT:MIN,OPT,MAX)",
            )
