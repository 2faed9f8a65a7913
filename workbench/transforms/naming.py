"""Stable names for unnamed nodes: the one rule every keep list, report and build shares.

Exporters often leave nodes unnamed. A keep-FP32 list needs a handle on each node, and the
handle must mean the same node in the accuracy report, ``BuildSettings(keep_fp32=...)``, the
Build tab and ``trt-workbench build --keep-fp32``. So an unnamed node of the main graph is
called ``<op_type>_<index>`` (its position in the graph), and one inside a subgraph
``<parent node>/<attribute>/<op_type>_<index>``; a clash with an existing name gets a
numeric suffix. Named nodes keep their names.
"""

from __future__ import annotations

import onnx

from workbench.graph import all_nodes, bodies

__all__ = ["has_unnamed_nodes", "name_nodes"]


def has_unnamed_nodes(graph: onnx.GraphProto) -> bool:
    return any(not node.name for node in all_nodes(graph))


def name_nodes(model: onnx.ModelProto, *, in_place: bool = False) -> onnx.ModelProto:
    """``model`` with every node named (a copy unless ``in_place``; itself when all are)."""
    if not has_unnamed_nodes(model.graph):
        return model
    if not in_place:
        copy = onnx.ModelProto()
        copy.CopyFrom(model)
        model = copy
    taken = _names(model.graph)
    _name_graph(model.graph, "", taken)
    return model


def _names(graph: onnx.GraphProto) -> set[str]:
    return {node.name for node in all_nodes(graph) if node.name}


def _name_graph(graph: onnx.GraphProto, prefix: str, taken: set[str]) -> None:
    for index, node in enumerate(graph.node):
        if not node.name:
            base = f"{prefix}{node.op_type}_{index}"
            name, counter = base, 1
            while name in taken:
                counter += 1
                name = f"{base}_{counter}"
            node.name = name
            taken.add(name)
        for body in bodies(node):
            _name_graph(body.graph, f"{node.name}/{body.attribute}/", taken)
