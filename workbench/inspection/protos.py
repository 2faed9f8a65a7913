"""Small conversions from ONNX protos to neutral values (names, specs, short texts).

Everything here reads protos and returns plain Python values (except ``model_shell``,
a weight-less copy to build twins from); nothing keeps a proto.
Weights are never decoded: sizes come from dims, dtypes and external-data lengths.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from typing import Any

import onnx
from onnx import AttributeProto, TensorProto

from workbench.core.records import Dim, TensorSpec
from workbench.graph import graphs_text, is_graph_attribute

__all__ = [
    "attribute_text",
    "dtype_name",
    "element_count",
    "graph_io_specs",
    "model_shell",
    "node_attributes",
    "tensor_nbytes",
    "tensor_spec_from_tensor",
    "type_spec",
    "value_info_spec",
]

# Element types narrower than a byte, in bits; every other type uses its NumPy itemsize.
_SUB_BYTE_BITS: dict[int, int] = {
    TensorProto.UINT4: 4,
    TensorProto.INT4: 4,
    TensorProto.FLOAT4E2M1: 4,
    TensorProto.UINT2: 2,
    TensorProto.INT2: 2,
    TensorProto.FLOAT6E2M3: 6,
    TensorProto.FLOAT6E3M2: 6,
}

_MAX_LIST_ITEMS = 8
_MAX_TEXT = 48


@functools.cache  # called once per tensor: tens of thousands of times
def dtype_name(elem_type: int) -> str:
    """NumPy-style name of an ONNX element type ("float32", "int64", "string", ...)."""
    if elem_type == TensorProto.STRING:
        return "string"
    if elem_type == TensorProto.UNDEFINED:
        return "undefined"
    try:
        return str(onnx.helper.tensor_dtype_to_np_dtype(elem_type).name)
    except (KeyError, ValueError, TypeError):
        # A type newer than this onnx release: its enum name is still better than a number.
        try:
            return TensorProto.DataType.Name(elem_type).lower()
        except ValueError:
            return f"onnx_type_{elem_type}"


@functools.cache
def _bits_per_element(elem_type: int) -> int:
    if elem_type in _SUB_BYTE_BITS:
        return _SUB_BYTE_BITS[elem_type]
    try:
        return int(onnx.helper.tensor_dtype_to_np_dtype(elem_type).itemsize) * 8
    except (KeyError, ValueError, TypeError):
        return 0


def _shape(shape: onnx.TensorShapeProto) -> tuple[Dim, ...]:
    # Hot path (once per tensor of the model): one generator, no helper call per dim.
    return tuple(
        int(dim.dim_value) if dim.HasField("dim_value") else (dim.dim_param or None)
        for dim in shape.dim
    )


def type_spec(name: str, type_proto: onnx.TypeProto) -> TensorSpec:
    """A TensorSpec for any ONNX type; non-tensor types get a descriptive dtype, no shape."""
    if type_proto.HasField("tensor_type"):  # the common case first, without WhichOneof
        tensor_type = type_proto.tensor_type
    elif type_proto.HasField("sparse_tensor_type"):
        tensor_type = type_proto.sparse_tensor_type
    else:
        return TensorSpec(name, _type_text(type_proto), None)
    shape = _shape(tensor_type.shape) if tensor_type.HasField("shape") else None
    return TensorSpec(name, dtype_name(tensor_type.elem_type), shape)


def _type_text(type_proto: onnx.TypeProto) -> str:
    kind = type_proto.WhichOneof("value")
    if kind in ("tensor_type", "sparse_tensor_type"):
        prefix = "sparse " if kind == "sparse_tensor_type" else ""
        return prefix + dtype_name(getattr(type_proto, kind).elem_type)
    if kind == "sequence_type":
        return f"sequence<{_type_text(type_proto.sequence_type.elem_type)}>"
    if kind == "optional_type":
        return f"optional<{_type_text(type_proto.optional_type.elem_type)}>"
    if kind == "map_type":
        key = dtype_name(type_proto.map_type.key_type)
        return f"map<{key}, {_type_text(type_proto.map_type.value_type)}>"
    return "unknown"


def value_info_spec(value: onnx.ValueInfoProto) -> TensorSpec:
    return type_spec(value.name, value.type)


def graph_io_specs(
    graph: onnx.GraphProto,
) -> tuple[tuple[TensorSpec, ...], tuple[TensorSpec, ...]]:
    """The graph's inputs a caller must feed, and its outputs.

    Old exporters (IR < 4) list initializers as graph inputs too; they are not inputs.
    """
    initializer_names = {tensor.name for tensor in graph.initializer}
    inputs = tuple(value_info_spec(v) for v in graph.input if v.name not in initializer_names)
    return inputs, tuple(value_info_spec(v) for v in graph.output)


def tensor_spec_from_tensor(tensor: TensorProto) -> TensorSpec:
    return TensorSpec(tensor.name, dtype_name(tensor.data_type), tuple(tensor.dims))


def element_count(tensor: TensorProto) -> int:
    return math.prod(tensor.dims)


def tensor_nbytes(tensor: TensorProto) -> int:
    """Bytes of a tensor's data, without decoding it (external data: its declared length)."""
    if tensor.data_location == TensorProto.EXTERNAL:
        for entry in tensor.external_data:
            if entry.key == "length":
                try:
                    return int(entry.value)
                except ValueError:
                    break  # malformed: fall back to what the dims say
    if tensor.data_type == TensorProto.STRING:
        return sum(len(item) for item in tensor.string_data)
    bits = element_count(tensor) * _bits_per_element(tensor.data_type)
    return (bits + 7) // 8


