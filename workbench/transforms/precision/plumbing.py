"""Graph plumbing of the precision conversion: attributes and names (walks of nested graphs,
outer-scope names, producers, use lists and the types written back into value_info are the
graph layer's, ``workbench.graph``)."""

from __future__ import annotations

from typing import Any

import onnx
from onnx import TensorProto, helper

from workbench.graph import walk_graphs

__all__ = ["all_names", "attribute", "type_suffix"]


def attribute(node: onnx.NodeProto, name: str) -> Any:
    for attr in node.attribute:
        if attr.name == name:
            return helper.get_attribute_value(attr)
    return None


def type_suffix(elem_type: int) -> str:
    names: dict[int, str] = {TensorProto.FLOAT: "fp32", TensorProto.FLOAT16: "fp16",
                             TensorProto.BFLOAT16: "bf16"}
    return names.get(elem_type) or TensorProto.DataType.Name(elem_type).lower()


def all_names(model: onnx.ModelProto) -> set[str]:
    names: set[str] = set()
    for _, graph in walk_graphs(model.graph):
        names.update(vi.name for vi in (*graph.input, *graph.output, *graph.value_info))
        names.update(t.name for t in graph.initializer)
        for node in graph.node:
            names.add(node.name)
            names.update(node.input)
            names.update(node.output)
    return names
