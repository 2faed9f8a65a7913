"""The graph layer: how the workbench walks ONNX graphs (onnx only, the lowest domain ring).

An ONNX graph nests graphs: If branches, Loop and Scan bodies, each in a node attribute
(``GRAPH`` or ``GRAPHS``), reading names of the graphs around them. Every walk over nested
graphs, every question "which names does this body read from outside", is answered here
once (``walk``): transforms, inspection and the evaluator call these functions and never
look at ``AttributeProto.GRAPH`` themselves (``tests/test_graph_layer.py`` checks that).
Four different "outer names" functions, two of them over-counting, were what this replaced.
"""

from workbench.graph.walk import (
    Body,
    all_nodes,
    attribute_graphs,
    bodies,
    graphs_text,
    has_bodies,
    is_graph_attribute,
    nested_graphs,
    outer_names,
    outer_reads,
    walk_graphs,
)

__all__ = [
    "Body",
    "all_nodes",
    "attribute_graphs",
    "bodies",
    "graphs_text",
    "has_bodies",
    "is_graph_attribute",
    "nested_graphs",
    "outer_names",
    "outer_reads",
    "walk_graphs",
]
