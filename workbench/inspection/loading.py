"""Loading ONNX models safely: from a path or bytes, with external data checked first
(``workbench.inspection.external_data``) and corrupt protobufs explained."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import onnx
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError, Message

from workbench.core.errors import ModelLoadError
from workbench.inspection.external_data import check_external_data, external_data_refs

__all__ = ["ModelFile", "ModelSource", "load_model", "load_model_file", "read_model_file",
           "source_label"]

ModelSource = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, onnx.ModelProto]

_ONNX_HINT = "pass the path of an .onnx file exported by torch.onnx.export, tf2onnx or similar"


@dataclass(frozen=True)
class ModelFile:
    """The model's protobuf bytes and, when it came from disk, its path (for external data)."""

    data: bytes
    path: Path | None

    @property
    def folder(self) -> Path | None:
        return None if self.path is None else self.path.parent

    @property
    def label(self) -> str:
        return str(self.path) if self.path is not None else "<model bytes>"


def source_label(source: ModelSource) -> str:
    """How reports name a model: its path, its graph's name, or "<model bytes>"."""
    if isinstance(source, (str, Path)):
        return str(source)
    if isinstance(source, onnx.ModelProto):
        return source.graph.name or "<ModelProto>"
    return "<model bytes>"


def _is_path(source: object) -> bool:
    return isinstance(source, (str, os.PathLike))


