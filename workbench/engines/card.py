"""Engine cards and artifacts, and saving them atomically. Pure Python + hashlib + json.

A serialized engine is opaque bytes that only run with the TensorRT (flavour, version) and
GPU they were built for. The *engine card* — a JSON sidecar ``<engine>.json`` — records
what is needed to check that before anything is deserialized: flavour and version, target
compute capabilities or GPU, settings and profiles, I/O tensors, and SHA-256 digests.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.core.errors import EngineSaveError
from workbench.core.fileio import write_atomic
from workbench.core.logbus import LogRecord
from workbench.core.records import TensorSpec
from workbench.settings.settings import BuildSettings, ShapeProfile

if TYPE_CHECKING:  # the record only; building needs no onnx here
    from workbench.transforms.precision.report import ConversionReport

__all__ = [
    "CARD_FORMAT",
    "EngineArtifact",
    "EngineCard",
    "EngineLayerInfo",
    "EngineTensorInfo",
    "card_path_for",
    "flavour_label",
    "refuse_existing_engine",
    "save_engine",
    "sha256_hex",
]

CARD_FORMAT = 1


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def card_path_for(engine_path: str | os.PathLike[str]) -> Path:
    """``model.engine`` → ``model.engine.json``."""
    path = Path(engine_path)
    return path.with_name(path.name + ".json")


def flavour_label(flavour: str, version: str) -> str:
    """``("tensorrt_rtx", "1.7.1.116")`` → ``"TensorRT-RTX 1.7.1"``."""
    name = "TensorRT-RTX" if flavour == "tensorrt_rtx" else "TensorRT"
    short = ".".join(version.split(".")[:3]) if version else "?"
    return f"{name} {short}"


@dataclass(frozen=True)
class EngineTensorInfo:
    """A tensor an engine layer reads or writes: its type (``FP32``, ``FP16``, ``INT64``…),
    dimensions (-1 where dynamic) and TensorRT's memory format, where the source gives them."""

    name: str
    dtype: str = ""
    shape: tuple[int, ...] = ()
    format: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape),
                "format": self.format}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | str) -> EngineTensorInfo:
        if isinstance(data, str):  # cards written before types were recorded: names only
            return cls(data)
        return cls(str(data["name"]), str(data.get("dtype", "")),
                   tuple(int(d) for d in data.get("shape", ())), str(data.get("format", "")))

    def text(self) -> str:
        """``FP16[-1,64]`` (or the name when the type is unknown)."""
        dims = f"[{','.join(str(d) for d in self.shape)}]" if self.shape else ""
        return f"{self.dtype}{dims}" if self.dtype else self.name


FLOAT_TYPES = ("FP32", "TF32", "FP16", "BF16", "FP8", "FP4")


@dataclass(frozen=True)
class EngineLayerInfo:
    """One layer of a built engine (from EngineInspector, or the DETAILED build log)."""

    name: str
    layer_type: str = ""
    tactic: str = ""
    onnx_nodes: tuple[str, ...] = ()
    inputs: tuple[EngineTensorInfo, ...] = ()
    outputs: tuple[EngineTensorInfo, ...] = ()

    @property
    def precision(self) -> str:
        """The layer's precision from its tensors' types, TREx-style: ``FP16``, or
        ``FP32→FP16`` where it reads one and writes another; '' when no type is known.

        Float types win over integer ones (a Gather reads INT64 indices but runs in its
        data's type); integer types show only where a layer has no float tensor.
        """
        ins, outs = _types(self.inputs), _types(self.outputs)
        if not ins and not outs:
            return ""
        if not ins or not outs or ins == outs:
            return "+".join(ins or outs)
        return f"{'+'.join(ins)}→{'+'.join(outs)}"

    def float_types(self) -> set[str]:
        return {t.dtype for t in (*self.inputs, *self.outputs) if t.dtype in FLOAT_TYPES}

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "layer_type": self.layer_type, "tactic": self.tactic,
                "onnx_nodes": list(self.onnx_nodes), "precision": self.precision,
                "inputs": [t.to_dict() for t in self.inputs],
                "outputs": [t.to_dict() for t in self.outputs]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EngineLayerInfo:
        return cls(str(data["name"]), str(data.get("layer_type", "")),
                   str(data.get("tactic", "")), tuple(data.get("onnx_nodes", ())),
                   tuple(EngineTensorInfo.from_dict(t) for t in data.get("inputs", ())),
                   tuple(EngineTensorInfo.from_dict(t) for t in data.get("outputs", ())))


def _types(tensors: tuple[EngineTensorInfo, ...]) -> list[str]:
    known = [t.dtype for t in tensors if t.dtype]
    floats = [t for t in known if t in FLOAT_TYPES]
    return list(dict.fromkeys(floats or known))


