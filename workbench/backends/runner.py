"""The Runner contract shared by ONNX Runtime and TensorRT runners.

``activate`` acquires resources (a session, a GPU context, buffers), ``infer`` runs one
inference, ``deactivate`` frees everything; a runner is also a context manager. Public
methods validate their inputs, then call the ``_impl`` methods subclasses provide, so
comparison code never needs to know which backend it holds. NumPy only.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from types import TracebackType
from typing import TypeVar

import numpy as np

from workbench.core.errors import InferenceInputError
from workbench.core.records import TensorSpec, dim_key

R = TypeVar("R", bound="Runner")

__all__ = ["ProfileRange", "Runner", "validate_feeds"]

# Per input: (min shape, max shape) allowed by the engine's optimization profile.
ProfileRange = tuple[tuple[int, ...], tuple[int, ...]]


class Runner(ABC):
    """Base class: validate, then delegate to ``_activate_impl`` / ``_infer_impl``."""

    name = "runner"

    def __init__(self) -> None:
        self._active = False

    @property
    def is_active(self) -> bool:
        return self._active

    def activate(self) -> None:
        """Acquire resources. Calling it twice is harmless."""
        if not self._active:
            self._activate_impl()
            self._active = True

    def deactivate(self) -> None:
        """Free every resource. Calling it twice (or before activate) is harmless."""
        if self._active:
            try:
                self._deactivate_impl()
            finally:
                self._active = False

    def __enter__(self: R) -> R:
        self.activate()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.deactivate()

    def infer(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run one inference: validate names, dtypes, ranks and shapes first."""
        self._require_active()
        checked = validate_feeds(self.input_specs(), feeds, self.profile_ranges())
        return self._infer_impl(checked)

    def _require_active(self, calls: str = "infer()") -> None:
        if not self._active:
            raise InferenceInputError(
                f"{self.name} runner is not active.",
                expected=f"runner.activate() (or `with runner:`) before {calls}",
                found="an inactive runner",
                fix="wrap the calls in `with runner:`",
            )

    @abstractmethod
    def input_specs(self) -> tuple[TensorSpec, ...]:
        """The inputs the runner expects (dynamic dims as names or None)."""

    def output_specs(self) -> tuple[TensorSpec, ...]:
        return ()

    def profile_ranges(self) -> dict[str, ProfileRange]:
        """Shape ranges allowed per input (TensorRT profiles); empty when unbounded."""
        return {}

    @abstractmethod
    def _activate_impl(self) -> None: ...

    @abstractmethod
    def _deactivate_impl(self) -> None: ...

    @abstractmethod
    def _infer_impl(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...


def validate_feeds(
    specs: tuple[TensorSpec, ...],
    feeds: Mapping[str, np.ndarray],
    ranges: Mapping[str, ProfileRange] | None = None,
) -> dict[str, np.ndarray]:
    """Check feeds against specs; return them as contiguous arrays of the declared dtype.

    Raises:
        InferenceInputError: a missing or unknown name, a dtype that cannot be cast
            safely, a wrong rank, a static dim mismatch, or a shape outside the profile.
    """
    expected_names = [s.name for s in specs]
    missing = [n for n in expected_names if n not in feeds]
    unknown = [n for n in feeds if n not in expected_names]
    if missing or unknown:
        raise InferenceInputError(
            "Input names do not match the model.",
            expected=", ".join(expected_names) or "(no inputs)",
            found=", ".join(sorted(feeds)) or "(none)",
            fix=_name_fix(missing, unknown),
        )
    checked = {}
    for spec in specs:
        checked[spec.name] = _check_one(spec, np.asarray(feeds[spec.name]), (ranges or {}))
    _check_symbolic_dims(specs, checked)
    return checked


def _check_symbolic_dims(specs: tuple[TensorSpec, ...], feeds: Mapping[str, np.ndarray]) -> None:
    """A symbolic dim shared by several inputs ("batch") must have one size in all of them."""
    seen: dict[str, tuple[int, str, int]] = {}
    for spec in specs:
        for axis, dim in enumerate(spec.shape or ()):
            # unnamed dims, ``?`` and ``""`` are independent (``dim_key`` names them per axis)
            if not isinstance(dim, str) or dim_key(spec.name, axis, dim) != dim:
                continue
            size = feeds[spec.name].shape[axis]
            if dim not in seen:
                seen[dim] = (size, spec.name, axis)
                continue
            first_size, first_name, first_axis = seen[dim]
            if size != first_size:
                raise InferenceInputError(
                    f"Symbolic dim {dim!r} has two different sizes.",
                    expected=f"one size for {dim!r} in every input that uses it",
                    found=f"{first_size} in {first_name!r} (axis {first_axis}), "
                    f"{size} in {spec.name!r} (axis {axis})",
                    fix=f"give {dim!r} the same size everywhere",
                )


def _name_fix(missing: list[str], unknown: list[str]) -> str:
    parts = []
    if missing:
        parts.append("add " + ", ".join(missing))
    if unknown:
        parts.append("remove or rename " + ", ".join(unknown))
    return "; ".join(parts)


def _check_one(
    spec: TensorSpec, value: np.ndarray, ranges: Mapping[str, ProfileRange]
) -> np.ndarray:
    want = np.dtype(spec.dtype) if spec.dtype != "string" else np.dtype(object)
    if value.dtype != want:
        if not np.can_cast(value.dtype, want, casting="same_kind"):
            raise InferenceInputError(
                f"Input {spec.name!r} has the wrong dtype.",
                expected=str(want),
                found=str(value.dtype),
                fix=f"convert it: array.astype(np.{want})",
            )
        value = value.astype(want)
    if spec.shape is not None:
        if value.ndim != len(spec.shape):
            raise InferenceInputError(
                f"Input {spec.name!r} has the wrong rank.",
                expected=f"{len(spec.shape)} dims {spec.shape_text()}",
                found=f"{value.ndim} dims {list(value.shape)}",
                fix="reshape the array (a batch dimension is often what is missing)",
            )
        for axis, (dim, size) in enumerate(zip(spec.shape, value.shape, strict=True)):
            if isinstance(dim, int) and dim >= 0 and dim != size:
                raise InferenceInputError(
                    f"Input {spec.name!r} has size {size} on axis {axis}, which is fixed.",
                    expected=f"shape {spec.shape_text()}",
                    found=f"shape {list(value.shape)}",
                    fix=f"give axis {axis} size {dim}",
                )
    if spec.name in ranges:
        low, high = ranges[spec.name]
        if any(s < lo or s > hi for s, lo, hi in zip(value.shape, low, high, strict=False)):
            raise InferenceInputError(
                f"Input {spec.name!r} is outside the engine's optimization profile.",
                expected=f"shapes between {list(low)} and {list(high)}",
                found=f"shape {list(value.shape)}",
                fix="use a shape inside the profile, or rebuild with a wider profile",
            )
    # ascontiguousarray returns at least 1-d: a scalar input (a sample rate) would become [1]
    return value if value.flags.c_contiguous else np.ascontiguousarray(value)
