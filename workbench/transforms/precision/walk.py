"""The graph walk behind ``workbench.transforms.precision.fp16.convert_precision``.

One pass per graph in topological order: each node gets a mode (lowered, kept in FP32 and
why, untouched, a container of subgraphs, or adaptive: a Cast/Constant that follows its
readers), and every input is fetched in the type the node's schema needs, with one Cast per
tensor and type where it exists only in another type. See fp16.py's docstring for why this
works per edge and per schema type parameter.
"""

from __future__ import annotations

from collections.abc import Sequence

import onnx
from onnx import TensorProto, helper

from workbench.graph import BODY, GraphValues, bodies, graph_values
from workbench.transforms.precision.plumbing import all_names, attribute, type_suffix
from workbench.transforms.precision.report import (
    BLOCKED_OPERATOR,
    KEPT_BY_USER,
    TYPE_RULE,
    ConversionReport,
    KeptNode,
)
from workbench.transforms.precision.typing_rules import (
    SlotParams,
    Types,
    admits,
    graph_types,
    node_params,
    opset_versions,
    schema_of,
)
from workbench.transforms.precision.values import convert_tensor

__all__ = ["BLOCKED_OPS", "GraphConverter"]

FLOAT = TensorProto.FLOAT
# Operators whose meaning changes in half precision: index/box arithmetic and long sums
# (onnxconverter-common blocks these too); random generators have no FP16 contract.
BLOCKED_OPS = frozenset({
    "Range", "CumSum", "NonMaxSuppression", "RoiAlign", "RandomNormal", "RandomUniform",
    "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli",
})
_ADAPTIVE = frozenset({"Cast", "Constant", "ConstantOfShape"})
_LOW, _KEPT, _OTHER, _CONTAINER, _ADAPT = "low", "kept", "other", "container", "adaptive"
_NONE: frozenset[str] = frozenset()



