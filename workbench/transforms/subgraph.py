"""Graph surgery helpers (onnx only): inferred tensor types, and cutting out a subgraph.

Used by parse triage (a failing node's inputs with shapes and dtypes) and by failure
reduction (the smallest subgraph that still fails). Intermediate tensors that become the
inputs or outputs of an extracted subgraph get the types shape inference found for them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

import onnx
from onnx import helper, numpy_helper

from workbench.core.records import TensorSpec
from workbench.graph import Value, graph_values, outer_reads
from workbench.inspection.protos import value_info_spec

__all__ = [
    "extract_nodes",
    "inferred_value_infos",
    "spec_from_value_info",
]


def spec_from_value_info(info: onnx.ValueInfoProto) -> TensorSpec:
    """``value_info_spec``, with the dim names shape
    inference invents ("unk__3": it means "unknown") as None."""
    spec = value_info_spec(info)
    if spec.shape is None or not any(isinstance(d, str) and d.startswith("unk__")
                                     for d in spec.shape):
        return spec
    shape = tuple(None if isinstance(d, str) and d.startswith("unk__") else d
                  for d in spec.shape)
    return replace(spec, shape=shape)


def inferred_value_infos(model: onnx.ModelProto) -> dict[str, onnx.ValueInfoProto]:
    """Every tensor type ONNX shape inference can find (inputs, outputs, intermediates)."""
    try:
        inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
    # Custom ops and invalid models make inference fail; what was declared still helps.
    except (onnx.shape_inference.InferenceError, ValueError, RuntimeError):
        inferred = model
    # each name's one type, from the graph layer (initializers, inputs, outputs, value_info)
    values = graph_values(inferred.graph)
    return {name: helper.make_value_info(name, value.type) for name, value in values.items()
            if value.type is not None}


def _constant_value(value: Value) -> onnx.TensorProto | None:
    """An initializer as stored (external data references kept), a Constant node's value
    as an initializer of its output's name, else None."""
    if value.initializer is not None:
        return value.initializer
    tensor = value.constant
    return None if tensor is None else numpy_helper.from_array(numpy_helper.to_array(tensor),
                                                               value.name)


def extract_nodes(
    model: onnx.ModelProto,
    indices: Iterable[int],
    infos: dict[str, onnx.ValueInfoProto] | None = None,
) -> onnx.ModelProto:
    """A model made of some top-level nodes of ``model`` (kept in their original order).

    Tensors the chosen nodes read but do not produce become initializers when they are
    constant (initializers, Constant nodes: constants must stay constants, or the failure
    changes), otherwise graph inputs. Tensors they produce and something else reads (or the
    model outputs) become graph outputs.
    """
    infos = inferred_value_infos(model) if infos is None else infos
    graph = model.graph
    values = graph_values(graph)
    chosen_set = set(indices)
    chosen = [graph.node[i] for i in sorted(chosen_set)]
    produced = {out for node in chosen for out in node.output if out}
    new_inits: list[onnx.TensorProto] = []
    new_inputs: list[onnx.ValueInfoProto] = []
    seen: set[str] = set()
    # If/Loop bodies read outer tensors by name: those are inputs of the extract too.
    for name in (i for node in chosen for i in [*node.input, *outer_reads(node)]):
        if not name or name in produced or name in seen:
            continue
        seen.add(name)
        value = _constant_value(values[name])
        if value is not None:
            new_inits.append(value)
        else:
            new_inputs.append(_typed(name, infos))
    outputs = [out for node in chosen for out in node.output if out and (
        values.returned(out) or any(u.node_index not in chosen_set for u in values.uses(out)))]
    if not outputs and chosen:
        outputs = [out for out in chosen[-1].output if out]
    new_graph = helper.make_graph(
        chosen,
        f"{graph.name or 'graph'}_extract",
        new_inputs,
        [_typed(name, infos) for name in outputs],
        new_inits,
        value_info=[infos[n] for n in sorted(produced - set(outputs)) if n in infos],
    )
    extracted = helper.make_model(new_graph, opset_imports=list(model.opset_import))
    extracted.ir_version = model.ir_version
    extracted.functions.extend(model.functions)
    return extracted


def _typed(name: str, infos: dict[str, onnx.ValueInfoProto]) -> onnx.ValueInfoProto:
    info = infos.get(name)
    if info is not None and info.type.tensor_type.elem_type:
        copy = onnx.ValueInfoProto()
        copy.CopyFrom(info)
        return copy
    # Unknown type: an untyped value info, rather than a guess that changes the failure.
    return onnx.ValueInfoProto(name=name)
