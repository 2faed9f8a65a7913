"""What comparisons of the same model share: its reduced-precision weights and FP32 answer.

A comparison, each keep-list trial and the mask fix's re-run of one model need the same
FP16 (or BF16) weights and, on the same inputs, the same FP32 outputs. Both are computed
once and kept for the next run:

- **weights** are converted one tensor at a time from the file's bytes (memory-mapped, so
  the FP32 values are never copied; ONNX Runtime's cast, see
  ``workbench.backends.ort.cast_array``), keyed by where those bytes are: the data
  file's path, device, inode, size and modification time, the offset and length, and the
  precision. A weight is never converted twice while its file is unchanged.
- **FP32 reference outputs** are keyed by the same file identities and a digest of the
  feeds.
- **copies**: a model file written as a rewrite of another (the mask fix's clamped copy,
  whose weights are the original's bytes) takes over the original's converted weights
  (``same_weights``) instead of converting them again.

Only the last model's entries are kept (converting another model or precision drops them
first, so two models' weights are never held together); ``clear`` frees them at once.
Models given as bytes or a ``ModelProto`` have no file identity and are never cached.
Kept arrays are read-only, so no evaluation can change them for the next one.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import numpy as np
import onnx

from workbench.backends.ort import cast_array
from workbench.inspection.external_data import external_weight
from workbench.settings.fields import Precision
from workbench.transforms.precision.values import low_type_of, round_to

__all__ = ["clear", "converted_weight", "file_identity", "model_identity", "reference_outputs",
           "remember_reference", "same_weights"]

FileIdentity = tuple[str, int, int, int, int]
_lock = threading.Lock()
_weights: dict[tuple[object, ...], np.ndarray] = {}
_weights_owner: tuple[object, ...] | None = None
_references: dict[tuple[object, ...], dict[str, np.ndarray]] = {}
_references_owner: tuple[object, ...] | None = None
# a model file written as a copy of another -> (that other, its weight references -> ours)
Renames = dict[tuple[object, ...], tuple[object, ...]]
_successors: dict[tuple[object, ...], tuple[object, Renames]] = {}
_MAX_REFERENCES = 8  # feeds per model: a keep-list search or a session's re-runs use one


def clear() -> None:
    """Forget every kept weight and reference output (their memory is freed)."""
    global _weights_owner, _references_owner
    with _lock:
        _weights.clear()
        _references.clear()
        _successors.clear()
        _weights_owner = _references_owner = None


def file_identity(path: Path) -> FileIdentity | None:
    """Path, device, inode, size and modification time: what changes when a file does."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (str(Path(path).resolve()), stat.st_dev, stat.st_ino, stat.st_size,
            stat.st_mtime_ns)


def model_identity(path: Path | None, model: onnx.ModelProto,
                   folder: Path | None) -> tuple[FileIdentity, ...] | None:
    """The identities of a model file and every external data file it reads; None when
    the model has no file (or one of them cannot be stat'ed)."""
    if path is None:
        return None
    files = {Path(path)}
    files.update((folder or Path(path).parent) / _location(t)
                 for t in model.graph.initializer
                 if t.data_location == onnx.TensorProto.EXTERNAL)
    identities = [file_identity(f) for f in sorted(files)]
    if any(i is None for i in identities):
        return None
    return tuple(i for i in identities if i is not None)


def _location(tensor: onnx.TensorProto) -> str:
    return next((e.value for e in tensor.external_data if e.key == "location"), "")


def _weight_key(tensor: onnx.TensorProto, precision: Precision | None) -> tuple[object, ...]:
    info = {e.key: e.value for e in tensor.external_data}
    return (precision, info.get("location"), info.get("offset"), info.get("length"),
            tensor.data_type, tuple(tensor.dims))


