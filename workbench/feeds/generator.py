"""The one feed generator: inputs a real model accepts, made the same way everywhere.

The panel's Run and Compare tabs, ``trt-workbench run``, ``compare_precision`` and the
TensorRT runner's sample inputs all come through ``model_feeds``:

- sizes: an engine's profile ``opt`` shapes when given, else the sizes you set per
  symbolic dim, else the default build profile's ``opt``
  (``workbench.settings.settings.seed_profile``: batch 1, sequence 128, image sides 224),
  raised to what the graph's Conv/Pool kernels need (``minimum_dim_sizes``);
- integer inputs that index something (embedding ``Gather``, ``OneHot`` depth, …) stay in
  range, found by following the graph (``workbench.inspection.input_roles``);
  inputs named like a mask are all ones; ranges you set per input win.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx

from workbench.core.records import TensorSpec
from workbench.feeds.inputs import IntRange, dim_key, make_inputs, resolve_shape
from workbench.inspection.input_roles import InputRole, input_roles, minimum_dim_sizes
from workbench.inspection.protos import graph_io_specs
from workbench.settings.settings import seed_profile

__all__ = ["FeedOptions", "FeedPlanRow", "feed_plan", "model_feeds", "plan_dims"]


@dataclass(frozen=True)
class FeedOptions:
    """What a user set: sizes per symbolic dim, ``[low, high)`` per integer input."""

    dims: Mapping[str, int] = field(default_factory=dict)
    int_ranges: Mapping[str, IntRange] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "dims", {str(k): int(v) for k, v in self.dims.items()})
        object.__setattr__(self, "int_ranges", {
            str(k): (int(v[0]), int(v[1])) for k, v in self.int_ranges.items()})


@dataclass(frozen=True)
class FeedPlanRow:
    """One input as the generator will make it: shape, and values with the reason."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    values: str  # "[0, 2)", "ones", "uniform [-1, 1)"
    why: str


def model_feeds(
    model: onnx.ModelProto,
    seed: int = 0,
    options: FeedOptions | None = None,
    *,
    specs: Sequence[TensorSpec] | None = None,
    shapes: Mapping[str, Sequence[int]] | None = None,
    roles: Mapping[str, InputRole] | None = None,
) -> dict[str, np.ndarray]:
    """Seeded feeds for ``model`` (load it with ``load_weights=False``: weights are unused).

    Args:
        model: The ONNX model whose graph says what each integer input indexes.
        seed: Same seed, same feeds.
        options: Sizes per symbolic dim and ranges per integer input that you set.
        specs: The inputs to feed (default: the model's graph inputs; an engine's specs).
        shapes: Full shapes per input (an engine's profile opt shapes); these win.
        roles: Precomputed ``input_roles(model)`` (computed when omitted).

    Raises:
        InferenceInputError: a shape cannot be resolved or a range is empty.
    """
    options = options or FeedOptions()
    specs = specs if specs is not None else graph_io_specs(model.graph)[0]
    return make_inputs(
        specs, seed=seed, shapes=shapes, dims=_sizes(model, specs, options)[0],
        int_range=dict(options.int_ranges) or None,
        roles=roles if roles is not None else input_roles(model))


def _sizes(model: onnx.ModelProto, specs: Sequence[TensorSpec],
           options: FeedOptions) -> tuple[dict[str, int], dict[str, str]]:
    """Sizes per symbolic dim: yours, else the seeded opt raised to the graph's minimum."""
    minimums = minimum_dim_sizes(model)
    dims: dict[str, int] = {}
    why: dict[str, str] = {}
    for spec in specs:
        if spec.shape is None:
            continue
        for dim, seeded in zip(spec.shape, seed_profile(spec).opt, strict=True):
            if isinstance(dim, str) and dim in minimums and seeded < minimums[dim][0]:
                dims[dim] = minimums[dim][0]
                why[dim] = f"{dim} ≥ {minimums[dim][0]}: {minimums[dim][1]}"
    dims.update(options.dims)
    return dims, {name: text for name, text in why.items() if name not in options.dims}


def feed_plan(model: onnx.ModelProto, options: FeedOptions | None = None, *,
              specs: Sequence[TensorSpec] | None = None,
              shapes: Mapping[str, Sequence[int]] | None = None) -> list[FeedPlanRow]:
    """What ``model_feeds`` will make, input by input, and why (for the panel)."""
    options = options or FeedOptions()
    roles = input_roles(model)
    specs = specs if specs is not None else graph_io_specs(model.graph)[0]
    dims, size_why = _sizes(model, specs, options)
    rows = []
    for spec in specs:
        shape = resolve_shape(spec, (shapes or {}).get(spec.name), dims)
        values, why = _values(spec, roles.get(spec.name), options)
        sized = [size_why[d] for d in spec.shape or () if isinstance(d, str) and d in size_why]
        rows.append(FeedPlanRow(spec.name, spec.dtype, shape, values,
                                "; ".join(filter(None, [*sized, why]))))
    return rows


def _values(spec: TensorSpec, role: InputRole | None, options: FeedOptions) -> tuple[str, str]:
    if spec.name in options.int_ranges:
        low, high = options.int_ranges[spec.name]
        return f"[{low}, {high})", "set by you"
    if role is not None and role.kind == "mask":
        return "ones", role.why
    if role is not None and role.kind in ("index", "value"):
        return f"[{role.low}, {role.high})", role.why
    kind = np.dtype(spec.dtype).kind if _known(spec.dtype) else "?"
    if kind == "f":
        return "uniform [-1, 1)", ""
    if kind == "b":
        return "random true/false", ""
    return "[0, 10)", "indexes nothing the graph shows; small non-negative values"


def _known(dtype: Any) -> bool:
    try:
        np.dtype(dtype)
    except TypeError:
        return False
    return True


def plan_dims(specs: Sequence[TensorSpec], plan: Sequence[FeedPlanRow]) -> dict[str, int]:
    """The size the plan gives each dynamic dim, keyed as the size controls are
    (``dim_key``: the dim's name, or ``input[axis]``)."""
    by_name = {spec.name: spec for spec in specs}
    sizes: dict[str, int] = {}
    for row in plan:
        spec = by_name.get(row.name)
        for axis, (dim, size) in enumerate(zip(spec.shape or () if spec else (), row.shape,
                                               strict=False)):
            key = dim_key(row.name, axis, dim)
            if key is not None:
                sizes.setdefault(key, int(size))
    return sizes