class GraphConverter:
    """Walks each graph once in topological order, fetching every input in the type its
    consumer needs (see the module docstring)."""

    def __init__(self, model: onnx.ModelProto, precision: str, low: int,
                 keep: frozenset[str]) -> None:
        self.precision, self.low, self.keep = precision, low, keep
        self.label = precision
        self.opsets = opset_versions(model)
        self.types = graph_types(model)
        self.names = all_names(model)
        self.kept: list[KeptNode] = []
        self.low_count = self.other_count = self.casts = self.clamped = 0
        self.clamped_tensors: list[str] = []
        self.views: dict[str, str] = {}

    def report(self) -> ConversionReport:
        return ConversionReport(self.precision, self.low_count, tuple(self.kept),
                                self.other_count, self.casts, self.clamped,
                                tuple(self.clamped_tensors))

    # -- one graph ---------------------------------------------------------------------

    def convert_graph(self, graph: onnx.GraphProto, path: str,
                      outer: dict[str, dict[int, str]]) -> None:
        """Convert one graph (and, through its containers, the bodies below it). ``orig``
        is what inference says the graph's tensors were; what they become is recorded in
        one place, the graph layer's view of this graph (``values.set_type``), and written
        back into its value_info and outputs at the end (``values.write_types``)."""
        orig = self.types.get(path, {})
        values = graph_values(graph)
        # each node's mode, and for lowered nodes the schema type parameters bound to FP32
        # tensors (found once per node: every slot's required and produced type asks)
        classified = [self._mode(node, values.holds_bodies(index), orig)
                      for index, node in enumerate(graph.node)]
        modes = [mode for mode, _ in classified]
        floats = [bound for _, bound in classified]
        wants = self._wants(values, modes, floats, orig)  # (use lists: before nodes change)
        modes = [self._settle_adaptive(node, mode, wants, orig)
                 for node, mode in zip(graph.node, modes, strict=True)]
        versions = dict(outer)
        for vi in graph.input:
            versions[vi.name] = {orig.get(vi.name, 0): vi.name}
        self._convert_initializers(graph, wants, versions, orig)
        new_nodes: list[onnx.NodeProto] = []
        for index, (node, mode) in enumerate(zip(graph.node, modes, strict=True)):
            self._count(node, mode, index)
            for slot, name in enumerate(node.input):
                if name:
                    want = self._required(node, mode, floats[index], slot, orig)
                    node.input[slot] = self._fetch(name, want, versions, new_nodes, values)
            if mode == _CONTAINER:
                self._convert_bodies(node, path, index, versions)
            if mode == _ADAPT + _LOW:
                self._lower_attributes(node)
            new_nodes.append(node)
            for slot, name in enumerate(node.output):
                if name:
                    made = self._produced(node, mode, floats[index], slot, orig)
                    self._publish(name, made, orig.get(name, 0), node, slot, versions,
                                  new_nodes, values)
        del graph.node[:]
        graph.node.extend(new_nodes)
        values.write_types()

    def _mode(self, node: onnx.NodeProto, container: bool,
              orig: Types) -> tuple[str, frozenset[str]]:
        """The node's mode; for a lowered node, its type parameters bound to FP32."""
        if container:
            return _CONTAINER, _NONE
        touches_float = any(orig.get(t, 0) == FLOAT for t in (*node.input, *node.output) if t)
        if node.name in self.keep:
            return _KEPT + KEPT_BY_USER, _NONE
        if not touches_float:
            return _OTHER, _NONE
        schema = schema_of(node, self.opsets)
        if node.domain not in ("", "ai.onnx") or schema is None:
            return _KEPT + BLOCKED_OPERATOR, _NONE
        if node.op_type in BLOCKED_OPS:
            return _KEPT + BLOCKED_OPERATOR, _NONE
        if node.op_type in _ADAPTIVE:
            return _ADAPT, _NONE
        params = node_params(node, self.opsets)
        assert params is not None  # (a schema was found just above)
        bound = _float_params(node, params, orig)
        if any(not admits(schema, param, self.low) for param in bound):
            return _KEPT + TYPE_RULE, _NONE
        inputs = set(params[0])
        for name, param in zip(node.output, params[1], strict=True):
            if orig.get(name, 0) == FLOAT and param in bound and param not in inputs:
                return _KEPT + TYPE_RULE, _NONE  # an attribute sets this output's type
        return _LOW, bound

    def _wants(self, values: GraphValues, modes: Sequence[str],
               floats: Sequence[frozenset[str]], orig: Types) -> dict[str, set[int]]:
        """For each tensor, the types its constrained readers need (from its use lists: a
        body reading it needs its original type, and so does the graph returning it)."""
        wants: dict[str, set[int]] = {}
        for name, value in values.items():
            needed = set()
            for node, slot, index in value.uses:
                want = (orig.get(name, 0) if slot == BODY
                        else self._required(node, modes[index], floats[index], slot, orig))
                if want:
                    needed.add(want)
            if value.is_output and orig.get(name, 0):
                needed.add(orig[name])
            if needed:
                wants[name] = needed
        return wants

    def _settle_adaptive(self, node: onnx.NodeProto, mode: str, wants: dict[str, set[int]],
                         orig: Types) -> str:
        """Casts to FLOAT and float Constants follow their readers: lowered when only
        reduced-precision math reads them (a Cast(int→FP16) feeding FP32 would lose
        integers above 2048)."""
        if mode != _ADAPT:
            return mode
        out = node.output[0]
        if orig.get(out, 0) != FLOAT:
            return _OTHER
        if node.op_type == "Cast" and attribute(node, "to") != FLOAT:
            return _OTHER
        return _ADAPT + _LOW if wants.get(out) == {self.low} else _OTHER

    def _required(self, node: onnx.NodeProto, mode: str, floats: frozenset[str], slot: int,
                  orig: Types) -> int | None:
        """The type input ``slot`` must have, or None when any type will do (``floats``:
        the node's type parameters bound to FP32, from ``_mode``)."""
        name = node.input[slot]
        have = orig.get(name, 0)
        if mode.startswith(_ADAPT):
            return None if node.op_type == "Cast" else (have or None)
        if mode != _LOW:
            return have or None
        params = node_params(node, self.opsets)
        assert params is not None  # _LOW is only given to nodes with a schema
        param = params[0][slot]
        if param is None:
            return have or None
        if param in floats and have in (FLOAT, 0):
            return self.low
        return have or None

    def _produced(self, node: onnx.NodeProto, mode: str, floats: frozenset[str], slot: int,
                  orig: Types) -> int:
        have = orig.get(node.output[slot], 0)
        if mode == _ADAPT + _LOW:
            return self.low
        if mode != _LOW:
            return have
        params = node_params(node, self.opsets)
        assert params is not None
        param = params[1][slot]
        if param in floats and have in (FLOAT, 0):
            return self.low
        return have

    # -- edges -----------------------------------------------------------------------

    def _fetch(self, name: str, want: int | None, versions: dict[str, dict[int, str]],
               new_nodes: list[onnx.NodeProto], values: GraphValues) -> str:
        """The name under which ``name`` exists in type ``want``; casts it if needed."""
        available = versions.get(name)
        if not available:
            return name
        if want is None:
            return available.get(self.low) or next(iter(available.values()))
        if want in available:
            return available[want]
        source = available.get(FLOAT) or next(iter(available.values()))
        target = self._unique(f"{name}_{type_suffix(want)}")
        new_nodes.append(helper.make_node("Cast", [source], [target], to=want,
                                          name=self._unique(f"{name}.cast_{type_suffix(want)}")))
        self.casts += 1
        versions[name] = {**available, want: target}
        values.set_type(target, want, like=name)
        if want == self.low:
            self.views.setdefault(name, target)
        return target

    def _publish(self, name: str, made: int, original: int, node: onnx.NodeProto,
                 slot: int, versions: dict[str, dict[int, str]],
                 new_nodes: list[onnx.NodeProto], values: GraphValues) -> None:
        """Record a node's output; a graph output keeps its type through a Cast back, while
        the node's reduced-precision tensor keeps feeding reduced-precision readers."""
        if not (values.returned(name) and made != original and original):
            versions[name] = {made: name}
            values.set_type(name, made)
            return
        inner = self._unique(f"{name}_{self.label}")
        node.output[slot] = inner
        new_nodes.append(helper.make_node("Cast", [inner], [name], to=original,
                                          name=self._unique(f"{name}.cast_back")))
        self.casts += 1
        versions[name] = {made: inner, original: name}
        values.set_type(inner, made, like=name)
        values.set_type(name, original)
        self.views[name] = inner

    def _convert_initializers(self, graph: onnx.GraphProto, wants: dict[str, set[int]],
                              versions: dict[str, dict[int, str]], orig: Types) -> None:
        declared = {vi.name for vi in graph.input}
        added = []
        for tensor in graph.initializer:
            if tensor.name in declared:
                continue  # an overridable input (old IR): it keeps its type, readers cast it
            versions[tensor.name] = {tensor.data_type: tensor.name}
            need = wants.get(tensor.name, set())
            if tensor.data_type != FLOAT or self.low not in need:
                continue
            if tensor.data_location == TensorProto.EXTERNAL:
                self._retype_external(tensor, need, versions)
                continue
            target = tensor if need == {self.low} else onnx.TensorProto()
            if target is not tensor:
                target.CopyFrom(tensor)
                target.name = self._unique(f"{tensor.name}_{self.label}")
                added.append(target)
            clamped = convert_tensor(target, self.low)
            if clamped:
                self.clamped += clamped
                self.clamped_tensors.append(tensor.name)
            versions[tensor.name] = ({self.low: tensor.name} if target is tensor
                                     else {FLOAT: tensor.name, self.low: target.name})
        graph.initializer.extend(added)

    def _retype_external(self, tensor: onnx.TensorProto, need: set[int],
                         versions: dict[str, dict[int, str]]) -> None:
        """A weight still on disk changes type only, under its own name: the caller converts
        its values one tensor at a time (``convert_weight``), so a model over 2 GiB is
        never held in memory. Read in both types, it stays FP32 and is cast at run time."""
        if need == {self.low}:
            tensor.data_type = self.low
            versions[tensor.name] = {self.low: tensor.name}

    def _lower_attributes(self, node: onnx.NodeProto) -> None:
        """A lowered Cast casts to the reduced type; a lowered constant holds it."""
        if node.op_type == "Cast":
            for attr in node.attribute:
                if attr.name == "to":
                    attr.i = self.low
            return
        for attr in node.attribute:
            if attr.name == "value" and attr.type == onnx.AttributeProto.TENSOR:
                clamped = convert_tensor(attr.t, self.low)
                if clamped:
                    self.clamped += clamped
                    self.clamped_tensors.append(node.name or node.output[0])
            elif attr.name in ("value_float", "value_floats"):
                values = [attr.f] if attr.name == "value_float" else list(attr.floats)
                tensor = helper.make_tensor("value", FLOAT, [] if attr.name == "value_float"
                                            else [len(values)], values)
                convert_tensor(tensor, self.low)
                node.attribute.remove(attr)
                node.attribute.append(helper.make_attribute("value", tensor))
                return

    def _convert_bodies(self, node: onnx.NodeProto, path: str, index: int,
                        versions: dict[str, dict[int, str]]) -> None:
        for body in bodies(node):
            step = f"{index}.{body.suffix}"  # the paths of graph_types (walk_graphs)
            self.convert_graph(body.graph, f"{path}/{step}" if path else step, versions)

    def _count(self, node: onnx.NodeProto, mode: str, index: int) -> None:
        if mode.startswith(_KEPT):
            reason = mode[len(_KEPT):]
            detail = (f"{node.domain or 'ai.onnx'}::{node.op_type}"
                      if reason == BLOCKED_OPERATOR else "")
            if reason == TYPE_RULE:
                detail = f"{node.op_type} has no {self.precision.upper()} form at this opset"
            self.kept.append(KeptNode(node.name or f"{node.op_type}_{index}", node.op_type,
                                      reason, detail))
        elif mode in (_LOW, _ADAPT + _LOW):
            self.low_count += 1
        elif mode != _CONTAINER:
            self.other_count += 1

    def _unique(self, base: str) -> str:
        name, counter = base, 1
        while name in self.names:
            counter += 1
            name = f"{base}_{counter}"
        self.names.add(name)
        return name


def _float_params(node: onnx.NodeProto, params: SlotParams, orig: Types) -> frozenset[str]:
    """Type parameters of the schema bound to an FP32 tensor of this node."""
    bound: set[str] = set()
    for names, slots in ((node.input, params[0]), (node.output, params[1])):
        for name, param in zip(names, slots, strict=True):
            if param and name and orig.get(name) == FLOAT and not param.startswith("tensor("):
                bound.add(param)
    return frozenset(bound)
