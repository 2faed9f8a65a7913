"""Reduced-precision graphs: the FP16/BF16 path of strongly typed TensorRT.

TensorRT 11 and TensorRT-RTX have no FP16 builder flag: precision is whatever the ONNX
graph says. So FP16 (or BF16) means converting the graph (weights and activations),
keeping the model's input and output types, and optionally keeping chosen nodes in FP32.
The same conversion feeds the builder and the accuracy comparison, so what is measured is
what gets built.

The output is type-consistent by construction: every tensor a node reads is fetched in
the type that node's schema needs, and a Cast is inserted (once per tensor and type) where
the tensor exists only in another type. That covers graph inputs feeding MatMul/Conv,
edges between FP32-kept nodes and FP16 math, graph outputs also read inside the graph
(the FP16 producer keeps feeding FP16 consumers; only the output itself is cast back), a
model's own ``Cast(to=FLOAT)`` inside an FP16 region (it becomes a Cast to FP16 when only
FP16 math reads it), and ``If``/``Loop``/``Scan`` bodies, converted with the same rules
and reading outer-scope tensors through their own Casts. The result is then checked
(``workbench.transforms.precision.typing_rules.check_types``) before anyone gets it.

Compared with onnxconverter-common's ``float16`` (which converts value_info types and
patches Casts around block-listed nodes, then drops cast pairs — the source of the mixed
graphs of issue 17) and ModelOpt AutoCast (which removes the model's own casts and adds
its own, and keeps If/Loop/Scan whole in FP32), this works per edge and per schema type
parameter, so it needs neither cast clean-up nor a control-flow exclusion.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import onnx

from workbench.core.errors import BuildSettingsError
from workbench.graph import walk_graphs
from workbench.settings.fields import Precision, PrecisionArg, reduced_precision
from workbench.transforms.naming import name_nodes
from workbench.transforms.precision.report import (
    BLOCKED_OPERATOR,
    KEPT_BY_USER,
    TYPE_RULE,
    Conversion,
    ConversionReport,
    KeptNode,
)
from workbench.transforms.precision.typing_rules import check_types, refuse_stale_types
from workbench.transforms.precision.values import low_type_of, round_to
from workbench.transforms.precision.walk import GraphConverter

__all__ = [
    "BLOCKED_OPERATOR",
    "KEPT_BY_USER",
    "TYPE_RULE",
    "Conversion",
    "ConversionReport",
    "KeptNode",
    "convert_precision",
    "convert_to_fp16",
    "convert_weight",
    "convert_weight_to_fp16",
    "missing_nodes",
]

def missing_nodes(model: onnx.ModelProto, names: Iterable[str]) -> list[str]:
    """The names in ``names`` that are not node names of the model (subgraphs included)."""
    wanted = dict.fromkeys(names)
    if not wanted:  # nothing to look for: no walk over every graph
        return []
    present = {node.name for _, graph in walk_graphs(model.graph) for node in graph.node}
    return [name for name in wanted if name not in present]


def convert_to_fp16(model: onnx.ModelProto, keep_fp32: Iterable[str] = ()) -> onnx.ModelProto:
    """Return a float16 copy of ``model``; I/O types stay as they were.

    Args:
        model: An FP32 ONNX model (with its weights loaded).
        keep_fp32: Names of nodes to leave in FP32 (Casts are inserted around them).
    """
    return convert_precision(model, Precision.FP16, keep_fp32).model


def convert_weight(values: np.ndarray, precision: Precision = Precision.FP16) -> np.ndarray:
    """One FP32 weight's values as ``convert_precision`` converts them (FP16: clamped
    to ±65504; BF16: rounded). For weights the conversion left on disk with their new type
    (external data), converted by the caller one tensor at a time."""
    return round_to(values, low_type_of(precision))[0]


def convert_weight_to_fp16(values: np.ndarray) -> np.ndarray:
    """``convert_weight`` to FP16."""
    return convert_weight(values, Precision.FP16)


def convert_precision(model: onnx.ModelProto, precision: PrecisionArg = Precision.FP16,
                      keep_fp32: Iterable[str] = ()) -> Conversion:
    """Convert ``model`` to FP16 or BF16 (I/O types kept), check it, and report what ran where.

    ``precision`` is ``Precision.FP16`` / ``Precision.BF16`` or their text (``"fp16"``).

    Raises:
        BuildSettingsError: ``precision`` is not FP16 or BF16, or ``keep_fp32`` names nodes
            the model does not have.
        ConversionError: the result would mix types (names the node and both types), or
            declare a value with two types (names the value).
    """
    precision = reduced_precision(precision, error=BuildSettingsError,
                                  summary="Precision {found} has no graph conversion.")
    keep = tuple(dict.fromkeys(keep_fp32))
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    name_nodes(copy, in_place=True)  # the names reports and keep lists use (transforms.naming)
    unknown = missing_nodes(copy, keep)
    if unknown:  # a silent no-op here would build the very nodes the user meant to keep
        raise BuildSettingsError(
            "keep_fp32 names nodes that are not in the model.",
            expected="node names of this graph (not tensor names)",
            found=", ".join(unknown),
            fix="list the node names in the panel's Model tab (the node table), or with "
            "`trt-workbench inspect MODEL --layers`",
        )
    low = low_type_of(precision)
    converter = GraphConverter(copy, precision, low, frozenset(keep))
    converter.convert_graph(copy.graph, "", {})
    refuse_stale_types(copy, precision)  # named here, before inference's vaguer message
    check_types(copy, precision, original=model)
    return Conversion(copy, converter.report(), converter.views)