def model_shell(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` without the main graph's initializers (every other field kept):
    what weight-less twins of a model start from, without copying its weights once."""
    shell = onnx.ModelProto()
    _copy_fields(model, shell, skip="graph")
    _copy_fields(model.graph, shell.graph, skip="initializer")
    return shell


def _copy_fields(source: Any, target: Any, skip: str) -> None:
    for field, value in source.ListFields():
        if field.name == skip:
            continue
        if hasattr(value, "extend"):  # a repeated field (its descriptor's label API varies)
            getattr(target, field.name).extend(value)
        elif hasattr(value, "CopyFrom"):  # a message
            getattr(target, field.name).CopyFrom(value)
        else:
            setattr(target, field.name, value)


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"


def _list_text(items: Iterable[str], total: int) -> str:
    shown = list(items)
    more = f", … ({total} values)" if total > len(shown) else ""
    return "[" + ", ".join(shown) + more + "]"


def _tensor_text(tensor: TensorProto) -> str:
    shape = "[" + ", ".join(str(d) for d in tensor.dims) + "]"
    return f"<tensor {dtype_name(tensor.data_type)} {shape}>"


def _string(value: bytes) -> str:
    return repr(_clip(value.decode("utf-8", errors="replace")))


def attribute_text(attr: AttributeProto) -> str:
    """A short, one-line summary of an attribute's value (tensors by dtype and shape)."""
    if attr.ref_attr_name:
        return f"@{attr.ref_attr_name}"  # refers to an attribute of the enclosing function
    if is_graph_attribute(attr):
        return graphs_text(attr)
    kind = attr.type
    if kind == AttributeProto.INT:
        return str(attr.i)
    if kind == AttributeProto.FLOAT:
        return f"{attr.f:g}"
    if kind == AttributeProto.STRING:
        return _string(attr.s)
    if kind == AttributeProto.TENSOR:
        return _tensor_text(attr.t)
    if kind == AttributeProto.SPARSE_TENSOR:
        dims = "[" + ", ".join(str(d) for d in attr.sparse_tensor.dims) + "]"
        return f"<sparse tensor {dtype_name(attr.sparse_tensor.values.data_type)} {dims}>"
    if kind == AttributeProto.TYPE_PROTO:
        return f"<type {_type_text(attr.tp)}>"
    return _repeated_text(attr)


def node_attributes(node: onnx.NodeProto) -> tuple[tuple[str, str], ...]:
    """(name, ``attribute_text``) for each attribute of a node."""
    attributes = node.attribute
    if not attributes:  # most nodes: skip building a generator
        return ()
    return tuple((attr.name, attribute_text(attr)) for attr in attributes)


def _repeated_text(attr: AttributeProto) -> str:
    kind, head = attr.type, slice(0, _MAX_LIST_ITEMS)
    if kind == AttributeProto.INTS:
        return _list_text((str(v) for v in attr.ints[head]), len(attr.ints))
    if kind == AttributeProto.FLOATS:
        return _list_text((f"{v:g}" for v in attr.floats[head]), len(attr.floats))
    if kind == AttributeProto.STRINGS:
        return _list_text((_string(v) for v in attr.strings[head]), len(attr.strings))
    if kind == AttributeProto.TENSORS:
        return _list_text((_tensor_text(t) for t in attr.tensors[head]), len(attr.tensors))
    if kind == AttributeProto.TYPE_PROTOS:
        return _list_text((f"<type {_type_text(t)}>" for t in attr.type_protos[head]),
                          len(attr.type_protos))
    return "<undefined>"