def same_weights(source: tuple[FileIdentity, ...] | None,
                 target: tuple[FileIdentity, ...] | None,
                 pairs: Iterable[tuple[onnx.TensorProto, onnx.TensorProto]]) -> None:
    """Say that the model file ``target`` holds, in each pair's second (external) tensor,
    the very bytes of ``source``'s first: a rewrite that copied them (the mask fix's
    clamped copy). When ``target``'s weights are next asked for, those of ``source`` still
    kept are handed over under ``target``'s references instead of being converted again
    (the others are dropped: one model's weights at a time, as ever)."""
    if source is None or target is None or source == target:
        return
    renames: Renames = {a_key[1:]: b_key[1:] for a_key, b_key in
               ((_weight_key(a, None), _weight_key(b, None)) for a, b in pairs)}
    with _lock:
        _successors[target] = (source, renames)


def _switch_owner(owner: tuple[FileIdentity, ...], precision: Precision) -> None:
    """Make ``owner`` the model whose weights are kept (call with the lock held)."""
    global _weights_owner
    source, renames = _successors.pop(owner, (None, {}))
    carried: dict[tuple[object, ...], np.ndarray] = {}
    if _weights_owner == (source, precision):  # a copy of the kept model: its weights carry
        carried = {(precision, *renames[key[1:]]): value for key, value in _weights.items()
                   if key[1:] in renames}
    _weights.clear()  # another model: its weights go before these are converted
    _weights.update(carried)
    _weights_owner = (owner, precision)


def converted_weight(tensor: onnx.TensorProto, folder: Path, precision: Precision,
                     owner: tuple[FileIdentity, ...] | None) -> np.ndarray:
    """The reduced-precision values of one external FP32 weight (kept for ``owner``)."""
    if owner is None:
        return _convert(tensor, folder, precision)
    key = _weight_key(tensor, precision)
    with _lock:
        if _weights_owner != (owner, precision):
            _switch_owner(owner, precision)
        kept = _weights.get(key)
    if kept is not None:
        return kept
    values = _convert(tensor, folder, precision)
    values.flags.writeable = False
    with _lock:
        if _weights_owner == (owner, precision):
            _weights[key] = values
    return values


def _convert(tensor: onnx.TensorProto, folder: Path, precision: Precision) -> np.ndarray:
    mapped = external_weight(tensor, folder, mapped=True)
    try:
        return round_to(mapped, low_type_of(precision), cast_array)[0]
    finally:
        del mapped  # the mapping closes with its last view


def _digest(feeds: Mapping[str, np.ndarray]) -> str:
    digest = hashlib.sha256()
    for name in sorted(feeds):
        value = np.ascontiguousarray(feeds[name])
        digest.update(f"{name}|{value.dtype.str}|{value.shape}|".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def reference_outputs(owner: tuple[FileIdentity, ...] | None, feeds: Mapping[str, np.ndarray],
                      run: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The FP32 outputs on ``feeds``: kept ones for this model and feeds, else ``run()``."""
    if owner is None:
        return run()
    key = (_digest(feeds),)
    with _lock:
        kept = _references.get(key) if _references_owner == owner else None
    if kept is not None:
        return {name: value.copy() for name, value in kept.items()}  # the caller's to change
    return remember_reference(owner, feeds, run())


def remember_reference(owner: tuple[FileIdentity, ...] | None, feeds: Mapping[str, np.ndarray],
                       outputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Keep ``outputs`` as the FP32 answer of ``owner`` on ``feeds``; returns them."""
    global _references_owner
    if owner is None:
        return outputs
    key = (_digest(feeds),)
    with _lock:
        if _references_owner != owner:
            _references.clear()
            _references_owner = owner
        while len(_references) >= _MAX_REFERENCES:
            _references.pop(next(iter(_references)))
        _references[key] = {name: _frozen(np.array(value)) for name, value in outputs.items()}
    return outputs


def _frozen(value: np.ndarray) -> np.ndarray:
    value.flags.writeable = False  # a kept copy: no caller can change the next run's answer
    return value

