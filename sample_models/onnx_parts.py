"""Small building blocks shared by the realistic-model generators (onnx.helper only).

``Weights`` collects initializers. Small models keep them inline; big ones stream each
tensor into one external-data file as it is made, so a 3 GB model never exists twice in
memory (nor once as a ``ModelProto`` with raw bytes).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

__all__ = ["F32_MIN", "IR_VERSION", "OPSET", "Weights", "make_model", "save_inline"]

OPSET = 17  # LayerNormalization needs 17; every TensorRT flavour we support parses it
IR_VERSION = 8
F32_MIN = float(np.finfo(np.float32).min)  # what torch writes for an additive "masked" value
CHUNK = 1 << 24  # elements per write when streaming weights (64 MiB of float32)


def make_model(
    graph: onnx.GraphProto, producer: str, opset: int = OPSET,
    extra_opsets: tuple[tuple[str, int], ...] = (),
) -> onnx.ModelProto:
    opsets = [helper.make_opsetid("", opset)]
    opsets += [helper.make_opsetid(domain, version) for domain, version in extra_opsets]
    model = helper.make_model(graph, opset_imports=opsets, producer_name=producer)
    model.ir_version = IR_VERSION
    return model


def save_inline(model: onnx.ModelProto, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model.SerializeToString())
    return path


class Weights:
    """Initializers, made one at a time: inline, or streamed into ``data_path``.

    ``fill`` is ``"random"`` (seeded normal values times each tensor's scale) or ``"zeros"``
    (streamed as a sparse file: nothing is generated or written but the length).
    """

    def __init__(self, seed: int, data_path: Path | None = None, fill: str = "random") -> None:
        if fill not in ("random", "zeros"):
            raise ValueError(f"fill must be 'random' or 'zeros', not {fill!r}")
        self.rng = np.random.default_rng(seed)
        self.fill = fill
        self.tensors: list[TensorProto] = []
        self.data_path = data_path
        self.offset = 0
        self.bytes = 0
        self._file: BinaryIO | None = open(data_path, "wb") if data_path else None  # noqa: SIM115

    def const(self, name: str, array: np.ndarray) -> str:
        """A small constant (shapes, scalars, masks): always inline, never filled."""
        self.tensors.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def param(self, name: str, shape: tuple[int, ...], scale: float = 0.02,
              base: float = 0.0) -> str:
        """A float32 weight of ``shape``: ``base + scale * normal`` (or zeros)."""
        count = int(np.prod(shape))
        self.bytes += 4 * count
        if self._file is None:
            values = self._values(count, scale, base).reshape(shape)
            self.tensors.append(numpy_helper.from_array(values, name))
            return name
        self._stream(count, scale, base)
        tensor = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=list(shape))
        tensor.data_location = TensorProto.EXTERNAL
        assert self.data_path is not None
        for key, value in (("location", self.data_path.name), ("offset", str(self.offset)),
                           ("length", str(4 * count))):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, value
        self.offset += 4 * count
        self.tensors.append(tensor)
        return name

    def _values(self, count: int, scale: float, base: float) -> np.ndarray:
        if self.fill == "zeros":
            return np.zeros(count, np.float32)
        values = self.rng.standard_normal(count, dtype=np.float32)
        values *= np.float32(scale)
        values += np.float32(base)
        return values

    def _stream(self, count: int, scale: float, base: float) -> None:
        assert self._file is not None
        if self.fill == "zeros":
            self._file.seek(self.offset + 4 * count)  # a hole: read back as zeros
            return
        for start in range(0, count, CHUNK):
            self._file.write(self._values(min(CHUNK, count - start), scale, base).tobytes())

    def close(self) -> None:
        if self._file is not None:
            self._file.truncate(self.offset)  # materialises a trailing hole
            self._file.close()
            self._file = None


def remove_model(path: Path) -> None:
    """Delete a generated model and its external-data file (``<name>.data``), if present."""
    for target in (path, path.with_name(path.name + ".data")):
        if target.exists():
            os.remove(target)
