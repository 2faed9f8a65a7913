"""Values of a graph: one type and shape per name, the node that makes it, the nodes that
read it (use lists), and its constant when it has one.

A :class:`GraphValues` is a view of one graph as it is when made (rebuild it after changing
the graph). ``graph_values(graph)`` sees the graph's own scope: a node whose If/Loop body
reads a name of this graph is one of that name's uses (slot :data:`BODY`), so nothing a
body reads ever looks unused. ``graph_values(graph, nested=True)`` sees every scope at
once: the nodes inside bodies are the readers themselves, at their own input slots (ONNX
names are unique across nested scopes, so one table holds them all).

Types come from one place here, in this order: an initializer's own data type and dims,
then the graph's inputs, outputs and ``value_info`` (the first declaration found wins);
:meth:`GraphValues.disagreements` lists names declared with two element types, the stale
``value_info`` a conversion can leave behind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import onnx
from onnx import helper

from workbench.graph.walk import bodies, outer_reads

__all__ = ["BODY", "GraphValues", "Use", "Value", "graph_values"]

BODY = -1  # the slot of a use made by a body of the node (an If branch reading the name)


@dataclass(frozen=True, eq=False)
class Use:
    """One read of a value: the node, its input slot (or :data:`BODY`), and the node's
    position in its own graph's ``node`` list."""

    node: onnx.NodeProto
    slot: int
    index: int


@dataclass(eq=False)
class Value:
    """One name of the graph: its type, producer, uses and constant (see the module doc)."""

    name: str
    type: onnx.TypeProto | None = None
    producer: onnx.NodeProto | None = None
    producer_index: int = -1  # position in its graph's node list; -1 when no node makes it
    uses: list[Use] = field(default_factory=list)
    initializer: onnx.TensorProto | None = None
    is_input: bool = False
    is_output: bool = False

    @property
    def elem_type(self) -> int:
        """The ONNX element type (``TensorProto.FLOAT`` …), 0 when unknown."""
        return self.type.tensor_type.elem_type if self.type is not None else 0

    @property
    def shape(self) -> tuple[int | str | None, ...] | None:
        """Dims as ints, symbolic names or None; None when the rank is unknown."""
        if self.type is None or not self.type.tensor_type.HasField("shape"):
            return None
        return tuple(d.dim_value if d.HasField("dim_value")
                     else (d.dim_param or None) for d in self.type.tensor_type.shape.dim)

    @property
    def constant(self) -> onnx.TensorProto | None:
        """The value's tensor when the model stores one: its initializer, or the ``value``
        of the ``Constant`` node making it. An initializer that is also a graph input is a
        default the caller may replace (check :attr:`is_input` where that matters)."""
        if self.initializer is not None:
            return self.initializer
        node = self.producer
        if node is None or node.op_type != "Constant" or node.domain not in ("", "ai.onnx"):
            return None
        return next((a.t for a in node.attribute
                     if a.name == "value" and a.type == onnx.AttributeProto.TENSOR), None)

    @property
    def readers(self) -> list[onnx.NodeProto]:
        """The nodes that read it, each once, in graph order."""
        seen: dict[int, onnx.NodeProto] = {}
        for use in self.uses:
            seen.setdefault(id(use.node), use.node)
        return list(seen.values())


class GraphValues(Mapping[str, Value]):
    """Every name of a graph (see the module doc); ``values[name]`` is its :class:`Value`."""

    def __init__(self, graph: onnx.GraphProto, *, nested: bool = False) -> None:
        self.graph = graph
        self.nested = nested
        self._values: dict[str, Value] = {}
        self._declared: dict[str, list[int]] = {}
        self._add_scope(graph, nested)
        for output in graph.output:
            self._value(output.name).is_output = True

    def _add_scope(self, graph: onnx.GraphProto, nested: bool) -> None:
        for tensor in graph.initializer:
            value = self._value(tensor.name)
            value.initializer = tensor
            self._declare(value, helper.make_tensor_type_proto(tensor.data_type, tensor.dims))
        for info in (*graph.input, *graph.output, *graph.value_info):
            self._declare(self._value(info.name), info.type)
        for info in graph.input:
            self._value(info.name).is_input = graph is self.graph
        for index, node in enumerate(graph.node):
            for slot, name in enumerate(node.input):
                if name:
                    self._value(name).uses.append(Use(node, slot, index))
            if not nested:
                for name in outer_reads(node):
                    self._value(name).uses.append(Use(node, BODY, index))
            for name in node.output:
                if name:
                    value = self._value(name)
                    value.producer, value.producer_index = node, index
            if nested:
                for body in bodies(node):
                    self._add_scope(body.graph, nested)

    def _value(self, name: str) -> Value:
        value = self._values.get(name)
        if value is None:
            value = self._values[name] = Value(name)
        return value

    def _declare(self, value: Value, type_proto: onnx.TypeProto) -> None:
        if not type_proto.ListFields():  # declared without a type
            return
        if value.type is None:
            value.type = type_proto
        self._declared.setdefault(value.name, []).append(type_proto.tensor_type.elem_type)

    def __getitem__(self, name: str) -> Value:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def producer(self, name: str) -> onnx.NodeProto | None:
        """The node that makes ``name`` (None for inputs, initializers, unknown names)."""
        value = self._values.get(name)
        return value.producer if value is not None else None

    def uses(self, name: str) -> list[Use]:
        """Every read of ``name`` (empty for an unknown or unread name)."""
        value = self._values.get(name)
        return value.uses if value is not None else []

    def constant(self, name: str) -> onnx.TensorProto | None:
        """``name``'s tensor when it is a constant (see :attr:`Value.constant`)."""
        value = self._values.get(name)
        return value.constant if value is not None else None

    def returned(self, name: str) -> bool:
        """Whether the graph returns ``name`` (it is one of ``graph.output``)."""
        value = self._values.get(name)
        return value is not None and value.is_output

    def disagreements(self) -> list[str]:
        """Names whose declarations (initializer, input, output, value_info) give two
        different known element types."""
        return [name for name, kinds in self._declared.items() if len(set(kinds) - {0}) > 1]

    def live_nodes(self, keep: Callable[[onnx.NodeProto], bool] = lambda node: False
                   ) -> set[int]:
        """Positions of the nodes the graph's outputs depend on (through inputs and what
        their bodies read), plus those ``keep`` says to keep and what they depend on.
        Positions are in ``graph.node``: a view of one scope only (not ``nested``)."""
        if self.nested:
            raise ValueError("live_nodes needs the view of one scope (nested=False)")
        graph = self.graph
        live = {index for index, node in enumerate(graph.node) if keep(node)}
        pending = [o.name for o in graph.output]
        for index in live:
            pending.extend(_reads(graph.node[index]))
        seen: set[str] = set()
        while pending:
            name = pending.pop()
            if name in seen:
                continue
            seen.add(name)
            value = self._values.get(name)
            if value is None or value.producer is None or value.producer_index in live:
                continue
            live.add(value.producer_index)
            pending.extend(_reads(value.producer))
        return live


def _reads(node: onnx.NodeProto) -> list[str]:
    return [name for name in (*node.input, *outer_reads(node)) if name]


def graph_values(graph: onnx.GraphProto, *, nested: bool = False) -> GraphValues:
    """The values of ``graph`` (``nested``: of it and every body below it, in one table)."""
    return GraphValues(graph, nested=nested)
