"""What a build learns of a model file, kept per file version: its SHA-256 and its graph.

Every build validated the ONNX file (``parser.parse`` accepts garbage, so the workbench
parses the protobuf itself first) and hashed it for the engine card: about 0.4 s per 100 MB,
which made a rebuild of an unchanged 100 MB model 1.7× the bare TensorRT script. A file
version is its path, size, modification time and inode; while it is unchanged, the next
build reuses both. The graph is kept without its large weights (what specs, profiles and
facts read), so the cache costs kilobytes, never a copy of the weights. Bytes handed over
in memory are not cached (recognising them would mean hashing them).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import onnx

from workbench.inspection.loading import ModelFile

__all__ = ["FileVersion", "known_version", "remember_version", "version_key"]

_LIMIT = 16  # file versions remembered per process
_lock = threading.Lock()
_known: OrderedDict[tuple[str, int, int, int], FileVersion] = OrderedDict()


@dataclass(frozen=True)
class FileVersion:
    """A validated file version: its SHA-256 and its graph without large weights."""

    sha256: str
    graph: onnx.ModelProto


def version_key(model_file: ModelFile) -> tuple[str, int, int, int] | None:
    """(path, size, mtime_ns, inode) of a file read from a path; None for bytes."""
    if model_file.path is None:
        return None
    try:
        stat = Path(model_file.path).stat()
    except OSError:
        return None
    return str(model_file.path), stat.st_size, stat.st_mtime_ns, stat.st_ino


def known_version(key: tuple[str, int, int, int] | None) -> FileVersion | None:
    if key is None:
        return None
    with _lock:
        found = _known.get(key)
        if found is not None:
            _known.move_to_end(key)
        return found


def remember_version(key: tuple[str, int, int, int] | None, sha256: str,
                     graph: onnx.ModelProto) -> None:
    """Keep what a successful build learnt of this file version (``graph`` weightless)."""
    if key is None:
        return
    with _lock:
        _known[key] = FileVersion(sha256, graph)
        while len(_known) > _LIMIT:
            _known.popitem(last=False)
