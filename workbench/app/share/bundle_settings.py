"""The build settings a bug bundle writes into ``repro.sh`` / ``repro.py``.

A reduced model's inputs are not the user's model's: the reduction of a parse failure
(EfficientNet's pooler) is one AveragePool whose input is the internal tensor ``r``. Its
``repro.sh`` passed ``--minShapes=pixel_values:…`` and failed with "Profile 0 names an input
the model does not have" before TensorRT ran (so ``verbose.log`` was empty). The profiles
are therefore re-derived from the bundled model's own inputs: each profile keeps the shapes
of the inputs the bundled model still has (when they fit them), and the others are seeded
from the bundled model (``workbench.settings.profiles.default_profiles``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from workbench.core.errors import WorkbenchError
from workbench.core.records import TensorSpec
from workbench.inspection.loading import load_model
from workbench.inspection.protos import graph_io_specs
from workbench.settings.profiles import Profile, ShapeProfile, seed_profile
from workbench.settings.settings import BuildSettings

__all__ = ["settings_for_model"]


def settings_for_model(settings: BuildSettings, model_path: Path,
                       original: Sequence[TensorSpec] = ()) -> tuple[BuildSettings, str | None]:
    """``settings`` with profiles that fit the model at ``model_path``, and a note saying
    what changed (None when the settings fit as they are).

    ``original``: the inputs of the model the settings were made for. A symbolic dim of the
    bundled model's inputs that one of them has too (``batch``, ``height``) takes the size
    the settings gave it there, so the repro builds at the sizes that failed.
    """
    try:
        inputs = graph_io_specs(load_model(model_path, load_weights=False).graph)[0]
    except WorkbenchError:  # an unreadable model: the build reports that itself
        return settings, None
    try:
        settings.validate(inputs)
        return settings, None
    except WorkbenchError:
        pass
    by_name = {spec.name: spec for spec in inputs}
    profiles: list[Profile] = []
    for profile in settings.profiles or ((),):
        kept = [shape for shape in profile if _fits(shape, by_name.get(shape.input))]
        have = {shape.input for shape in kept}
        sizes = _sizes_by_dim(profile, original)
        profiles.append((*kept, *(_seeded(spec, sizes) for spec in inputs
                                  if spec.is_dynamic and spec.name not in have)))
    derived = dataclasses.replace(settings, profiles=tuple(p for p in profiles if p))
    try:
        derived.validate(inputs)
    except WorkbenchError:
        derived = dataclasses.replace(settings, profiles=()).resolved(inputs)
    dropped = sorted({s.input for p in settings.profiles for s in p} - set(by_name))
    shown = ", ".join(s.text() for p in derived.profiles for s in p) or "none needed"
    return derived, ("profiles re-derived from the bundled model's own inputs ("
                     + ", ".join(spec.name for spec in inputs) + f"): {shown}"
                     + (f"; the original model's {', '.join(dropped)} is not an input of it"
                        if dropped else ""))


Triple = tuple[int, int, int]


def _sizes_by_dim(profile: Profile, original: Sequence[TensorSpec]) -> dict[str, Triple]:
    """Symbolic dim name -> (min, opt, max) as ``profile`` sets it on ``original``."""
    specs = {spec.name: spec for spec in original}
    sizes: dict[str, Triple] = {}
    for shape in profile:
        spec = specs.get(shape.input)
        if spec is None or spec.shape is None or len(spec.shape) != len(shape.opt):
            continue
        for axis, dim in enumerate(spec.shape):
            if isinstance(dim, str) and dim:
                sizes.setdefault(dim, (shape.min[axis], shape.opt[axis], shape.max[axis]))
    return sizes


def _seeded(spec: TensorSpec, sizes: dict[str, Triple]) -> ShapeProfile:
    seeded = seed_profile(spec)
    assert spec.shape is not None  # seed_profile refuses an unknown rank
    triples = [sizes.get(dim, (lo, opt, hi)) if isinstance(dim, str) else (lo, opt, hi)
               for dim, lo, opt, hi in zip(spec.shape, seeded.min, seeded.opt, seeded.max,
                                           strict=True)]
    return ShapeProfile(spec.name, *(tuple(t[i] for t in triples) for i in range(3)))


def _fits(shape: ShapeProfile, spec: TensorSpec | None) -> bool:
    if spec is None or spec.shape is None:
        return False
    if any(len(bound) != len(spec.shape) for bound in (shape.min, shape.opt, shape.max)):
        return False
    return all(not isinstance(dim, int) or lo == opt == hi == dim
               for dim, lo, opt, hi in zip(spec.shape, shape.min, shape.opt, shape.max,
                                           strict=True))
