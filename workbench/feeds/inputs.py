"""Seeded inputs for inference: random feeds from input specs, and .npz files.

Each input draws from its own generator, seeded from the seed and the input's name, so
adding an input to a model does not change the values of the others, and the same seed
always gives the same feeds. Symbolic dims take the default build profile's ``opt`` sizes
(``workbench.settings.settings.seed_profile``), so sample inputs and default engines agree.
Integer inputs take the ranges the graph allows when given ``roles``
(``workbench.feeds.generator.model_feeds`` finds them).
"""

from __future__ import annotations

import os
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from workbench.core.errors import InferenceInputError
from workbench.core.records import Dim, TensorSpec, dim_key
from workbench.inspection.input_roles import InputRole
from workbench.settings.settings import seed_profile

__all__ = [
    "DEFAULT_INT_RANGE",
    "dim_key",
    "load_inputs",
    "make_inputs",
    "resolve_shape",
    "save_inputs",
]

DEFAULT_INT_RANGE = (0, 10)  # [low, high): small non-negative ids are valid indices almost anywhere

Range = tuple[float, float]
IntRange = tuple[int, int]


def make_inputs(
    specs: Sequence[TensorSpec],
    seed: int = 0,
    shapes: Mapping[str, Sequence[int]] | None = None,
    float_range: Range | Mapping[str, Range] = (-1.0, 1.0),
    int_range: IntRange | Mapping[str, IntRange] | None = None,
    dims: Mapping[str, int] | None = None,
    roles: Mapping[str, InputRole] | None = None,
) -> dict[str, np.ndarray]:
    """Random feeds for ``specs``, reproducible from ``seed``.

    Args:
        specs: The model's inputs (``runner.input_specs()``).
        seed: Same seed, same feeds.
        shapes: Full shapes per input name (for example a profile's opt shapes); these win.
        float_range: ``(low, high)`` for float inputs, or a mapping of input name to range.
        int_range: ``[low, high)`` for integer inputs (ids, indices), or a mapping of input
            name to range (for example token ids bounded by the vocabulary size).
        dims: Sizes for symbolic dims by name, e.g. ``{"batch": 4, "sequence": 128}``;
            the others take the seeded build profile's opt (batch 1, sequence 128,
            image height/width 224, anything else 16).
        roles: What integer inputs are for (``input_roles(model)``): index ranges and masks
            (all ones). An ``int_range`` you give wins over a role.

    Raises:
        InferenceInputError: a shape cannot be resolved, a range is empty, or a dtype
            cannot be generated (strings).
    """
    feeds = {}
    for spec in specs:
        shape = resolve_shape(spec, (shapes or {}).get(spec.name), dims or {})
        rng = np.random.default_rng([seed, zlib.crc32(spec.name.encode())])
        role = (roles or {}).get(spec.name)
        if role is not None and role.kind == "mask" and not _given(int_range, spec.name):
            feeds[spec.name] = np.ones(shape, dtype=np.dtype(spec.dtype))
            continue
        ranges = int_range
        if role is not None and role.kind in ("index", "value") \
                and not _given(int_range, spec.name):
            ranges = {spec.name: role.range}
        feeds[spec.name] = _random_array(spec, shape, rng, float_range, ranges)
    return feeds


def _given(int_range: IntRange | Mapping[str, IntRange] | None, name: str) -> bool:
    if isinstance(int_range, Mapping):
        return name in int_range
    return int_range is not None


def resolve_shape(
    spec: TensorSpec, given: Sequence[int] | None, dims: Mapping[str, int]
) -> tuple[int, ...]:
    """A concrete shape: the given one, else symbolic dims from ``dims``, else defaults."""
    if given is not None:
        shape = tuple(int(d) for d in given)
        if spec.shape is not None and len(shape) != len(spec.shape):
            raise InferenceInputError(
                f"The shape given for input {spec.name!r} has the wrong rank.",
                expected=f"{len(spec.shape)} dims {spec.shape_text()}",
                found=f"{list(shape)}",
                fix="give one size per axis",
            )
        return shape
    if spec.shape is None:
        raise InferenceInputError(
            f"Input {spec.name!r} has an unknown rank, so no shape can be guessed.",
            expected="a model input with a declared rank, or a shape for it",
            found="no shape information",
            fix=f"pass shapes={{{spec.name!r}: (...)}}",
        )
    seeded = seed_profile(spec).opt
    return tuple(_resolve_dim(dim_key(spec.name, axis, d), d, axis, dims, seeded)
                 for axis, d in enumerate(spec.shape))


