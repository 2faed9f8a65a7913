"""ONNX element types of a graph: inferred, bound by operator schemas, and checked.

A mixed-precision conversion is only valid when every operator sees the types its schema
allows, with all inputs and outputs bound to one type parameter (``T`` of MatMul, Conv,
Add, ...) sharing one type. TensorRT's parser reports a violation as "IMatrixMultiplyLayer
must have same input types", and ``onnx.reference`` as "Input type mismatch"; this module
finds it first and names the node and both types.

Types come from ONNX shape inference on a *skeleton* of the model (large initializers
replaced by typed graph inputs), so a model over protobuf's 2 GiB limit is never
serialized and weights are never copied.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import onnx
from onnx import TensorProto, defs, shape_inference

from workbench.core.errors import ConversionError
from workbench.graph import disagreements, walk_graphs

__all__ = [
    "TypeMismatch",
    "Types",
    "check_types",
    "find_mismatches",
    "graph_types",
    "node_params",
    "refuse_stale_types",
    "schema_of",
    "slot_param",
    "type_label",
]

Types = dict[str, int]  # tensor name -> TensorProto elem type (0: unknown)

_SKELETON_MIN_ELEMENTS = 1024  # initializers at least this big become typed inputs
_NP_NAMES: dict[int, str] = {TensorProto.FLOAT: "float32", TensorProto.DOUBLE: "float64",
             TensorProto.FLOAT16: "float16", TensorProto.BFLOAT16: "bfloat16"}


def type_label(elem_type: int) -> str:
    """A user-facing type name: float32, float16, bfloat16, int64, bool, ..."""
    if elem_type in _NP_NAMES:
        return _NP_NAMES[elem_type]
    if elem_type == TensorProto.UNDEFINED:
        return "unknown"
    return TensorProto.DataType.Name(elem_type).lower()


def _schema_type_string(elem_type: int) -> str:
    names: dict[int, str] = {TensorProto.FLOAT: "float", TensorProto.DOUBLE: "double"}
    return f"tensor({names.get(elem_type, TensorProto.DataType.Name(elem_type).lower())})"


def opset_versions(model: onnx.ModelProto) -> dict[str, int]:
    versions = {o.domain if o.domain != "ai.onnx" else "": o.version for o in model.opset_import}
    versions.setdefault("", defs.onnx_opset_version())
    return versions


@lru_cache(maxsize=4096)
def _schema(op_type: str, version: int, domain: str) -> defs.OpSchema | None:
    try:
        return defs.get_schema(op_type, version, domain)
    except defs.SchemaError:
        return None


def schema_of(node: onnx.NodeProto, opsets: dict[str, int]) -> defs.OpSchema | None:
    """The operator's schema at the model's opset, or None (custom or unknown operator)."""
    domain = "" if node.domain == "ai.onnx" else node.domain
    if domain not in opsets:
        return None
    return _schema(node.op_type, opsets[domain], domain)


SlotParams = tuple[tuple[str | None, ...], tuple[str | None, ...]]


def node_params(node: onnx.NodeProto, opsets: dict[str, int]) -> SlotParams | None:
    """The type string of each input and output slot of ``node`` (``slot_param``), or
    None without a schema. Looked up once per operator, opset and arity (a graph has a few
    dozen of those for hundreds or thousands of nodes)."""
    domain = "" if node.domain == "ai.onnx" else node.domain
    if domain not in opsets:
        return None
    return _slot_params(node.op_type, opsets[domain], domain, len(node.input),
                        len(node.output))


@lru_cache(maxsize=8192)
def _slot_params(op_type: str, version: int, domain: str, inputs: int,
                 outputs: int) -> SlotParams | None:
    schema = _schema(op_type, version, domain)
    if schema is None:
        return None
    return (tuple(slot_param(schema.inputs, i) for i in range(inputs)),
            tuple(slot_param(schema.outputs, i) for i in range(outputs)))


def slot_param(params: Sequence[defs.OpSchema.FormalParameter], index: int) -> str | None:
    """The type string of input/output ``index`` (``"T"`` or ``"tensor(float)"``)."""
    if index < len(params):
        return str(params[index].type_str)
    if params and params[-1].option == defs.OpSchema.FormalParameterOption.Variadic:
        return str(params[-1].type_str)
    return None


def allowed_types(schema: defs.OpSchema, param: str) -> frozenset[str]:
    """The type strings a parameter admits (a fixed ``tensor(x)`` admits only itself)."""
    for constraint in schema.type_constraints:
        if constraint.type_param_str == param:
            return frozenset(constraint.allowed_type_strs)
    return frozenset({param})


def admits(schema: defs.OpSchema, param: str, elem_type: int) -> bool:
    allowed = allowed_types(schema, param)
    if elem_type == TensorProto.BFLOAT16 and _schema_type_string(TensorProto.FLOAT16) in allowed:
        # TensorRT computes BF16 wherever it computes FP16; older opsets just never said so
        return True
    return _schema_type_string(elem_type) in allowed


def _skeleton(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model without its large weights: they become graph inputs of the same type/shape."""
    skeleton = onnx.ModelProto()
    for field_name in ("ir_version", "producer_name", "producer_version", "domain",
                       "model_version"):
        setattr(skeleton, field_name, getattr(model, field_name))
    skeleton.opset_import.extend(model.opset_import)
    skeleton.functions.extend(model.functions)
    graph, source = skeleton.graph, model.graph
    graph.name = source.name
    graph.node.extend(source.node)
    for node in graph.node:  # the dynamo exporter's stack traces: ~70% of its bytes, which
        if node.metadata_props:  # every inference would serialize and parse twice
            del node.metadata_props[:]
        if node.doc_string:
            node.ClearField("doc_string")
    graph.input.extend(source.input)
    graph.output.extend(source.output)
    graph.value_info.extend(source.value_info)
    declared = {vi.name for vi in source.input}
    for tensor in source.initializer:
        size = 1
        for dim in tensor.dims:
            size *= dim
        if size < _SKELETON_MIN_ELEMENTS:
            graph.initializer.append(tensor)
        elif tensor.name not in declared:
            graph.input.append(onnx.helper.make_tensor_value_info(
                tensor.name, tensor.data_type, list(tensor.dims)))
    return skeleton


