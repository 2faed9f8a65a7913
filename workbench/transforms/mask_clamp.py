"""Clamp attention-mask sentinels to a value FP16 holds: the standard rewrite for masks.

Exporters write the "masked" value of an additive attention mask as ``finfo(float32).min``
(-3.4e38). FP16 cannot hold it: the conversion saturates it to -65504, two stacked masks
then overflow to -inf, and a row whose keys are all masked turns to NaN or to noise. The
rewrite older BERT code used, and what Hugging Face recommends for FP16, is a finite
sentinel: -10000. ``exp(-10000)`` is exactly 0 in every precision, so partly masked rows
keep their meaning; 2 × 10000 still fits FP16, so stacked masks stay finite.

Only constants whose *every* use ends in a masking sink (Softmax, Reduce/Arg Max/Min,
comparisons, ``Where`` conditions; ``workbench.compare.saturation.masking_sinks``) are
touched, and only their elements of magnitude >= 1e30 (or ±inf): a constant that is also
added to an activation, returned, or used elsewhere is left alone. The model passed in is
never modified. The constants looked at are the main graph's initializers (inline, or
small ones in external data when its ``folder`` is given; a clamped one is then stored
inline) and its ``Constant`` / ``ConstantOfShape`` nodes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from workbench.compare.drift import GraphNode
from workbench.compare.saturation import SENTINEL_MAGNITUDE, masking_sinks
from workbench.core.errors import ConversionError
from workbench.graph import graph_values
from workbench.inspection.external_data import external_weight

__all__ = ["SAFE_MASK_VALUE", "MaskClamp", "MaskConstant", "clamp_mask_constants",
           "find_mask_constants", "tensor_names"]

# exp(-1e4) underflows to 0 in FP16/BF16/FP32; 2e4 (a causal plus a padding mask) < 65504
SAFE_MASK_VALUE = 1e4
_SMALL = 1 << 14  # elements: masks are scalars or [seq, seq] tables; weights are not read
_FLOATS = {onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16,
           onnx.TensorProto.BFLOAT16}


@dataclass(frozen=True)
class MaskConstant:
    """One constant holding attention-mask sentinels."""

    tensor: str
    node: str  # the Constant / ConstantOfShape node, or "" for an initializer
    count: int  # elements of magnitude >= 1e30 (or ±inf)
    extreme: float  # the largest magnitude among them
    sinks: tuple[str, ...]  # the masking nodes its paths end in

    def describe(self) -> str:
        where = f"node {self.node}" if self.node else "initializer"
        return (f"{self.tensor} ({where}): {self.count} value(s) of magnitude "
                f"{self.extreme:.3g}, used only by {', '.join(self.sinks[:3])}"
                + (" ..." if len(self.sinks) > 3 else ""))

    def to_dict(self) -> dict[str, Any]:
        return {"tensor": self.tensor, "node": self.node, "count": self.count,
                "extreme": self.extreme, "sinks": list(self.sinks)}


@dataclass(frozen=True)
class MaskClamp:
    """What ``clamp_mask_constants`` rewrote."""

    value: float
    constants: tuple[MaskConstant, ...]

    @property
    def changed(self) -> bool:
        return bool(self.constants)

    def describe(self) -> str:
        if not self.constants:
            return "no attention-mask constant beyond the FP16 range"
        return (f"clamped {sum(c.count for c in self.constants)} mask value(s) in "
                f"{tensor_names(self.constants)} to ±{self.value:g}")

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "constants": [c.to_dict() for c in self.constants]}


def tensor_names(constants: tuple[MaskConstant, ...], shown: int = 4) -> str:
    """"a, b, c, d ..." — the constants' tensor names for a one-line message."""
    more = " ..." if len(constants) > shown else ""
    return ", ".join(c.tensor for c in constants[:shown]) + more


def find_mask_constants(model: onnx.ModelProto, folder: Path | None = None
                        ) -> tuple[MaskConstant, ...]:
    """The graph's constants that hold mask sentinels and reach only masking sinks
    (``folder``: where the model's external data lives, if it has any)."""
    # the saturation rule's records, read through the graph layer's use lists: a constant an
    # If/Loop body reads has that node as a reader (slot BODY), which is no masking sink.
    # Made only for the names the walk reaches (most constants end at their first reader).
    consumers = _Readers(model.graph)
    returned = {o.name for o in model.graph.output}
    # the graph walk first: weights feed MatMul/Conv, so their values are never read
    names = [init.name for init in model.graph.initializer] + [
        n.output[0] for n in model.graph.node
        if n.op_type in ("Constant", "ConstantOfShape") and n.output]
    sinks = {name: found for name in names
             if (found := masking_sinks(name, consumers, returned))}
    masks = []
    for tensor, node, values in _constants(model.graph, folder, set(sinks)):
        hits = _sentinels(values)
        if hits.any():
            extreme = float(np.abs(values[hits].astype(np.float64)).max())
            masks.append(MaskConstant(tensor, node, int(hits.sum()), extreme,
                                      tuple(sinks[tensor])))
    return tuple(masks)


