"""The graph layer: how the workbench walks ONNX graphs (onnx only, the lowest domain ring).

An ONNX graph nests graphs: If branches, Loop and Scan bodies, each in a node attribute
(``GRAPH`` or ``GRAPHS``), reading names of the graphs around them. Every walk over nested
graphs, every question "which names does this body read from outside", is answered here
once (``walk``): transforms, inspection and the evaluator call these functions and never
look at ``AttributeProto.GRAPH`` themselves (``tests/test_graph_layer.py`` checks that).
Four different "outer names" functions, two of them over-counting, were what this replaced.

``values`` gives each name of a graph one type and shape, its producer, its use lists (reads
from inside If/Loop bodies included) and its constant: the transforms and inspection ask it
instead of building their own producer and consumer maps (the test says so too). A transform
that changes types (the FP16/BF16 conversion) records them there (``set_type``) and writes
``value_info`` and the outputs back from that one record (``write_types``).
"""

from workbench.graph.values import BODY, GraphValues, Use, Value, disagreements, graph_values
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
    "BODY",
    "Body",
    "GraphValues",
    "Use",
    "Value",
    "all_nodes",
    "attribute_graphs",
    "bodies",
    "disagreements",
    "graph_values",
    "graphs_text",
    "has_bodies",
    "is_graph_attribute",
    "nested_graphs",
    "outer_names",
    "outer_reads",
    "walk_graphs",
]
