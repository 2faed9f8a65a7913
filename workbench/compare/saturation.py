"""Benign saturation: out-of-range sentinels that only mask, told apart from real overflow.

Transformer exports build attention masks from ``finfo(float32).min`` (-3.4e38): a constant
or computed sentinel that flows through ``Where``/``Add`` into a ``Softmax``. In FP16 it
saturates (the conversion clamps it to -65504, or it overflows to -inf) and Softmax still
turns it into exact zeros, so the FP16 graph is right — unless a whole row is masked, where
Softmax then sees only -inf and answers NaN. ModelOpt AutoCast has no such rule and pins the
whole attention path in FP32; this module does not.

A tensor is a *sentinel* when its FP32 values reach |x| >= 1e30 and every path from it ends,
through carriers (Add/Sub/Mul, the value inputs of Where, casts and shape ops), in a masking
sink: Softmax/LogSoftmax, ReduceMax/ReduceMin, ArgMax/ArgMin, Max/Min, comparisons, or the
condition of a Where. The one real risk is checked on the actual inputs: a sink that
went wrong (NaN where FP32 is finite, or over the drift threshold: a fully masked row)
makes the chain a real problem again. NumPy-free: it works on the graph records and the
drift figures only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["SENTINEL_MAGNITUDE", "BenignSaturation", "consumers_of", "find_benign_saturations",
           "masking_sinks"]

SENTINEL_MAGNITUDE = 1e30
_SINKS = frozenset({
    "Softmax", "LogSoftmax", "ReduceMax", "ReduceMin", "ArgMax", "ArgMin", "Max", "Min",
    "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Equal",
})
_CARRIERS = frozenset({
    "Add", "Sub", "Mul", "Where", "Cast", "CastLike", "Reshape", "Unsqueeze", "Squeeze",
    "Expand", "Slice", "Transpose", "Identity", "Concat", "Tile", "Gather", "Flatten",
})


class _Node(Protocol):  # drift.GraphNode
    @property
    def name(self) -> str: ...
    @property
    def op_type(self) -> str: ...
    @property
    def inputs(self) -> tuple[str, ...]: ...
    @property
    def outputs(self) -> tuple[str, ...]: ...


class _Layer(Protocol):  # drift.TensorDrift
    @property
    def node(self) -> str: ...
    @property
    def candidate_nonfinite(self) -> int: ...
    @property
    def over_threshold(self) -> bool: ...


@dataclass(frozen=True)
class BenignSaturation:
    """A sentinel (an attention-mask constant) that FP16 saturates harmlessly."""

    tensor: str
    node: str
    extreme: float
    sinks: tuple[str, ...]  # the masking nodes it ends in

    def describe(self) -> str:
        return (f"{self.tensor} (node {self.node}): |x| up to {self.extreme:.3g} only feeds "
                f"{', '.join(self.sinks[:3])}{' ...' if len(self.sinks) > 3 else ''} — benign "
                "saturation (attention mask); no fully masked row on these inputs")

    def to_dict(self) -> dict[str, Any]:
        return {"tensor": self.tensor, "node": self.node, "extreme": self.extreme,
                "sinks": list(self.sinks)}


def find_benign_saturations(
    nodes: Sequence[_Node],
    overflow: Mapping[str, tuple[str, float]],
    layers: Iterable[_Layer],
    graph_outputs: Iterable[str] = (),
) -> dict[str, BenignSaturation]:
    """Which overflowing tensors are benign sentinels.

    Args:
        nodes: The FP32 graph in topological order.
        overflow: tensor -> (producing node, largest finite |x|) for tensors beyond FP16.
        layers: Per-tensor drift figures (a sink over threshold or non-finite is the
            fully-masked-row check).
        graph_outputs: Tensors the model returns (a sentinel returned to the user is not
            only masking).
    """
    consumers = consumers_of(nodes)
    # a sink that went wrong on these inputs (NaN, or a Softmax over a fully masked row
    # that FP16's rounding of the sentinel no longer makes uniform) ends the benign reading
    broken = {layer.node for layer in layers
              if layer.candidate_nonfinite or layer.over_threshold}
    returned = set(graph_outputs)
    found: dict[str, BenignSaturation] = {}
    for tensor, (producer, extreme) in overflow.items():
        if extreme < SENTINEL_MAGNITUDE:
            continue
        sinks = masking_sinks(tensor, consumers, returned)
        if sinks and not broken.intersection(sinks):
            found[tensor] = BenignSaturation(tensor, producer, extreme, tuple(sinks))
    return found


def consumers_of(nodes: Iterable[_Node]) -> dict[str, list[tuple[_Node, int]]]:
    """tensor -> the (node, input slot) pairs that read it."""
    consumers: dict[str, list[tuple[_Node, int]]] = {}
    for node in nodes:
        for slot, name in enumerate(node.inputs):
            consumers.setdefault(name, []).append((node, slot))
    return consumers


def masking_sinks(tensor: str, consumers: Mapping[str, Sequence[tuple[_Node, int]]],
                  returned: set[str]) -> list[str] | None:
    """The sinks every path from ``tensor`` ends in, or None if one path does something else."""
    sinks: list[str] = []
    seen: set[str] = set()
    frontier = [tensor]
    while frontier:
        current = frontier.pop()
        if current in seen:
            continue
        seen.add(current)
        readers = consumers.get(current, [])
        if current in returned or not readers:
            return None
        for node, slot in readers:
            if node.op_type in _SINKS or (node.op_type == "Where" and slot == 0):
                if node.name not in sinks:
                    sinks.append(node.name)
            elif node.op_type in _CARRIERS:
                frontier.extend(name for name in node.outputs if name)
            else:
                return None
    return sinks
