"""Oversized pooling windows that are global pools, rewritten as GlobalAveragePool/MaxPool.

HF's EfficientNet pools with ``nn.AvgPool2d(1280, ceil_mode=True)``: exported, an
AveragePool with ``kernel_shape`` [1280, 1280] on a 7×7 map. TensorRT's parser refuses it
(the window's volume is beyond ``maxKernelDimsProduct``), yet the window covers the whole
input once, so it is exactly a global pool, which TensorRT imports. The rewrite applies only
when that holds: no padding, no dilation, one output position per axis whose window starts
at 0 and reaches past the input's end, and (MaxPool) no Indices output. With no padding,
``count_include_pad`` changes nothing: the window's divisor is the input's size.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import onnx

from workbench.core.errors import WorkbenchError
from workbench.graph import graph_values
from workbench.inspection.loading import ModelSource
from workbench.transforms.external import save_staged, staged_model, without_weights

__all__ = ["GLOBAL_OF", "GlobalPool", "global_pools", "rewrite_global_pools"]

GLOBAL_OF = {"AveragePool": "GlobalAveragePool", "MaxPool": "GlobalMaxPool"}


@dataclass(frozen=True)
class GlobalPool:
    """A pooling node whose window covers its whole input."""

    node: str
    op_type: str
    kernel: tuple[int, ...]
    spatial: tuple[int, ...]  # the input's spatial sizes

    @property
    def replacement(self) -> str:
        return GLOBAL_OF[self.op_type]

    def describe(self) -> str:
        window = "×".join(map(str, self.kernel))
        size = "×".join(map(str, self.spatial))
        return (f"{self.node} ({self.op_type}, window {window} on a {size} input) is a "
                f"{self.replacement}")


def _ints(node: onnx.NodeProto, name: str) -> list[int] | None:
    attr = next((a for a in node.attribute if a.name == name), None)
    return None if attr is None else list(attr.ints)


def _int(node: onnx.NodeProto, name: str, default: int = 0) -> int:
    attr = next((a for a in node.attribute if a.name == name), None)
    return default if attr is None else int(attr.i)


def _auto_pad(node: onnx.NodeProto) -> str:
    attr = next((a for a in node.attribute if a.name == "auto_pad"), None)
    return "NOTSET" if attr is None else attr.s.decode()


def _covers_input(node: onnx.NodeProto, spatial: tuple[int, ...]) -> tuple[int, ...] | None:
    """The kernel, when the node's one window covers all of ``spatial``."""
    kernel = _ints(node, "kernel_shape") or []
    rank = len(spatial)
    strides = _ints(node, "strides") or [1] * rank
    if len(kernel) != rank or any(_ints(node, "pads") or [0]) or \
            any(d != 1 for d in (_ints(node, "dilations") or [1])) or \
            _auto_pad(node) not in ("NOTSET", "VALID"):
        return None
    ceil = bool(_int(node, "ceil_mode"))
    for size, k, s in zip(spatial, kernel, strides, strict=True):
        room = size - k
        out = (-(-room // s) if ceil else room // s) + 1
        if out != 1 or k < size:  # more than one window, or one that leaves input out
            return None
    return tuple(kernel)


def global_pools(model: onnx.ModelProto) -> tuple[GlobalPool, ...]:
    """The AveragePool/MaxPool nodes of the main graph that are global pools."""
    return tuple(pool for _index, pool in _indexed(model))


def _indexed(model: onnx.ModelProto) -> list[tuple[int, GlobalPool]]:
    candidates = [(i, n) for i, n in enumerate(model.graph.node) if n.op_type in GLOBAL_OF
                  and n.domain in ("", "ai.onnx") and len([o for o in n.output if o]) == 1]
    if not candidates:
        return []
    try:
        inferred = onnx.shape_inference.infer_shapes(without_weights(model))
    except Exception:  # shape inference refuses some graphs: then no shapes, no rewrite
        inferred = model
    values = graph_values(inferred.graph)
    found = []
    for index, node in candidates:
        value = values.get(node.input[0])
        dims = (value.shape if value is not None else None) or ()
        if len(dims) < 3 or any(not isinstance(d, int) for d in dims[2:]):
            continue
        spatial = tuple(int(d) for d in dims[2:] if isinstance(d, int))
        kernel = _covers_input(node, spatial)
        if kernel is not None:
            found.append((index, GlobalPool(node.name or f"{node.op_type}_{index}", node.op_type,
                                            kernel, spatial)))
    return found


def rewrite_global_pools(source: ModelSource, out_path: str | os.PathLike[str], *,
                         overwrite: bool = False) -> tuple[Path, tuple[GlobalPool, ...]]:
    """Write a copy of ``source`` with its global-pool windows as Global*Pool nodes.

    Raises:
        WorkbenchError: no node qualifies (nothing is written), or ``out_path`` exists.
    """
    with staged_model(source) as staged:
        model = onnx.ModelProto()
        model.CopyFrom(staged.model)
        indexed = _indexed(model)
        if not indexed:
            raise WorkbenchError(
                "No pooling window here covers its whole input: nothing to rewrite.",
                expected="an AveragePool/MaxPool without padding whose one window covers "
                "the input (kernel_shape ≥ the input's height and width)",
                found="no such node (or its input's size is not known before running)",
                fix="freeze the input shapes first (fold constants with input shapes), or "
                "change the pooling in the model code to a global (adaptive 1×1) pool")
        for index, _pool in indexed:
            node = model.graph.node[index]
            node.op_type = GLOBAL_OF[node.op_type]
            del node.attribute[:]  # the global ops take no attributes
        written = save_staged(model, staged.folder, Path(out_path), overwrite=overwrite)
    return written, tuple(pool for _index, pool in indexed)
