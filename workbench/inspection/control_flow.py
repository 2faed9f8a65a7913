"""Control flow in a model: which nodes live inside If/Loop/Scan bodies, and which graph
inputs decide an If (onnx only).

Build failures inside a branch name the inner node ("sr16k.stft_conv"); the user needs the
``If`` that holds it and the input that decides it, because freezing that input
(``fold_constants(model, input_values={"sr": 16000})``) removes the ``If`` altogether.
"""

from __future__ import annotations

from dataclasses import dataclass

import onnx
from onnx import numpy_helper

from workbench.graph import GraphValues, all_nodes, bodies, graph_values

__all__ = ["ControlFlow", "FreezeChoice", "IfDecider", "control_flow", "freeze_choices"]

_LOOPS = ("If", "Loop", "Scan")
_COMPARISONS = ("Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual")


@dataclass(frozen=True)
class IfDecider:
    """An If node and the graph inputs its condition is computed from."""

    node: str
    inputs: tuple[str, ...]
    # Constants the inputs are compared with (Equal(sr, 16000) → 16000): values that pick
    # a branch, for freezing the input or for running both branches.
    values: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class ControlFlow:
    """Where the control flow is. Empty (falsy) for a model without If/Loop/Scan."""

    owners: dict[str, tuple[str, str, str]]  # inner node name → (op, owner node, attribute)
    deciders: tuple[IfDecider, ...] = ()
    nodes: tuple[tuple[str, str], ...] = ()  # (name, op) of each top-level If/Loop/Scan

    def __bool__(self) -> bool:
        return bool(self.nodes)

    def owner_of(self, name: str) -> tuple[str, str, str] | None:
        """(op, node, branch) of the control-flow node that holds the node ``name``."""
        return self.owners.get(name)


@dataclass(frozen=True)
class FreezeChoice:
    """A graph-input value that picks a branch of an If (``sr = 16000``): freezing the input
    to it folds the If into that branch (``fold_constants(..., input_values=choice.values)``)."""

    input: str
    value: float
    if_node: str

    @property
    def values(self) -> dict[str, float | int]:
        number = int(self.value) if float(self.value).is_integer() else self.value
        return {self.input: number}

    def label(self) -> str:
        return f"{self.input} = {self.values[self.input]} (decides If {self.if_node!r})"


def freeze_choices(flow: ControlFlow) -> tuple[FreezeChoice, ...]:
    """Each (input, value) an If condition compares with, once, in graph order."""
    found: dict[tuple[str, float], FreezeChoice] = {}
    for decider in flow.deciders:
        for name, value in decider.values:
            found.setdefault((name, value), FreezeChoice(name, value, decider.node))
    return tuple(found.values())


def control_flow(model: onnx.ModelProto) -> ControlFlow:
    """Map every node inside a subgraph to its top-level owner; find what decides each If."""
    graph = model.graph
    owners: dict[str, tuple[str, str, str]] = {}
    nodes = []
    for index, node in enumerate(graph.node):
        if node.op_type not in _LOOPS:
            continue
        name = node.name or f"#{index} {node.op_type}"
        nodes.append((name, node.op_type))
        for body in bodies(node):
            for inner in all_nodes(body.graph):
                if inner.name:  # errors name nodes by name; an op type would match anything
                    owners[inner.name] = (node.op_type, name, body.label)
    deciders: tuple[IfDecider, ...] = ()
    if any(node.op_type == "If" for node in graph.node):
        values = graph_values(graph)
        constants = _constants(values)
        deciders = tuple(_decider(values, constants, node, index)
                         for index, node in enumerate(graph.node) if node.op_type == "If")
    return ControlFlow(owners, deciders, tuple(nodes))


def _decider(values: GraphValues, constants: dict[str, float], node: onnx.NodeProto,
             index: int) -> IfDecider:
    inputs = {i.name for i in values.graph.input} - set(constants)
    found: list[str] = []
    compared: list[tuple[str, float]] = []
    stack, seen = [node.input[0]], set()
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in inputs:
            found.append(name)
            continue
        producer = values.producer(name)
        if producer is None:
            continue
        if producer.op_type in _COMPARISONS:
            compared.extend(_compared(producer, inputs, constants))
        stack.extend(i for i in producer.input if i)
    return IfDecider(node.name or f"#{index} If", tuple(sorted(found)), tuple(compared))


def _constants(values: GraphValues) -> dict[str, float]:
    """Scalar constants (initializers and Constant nodes) by name."""
    out: dict[str, float] = {}
    for name, value in values.items():
        tensor = value.constant
        if tensor is not None and (len(tensor.dims) == 0 or list(tensor.dims) == [1]):
            try:
                out[name] = float(numpy_helper.to_array(tensor).reshape(-1)[0])
            except (ValueError, TypeError, IndexError):
                continue
    return out


def _compared(node: onnx.NodeProto, inputs: set[str], constants: dict[str, float]
              ) -> list[tuple[str, float]]:
    names = list(node.input)
    pairs = []
    for this, other in ((0, 1), (1, 0)):
        if len(names) > 1 and names[this] in inputs and names[other] in constants:
            pairs.append((names[this], constants[names[other]]))
    return pairs
