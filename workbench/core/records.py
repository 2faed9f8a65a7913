"""Neutral records shared by several layers (inspection, runners, engines, the panel)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any

__all__ = ["Choice", "Dim", "TensorSpec", "dim_key"]


class Choice(str, Enum):
    """A string enum equal to (and printed as) its value: ``Precision.FP16 == "fp16"``.

    Every closed set of choices (precisions, task states, event names) is one of these, so
    code compares members while users and JSON may still give and see the text.
    """

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)

# A dimension: a fixed size, a symbolic name ("batch"), or None when nothing is known.
Dim = int | str | None

_ANONYMOUS = ("", "?")


def dim_key(input_name: str, axis: int, dim: Dim) -> str | None:
    """The name a size is set under for one dynamic dim (``FeedOptions.dims``), or None for
    a fixed dim. Named dims are set by name (one size for every input that shares it);
    dims without a usable name (unnamed, ``?``, empty, a negative size) are set per input
    and axis, as ``input[axis]``: exporters write ``?`` for dims that need not agree."""
    if isinstance(dim, int) and dim >= 0:
        return None
    if isinstance(dim, str) and dim not in _ANONYMOUS:
        return dim
    return f"{input_name}[{axis}]"


@dataclass(frozen=True)
class TensorSpec:
    """A named tensor's dtype and shape, as ONNX or TensorRT declares it.

    ``dtype`` is a NumPy-style name ("float32", "int64", "bool", "string", ...).
    ``shape`` is None when the rank itself is unknown.
    """

    name: str
    dtype: str
    shape: tuple[Dim, ...] | None

    @property
    def is_dynamic(self) -> bool:
        return self.shape is None or any(not isinstance(d, int) or d < 0 for d in self.shape)

    def shape_text(self) -> str:
        if self.shape is None:
            return "?"
        return "[" + ", ".join("?" if d is None else str(d) for d in self.shape) + "]"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["shape"] = None if self.shape is None else list(self.shape)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TensorSpec:
        shape = data.get("shape")
        return cls(str(data["name"]), str(data["dtype"]), None if shape is None else tuple(shape))