def read_model_file(source: ModelSource) -> ModelFile:
    """Read a model's bytes (not its external data) and remember where it came from."""
    if isinstance(source, onnx.ModelProto):
        return ModelFile(source.SerializeToString(), None)
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        _check_not_empty(data, "<model bytes>")
        return ModelFile(data, None)
    if not _is_path(source):
        raise ModelLoadError(
            "Cannot load a model from this kind of object.",
            expected="a path (str or pathlib.Path), bytes, or an onnx.ModelProto",
            found=type(source).__name__,
            fix=_ONNX_HINT,
        )
    path = Path(os.fspath(source)).expanduser()
    if not path.exists():
        raise ModelLoadError(
            f"Model file not found: {path}",
            expected="an existing .onnx file",
            found="no file at that path",
            fix="check the path (it is resolved relative to the current directory "
            f"{Path.cwd()})",
        )
    if path.is_dir():
        raise ModelLoadError(
            f"{path} is a folder, not a model file.",
            expected="the path of an .onnx file",
            found="a directory",
            fix="point at the .onnx file inside it",
        )
    _check_size(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ModelLoadError(
            f"Cannot read {path}.",
            expected="a readable file",
            found=f"{type(err).__name__}: {err}",
            fix="check the file's permissions",
        ) from err
    _check_not_empty(data, str(path))
    return ModelFile(data, path.resolve())


# protobuf refuses messages over 2 GiB; anything bigger is not an .onnx file, and reading
# it first would cost that much memory.
_MAX_PROTO_BYTES = 2**31 - 1


def _check_size(path: Path) -> None:
    try:
        size = path.stat().st_size
    except OSError:
        return  # reading it reports the problem
    if size > _MAX_PROTO_BYTES:
        raise ModelLoadError(
            f"{path} is {size / 2**30:.1f} GiB: too large to be an ONNX protobuf.",
            expected="an .onnx file under 2 GiB (larger models keep their weights in external "
            "data files beside the .onnx file)",
            found=f"a file of {size} bytes (it was not read)",
            fix="pass the small .onnx file that refers to the weights, or re-save the model "
            "with onnx.save(..., save_as_external_data=True)",
        )


def _check_not_empty(data: bytes, label: str) -> None:
    if not data:
        raise ModelLoadError(
            f"{label} is empty (0 bytes).",
            expected="an ONNX protobuf (a ModelProto)",
            found="an empty file",
            fix="re-export the model; an interrupted download or export leaves empty files",
        )


def _parse_proto(model_file: ModelFile) -> onnx.ModelProto:
    # The UTF-8 check parses a twin of the whole message: done first, so that its copy of
    # the model is gone before the real one exists (peak memory: bytes + one parse).
    bad_text = _undecodable_text(model_file.data)
    model = onnx.ModelProto()
    try:
        model.ParseFromString(model_file.data)
    except (DecodeError, RuntimeError, ValueError) as err:
        raise ModelLoadError(
            f"{model_file.label} is not a valid ONNX model: the protobuf cannot be decoded.",
            expected="a complete ONNX ModelProto",
            found=_describe_bad_bytes(model_file.data, err),
            fix="if the file was downloaded or copied, do it again (it looks truncated or "
            "corrupted); otherwise re-export it. " + _ONNX_HINT,
        ) from err
    if bad_text is not None:
        raise ModelLoadError(
            f"{model_file.label} is not a valid ONNX model: some names or other text "
            "fields are not UTF-8 text.",
            expected="names and other text fields in UTF-8, as every ONNX exporter writes them",
            found=_describe_bad_bytes(model_file.data, None),
            fix="the file is corrupted (bytes flipped by a bad copy or disk); copy or "
            "re-export it. " + _ONNX_HINT,
        )
    if not model.HasField("graph") or (
        not model.graph.node and not model.graph.output and not model.opset_import
    ):
        raise ModelLoadError(
            f"{model_file.label} decodes, but holds no ONNX graph.",
            expected="a ModelProto with a graph, opset imports and outputs",
            found=_describe_bad_bytes(model_file.data, None),
            fix="this is probably not an ONNX file (protobuf accepts many byte strings); "
            + _ONNX_HINT,
        )
    return model


@functools.cache
def _utf8_checking_model_class() -> type[Message]:
    """ModelProto as a proto3 twin: same fields, but protobuf checks UTF-8 while parsing.

    ONNX's .proto is proto2, whose string fields are not validated: protobuf (upb) then
    hands invalid UTF-8 back as bytes where every reader expects str. Parsing the bytes once
    more as this twin finds such fields at C speed (a Python walk over 30,000 nodes costs
    more than the whole load).
    """
    file = descriptor_pb2.FileDescriptorProto()
    onnx.ModelProto.DESCRIPTOR.file.CopyToProto(file)
    package = "workbench_utf8_check"
    file.name, file.package, file.syntax = f"{package}/{file.name}", package, "proto3"
    stack = list(file.message_type)
    while stack:
        message = stack.pop()
        stack.extend(message.nested_type)
        message.ClearField("extension_range")
        for fd in message.field:
            fd.ClearField("default_value")  # proto3 has no custom defaults
            if fd.type_name.startswith(".onnx."):
                fd.type_name = f".{package}." + fd.type_name[len(".onnx."):]
            if fd.label == fd.LABEL_OPTIONAL and fd.type != fd.TYPE_MESSAGE and not (
                    fd.HasField("oneof_index")):
                fd.proto3_optional = True  # keep presence; needs a synthetic oneof
                fd.oneof_index = len(message.oneof_decl)
                message.oneof_decl.add(name=f"_{fd.name}")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{package}.ModelProto"))


def _undecodable_text(data: bytes) -> str | None:
    """protobuf's complaint when some string field of the model is not UTF-8, else None."""
    try:
        _utf8_checking_model_class()().ParseFromString(data)
    except DecodeError as err:
        return str(err)
    except Exception:  # the twin is only a safety net: the real parse has the last word
        return None
    return None


def _describe_bad_bytes(data: bytes, err: Exception | None) -> str:
    head = data[:16]
    printable = all(32 <= b < 127 or b in b"\r\n\t" for b in head)
    kind = "text" if printable else "binary"
    reason = f" ({type(err).__name__}: {err})" if err else ""
    return f"{len(data)} bytes of {kind} data starting {head!r}{reason}"


def load_model(source: ModelSource, *, load_weights: bool = True) -> onnx.ModelProto:
    """Load an ONNX model from a path, bytes or a ModelProto.

    Args:
        source: Path to an .onnx file, its bytes, or an already loaded ModelProto.
        load_weights: Read external data into the model. With False, external tensors
            stay as references (cheap: what a summary needs, even for >2 GiB models).

    Raises:
        ModelLoadError: Missing, empty, corrupt or non-ONNX file; missing, truncated or
            unsafe external data.
    """
    if isinstance(source, onnx.ModelProto):
        return source
    model_file = read_model_file(source)
    return load_model_file(model_file, load_weights=load_weights)


def load_model_file(model_file: ModelFile, *, load_weights: bool = True) -> onnx.ModelProto:
    """Like ``load_model``, for bytes already read by ``read_model_file``."""
    model = _parse_proto(model_file)
    check_external_data(model, model_file.folder, model_file.label)
    if load_weights and model_file.folder is not None and external_data_refs(model):
        try:
            onnx.load_external_data_for_model(model, str(model_file.folder))
        except (OSError, ValueError, onnx.checker.ValidationError) as err:
            raise ModelLoadError(
                f"{model_file.label}: external data could not be read.",
                expected="readable external data files beside the model",
                found=f"{type(err).__name__}: {err}",
                fix="copy the model's .data files again, next to the .onnx file",
            ) from err
    return model
