"""Folding control flow away: graph inputs frozen to values, and an ``If`` whose condition
is then known replaced by the branch it takes (onnx only).

TensorRT builds every branch of an ``If``; a branch that cannot take the profile's shapes,
or an ``If`` TensorRT's builder trips on, fails the whole build. When the condition comes
from an input that is fixed in practice (a sample rate, a mode flag), freezing that input
removes the ``If``: ``fold_constants(model, input_values={"sr": 16000})``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import onnx
from onnx import helper, numpy_helper

from workbench.core.errors import ModelLoadError
from workbench.graph import bodies

__all__ = ["freeze_input_values", "graph_input", "inline_if"]


def graph_input(inputs: Mapping[str, onnx.ValueInfoProto], name: str, what: str
                ) -> onnx.ValueInfoProto:
    """The graph input ``name`` whose ``what`` ("value", "shape") is to be frozen; a clear
    error naming the inputs there are when the model has no such input."""
    if name not in inputs:
        raise ModelLoadError(
            f"Cannot freeze the {what} of {name!r}: the model has no such input.",
            expected="one of " + ", ".join(sorted(inputs)),
            found=repr(name),
            fix="use the input names that workbench.inspect_model(model) lists",
        )
    return inputs[name]


def freeze_input_values(model: onnx.ModelProto, values: Mapping[str, object]
                        ) -> tuple[tuple[str, str], ...]:
    """Turn graph inputs into initializers holding ``values`` (in place); returns
    (name, value text) for each."""
    inputs = {i.name: i for i in model.graph.input}
    frozen = []
    for name, value in values.items():
        tensor_type = graph_input(inputs, name, "value").type.tensor_type
        try:
            dtype = helper.tensor_dtype_to_np_dtype(tensor_type.elem_type)
            array = np.asarray(value, dtype=dtype)
        except (TypeError, ValueError, KeyError) as err:
            raise ModelLoadError(
                f"Cannot freeze {name!r} to {value!r}.",
                expected="a number or array of the input's element type",
                found=f"{type(value).__name__} {value!r}"[:200],
                fix="give a value like 16000 or [1, 2, 3]",
            ) from err
        rank = len(tensor_type.shape.dim) if tensor_type.HasField("shape") else array.ndim
        if array.ndim != rank:
            array = array.reshape((1,) * rank) if array.size == 1 else array
        model.graph.input.remove(inputs[name])
        model.graph.initializer.append(numpy_helper.from_array(array, name))
        frozen.append((name, np.array2string(array, threshold=8)))
    return tuple(frozen)


def inline_if(node: onnx.NodeProto, values: Mapping[str, np.ndarray]
              ) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]] | None:
    """The nodes (and initializers) that replace an ``If`` whose condition is in ``values``,
    or None. The branch's outputs are renamed to the If's outputs through Identity nodes."""
    if node.op_type != "If" or node.domain not in ("", "ai.onnx") or node.input[0] not in values:
        return None
    taken = "then_branch" if bool(np.asarray(values[node.input[0]]).reshape(-1)[0]) else \
        "else_branch"
    branch = next((b.graph for b in bodies(node) if b.attribute == taken), None)
    if branch is None or len(branch.output) != len(node.output):
        return None
    nodes = [onnx.NodeProto() for _ in branch.node]
    for copy, inner in zip(nodes, branch.node, strict=True):
        copy.CopyFrom(inner)
    for inner_out, out in zip(branch.output, node.output, strict=True):
        if out:
            nodes.append(helper.make_node("Identity", [inner_out.name], [out],
                                          name=f"{node.name or 'If'}.{taken}.{out}"))
    return nodes, list(branch.initializer)
