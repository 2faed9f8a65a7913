"""Large inline weights read in place: an .onnx file's own bytes used as its external data.

A model exported with its weights inside the .onnx file (what ``torch.onnx.export`` writes
under 2 GiB) holds each weight as a ``TensorProto.raw_data`` field: little-endian values,
contiguous in the file, exactly what an external-data file holds. So instead of parsing the
whole file (its size again in memory) and writing the weights to a temporary data file (its
size again on disk, and the time), ``inline_as_external`` walks the protobuf wire
format to find where each large ``raw_data`` lies, parses everything else, and returns the
model with those weights as external references into the .onnx file itself (location: the
file's name, offset and length: the field's bytes). Readers memory-map or read them one
tensor at a time like any external weight, and their identity is the file's own.

Anything the walk does not expect (a truncated or odd file, a graph given twice, a weight
not in ``raw_data``) returns None, and the caller loads the file the ordinary way, which
explains what is wrong with it.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from google.protobuf.message import DecodeError

from workbench.core.errors import ModelLoadError
from workbench.inspection.external_data import check_external_data
from workbench.inspection.loading import ModelFile, load_model_file

__all__ = ["inline_as_external"]

_LENGTH_DELIMITED = 2
_MODEL_GRAPH, _GRAPH_INITIALIZER, _TENSOR_RAW_DATA = 7, 5, 9


class _Irregular(Exception):
    """The bytes are not the protobuf this walk expects (the ordinary load decides)."""


@dataclass(frozen=True)
class _Field:
    number: int
    wire: int
    head: int  # where the field's tag starts
    start: int  # where its value starts
    end: int  # where it ends


def _varint(buf: mmap.mmap, pos: int, end: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if pos >= end or shift > 63:
            raise _Irregular
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _fields(buf: mmap.mmap, pos: int, end: int) -> Iterator[_Field]:
    """The fields of one message between ``pos`` and ``end``, values unparsed."""
    while pos < end:
        head = pos
        tag, pos = _varint(buf, pos, end)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            _, value_end = _varint(buf, pos, end)
        elif wire == 1:
            value_end = pos + 8
        elif wire == _LENGTH_DELIMITED:
            length, pos = _varint(buf, pos, end)
            value_end = pos + length
        elif wire == 5:
            value_end = pos + 4
        else:  # groups: not in onnx.proto
            raise _Irregular
        if number == 0 or value_end > end:
            raise _Irregular
        yield _Field(number, wire, head, pos, value_end)
        pos = value_end


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def inline_as_external(path: Path, min_bytes: int) -> onnx.ModelProto | None:
    """The model at ``path`` with each inline weight of ``min_bytes`` or more as an external
    reference into ``path`` itself; None when there are none, or the walk cannot tell."""
    try:
        with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0,
                                                  access=mmap.ACCESS_READ) as buf:
            return _shell(path, buf, min_bytes)
    except (_Irregular, OSError, ValueError, DecodeError, ModelLoadError):
        return None


def _shell(path: Path, buf: mmap.mmap, min_bytes: int) -> onnx.ModelProto | None:
    top = list(_fields(buf, 0, len(buf)))
    graphs = [f for f in top if f.number == _MODEL_GRAPH]
    if len(graphs) != 1 or graphs[0].wire != _LENGTH_DELIMITED:
        return None
    graph = graphs[0]
    parts = list(_fields(buf, graph.start, graph.end))
    initializers = [f for f in parts if f.number == _GRAPH_INITIALIZER]
    if any(f.wire != _LENGTH_DELIMITED for f in initializers):
        return None
    raw = {f.head: _large_raw_data(buf, f, min_bytes) for f in initializers}
    if not any(raw.values()):
        return None
    graph_bytes = b"".join(buf[f.head:f.end] for f in parts if f.number != _GRAPH_INITIALIZER)
    model_bytes = b"".join(buf[f.head:f.end] for f in top if f is not graph)
    model_bytes += (_encode_varint(_MODEL_GRAPH << 3 | _LENGTH_DELIMITED)
                    + _encode_varint(len(graph_bytes)) + graph_bytes)
    model = load_model_file(ModelFile(model_bytes, path.resolve()), load_weights=False)
    for field in initializers:
        data = raw[field.head]
        if data is None:
            tensor = onnx.TensorProto.FromString(buf[field.start:field.end])
        else:
            tensor = onnx.TensorProto.FromString(buf[field.start:data.head]
                                                 + buf[data.end:field.end])
            if (tensor.data_location == onnx.TensorProto.EXTERNAL or tensor.external_data
                    or data.end - data.start != _expected_bytes(tensor)):
                return None
            tensor.data_location = onnx.TensorProto.EXTERNAL
            for key, value in (("location", path.name), ("offset", str(data.start)),
                               ("length", str(data.end - data.start))):
                tensor.external_data.add(key=key, value=value)
        if not isinstance(tensor.name, str):  # not UTF-8: the ordinary load explains it
            return None
        model.graph.initializer.append(tensor)
    check_external_data(model, path.resolve().parent, str(path))
    return model


def _large_raw_data(buf: mmap.mmap, tensor: _Field, min_bytes: int) -> _Field | None:
    """The tensor's ``raw_data`` field when it is the only one and at least ``min_bytes``."""
    found = [f for f in _fields(buf, tensor.start, tensor.end) if f.number == _TENSOR_RAW_DATA]
    if len(found) != 1 or found[0].wire != _LENGTH_DELIMITED:
        return None
    return found[0] if found[0].end - found[0].start >= min_bytes else None


def _expected_bytes(tensor: onnx.TensorProto) -> int:
    try:
        itemsize = onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type).itemsize
    except (KeyError, ValueError, TypeError):
        return -1
    return int(np.prod(tensor.dims, dtype=np.int64)) * itemsize