def graph_types(model: onnx.ModelProto) -> dict[str, Types]:
    """Element types of every tensor, per graph path (see ``walk_graphs``).

    Outer-scope names are visible in subgraphs, as in ONNX. Inference runs leniently here:
    a model whose own shapes are inconsistent still gets the types it can.
    """
    inferred = _lenient_inference(model)
    result: dict[str, Types] = {}
    scopes: dict[str, Types] = {}
    for path, graph in walk_graphs(inferred.graph):
        parent = path.rsplit("/", 1)[0] if "/" in path else ("" if path else None)
        types: Types = dict(scopes[parent]) if parent is not None else {}
        for vi in (*graph.input, *graph.value_info, *graph.output):
            if vi.type.HasField("tensor_type"):
                types[vi.name] = vi.type.tensor_type.elem_type
        for tensor in graph.initializer:
            types[tensor.name] = tensor.data_type
        for node in graph.node:
            if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
                types.setdefault(node.output[0], node.attribute[0].t.data_type)
        scopes[path] = types
        result[path] = types
    # the main graph's large initializers were inputs of the skeleton: their types are the same
    return result


def _lenient_inference(model: onnx.ModelProto) -> onnx.ModelProto:
    """Shape inference that only fails when the graph itself contradicts its types.

    Lenient mode still refuses a ``value_info`` entry whose type differs from what a node
    makes; such an entry is an annotation, not the graph, so inference runs again without
    the annotations before giving up.
    """
    skeleton = _skeleton(model)
    try:
        return shape_inference.infer_shapes(skeleton, strict_mode=False, data_prop=True)
    except shape_inference.InferenceError:
        for graph in (g for _, g in walk_graphs(skeleton.graph)):
            del graph.value_info[:]
    try:
        return shape_inference.infer_shapes(skeleton, strict_mode=False, data_prop=True)
    except shape_inference.InferenceError as err:
        raise ConversionError(
            "ONNX type inference cannot give the types of this graph's tensors.",
            expected="a graph whose nodes agree on the types of the tensors they share",
            found=_readable(str(err)),
            fix="check the model in the panel's Model tab (or `trt-workbench inspect MODEL`: "
            "the checker names the node), re-export it, or report it to the workbench",
        ) from err


@dataclass(frozen=True)
class TypeMismatch:
    """Two tensors a node's schema binds to one type parameter, with different types."""

    node: str
    op_type: str
    param: str
    first: tuple[str, int]
    second: tuple[str, int]

    def describe(self) -> str:
        (name_a, type_a), (name_b, type_b) = self.first, self.second
        return (f"node {self.node!r} ({self.op_type}): {name_a} is {type_label(type_a)} but "
                f"{name_b} is {type_label(type_b)} (both are type {self.param})")


def find_mismatches(model: onnx.ModelProto, types: dict[str, Types] | None = None,
                    limit: int = 5) -> list[TypeMismatch]:
    """Nodes whose inputs/outputs bound to one schema type parameter have different types."""
    types = graph_types(model) if types is None else types
    opsets = opset_versions(model)
    found: list[TypeMismatch] = []
    for path, graph in walk_graphs(model.graph):
        known = types.get(path, {})
        for node in graph.node:
            mismatch = _node_mismatch(node, node_params(node, opsets), known)
            if mismatch is not None:
                found.append(mismatch)
                if len(found) >= limit:
                    return found
    return found


