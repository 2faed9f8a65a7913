"""Optimization profiles: ``ShapeProfile`` and the seeded defaults. Pure Python.

Default profiles (``default_profiles``) are seeded from the symbolic dimension names:

=====================================================  ====  ====  ====
dimension                                               min   opt   max
=====================================================  ====  ====  ====
named like a batch (``batch``, ``N``, ``bs``…) or axis 0    1     1     8
named like a sequence (``seq``, ``sequence``, ``len``…)     1   128   512
named like a spatial size (``height``, ``width``, ``H``…)  32   224   512
anything else                                               1    16    64
=====================================================  ====  ====  ====

Image-like inputs (rank 4 with 1, 3 or 4 channels on axis 1 or axis 3, the other axes dynamic)
are seeded whatever their dims are called (``p2o.DynamicDimension.2``, ``?``): axis 0 as a
batch, the two spatial axes 32 / 224 / 512. Detectors and OCR backbones downsample by 32, so
their spatial sizes must be multiples of 32 — a profile of 1×1 or 16×16 is one they cannot
take (TensorRT: "kOPT values … violate shape constraints … Broadcast has incompatible
dimensions"). ``seed_profile`` is the one place this rule lives; feeds use its ``opt``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from workbench.core.errors import BuildSettingsError
from workbench.core.records import TensorSpec

__all__ = ["SPATIAL_SEED", "Profile", "ShapeProfile", "default_profiles", "dims_text",
           "image_spatial_axes", "seed_profile", "whole_number", "wrong_type"]

_BATCH_NAMES = ("batch", "bs", "n", "b", "batch_size", "batchsize", "num")
_SEQUENCE_HINTS = ("seq", "len", "token", "time", "step")
_SPATIAL_NAMES = ("h", "w", "height", "width", "size", "img", "image", "x", "y")
_IMAGE_CHANNELS = (1, 3, 4)
SPATIAL_SEED = (32, 224, 512)  # min/opt/max of a spatial axis: all multiples of 32


@dataclass(frozen=True)
class ShapeProfile:
    """The min/opt/max shapes of one dynamic input in one optimization profile."""

    input: str
    min: tuple[int, ...]
    opt: tuple[int, ...]
    max: tuple[int, ...]

    def __post_init__(self) -> None:
        for name in ("min", "opt", "max"):
            object.__setattr__(self, name, _int_dims(self.input, name, getattr(self, name)))

    def text(self) -> str:
        """``input:1x64,4x64,8x64`` — the form the CLI's ``--shapes`` accepts."""
        return f"{self.input}:" + ",".join(dims_text(s) for s in (self.min, self.opt, self.max))

    def to_dict(self) -> dict[str, Any]:
        return {"input": self.input, "min": list(self.min), "opt": list(self.opt),
                "max": list(self.max)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ShapeProfile:
        return cls(str(data["input"]), data["min"], data["opt"], data["max"])

    @classmethod
    def parse(cls, text: str) -> ShapeProfile:
        """Parse ``input:1x64,4x64,8x64`` (min,opt,max; a single shape means all three)."""
        name, sep, shapes = text.rpartition(":")
        parts = shapes.split(",") if sep else []
        if not name or len(parts) not in (1, 3):
            raise BuildSettingsError(
                f"Cannot read the shape profile {text!r}.",
                expected="INPUT:MIN,OPT,MAX with shapes like 1x3x224x224 (or INPUT:SHAPE)",
                found=repr(text),
                fix="for example --shapes image:1x3x32x32,1x3x224x224,8x3x512x512",
            )
        try:
            dims = [tuple(int(d) for d in part.lower().split("x")) for part in parts]
        except ValueError as err:
            raise BuildSettingsError(
                f"Shape profile {text!r} has a dimension that is not a whole number.",
                expected="shapes made of integers joined by 'x', e.g. 1x3x224x224",
                found=repr(shapes),
                fix="write every dimension as a number",
            ) from err
        if len(dims) == 1:
            dims = dims * 3
        return cls(name, dims[0], dims[1], dims[2])


def dims_text(shape: Sequence[int]) -> str:
    return "x".join(str(d) for d in shape)


Profile = tuple[ShapeProfile, ...]


def wrong_type(name: str, value: object, expected: str) -> BuildSettingsError:
    return BuildSettingsError(
        f"The build setting {name} has a value of the wrong type.",
        expected=expected, found=f"{type(value).__name__} {value!r}"[:200],
        fix=f"give {name} as {expected}",
    )


def whole_number(name: str, value: object) -> int:
    """An integer setting; floats with a fraction, NaN, text and other types are refused."""
    if isinstance(value, float) and not value.is_integer():
        raise wrong_type(name, value, "a whole number")
    try:
        number: int = int(value)  # type: ignore[call-overload]  # checked by the except
        return number
    except (TypeError, ValueError, OverflowError) as err:
        raise wrong_type(name, value, "a whole number") from err


def _int_dims(input_name: object, label: str, dims: object) -> tuple[int, ...]:
    if isinstance(dims, (str, bytes)) or not isinstance(dims, Iterable):
        raise wrong_type(f"{label} shape of {input_name!r}", dims,
                          "a sequence of whole numbers, e.g. (1, 3, 224, 224)")
    return tuple(whole_number(f"{label} shape of {input_name!r}", d) for d in dims)


def default_profiles(inputs: Sequence[TensorSpec],
                     minimums: Mapping[str, int] | None = None) -> Profile:
    """One profile for every dynamic input, seeded by ``seed_profile`` (module doc)."""
    return tuple(seed_profile(spec, minimums) for spec in inputs if spec.is_dynamic)


def seed_profile(spec: TensorSpec, minimums: Mapping[str, int] | None = None) -> ShapeProfile:
    """The seeded min/opt/max shapes of one input (the rule in the module doc).

    Static inputs get their own shape three times. The feed generator uses ``.opt`` for the
    sizes of symbolic dims, so profiles and sample inputs agree. ``minimums`` raises a
    symbolic dim to the smallest size the graph accepts (a Conv kernel of 64 over
    ``samples``: min 1 would be a profile the model cannot run).

    Raises:
        BuildSettingsError: the input has no declared rank.
    """
    if spec.shape is None:
        raise BuildSettingsError(
            f"Input {spec.name!r} has an unknown rank, so no default profile can be made.",
            expected="a declared rank (even with symbolic dims)",
            found="no shape at all", fix="give a ShapeProfile for it explicitly",
        )
    spatial = image_spatial_axes(spec.shape)
    triples = [_default_dim(axis, dim) for axis, dim in enumerate(spec.shape)]
    if spatial:  # an image: axis 0 is its batch, whatever it is called
        triples = [_default_dim(0, None) if axis == 0 and not _is_fixed(dim)
                   else SPATIAL_SEED if axis in spatial and not _is_fixed(dim)
                   else triple for axis, (dim, triple) in enumerate(zip(spec.shape, triples,
                                                                         strict=True))]
    if minimums:
        triples = [_at_least(triple, minimums.get(dim)) if isinstance(dim, str) else triple
                   for dim, triple in zip(spec.shape, triples, strict=True)]
    return ShapeProfile(spec.name, *(tuple(t[i] for t in triples) for i in range(3)))


def _at_least(triple: tuple[int, int, int], low: int | None) -> tuple[int, int, int]:
    if low is None:
        return triple
    return max(triple[0], low), max(triple[1], low), max(triple[2], low)


def _is_fixed(dim: object) -> bool:
    return isinstance(dim, int) and dim >= 0


def image_spatial_axes(shape: Sequence[object]) -> tuple[int, ...]:
    """The spatial axes of an NCHW or NHWC image-like shape, else ()."""
    if len(shape) != 4:
        return ()
    if shape[1] in _IMAGE_CHANNELS:
        return (2, 3)
    if shape[3] in _IMAGE_CHANNELS and not _is_fixed(shape[1]):
        return (1, 2)
    return ()


def _default_dim(axis: int, dim: object) -> tuple[int, int, int]:
    if isinstance(dim, int) and dim >= 0:
        return dim, dim, dim
    name = str(dim or "").lower().replace("-", "_")
    if name in _BATCH_NAMES or "batch" in name or (axis == 0 and not name):
        return 1, 1, 8
    if any(hint in name for hint in _SEQUENCE_HINTS):
        return 1, 128, 512
    if name in _SPATIAL_NAMES or "height" in name or "width" in name:
        return SPATIAL_SEED
    return 1, 16, 64
