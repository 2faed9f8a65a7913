"""What each integer input of a model is for, found by following the graph (onnx only).

Random integers break real models: ``token_type_ids`` index an embedding of 2 rows, token
ids a vocabulary, class ids a ``OneHot`` depth. Following each integer input through
value-preserving ops (Cast, Unsqueeze, Reshape, Slice, …, also into ``If``/``Loop`` bodies)
to a ``Gather``-like or ``OneHot`` node gives the range its values must stay in. Inputs
named like a mask get ones, so no row of an attention is fully masked.

Only constant sizes count (initializers and ``Constant`` nodes): no shape inference, so a
model loaded without its external weights (``load_weights=False``) works the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import onnx
from onnx import numpy_helper

from workbench.graph import GraphValues, graph_values
from workbench.inspection.protos import graph_io_specs

__all__ = ["InputRole", "input_roles", "minimum_dim_sizes", "minimum_sizes"]

# Ops whose output holds the same values as their first input (rearranged or retyped).
_PASS_THROUGH = frozenset({
    "Cast", "Identity", "Unsqueeze", "Squeeze", "Reshape", "Flatten", "Transpose", "Expand",
    "Slice", "Tile", "Concat", "Split", "Gather", "GatherElements", "CastLike", "Clip",
})
_INTEGER = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")


@dataclass(frozen=True)
class InputRole:
    """How the feed generator should fill one input.

    ``kind`` is ``"index"`` (values in ``[low, high)``), ``"mask"`` (all ones), ``"value"``
    (the constant the graph compares it with, e.g. ``sr == 16000`` deciding an If: ``low``,
    with ``high = low + 1``) or ``"free"``.
    ``why`` says which node sets the range, in words.
    """

    name: str
    kind: str
    low: int = 0
    high: int = 0
    why: str = ""

    @property
    def range(self) -> tuple[int, int]:
        return self.low, self.high


def input_roles(model: onnx.ModelProto) -> dict[str, InputRole]:
    """The role of every integer or bool input of ``model`` (absent: a free float input)."""
    graph = model.graph
    inputs = [s for s in graph_io_specs(graph)[0] if s.dtype in _INTEGER or s.dtype == "bool"]
    values = graph_values(graph, nested=True)  # into If/Loop bodies too
    compared = _compared_values(model)
    roles = {}
    for spec in inputs:
        if "mask" in spec.name.lower():
            roles[spec.name] = InputRole(spec.name, "mask", 1, 2, "named like a mask: all ones "
                                         "(random 0/1 could mask a whole row)")
            continue
        bounds = list(_index_bounds(spec.name, values))
        if not bounds:
            roles[spec.name] = compared.get(spec.name) or InputRole(spec.name, "free")
            continue
        high, why = min(bounds, key=lambda bound: bound[0])
        roles[spec.name] = InputRole(spec.name, "index", 0, max(high, 1), why)
    return roles


def _compared_values(model: onnx.ModelProto) -> dict[str, InputRole]:
    """Integer inputs an If's condition compares with a constant: that constant (the first
    one found), so generated feeds take the branch the model is made for."""
    from workbench.inspection.control_flow import control_flow, freeze_choices

    roles: dict[str, InputRole] = {}
    for choice in freeze_choices(control_flow(model)):
        value = int(choice.value)
        if choice.input not in roles and value == choice.value:
            roles[choice.input] = InputRole(
                choice.input, "value", value, value + 1,
                f"the graph compares {choice.input} with {value} (If {choice.if_node!r}): "
                "that value, so the branch the model is made for runs")
    return roles


def _index_bounds(start: str, values: GraphValues) -> Iterator[tuple[int, str]]:
    """(exclusive upper bound, why) for every indexing node ``start`` reaches."""
    seen, frontier = {start}, [start]
    while frontier:
        tensor = frontier.pop()
        for use in values.uses(tensor):
            node, slot = use.node, use.slot
            bound = _bound_at(node, slot, values)
            if bound is not None:
                yield bound
            elif node.op_type in _PASS_THROUGH and slot == 0:
                for out in node.output:
                    if out and out not in seen:
                        seen.add(out)
                        frontier.append(out)


def _bound_at(node: onnx.NodeProto, slot: int,
              values: GraphValues) -> tuple[int, str] | None:
    label = f"{node.op_type} {node.name or node.output[0]!r}"
    if node.op_type in ("Gather", "GatherElements") and slot == 1:
        data = values.constant(node.input[0])
        if data is None:
            return None
        dims = tuple(data.dims)
        axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
        if not -len(dims) <= axis < len(dims):
            return None
        size = dims[axis]
        return size, f"indexes {node.input[0]} ({size} along axis {axis}) in {label}"
    if node.op_type == "OneHot" and slot == 0 and len(node.input) > 1:
        depth = values.constant(node.input[1])
        if depth is None:
            return None
        value = numpy_helper.to_array(depth).reshape(-1)
        if value.size != 1:
            return None
        return int(value[0]), f"OneHot depth {int(value[0])} in {label}"
    return None


_SAME_AXES = frozenset({
    "Identity", "Cast", "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Abs", "Neg", "Clip", "Add",
    "Sub", "Mul", "Div", "Pow", "Sqrt", "Exp", "Log", "Erf", "BatchNormalization",
    "InstanceNormalization", "Dropout", "CastLike",
})
_WINDOWED = frozenset({"Conv", "ConvInteger", "MaxPool", "AveragePool", "LpPool",
                       "QLinearConv"})


def minimum_sizes(model: onnx.ModelProto) -> dict[str, int]:
    """``minimum_dim_sizes`` without the reasons: what profile seeding raises dims to."""
    return {dim: size for dim, (size, _why) in minimum_dim_sizes(model).items()}


def minimum_dim_sizes(model: onnx.ModelProto) -> dict[str, tuple[int, str]]:
    """Symbolic dim name -> (smallest size the graph accepts, why), from the kernels of the
    Conv/Pool nodes an input's axis reaches (through Unsqueeze and elementwise ops, into
    ``If`` branches too). A 1-D conv of kernel 64 over ``samples`` needs samples ≥ 64."""
    graph = model.graph
    values = graph_values(graph, nested=True)  # into If/Loop bodies too
    found: dict[str, tuple[int, str]] = {}
    for spec in graph_io_specs(graph)[0]:
        axes = tuple(d if isinstance(d, str) else None for d in spec.shape or ())
        frontier, seen = [(spec.name, axes)], {spec.name}
        while frontier:
            tensor, names = frontier.pop()
            for use in values.uses(tensor):
                node, slot = use.node, use.slot
                if node.op_type in _WINDOWED and slot == 0:
                    _record_window(node, names, values, found)
                    continue
                out_names = _follow_axes(node, slot, names, values)
                if out_names is not None and node.output and node.output[0] not in seen:
                    seen.add(node.output[0])
                    frontier.append((node.output[0], out_names))
    return found


def _follow_axes(node: onnx.NodeProto, slot: int, names: tuple[str | None, ...],
                 values: GraphValues) -> tuple[str | None, ...] | None:
    if node.op_type in _SAME_AXES:
        return names
    if node.op_type != "Unsqueeze" or slot != 0:
        return None
    axes = next((list(a.ints) for a in node.attribute if a.name == "axes"), None)
    stored = values.constant(node.input[1]) if len(node.input) > 1 else None
    if axes is None and stored is not None:
        axes = [int(v) for v in numpy_helper.to_array(stored).reshape(-1)]
    if axes is None:
        return None
    rank = len(names) + len(axes)
    inserted = sorted(a % rank for a in axes)
    rest = iter(names)
    return tuple(None if axis in inserted else next(rest) for axis in range(rank))


def _record_window(node: onnx.NodeProto, names: tuple[str | None, ...], values: GraphValues,
                   found: dict[str, tuple[int, str]]) -> None:
    attrs = {a.name: a for a in node.attribute}
    if "auto_pad" in attrs and attrs["auto_pad"].s in (b"SAME_UPPER", b"SAME_LOWER"):
        return
    kernel = list(attrs["kernel_shape"].ints) if "kernel_shape" in attrs else None
    weight_slot = 3 if node.op_type == "QLinearConv" else 1
    weight = values.constant(node.input[weight_slot]) if len(node.input) > weight_slot else None
    if kernel is None and weight is not None:
        kernel = list(weight.dims[2:])
    if not kernel:
        return
    spatial = len(kernel)
    dilations = list(attrs["dilations"].ints) if "dilations" in attrs else [1] * spatial
    pads = list(attrs["pads"].ints) if "pads" in attrs else [0] * (2 * spatial)
    for i, size in enumerate(kernel):
        axis = len(names) - spatial + i
        name = names[axis] if 0 <= axis < len(names) else None
        need = (size - 1) * dilations[i] + 1 - pads[i] - pads[i + spatial]
        if name is not None and need > found.get(name, (1, ""))[0]:
            found[name] = (need, f"{node.op_type} {node.name!r} has a kernel of {size}")
