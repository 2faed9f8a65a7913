"""Values of a graph: one type and shape per name, the node that makes it, the nodes that
read it (use lists), and its constant when it has one.

A ``GraphValues`` is a view of one graph as it is when made (rebuild it after changing
the graph). ``graph_values(graph)`` sees the graph's own scope: a node whose If/Loop body
reads a name of this graph is one of that name's uses (slot ``BODY``), so nothing a
body reads ever looks unused. ``graph_values(graph, nested=True)`` sees every scope at
once: the nodes inside bodies are the readers themselves, at their own input slots (ONNX
names are unique across nested scopes, so one table holds them all).

Types come from one place here, in this order: an initializer's own data type and dims,
then the graph's inputs, outputs and ``value_info`` (the first declaration found wins);
``GraphValues.disagreements`` lists names declared with two element types, the stale
``value_info`` a conversion can leave behind. Types are also the one part of a view a
transform changes: ``GraphValues.set_type`` records a value's new type (or a new value,
a Cast's output, shaped like the value it was cast from), and
``GraphValues.write_types`` writes the record back into the graph's ``value_info`` and
outputs, so no second copy of a type is left to go stale (the FP16/BF16 conversion retypes
its tensors this way).
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

import onnx
from onnx import helper

from workbench.graph.walk import bodies, has_bodies, outer_reads

__all__ = ["BODY", "GraphValues", "Live", "Use", "Value", "disagreements", "graph_values"]

BODY = -1  # the slot of a use made by a body of the node (an If branch reading the name)


class Use(NamedTuple):
    """One read of a value: the node, its input slot (or ``BODY``), and the node's
    position in its own graph's ``node`` list. (A tuple: a 50k-node graph makes 100k.)"""

    node: onnx.NodeProto
    slot: int
    node_index: int


class Live(NamedTuple):
    """What ``GraphValues.live`` finds: node positions, and every name they read plus
    the graph's outputs (the initializers worth keeping)."""

    nodes: set[int]
    names: set[str]