_UNBOUND = ("tensor(", "seq(", "map(")  # fixed types: no parameter to bind


def _node_mismatch(node: onnx.NodeProto, params: SlotParams | None,
                   known: Types) -> TypeMismatch | None:
    if params is None:
        return None
    bound: dict[str, tuple[str, int]] = {}
    slots = [("input", i, name, params[0][i]) for i, name in enumerate(node.input)]
    slots += [("output", i, name, params[1][i]) for i, name in enumerate(node.output)]
    for kind, index, name, param in slots:
        elem = known.get(name, 0) if name else 0
        if param is None or not elem or param.startswith(_UNBOUND):
            continue
        label = f"{kind} {index} ({name})"
        if param in bound and bound[param][1] != elem:
            return TypeMismatch(node.name or node.op_type, node.op_type, param,
                                bound[param], (label, elem))
        bound.setdefault(param, (label, elem))
    return None


def check_types(model: onnx.ModelProto, precision: str,
                original: onnx.ModelProto | None = None) -> None:
    """Refuse a converted graph that mixes types: the node and both types are named.

    Two checks: ONNX's own strict type inference (which also checks each node's schema
    bindings, and value_info against what it infers), then, where it fails, the schema
    binding above on inferred types, whose message names the node and both types. The
    inference's verdict counts only when ``original`` (the model before conversion) passes
    it too: some exports carry shapes ONNX cannot reconcile, which no conversion causes or
    can fix. BF16 graphs skip the inference: ONNX schemas before opset 22 do not list
    bfloat16 for Conv and others, which TensorRT computes in BF16 anyway; their bindings
    are checked on inferred types. (Strict inference first: on a graph that passes, the
    binding check's own inference was a second full one for nothing.)
    """
    if precision == "bf16":
        _refuse_mismatches(precision, find_mismatches(model))
        return
    try:
        shape_inference.infer_shapes(_skeleton(model), check_type=True, strict_mode=True)
    except shape_inference.InferenceError as err:
        _refuse_mismatches(precision, find_mismatches(model))
        if original is not None and not strict_inference_passes(original):
            return
        raise ConversionError(
            f"The {precision.upper()} conversion produced a graph ONNX type inference rejects.",
            expected="a graph that passes onnx.shape_inference in strict mode",
            found=_readable(str(err)),
            fix="keep the node it names in FP32 with keep_fp32, and report the model",
        ) from err


def refuse_stale_types(model: onnx.ModelProto, precision: str) -> None:
    """Refuse a converted graph that declares a value with two element types (an FP16
    initializer whose ``value_info`` still says FP32), naming the value and its types. The
    conversion writes every type from one record
    (``workbench.graph.GraphValues.write_types``), so this is insurance, and cheap: the
    declarations of each graph (``workbench.graph.disagreements``), no inference."""
    for path, graph in walk_graphs(model.graph):
        stale = disagreements(graph)
        if stale:
            where = f" (in the subgraph {path})" if path else ""
            found = [f"{name} is declared "
                     + " and ".join(type_label(elem) for elem in kinds) + where
                     for name, kinds in stale.items()]
            raise ConversionError(
                f"The {precision.upper()} conversion left a stale type in the graph.",
                expected="one element type per value (initializer, inputs, outputs and "
                "value_info agree)",
                found=found[0],
                fix="report the model to the workbench; keep_fp32 on the node making this "
                "value may avoid it meanwhile",
                details=found[1:],
            )


def _refuse_mismatches(precision: str, mismatches: list[TypeMismatch]) -> None:
    if mismatches:
        raise ConversionError(
            f"The {precision.upper()} conversion produced a graph that mixes types.",
            expected="every node's inputs of one type parameter in one type",
            found=mismatches[0].describe(),
            fix="keep this node in FP32 with keep_fp32, and report the model to the workbench",
            details=[m.describe() for m in mismatches[1:]],
        )


def strict_inference_passes(model: onnx.ModelProto) -> bool:
    """Whether ONNX's strict type inference accepts the (original) model."""
    try:
        shape_inference.infer_shapes(_skeleton(model), check_type=True, strict_mode=True)
    except shape_inference.InferenceError:
        return False
    return True


def _readable(text: str) -> str:
    """ONNX writes element types as numbers, ``(1) vs (10)``; name them."""
    for elem in (TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.BFLOAT16,
                 TensorProto.DOUBLE, TensorProto.INT64, TensorProto.INT32, TensorProto.BOOL):
        text = text.replace(f"({elem})", f"({type_label(elem)})")
    return " ".join(text.split())[:400]
