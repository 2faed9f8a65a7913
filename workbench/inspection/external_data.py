"""External data: where a model's weights live outside the .onnx file, checked before use.

External data is resolved relative to the model's own folder. A location that is
absolute, or that escapes that folder (``..``, or a symlink pointing out), is refused
before a single byte of it is read: opening a model must never read arbitrary files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from workbench.core.errors import ModelLoadError
from workbench.graph import bodies, walk_graphs

__all__ = ["ExternalDataRef", "check_external_data", "external_data_refs", "external_weight"]


@dataclass(frozen=True)
class ExternalDataRef:
    """One initializer whose weights live in a separate file."""

    tensor: str
    location: str
    offset: int
    length: int | None


def external_data_refs(model: onnx.ModelProto) -> list[ExternalDataRef]:
    """Every tensor (in the main graph and subgraphs) that keeps its data in another file."""
    refs = []
    for tensor in _all_tensors(model):
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        info = {entry.key: entry.value for entry in tensor.external_data}
        length = info.get("length")
        refs.append(
            ExternalDataRef(
                tensor=tensor.name,
                location=info.get("location", ""),
                offset=_int_or_bad(info.get("offset", "0"), tensor.name, "offset"),
                length=None if length is None else _int_or_bad(length, tensor.name, "length"),
            )
        )
    return refs


def _int_or_bad(text: str, tensor: str, key: str) -> int:
    try:
        value = int(text)
    except ValueError as err:
        raise ModelLoadError(
            f"External data of tensor {tensor!r} has a malformed {key}.",
            expected=f"a non-negative integer {key}",
            found=repr(text),
            fix="re-save the model with onnx.save(..., save_as_external_data=True)",
        ) from err
    if value < 0:
        raise ModelLoadError(
            f"External data of tensor {tensor!r} has a negative {key}.",
            expected=f"a non-negative integer {key}",
            found=str(value),
            fix="re-save the model with onnx.save(..., save_as_external_data=True)",
        )
    return value


def _all_tensors(model: onnx.ModelProto) -> list[onnx.TensorProto]:
    """Every tensor that may name external data: initializers and attribute tensors of every
    graph, nested bodies and the bodies inside model-local functions included."""
    graphs = [graph for _, graph in walk_graphs(model.graph)]
    for function in model.functions:
        for node in function.node:
            for body in bodies(node):
                graphs.extend(graph for _, graph in walk_graphs(body.graph))
    tensors: list[onnx.TensorProto] = []
    for graph in graphs:
        tensors.extend(graph.initializer)
        tensors.extend(sparse.values for sparse in graph.sparse_initializer)
        for node in graph.node:
            for attr in node.attribute:
                if attr.HasField("t"):
                    tensors.append(attr.t)
                tensors.extend(attr.tensors)
    return tensors


def check_external_data(model: onnx.ModelProto, folder: Path | None, label: str) -> None:
    """Refuse unsafe or missing external data before anything reads it."""
    refs = external_data_refs(model)
    if not refs:
        return
    if folder is None:
        raise ModelLoadError(
            f"{label} keeps weights in external files ({refs[0].location!r}), "
            "but was given as bytes, so there is no folder to find them in.",
            expected="the model's path, so external data can be found beside it",
            found="model bytes with external data references",
            fix="pass the .onnx file's path instead of its bytes",
        )
    root = folder.resolve()
    sizes: dict[str, int] = {}
    targets: dict[str, Path] = {}  # one check per file, not per tensor (LLMs have thousands)
    for ref in refs:
        if ref.location not in targets:
            targets[ref.location] = _safe_location(ref, root, label)
        target = targets[ref.location]
        if ref.location not in sizes:
            sizes[ref.location] = _existing_size(ref, target, label)
        end = ref.offset + (ref.length or 0)
        if end > sizes[ref.location]:
            raise ModelLoadError(
                f"External data of tensor {ref.tensor!r} runs past the end of "
                f"{ref.location!r}.",
                expected=f"at least {end} bytes (offset {ref.offset} + length {ref.length})",
                found=f"a file of {sizes[ref.location]} bytes",
                fix="the data file is truncated or belongs to another export; copy it again "
                "together with the .onnx file",
            )


def _safe_location(ref: ExternalDataRef, root: Path, label: str) -> Path:
    location = ref.location
    if not location or "\x00" in location or os.path.isabs(location) or location.startswith(
        ("/", "\\")
    ) or (len(location) > 1 and location[1] == ":"):
        raise ModelLoadError(
            f"{label}: tensor {ref.tensor!r} points at external data outside the model "
            f"folder ({location!r}).",
            expected="a relative file name inside the model's folder",
            found=f"an absolute or empty location {location!r}",
            fix="refused for safety: a model must not read arbitrary files. Move the data "
            "file next to the model and re-save it with a relative location",
        )
    target = (root / location).resolve()
    if target != root and root not in target.parents:
        raise ModelLoadError(
            f"{label}: tensor {ref.tensor!r} points at external data outside the model "
            f"folder ({location!r} resolves to {target}).",
            expected=f"a file inside {root}",
            found="a location that escapes it (via '..' or a symbolic link)",
            fix="refused for safety: a model must not read arbitrary files. Move the data "
            "file next to the model and re-save it with a relative location",
        )
    return target


def _existing_size(ref: ExternalDataRef, target: Path, label: str) -> int:
    if not target.is_file():
        raise ModelLoadError(
            f"{label}: external data file {ref.location!r} is missing "
            f"(needed by tensor {ref.tensor!r}).",
            expected=f"the file {target}",
            found="no such file",
            fix="copy the .data file(s) that were exported with the model into the same "
            "folder as the .onnx file",
        )
    return target.stat().st_size


def external_weight(tensor: onnx.TensorProto, folder: Path, *, mapped: bool) -> np.ndarray:
    """The values of one external initializer, read (or memory-mapped) from its file.

    Memory-mapped arrays are read-only views of the data file: the page cache holds them,
    not the process's own memory, and nothing is copied. Read arrays are private copies of
    that one tensor (what a converter needs, one tensor at a time). The location must have
    passed ``check_external_data`` (as every model from ``load_model`` has).
    """
    info = {entry.key: entry.value for entry in tensor.external_data}
    dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type))
    shape = tuple(int(d) for d in tensor.dims)
    count = int(np.prod(shape, dtype=np.int64))
    path = folder / info["location"]
    offset = int(info.get("offset", "0"))
    if count == 0:
        return np.zeros(shape, dtype)
    if mapped:
        return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape)
    return np.fromfile(path, dtype=dtype, count=count, offset=offset).reshape(shape)