@dataclass(eq=False, slots=True)
class Value:
    """One name of the graph: its type, producer, uses and constant (see the module doc)."""

    name: str
    declared: onnx.TypeProto | None = None  # the first type the graph declares for it
    producer: onnx.NodeProto | None = None
    producer_index: int = -1  # position in its graph's node list; -1 when no node makes it
    uses: list[Use] = field(default_factory=list)
    initializer: onnx.TensorProto | None = None
    is_input: bool = False
    is_output: bool = False
    info: onnx.ValueInfoProto | None = None  # the declaration ``declared`` comes from
    assigned: int = 0  # the element type a transform gave it (set_type); 0: as declared
    like: Value | None = None  # a value a transform added: the value it takes its shape from

    @property
    def type(self) -> onnx.TypeProto | None:
        """Its one type: an initializer's own data type and dims, else the declared one
        (with the element type a transform assigned, where it did)."""
        if self.initializer is not None:
            return helper.make_tensor_type_proto(self.initializer.data_type,
                                                 self.initializer.dims)
        declared = self.declared if self.declared is not None or self.like is None \
            else self.like.declared
        if not self.assigned:
            return declared
        retyped = onnx.TypeProto()
        if declared is not None:
            retyped.CopyFrom(declared)
        retyped.tensor_type.elem_type = self.assigned
        return retyped

    @property
    def elem_type(self) -> int:
        """The ONNX element type (``TensorProto.FLOAT`` …), 0 when unknown."""
        if self.initializer is not None:
            return self.initializer.data_type
        if self.assigned:
            return self.assigned
        return self.declared.tensor_type.elem_type if self.declared is not None else 0

    @property
    def shape(self) -> tuple[int | str | None, ...] | None:
        """Dims as ints, symbolic names or None; None when the rank is unknown."""
        if self.initializer is not None:
            return tuple(int(d) for d in self.initializer.dims)
        if self.declared is None or not self.declared.tensor_type.HasField("shape"):
            return None
        return tuple(d.dim_value if d.HasField("dim_value")
                     else (d.dim_param or None) for d in self.declared.tensor_type.shape.dim)

    @property
    def constant(self) -> onnx.TensorProto | None:
        """The value's tensor when the model stores one: its initializer, or the ``value``
        of the ``Constant`` node making it. An initializer that is also a graph input is a
        default the caller may replace (check ``is_input`` where that matters)."""
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
    """Every name of a graph (see the module doc); ``values[name]`` is its ``Value``."""

    def __init__(self, graph: onnx.GraphProto, *, nested: bool = False) -> None:
        self.graph = graph
        self.nested = nested
        self._values: dict[str, Value] = {}
        self._declared: dict[str, list[int]] = {}
        self._scopes: list[onnx.GraphProto] = []
        self._holders: set[int] = set()  # positions of the nodes of ``graph`` with bodies
        self._added: list[Value] = []  # values set_type added, in the order it added them
        self._indexed = False  # use lists are made on first need (liveness needs none)
        self._add_scope(graph)
        for output in graph.output:
            self._value(output.name).is_output = True

    def _add_scope(self, graph: onnx.GraphProto) -> None:
        self._scopes.append(graph)
        for tensor in graph.initializer:
            self._value(tensor.name).initializer = tensor
            self._declared.setdefault(tensor.name, []).append(tensor.data_type)
        for info in (*graph.input, *graph.output, *graph.value_info):
            self._declare(self._value(info.name), info)
        for info in graph.input:
            self._value(info.name).is_input = graph is self.graph
        top = graph is self.graph
        values = self._values
        for index, node in enumerate(graph.node):
            for name in node.output:
                if not name:
                    continue
                value = values.get(name)
                if value is None:  # the common case, inlined: 50k-node graphs
                    values[name] = Value(name, None, node, index)
                else:
                    value.producer, value.producer_index = node, index
            if not (node.attribute and has_bodies(node)):
                continue
            if top:
                self._holders.add(index)
            if self.nested:
                for body in bodies(node):
                    self._add_scope(body.graph)

    def _index_uses(self) -> None:
        if self._indexed:
            return
        self._indexed = True
        values = self._values
        for graph in self._scopes:
            for index, node in enumerate(graph.node):
                for slot, name in enumerate(node.input):
                    if name:
                        value = values.get(name) or self._value(name)
                        value.uses.append(Use(node, slot, index))
                if not self.nested and graph is self.graph and index in self._holders:
                    for name in outer_reads(node):
                        self._value(name).uses.append(Use(node, BODY, index))

    def _value(self, name: str) -> Value:
        value = self._values.get(name)
        if value is None:
            value = self._values[name] = Value(name)
        return value

    def _declare(self, value: Value, info: onnx.ValueInfoProto) -> None:
        type_proto = info.type
        if not type_proto.ListFields():  # declared without a type
            return
        if value.declared is None:
            value.declared, value.info = type_proto, info
        self._declared.setdefault(value.name, []).append(type_proto.tensor_type.elem_type)

    def __getitem__(self, name: str) -> Value:
        self._index_uses()
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        self._index_uses()
        return iter(self._values)

    def __len__(self) -> int:
        self._index_uses()
        return len(self._values)

    def items(self) -> ItemsView[str, Value]:
        """Every name with its value (the table itself: no lookup per name)."""
        self._index_uses()
        return self._values.items()

    def holds_bodies(self, index: int) -> bool:
        """Whether node ``index`` of the graph holds a body (If/Loop/Scan): found once, when
        the view was made (not ``nested``)."""
        return index in self._holders

    def producer(self, name: str) -> onnx.NodeProto | None:
        """The node that makes ``name`` (None for inputs, initializers, unknown names)."""
        value = self._values.get(name)
        return value.producer if value is not None else None

    def uses(self, name: str) -> list[Use]:
        """Every read of ``name`` (empty for an unknown or unread name)."""
        self._index_uses()
        value = self._values.get(name)
        return value.uses if value is not None else []

    def constant(self, name: str) -> onnx.TensorProto | None:
        """``name``'s tensor when it is a constant (see ``Value.constant``)."""
        value = self._values.get(name)
        return value.constant if value is not None else None

    def returned(self, name: str) -> bool:
        """Whether the graph returns ``name`` (it is one of ``graph.output``)."""
        value = self._values.get(name)
        return value is not None and value.is_output

    def disagreements(self) -> list[str]:
        """Names whose declarations (initializer, input, output, value_info) give two
        different known element types."""
        return _disagreeing(self._declared)

    def declared_types(self, name: str) -> tuple[int, ...]:
        """The element types ``name`` is declared with, in declaration order (initializer,
        inputs, outputs, value_info): what ``disagreements`` compares."""
        return tuple(self._declared.get(name, ()))

    # -- the record of types a transform changes ----------------------------------------

    def set_type(self, name: str, elem_type: int, *, like: str | None = None) -> Value:
        """Record that ``name`` now has element type ``elem_type`` (0: unknown, the
        declaration stays). A name the view does not know yet (a tensor the transform
        adds, e.g. a Cast's output) becomes a value shaped like ``like``. This is the one
        place a transform changes a type: ``write_types`` writes the record back.
        Ask for use lists before changing the graph's nodes (they are made on first need)."""
        value = self._values.get(name)
        if value is None:
            value = self._values[name] = Value(name)
            value.like = self._values.get(like) if like else None
            self._added.append(value)
        if elem_type:
            value.assigned = elem_type
        return value

    def write_types(self) -> None:
        """Write the record into the graph: its outputs and ``value_info`` say what each
        value is now. ``value_info`` keeps entries only for values a node of the graph
        makes (an initializer or an input declares its own type, so a second copy could
        only go stale; torch's dynamo exporter writes them), with the types
        ``set_type`` gave; a value it added gets an entry when the value it is shaped
        like has a tensor declaration (a copy of it: name and element type replaced)."""
        graph = self.graph
        made = {name for node in graph.node for name in node.output if name}
        added = self._added_infos(made, {info.name for info in graph.output})
        kept = []
        for info in graph.value_info:
            value = self._values.get(info.name)
            if value is None or info.name not in made or value.initializer is not None \
                    or value.is_input:
                continue
            if value.assigned and info.type.HasField("tensor_type"):
                info.type.tensor_type.elem_type = value.assigned
            kept.append(info)
        if len(kept) != len(graph.value_info):
            del graph.value_info[:]
            graph.value_info.extend(kept)
        for info in graph.output:
            value = self._values.get(info.name)
            if value is not None and value.assigned and info.type.HasField("tensor_type"):
                info.type.tensor_type.elem_type = value.assigned
        graph.value_info.extend(added)

    def _added_infos(self, made: set[str], outputs: set[str]) -> list[onnx.ValueInfoProto]:
        """The ``value_info`` entries of the values ``set_type`` added (made before the
        entries they copy can be dropped)."""
        infos = []
        for value in self._added:
            like = value.like.info if value.like is not None else None
            if (value.name in outputs or value.name not in made or not value.assigned
                    or like is None or not like.type.HasField("tensor_type")):
                continue
            info = onnx.ValueInfoProto()
            info.CopyFrom(like)
            info.name = value.name
            info.type.tensor_type.elem_type = value.assigned
            infos.append(info)
        return infos

    def live(self, roots: Iterable[str] | None = None, *, keep_bodies: bool = False) -> Live:
        """The nodes ``roots`` (default: the graph's outputs) depend on, through inputs and
        what their bodies read, and the names visited on the way (``roots`` included); with
        ``keep_bodies``, every If/Loop/Scan node too, and what it depends on. Positions are
        in ``graph.node``: a view of one scope only (not ``nested``)."""
        if self.nested:
            raise ValueError("live needs the view of one scope (nested=False)")
        nodes = set(self._holders) if keep_bodies else set()
        pending = [o.name for o in self.graph.output] if roots is None else list(roots)
        for index in nodes:
            pending.extend(self.reads(index))
        names: set[str] = set()
        while pending:
            name = pending.pop()
            if name in names:
                continue
            names.add(name)
            value = self._values.get(name)
            if value is None or value.producer is None or value.producer_index in nodes:
                continue
            nodes.add(value.producer_index)
            pending.extend(self.reads(value.producer_index))
        return Live(nodes, names)

    def producers(self) -> dict[str, onnx.NodeProto]:
        """Every name a node makes → that node (for reports keyed by tensor)."""
        return {name: value.producer for name, value in self._values.items()
                if value.producer is not None}

    def reads(self, index: int) -> list[str]:
        """The names node ``index`` of the graph reads: its inputs, then what its bodies read
        from this graph (a view of one scope only: not ``nested``)."""
        if self.nested:
            raise ValueError("reads needs the view of one scope (nested=False)")
        node = self.graph.node[index]
        reads = [name for name in node.input if name]
        return reads + outer_reads(node) if index in self._holders else reads


def disagreements(graph: onnx.GraphProto) -> dict[str, tuple[int, ...]]:
    """What ``graph_values(graph).disagreements()`` finds, with the element types each name
    is declared with, from the declarations alone (no pass over the nodes: cheap enough
    to check every converted graph)."""
    declared: dict[str, list[int]] = {}
    for tensor in graph.initializer:
        declared.setdefault(tensor.name, []).append(tensor.data_type)
    for info in (*graph.input, *graph.output, *graph.value_info):
        if info.type.ListFields():
            declared.setdefault(info.name, []).append(info.type.tensor_type.elem_type)
    return {name: tuple(declared[name]) for name in _disagreeing(declared)}


def _disagreeing(declared: Mapping[str, list[int]]) -> list[str]:
    """The names declared with two different known element types (0 is unknown)."""
    return [name for name, kinds in declared.items() if len(set(kinds) - {0}) > 1]


def graph_values(graph: onnx.GraphProto, *, nested: bool = False) -> GraphValues:
    """The values of ``graph`` (``nested``: of it and every body below it, in one table)."""
    return GraphValues(graph, nested=nested)
