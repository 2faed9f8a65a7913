"""Graph plumbing of the precision conversion: attributes, names, value_info (walks of
nested graphs and outer-scope names are the graph layer's, :mod:`workbench.graph`)."""

from __future__ import annotations

from typing import Any

import onnx
from onnx import TensorProto, helper

from workbench.graph import walk_graphs
from workbench.transforms.typing_rules import Types

__all__ = ["all_names", "attribute", "retype_value_info", "type_suffix"]


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


def retype_value_info(graph: onnx.GraphProto, produced: Types,
                       sources: dict[str, str]) -> None:
    """value_info says what the tensors now are, in one place: the converter's record.

    Entries survive only for tensors a node of this graph produces, retyped to what the
    conversion made of them. Exporters (torch's dynamo exporter) also write entries for
    weights and graph inputs; those types are declared by the initializer or the input
    itself, so a second copy could only go stale (an FP16 weight whose entry still says
    FP32 is what ONNX's inference refuses: "Inferred elem type differs … (10) vs (1)").
    Entries for new tensors (Casts) copy the shape of the tensor they were cast from.
    """
    shapes = {vi.name: vi for vi in (*graph.input, *graph.value_info, *graph.output)}
    declared = {t.name for t in graph.initializer} | {vi.name for vi in graph.input}
    made = {out for node in graph.node for out in node.output if out}
    kept = []
    for vi in graph.value_info:
        if vi.name in declared or vi.name not in made:
            continue
        if vi.name in produced and vi.type.HasField("tensor_type") and produced[vi.name]:
            vi.type.tensor_type.elem_type = produced[vi.name]
        kept.append(vi)
    del graph.value_info[:]
    graph.value_info.extend(kept)
    known = {vi.name for vi in graph.value_info} | {vi.name for vi in graph.output}
    for name, source in sources.items():
        elem = produced.get(name, 0)
        if name in known or not elem:
            continue
        like = shapes.get(source)
        if like is not None and like.type.HasField("tensor_type"):
            vi = onnx.ValueInfoProto()
            vi.CopyFrom(like)
            vi.name = name
            vi.type.tensor_type.elem_type = elem
            graph.value_info.append(vi)