class _Readers(Mapping[str, list[tuple[GraphNode, int]]]):
    """Each value's readers as the saturation rule's records, made on first access."""

    def __init__(self, graph: onnx.GraphProto) -> None:
        self._graph = graph
        self._view = graph_values(graph)
        self._nodes: dict[int, GraphNode] = {}

    def _node(self, index: int) -> GraphNode:
        if index not in self._nodes:
            n = self._graph.node[index]
            self._nodes[index] = GraphNode(n.name, n.op_type, tuple(n.input), tuple(n.output))
        return self._nodes[index]

    def __getitem__(self, name: str) -> list[tuple[GraphNode, int]]:
        return [(self._node(use.node_index), use.slot) for use in self._view[name].uses]

    def __iter__(self) -> Iterator[str]:
        return iter(self._view)

    def __len__(self) -> int:
        return len(self._view)


def clamp_mask_constants(model: onnx.ModelProto, value: float = SAFE_MASK_VALUE,
                         folder: Path | None = None) -> tuple[onnx.ModelProto, MaskClamp]:
    """A copy of ``model`` whose mask sentinels are ``±value`` (sign kept); ``model`` is
    unchanged. Returns the copy (``model`` itself when there is nothing to clamp)."""
    if not 0 < value <= 65504:
        raise ConversionError(
            "The mask value cannot stand in for a mask in FP16.",
            expected="a magnitude in (0, 65504], which FP16 holds (the default is 1e4)",
            found=repr(value),
            fix=f"leave the value at its default ({SAFE_MASK_VALUE:g}) or pick one in range")
    found = find_mask_constants(model, folder)
    if not found:
        return model, MaskClamp(value, ())
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    for _tensor_name, _node, values in _constants(copy.graph, folder,
                                                  {c.tensor for c in found}, write=True):
        hits = _sentinels(values)
        values[hits] = np.sign(values[hits]) * value
    return copy, MaskClamp(value, found)


def _sentinels(values: np.ndarray) -> np.ndarray:
    wide = values.astype(np.float64)
    return np.isinf(wide) | (np.abs(wide) >= SENTINEL_MAGNITUDE)


def _constants(graph: onnx.GraphProto, folder: Path | None, wanted: set[str],
               write: bool = False) -> Iterator[tuple[str, str, np.ndarray]]:
    """(tensor, node, values) of the floating constants of ``graph`` named in ``wanted``.

    With ``write``, changes made to ``values`` by the caller are stored back into the graph
    (inline) once the caller moves on to the next item."""
    for index, init in enumerate(graph.initializer):
        values = _initializer_values(init, folder) if init.name in wanted else None
        if values is not None:
            yield init.name, "", values
            if write:
                graph.initializer[index].CopyFrom(_tensor(values, init))
    for node in graph.node:
        if node.op_type not in ("Constant", "ConstantOfShape") or node.domain not in (
                "", "ai.onnx") or not node.output or node.output[0] not in wanted:
            continue
        for attr in node.attribute:
            if attr.name == "value" and attr.t.data_type in _FLOATS:
                values = numpy_helper.to_array(attr.t).copy()
                yield node.output[0], node.name, values
                if write:
                    attr.t.CopyFrom(_tensor(values, attr.t))
            elif attr.name == "value_float":
                values = np.array(attr.f, np.float32)
                yield node.output[0], node.name, values
                if write:
                    attr.f = float(values)


def _initializer_values(init: onnx.TensorProto, folder: Path | None) -> np.ndarray | None:
    if init.data_type not in _FLOATS:
        return None
    if init.data_location != onnx.TensorProto.EXTERNAL:
        return numpy_helper.to_array(init).copy()
    if folder is None or int(np.prod(init.dims, dtype=np.int64)) > _SMALL:
        return None
    return np.array(external_weight(init, folder, mapped=False))


def _tensor(values: np.ndarray, like: onnx.TensorProto) -> onnx.TensorProto:
    if like.data_type == onnx.TensorProto.BFLOAT16:  # NumPy has no bfloat16 of its own
        return onnx.helper.make_tensor(like.name, like.data_type, values.shape,
                                       values.astype(np.float32).ravel().tolist())
    return numpy_helper.from_array(values, like.name)
