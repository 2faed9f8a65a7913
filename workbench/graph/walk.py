"""Nested graphs: the bodies of a node, every graph of a model, the names a body reads from
the graphs around it. Plain functions over protobufs, no copies (see the package doc)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import onnx
from onnx import AttributeProto

__all__ = ["Body", "all_nodes", "attribute_graphs", "bodies", "graphs_text", "has_bodies",
           "is_graph_attribute", "nested_graphs", "outer_names", "outer_reads", "walk_graphs"]

_GRAPH_KINDS = (AttributeProto.GRAPH, AttributeProto.GRAPHS)


@dataclass(frozen=True)
class Body:
    """One subgraph of a node: the attribute holding it, its position in a ``GRAPHS``
    attribute (0 for ``GRAPH``), and the graph itself (not a copy)."""

    attribute: str
    index: int
    graph: onnx.GraphProto
    many: bool  # held by a GRAPHS attribute

    @property
    def label(self) -> str:
        """``then_branch``, or ``bodies[1]`` inside a GRAPHS attribute: for people."""
        return f"{self.attribute}[{self.index}]" if self.many else self.attribute

    @property
    def suffix(self) -> str:
        """``then_branch``, or ``bodies.1`` (the first of a GRAPHS attribute has no index):
        the stable path step ``walk_graphs`` uses."""
        return f"{self.attribute}.{self.index}" if self.index else self.attribute


def is_graph_attribute(attr: onnx.AttributeProto) -> bool:
    """Whether the attribute holds a graph (``GRAPH``) or graphs (``GRAPHS``)."""
    kind = attr.type
    if kind and kind not in _GRAPH_KINDS:
        # typed as something else: the checker allows one value field, of that type (asked
        # of every attribute of every node by each walk, so the field probes are skipped)
        return False
    return kind in _GRAPH_KINDS or attr.HasField("g") or len(attr.graphs) > 0


def attribute_graphs(attr: onnx.AttributeProto) -> list[onnx.GraphProto]:
    """The graph(s) an attribute holds: one for ``GRAPH``, all for ``GRAPHS``, else none."""
    if not is_graph_attribute(attr):
        return []
    if attr.type == AttributeProto.GRAPH or attr.HasField("g"):
        return [attr.g]
    return list(attr.graphs)


def graphs_text(attr: onnx.AttributeProto) -> str:
    """``<graph 12 nodes>`` for a GRAPH attribute, ``[<graph 3 nodes>, …]`` for GRAPHS."""
    sizes = [f"<graph {len(graph.node)} nodes>" for graph in attribute_graphs(attr)]
    many = attr.type == AttributeProto.GRAPHS or len(attr.graphs) > 0
    return f"[{', '.join(sizes)}]" if many else (sizes[0] if sizes else "<graph>")


def bodies(node: onnx.NodeProto) -> list[Body]:
    """The subgraphs of ``node`` (If branches, Loop and Scan bodies), in attribute order."""
    found: list[Body] = []
    for attr in node.attribute:
        if not is_graph_attribute(attr):
            continue
        graphs = attribute_graphs(attr)
        many = attr.type == AttributeProto.GRAPHS or len(attr.graphs) > 0
        found.extend(Body(attr.name, k, graph, many) for k, graph in enumerate(graphs))
    return found


def has_bodies(node: onnx.NodeProto) -> bool:
    """Whether the node holds a subgraph (asked of every node: most have no attributes)."""
    return bool(node.attribute) and any(is_graph_attribute(attr) for attr in node.attribute)


def walk_graphs(graph: onnx.GraphProto, path: str = "") -> Iterator[tuple[str, onnx.GraphProto]]:
    """Every graph with a stable path: ``""`` for the main graph, ``"3.then_branch"`` for the
    then-branch of its fourth node, ``"3.then_branch/0.body"`` below that."""
    yield path, graph
    for index, node in enumerate(graph.node):
        for body in bodies(node):
            step = f"{index}.{body.suffix}"
            yield from walk_graphs(body.graph, f"{path}/{step}" if path else step)


def nested_graphs(graph: onnx.GraphProto) -> Iterator[onnx.GraphProto]:
    """Every subgraph below ``graph`` (not ``graph`` itself), depth first."""
    for _path, sub in walk_graphs(graph):
        if sub is not graph:
            yield sub


def all_nodes(graph: onnx.GraphProto) -> Iterator[onnx.NodeProto]:
    """Every node of ``graph`` and of the bodies below it, each body after its node."""
    for node in graph.node:
        yield node
        for body in bodies(node):
            yield from all_nodes(body.graph)


def outer_names(graph: onnx.GraphProto) -> list[str]:
    """The names ``graph`` (and the bodies below it) reads from enclosing scopes, in the
    order they are first read: what its nodes read that is neither its input, its
    initializer nor made by one of its nodes."""
    local = {vi.name for vi in graph.input} | {t.name for t in graph.initializer}
    local |= {out for node in graph.node for out in node.output if out}
    reads: dict[str, None] = {}
    for node in graph.node:
        for name in (*node.input, *outer_reads(node)):
            if name and name not in local:
                reads.setdefault(name)
    return list(reads)


def outer_reads(node: onnx.NodeProto) -> list[str]:
    """The names a node's bodies read from the graph around the node (an If branch using a
    tensor of the main graph), in order: the node depends on them as on its inputs."""
    found: dict[str, None] = {}
    for body in bodies(node):
        found.update(dict.fromkeys(outer_names(body.graph)))
    return list(found)