@dataclass(frozen=True)
class EngineCard:
    """What an engine was built from, with, and for (the ``<engine>.json`` sidecar)."""

    flavour: str
    trt_version: str
    settings: BuildSettings
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    onnx_sha256: str
    plan_sha256: str
    plan_size: int
    onnx_path: str | None = None
    compute_capabilities: tuple[str, ...] = ()
    gpu_name: str | None = None
    strongly_typed: bool = False
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    workbench_version: str = ""
    layers: tuple[EngineLayerInfo, ...] = ()
    layers_source: str = "none"

    @property
    def profiles(self) -> tuple[tuple[ShapeProfile, ...], ...]:
        return self.settings.profiles

    @property
    def flavour_label(self) -> str:
        return flavour_label(self.flavour, self.trt_version)

    def target_text(self) -> str:
        """"compute capability 8.9" / "the GPU NVIDIA L4" / "the default RTX targets"."""
        if self.compute_capabilities:
            caps = ", ".join(self.compute_capabilities)
            plural = "ies" if len(self.compute_capabilities) > 1 else "y"
            return f"compute capabilit{plural} {caps}"
        if self.gpu_name:
            return f"the GPU {self.gpu_name}"
        return "the default targets of " + self.flavour_label

    def to_dict(self) -> dict[str, Any]:
        return {
            "card_format": CARD_FORMAT, "flavour": self.flavour,
            "trt_version": self.trt_version, "settings": self.settings.to_dict(),
            "profiles": [[s.to_dict() for s in p] for p in self.profiles],
            "inputs": [t.to_dict() for t in self.inputs],
            "outputs": [t.to_dict() for t in self.outputs],
            "onnx_path": self.onnx_path, "onnx_sha256": self.onnx_sha256,
            "plan_sha256": self.plan_sha256, "plan_size": self.plan_size,
            "compute_capabilities": list(self.compute_capabilities),
            "gpu_name": self.gpu_name, "strongly_typed": self.strongly_typed,
            "created": self.created, "workbench_version": self.workbench_version,
            "layers_source": self.layers_source,
            "layers": [layer.to_dict() for layer in self.layers],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EngineCard:
        """Inverse of ``to_dict``; raises KeyError/TypeError/ValueError when malformed."""
        return cls(
            flavour=str(data["flavour"]), trt_version=str(data["trt_version"]),
            settings=BuildSettings.from_dict(data["settings"]),
            inputs=tuple(TensorSpec.from_dict(t) for t in data["inputs"]),
            outputs=tuple(TensorSpec.from_dict(t) for t in data["outputs"]),
            onnx_sha256=str(data["onnx_sha256"]), plan_sha256=str(data["plan_sha256"]),
            plan_size=int(data["plan_size"]), onnx_path=data.get("onnx_path"),
            compute_capabilities=tuple(str(cc) for cc in data.get("compute_capabilities", ())),
            gpu_name=data.get("gpu_name"), strongly_typed=bool(data.get("strongly_typed")),
            created=str(data.get("created", "")),
            workbench_version=str(data.get("workbench_version", "")),
            layers=tuple(EngineLayerInfo.from_dict(x) for x in data.get("layers", ())),
            layers_source=str(data.get("layers_source", "none")),
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n"


@dataclass(frozen=True)
class EngineArtifact:
    """A freshly built engine: the plan bytes, its card and the log captured while building."""

    plan: bytes = field(repr=False)
    card: EngineCard
    log: tuple[LogRecord, ...] = ()
    # strongly typed FP16/BF16 builds: what the graph conversion ran in which precision
    conversion: ConversionReport | None = None

    @property
    def log_lines(self) -> list[str]:
        return [record.text for record in self.log]

    @property
    def layers(self) -> tuple[EngineLayerInfo, ...]:
        return self.card.layers

    def __len__(self) -> int:
        return len(self.plan)


def save_engine(artifact: EngineArtifact, path: str | os.PathLike[str], *,
                overwrite: bool = False) -> Path:
    """Write the plan to ``path`` and its card to ``<path>.json``, atomically.

    Each file goes through ``workbench.core.fileio.write_atomic``: a temporary file in the
    same folder, fsynced, then moved into place (never replacing an existing file, even one
    a racing writer created, unless ``overwrite=True``). When the card cannot be written,
    the plan this call placed is removed again. Returns the engine path.

    Raises:
        EngineSaveError: a target exists (and ``overwrite`` is False), or writing failed.
    """
    target = Path(path).expanduser()
    card_target = card_path_for(target)
    if not overwrite:
        refuse_existing_engine(target)
    if not target.parent.is_dir():
        raise EngineSaveError(
            f"Cannot save {target.name}: the folder {target.parent} does not exist.",
            expected="an existing folder", found="no such folder",
            fix=f"create it first (mkdir -p {target.parent})",
        )
    _write(artifact.plan, target, overwrite)
    try:
        _write(artifact.card.to_json().encode(), card_target, overwrite)
    except BaseException:
        if not overwrite:  # only remove what this call created; never a user's file
            with contextlib.suppress(OSError):
                target.unlink()
        raise
    return target


def refuse_existing_engine(path: str | os.PathLike[str]) -> None:
    """Raise EngineSaveError when an engine or its card exists at ``path`` (the check
    ``save_engine`` makes; the CLI makes it before a long build, too)."""
    target = Path(path).expanduser()
    for existing in (target, card_path_for(target)):
        if existing.exists():
            raise EngineSaveError(
                f"{existing} already exists; it was not touched.",
                expected="a path where no engine or card exists yet",
                found=f"an existing file of {existing.stat().st_size} bytes",
                fix="choose another path, or pass overwrite=True (CLI: --overwrite)",
            )


def _write(data: bytes, target: Path, overwrite: bool) -> None:
    try:
        write_atomic(target, data, overwrite=overwrite)
    except FileExistsError as err:
        raise EngineSaveError(
            f"{target} appeared while saving; it was not touched.",
            expected="a path where no file exists", found="a file created by someone else",
            fix="choose another path, or pass overwrite=True",
        ) from err
    except OSError as err:
        raise EngineSaveError(
            f"Cannot write {target}.",
            expected="a writable folder with enough free space",
            found=f"{type(err).__name__}: {err}", fix="check permissions and free space",
        ) from err
