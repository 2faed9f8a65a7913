"""Models in external-data form: the shape every large-model path of the workbench works on.

A protobuf message cannot exceed 2 GiB, so a large model can only be handed around by path
with its weights in separate files (``onnx.save(..., save_as_external_data=True)``). The
functions here give every consumer (ONNX Runtime, the FP16 converter, onnx.reference) that
form without ever serializing the weights: a model opened from a path keeps its external
weights as references (read later, one tensor at a time); a model with large inline
weights in memory (a ``ModelProto`` or bytes) is written to a temporary folder with
external data, which is removed when the ``with`` block ends; a *file* with large inline
weights needs no copy: its weights become references into the file's own bytes
(``workbench.inspection.inline_weights``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import onnx

from workbench.inspection.external_data import external_data_refs, external_weight
from workbench.inspection.inline_weights import inline_as_external
from workbench.inspection.loading import (
    ModelSource,
    load_model,
    load_model_file,
    read_model_file,
)
from workbench.inspection.protos import model_shell
from workbench.settings.fields import Precision
from workbench.transforms.precision.report import ConversionReport
from workbench.transforms.saving import refuse_existing, save_model_atomic

__all__ = ["INLINE_LIMIT", "StagedModel", "data_file", "inline_weight_bytes",
           "refuse_model_files", "save_staged", "staged_model", "without_weights",
           "write_converted_model"]

# Inline weights above this are moved to external data: converting or copying a proto that
# holds them costs their size again per copy (and protobuf refuses more than 2 GiB).
INLINE_LIMIT = 64 << 20
# Initializers smaller than this stay inline (shapes, scalars, masks: cheap, and the
# converter and evaluators read them from the proto).
_SMALL_TENSOR = 1 << 16
ALIGNMENT = 1 << 16  # offsets of external tensors: every OS's mapping granularity


@dataclass(frozen=True)
class StagedModel:
    """A model whose large weights are external references (not loaded).

    ``model`` is small whatever the model's size; ``folder`` is where its external data
    lives (None when it has none); ``path`` an .onnx file ONNX Runtime can open (the
    user's own file, or the temporary copy), or None for a small in-memory model.
    """

    model: onnx.ModelProto
    folder: Path | None
    path: Path | None
    label: str


def inline_weight_bytes(model: onnx.ModelProto) -> int:
    """Bytes of initializer data held inside the proto (external references excluded)."""
    return sum(len(t.raw_data) + 4 * (len(t.float_data) + len(t.int32_data))
               + 8 * (len(t.int64_data) + len(t.double_data))
               for t in model.graph.initializer if t.data_location != onnx.TensorProto.EXTERNAL)


@contextlib.contextmanager
def staged_model(source: ModelSource) -> Iterator[StagedModel]:
    """The model of ``source`` with its large weights external; see the module docstring.

    Raises:
        ModelLoadError: as ``workbench.inspection.loading.load_model``.
    """
    in_place = _inline_in_place(source)
    if in_place is not None:
        yield in_place
        return
    if isinstance(source, (str, os.PathLike)):
        model_file = read_model_file(source)
        model = load_model_file(model_file, load_weights=False)
        folder, path, label = model_file.folder, model_file.path, model_file.label
        del model_file
    else:
        model = load_model(source)
        folder, path = None, None
        label = model.graph.name if isinstance(source, onnx.ModelProto) else "<model bytes>"
    if inline_weight_bytes(model) <= INLINE_LIMIT:
        yield StagedModel(model, folder if external_data_refs(model) else None, path, label)
        return
    with tempfile.TemporaryDirectory(prefix="workbench-staged-") as tmp:
        staged_path = Path(tmp) / "model.onnx"
        staged = _write_external(model, staged_path, folder)
        del model  # a model read from a file is ours: its inline copy of the weights goes
        yield StagedModel(staged, Path(tmp), staged_path, label)


def _inline_in_place(source: ModelSource) -> StagedModel | None:
    """A file with large inline weights, its weights as references into its own bytes:
    nothing is parsed or written twice (``workbench.inspection.inline_weights``)."""
    if not isinstance(source, (str, os.PathLike)):
        return None
    path = Path(os.fspath(source)).expanduser()
    try:
        if not path.is_file() or path.stat().st_size <= INLINE_LIMIT:
            return None
    except OSError:
        return None
    shell = inline_as_external(path, _SMALL_TENSOR)
    if shell is None or inline_weight_bytes(shell) > INLINE_LIMIT:
        return None
    path = path.resolve()
    return StagedModel(shell, path.parent, path, str(path))


def without_weights(model: onnx.ModelProto) -> onnx.ModelProto:
    """The graph of ``model`` with every initializer's data left out (names, types and
    dims stay: what specs, shape inference and index ranges need). ``model`` is unchanged."""
    if not inline_weight_bytes(model):
        return model
    bare = model_shell(model)
    bare.graph.initializer.extend(
        t if _small(t) else onnx.TensorProto(name=t.name, data_type=t.data_type, dims=t.dims)
        for t in model.graph.initializer)
    return bare


def _write_external(model: onnx.ModelProto, path: Path, folder: Path | None) -> onnx.ModelProto:
    """Write ``model`` to ``path`` with large initializers in ``<name>.data``; returns the
    written proto (weights as references). ``model`` itself is not modified; its own
    external data (in ``folder``) is copied over one tensor at a time."""
    staged = model_shell(model)
    graph, source = staged.graph, model.graph
    location = data_file(path).name
    offset = 0
    with (path.parent / location).open("wb") as handle:
        for tensor in source.initializer:
            is_external = tensor.data_location == onnx.TensorProto.EXTERNAL
            if not is_external and _small(tensor):
                graph.initializer.append(tensor)
                continue
            if is_external:
                data = external_weight(tensor, folder or Path("."), mapped=True).tobytes()
            elif tensor.HasField("raw_data"):  # already the bytes to write: no decoding
                data = tensor.raw_data
            else:
                data = onnx.numpy_helper.to_array(tensor).tobytes()
            ref = onnx.TensorProto(name=tensor.name, data_type=tensor.data_type,
                                   dims=tensor.dims, data_location=onnx.TensorProto.EXTERNAL)
            offset = _write_aligned(handle, data, offset, ref, location)
            del data
            graph.initializer.append(ref)
    path.write_bytes(staged.SerializeToString())  # small: the weights are in the .data file
    return staged


def _write_aligned(handle: BinaryIO, data: bytes, offset: int, ref: onnx.TensorProto,
                   location: str) -> int:
    """Write one tensor's bytes at the next multiple of ``ALIGNMENT`` and point ``ref``
    at them; returns the offset after them. ONNX Runtime memory-maps an external initializer
    only when its offset is a multiple of the page size (Windows: 64 KiB): packed back to
    back, a copy's weights were read into memory instead of mapped."""
    start = -(-offset // ALIGNMENT) * ALIGNMENT
    if start > offset:
        handle.write(b"\0" * (start - offset))
    handle.write(data)
    for key, value in (("location", location), ("offset", str(start)),
                       ("length", str(len(data)))):
        ref.external_data.add(key=key, value=value)
    return start + len(data)


def _small(tensor: onnx.TensorProto) -> bool:
    count = 1
    for dim in tensor.dims:
        count *= dim
    return count < _SMALL_TENSOR // 4 or tensor.data_type == onnx.TensorProto.STRING


def write_converted_model(staged: StagedModel, precision: Precision, keep_fp32: Iterable[str],
                          target: Path) -> tuple[Path, ConversionReport]:
    """Write the graph conversion of ``staged`` to ``target`` (+ ``<name>.data``), converting
    its external weights one tensor at a time: no copy of the model is held in memory, and
    the result may exceed 2 GiB. Returns ``target`` and the conversion's report."""
    from workbench.transforms.precision.convert import convert
    from workbench.transforms.precision.fp16 import convert_weight

    # external weights are references: the conversion changes their types only
    conversion = convert(staged.model, precision, keep_fp32)
    converted = conversion.model
    fp32 = {t.name: t for t in staged.model.graph.initializer
            if t.data_location == onnx.TensorProto.EXTERNAL}
    location = data_file(target).name
    offset = 0
    with (target.parent / location).open("wb") as handle:
        for tensor in converted.graph.initializer:
            if tensor.data_location != onnx.TensorProto.EXTERNAL:
                continue
            source = fp32[tensor.name]
            values = external_weight(source, staged.folder or Path("."), mapped=False)
            if tensor.data_type != source.data_type:
                values = convert_weight(values, precision)
            data = values.tobytes()
            del values
            del tensor.external_data[:]
            offset = _write_aligned(handle, data, offset, tensor, location)
            del data
    target.write_bytes(converted.SerializeToString())
    return target, conversion.report


def save_staged(model: onnx.ModelProto, folder: Path | None, target: Path, *,
                overwrite: bool = False) -> Path:
    """Write a staged model (or a rewrite of one) to ``target``: one file when its weights
    are inline and small, else ``target`` + ``<name>.data`` with the external weights (read
    from ``folder``) copied one tensor at a time. Existing files are refused unless
    ``overwrite``; a data file the model reads from is refused even then.

    Raises:
        WorkbenchError: ``target`` or its data file exists, or cannot be written.
    """
    target = Path(target).expanduser().resolve()
    if not external_data_refs(model) and inline_weight_bytes(model) <= INLINE_LIMIT:
        return save_model_atomic(model, target, overwrite=overwrite)
    sources = {(folder or Path(".")).resolve() / ref.location
               for ref in external_data_refs(model)}
    # writing over a data file being copied from would destroy the weights
    refuse_model_files(target, overwrite and data_file(target).resolve() not in sources)
    _write_external(model, target, folder)
    return target


def data_file(target: Path) -> Path:
    """Where a model written to ``target`` keeps its external weights."""
    return target.parent / (target.name + ".data")


def refuse_model_files(target: Path, overwrite: bool) -> None:
    """Unless ``overwrite``, refuse a ``target`` (or its data file) that exists already."""
    if not overwrite:
        refuse_existing(target)
        refuse_existing(data_file(target))
