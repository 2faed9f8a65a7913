"""Module scopes of nodes: where in the source model (``model.layers.3.self_attn``) a node
came from, as exporters record it (onnx only).

The torch dynamo exporter names nodes ``node_Add_18`` and keeps the module path in each
node's ``metadata_props`` (``pkg.torch.onnx.name_scopes``: the scopes from the root down to
the node itself; ``namespace``: ``name: class/child: class/...``). TorchScript exports put
it in the node name instead (``/model/layers.3/self_attn/MatMul``), which needs nothing
from here. Overviews fold a graph by these scopes.
"""

from __future__ import annotations

import ast

import onnx

__all__ = ["node_scopes"]


def node_scopes(model: onnx.ModelProto) -> tuple[str, ...]:
    """The module path of each main-graph node ('' when the exporter recorded none)."""
    return tuple(_scope(node) for node in model.graph.node)


def _scope(node: onnx.NodeProto) -> str:
    props = {prop.key: prop.value for prop in node.metadata_props}
    scopes = props.get("pkg.torch.onnx.name_scopes")
    if scopes:
        try:
            parsed = ast.literal_eval(scopes)  # a Python list literal; never eval
        except (ValueError, SyntaxError):
            parsed = None
        if isinstance(parsed, list) and len(parsed) >= 2:
            scope = str(parsed[-2])  # the last entry is the node itself
            # torch's placeholder for nodes made outside any module: the top level
            return "" if scope.startswith("_empty_nn_module_stack") else scope
    namespace = props.get("namespace")
    if namespace:
        parts = [part.split(":")[0].strip() for part in namespace.split("/")]
        return parts[-1] if parts else ""
    return ""