def _resolve_dim(key: str | None, dim: Dim, axis: int, dims: Mapping[str, int],
                 seeded: Sequence[int]) -> int:
    if key is None and isinstance(dim, int):
        return dim
    if key is not None and key in dims:
        return int(dims[key])
    return int(seeded[axis])


def _range_for(
    value: Range | IntRange | Mapping[str, Range] | Mapping[str, IntRange] | None,
    name: str,
    default: Range | IntRange,
) -> tuple[float, float]:
    """The range for one input: its own entry of a mapping, the shared tuple, or default."""
    picked = value.get(name) if isinstance(value, Mapping) else value
    low, high = picked if picked is not None else default
    return low, high


def _random_array(
    spec: TensorSpec,
    shape: tuple[int, ...],
    rng: np.random.Generator,
    float_range: Range | Mapping[str, Range],
    int_range: IntRange | Mapping[str, IntRange] | None,
) -> np.ndarray:
    try:
        dtype = np.dtype(spec.dtype)
    except TypeError as err:
        raise _cannot_generate(spec, f"an unknown dtype {spec.dtype!r}") from err
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    if dtype.kind == "f":
        low, high = _range_for(float_range, spec.name, (-1.0, 1.0))
        _check_range(spec, low, high)
        return rng.uniform(low, high, shape).astype(dtype)
    if dtype.kind in "iu":
        ilow, ihigh = _range_for(int_range, spec.name, DEFAULT_INT_RANGE)
        _check_range(spec, ilow, ihigh)
        return rng.integers(int(ilow), int(ihigh), shape).astype(dtype)
    raise _cannot_generate(spec, f"dtype {dtype}")


def _check_range(spec: TensorSpec, low: float, high: float) -> None:
    if not low < high:
        raise InferenceInputError(
            f"The value range for input {spec.name!r} is empty.",
            expected="low < high (integers: high is exclusive)",
            found=f"({low}, {high})",
            fix="widen the range",
        )


def _cannot_generate(spec: TensorSpec, what: str) -> InferenceInputError:
    return InferenceInputError(
        f"Cannot generate random values for input {spec.name!r}: {what}.",
        expected="float, integer or bool inputs",
        found=what,
        fix="pass this input yourself (a dict of arrays or an .npz file)",
    )


def save_inputs(path: str | os.PathLike[str], feeds: Mapping[str, np.ndarray]) -> Path:
    """Save feeds to an ``.npz`` file (one array per input name); return the path."""
    target = Path(path)
    if target.suffix != ".npz":
        target = target.with_name(target.name + ".npz")  # np.savez would add it silently
    arrays = {name: np.asarray(value) for name, value in feeds.items()}
    objects = [name for name, value in arrays.items() if value.dtype == object]
    if objects:
        raise InferenceInputError(
            "Cannot save object arrays to .npz safely.",
            expected="numeric or bool arrays",
            found="object arrays for " + ", ".join(objects),
            fix="convert them to a numeric dtype first",
        )
    try:
        np.savez(target, **arrays)  # type: ignore[arg-type]
    except OSError as err:
        raise InferenceInputError(
            f"Cannot write {target}.",
            expected="a writable path",
            found=f"{type(err).__name__}: {err}",
            fix="check that the folder exists and is writable",
        ) from err
    return target


def load_inputs(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Load feeds saved by ``save_inputs`` (or ``np.savez``). Pickles are refused."""
    source = Path(path)
    if not source.is_file():
        raise InferenceInputError(
            f"Input file not found: {source}",
            expected="an existing .npz file",
            found="no file at that path",
            fix="check the path, or create one with save_inputs(path, feeds)",
        )
    try:
        data = np.load(source, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError("a single .npy array, not an .npz archive of named arrays")
        with data:
            return {name: data[name] for name in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise InferenceInputError(
            f"{source} is not a readable .npz file of input arrays.",
            expected="an .npz archive with one numeric array per input name",
            found=f"{type(err).__name__}: {err}",
            fix="save inputs with save_inputs(path, feeds) or np.savez(path, name=array)",
        ) from err
