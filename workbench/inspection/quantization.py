"""What a quantized ONNX model contains: Q/DQ pairs and their scales, or ORT's integer ops.

For the Model tab, parse triage and the quantizer's own checks. A Q/DQ model keeps float
operators and puts ``QuantizeLinear -> DequantizeLinear`` in front of them; weights are
stored already quantized, read by a DequantizeLinear alone. ONNX Runtime's QOperator and
dynamic formats (``QLinearConv``, ``MatMulInteger``, ``DynamicQuantizeLinear``, ...) are
integer arithmetic, which TensorRT does not import. Onnx only; scales are read from
initializers (they are small and stay inline even in external-data models).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from workbench.graph import GraphValues, graph_values
from workbench.inspection.protos import dtype_name

__all__ = ["QOPERATOR_OPS", "QuantInfo", "QuantizedTensor", "quantization_info"]

QOPERATOR_OPS = frozenset({
    "DynamicQuantizeLinear", "MatMulInteger", "ConvInteger", "QLinearConv", "QLinearMatMul",
    "DynamicQuantizeMatMul", "MatMulIntegerToFloat", "QGemm", "QAttention", "QLinearAdd",
    "QLinearMul", "QLinearConcat", "QLinearSigmoid", "QLinearLeakyRelu",
    "QLinearGlobalAveragePool", "QLinearAveragePool", "QLinearSoftmax", "QLinearWhere",
    "DynamicQuantizeLSTM", "QEmbedLayerNormalization",
})
# Element types TensorRT's DequantizeLinear accepts (its parser's message lists them)
TENSORRT_QDQ_TYPES = frozenset({"int8", "uint8", "float8_e4m3fn", "int4", "float4_e2m1"})


@dataclass(frozen=True)
class QuantizedTensor:
    """One DequantizeLinear: which float tensor it stands for, to what, with which scale."""

    tensor: str  # the float tensor quantized (an activation, or a weight's name)
    dequantize_node: str
    quantize_node: str | None  # None for a weight stored quantized
    kind: str  # "activation", "weight" or "bias"
    dtype: str  # the quantized type: "int8", "float8_e4m3fn", "int32", ...
    scale_min: float | None
    scale_max: float | None
    channels: int  # 1 per-tensor, else the number of per-channel scales
    zero_point_max_abs: float | None
    consumers: tuple[str, ...]  # nodes reading the dequantized value

    @property
    def bad_scale(self) -> str:
        """Why this scale is unusable ('' when it is fine)."""
        if self.scale_min is None or self.scale_max is None:
            return ""
        if math.isnan(self.scale_min) or math.isnan(self.scale_max):
            return "NaN scale"
        if math.isinf(self.scale_max):
            return "infinite scale"
        if self.scale_min <= 0:
            return "scale <= 0"
        return ""

    def describe(self) -> str:
        scale = ("?" if self.scale_min is None else f"{self.scale_min:.3g}"
                 if self.channels == 1 else f"{self.scale_min:.3g}..{self.scale_max:.3g} "
                 f"({self.channels} channels)")
        into = ", ".join(self.consumers[:3]) + (" ..." if len(self.consumers) > 3 else "")
        return f"{self.kind} {self.tensor} -> {self.dtype}, scale {scale}, into {into or '-'}"

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__, consumers=list(self.consumers))


@dataclass(frozen=True)
class QuantInfo:
    """The quantization found in a model."""

    format: str  # "qdq", "qoperator", "qdq+qoperator" or "none"
    tensors: tuple[QuantizedTensor, ...]
    qoperator_nodes: tuple[tuple[str, str], ...]  # (node name, op type)
    quantized_nodes: tuple[tuple[str, str], ...]  # float nodes reading a dequantized value

    @property
    def quantized(self) -> bool:
        return self.format != "none"

    @property
    def int32_dequantize(self) -> tuple[QuantizedTensor, ...]:
        """DequantizeLinear nodes TensorRT refuses: their input is int32 (ORT's biases)."""
        return tuple(t for t in self.tensors if t.dtype not in TENSORRT_QDQ_TYPES)

    @property
    def asymmetric(self) -> tuple[QuantizedTensor, ...]:
        """Q/DQ with a non-zero zero point: TensorRT takes symmetric quantization only."""
        return tuple(t for t in self.tensors if t.zero_point_max_abs
                     and t.dtype in TENSORRT_QDQ_TYPES)

    @property
    def bad_scales(self) -> tuple[QuantizedTensor, ...]:
        return tuple(t for t in self.tensors if t.bad_scale)

    def lines(self) -> list[str]:
        """Words for the Model tab."""
        if not self.quantized:
            return ["not quantized (no QuantizeLinear/DequantizeLinear, no integer operators)"]
        kinds: dict[str, int] = {}
        for t in self.tensors:
            kinds[f"{t.kind} {t.dtype}"] = kinds.get(f"{t.kind} {t.dtype}", 0) + 1
        lines = [f"format {self.format}: {len(self.tensors)} DequantizeLinear ("
                 + ", ".join(f"{k} ×{n}" for k, n in kinds.items()) + f"), "
                 f"{len(self.quantized_nodes)} float nodes read dequantized values"]
        if self.int32_dequantize:
            lines.append(f"{len(self.int32_dequantize)} DequantizeLinear read int32 "
                         "(quantized biases): TensorRT refuses them; re-quantize with "
                         "QuantizeBias False (session.quantize / trt-workbench quantize)")
        if self.asymmetric:
            lines.append(f"{len(self.asymmetric)} Q/DQ pairs have a non-zero zero point "
                         "(asymmetric): TensorRT refuses them; re-quantize symmetric (the "
                         "TensorRT preset: session.quantize / trt-workbench quantize)")
        if self.qoperator_nodes:
            ops = sorted({op for _, op in self.qoperator_nodes})
            lines.append(f"{len(self.qoperator_nodes)} ONNX Runtime integer operators ("
                         + ", ".join(ops) + "): TensorRT has no importer for them")
        lines += [f"{t.tensor}: {t.bad_scale}" for t in self.bad_scales]
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {"format": self.format, "tensors": [t.to_dict() for t in self.tensors],
                "qoperator_nodes": [list(n) for n in self.qoperator_nodes],
                "quantized_nodes": [list(n) for n in self.quantized_nodes]}


def quantization_info(model: onnx.ModelProto) -> QuantInfo:
    """Q/DQ pairs (with scales), ORT integer operators, and the nodes they quantize."""
    graph = model.graph
    values = graph_values(graph)
    tensors = []
    dq_outputs: set[str] = set()
    for node in graph.node:
        if node.op_type != "DequantizeLinear" or not node.input:
            continue
        dq_outputs.update(node.output)
        tensors.append(_dequantized(node, values))
    qop = tuple((n.name, n.op_type) for n in graph.node if n.op_type in QOPERATOR_OPS)
    readers = tuple((n.name, n.op_type) for n in graph.node
                    if n.op_type not in ("QuantizeLinear", "DequantizeLinear")
                    and any(i in dq_outputs for i in n.input))
    qdq = bool(tensors)
    fmt = ("qdq+qoperator" if qdq and qop else "qdq" if qdq else "qoperator" if qop else "none")
    return QuantInfo(fmt, tuple(tensors), qop, readers)


def _dequantized(node: onnx.NodeProto, values: GraphValues) -> QuantizedTensor:
    source = node.input[0]
    q_node = values.producer(source)
    if q_node is not None and q_node.op_type == "QuantizeLinear":
        tensor, kind, quant = q_node.input[0], "activation", q_node.name
        dtype = _quantize_type(q_node, values)
    else:
        stored = values.constant(source)
        tensor, quant = source, None
        dtype = dtype_name(stored.data_type) if stored is not None else "unknown"
        kind = "bias" if dtype == "int32" else "weight"
    scale = _values(node.input[1] if len(node.input) > 1 else "", values)
    zero = _values(node.input[2] if len(node.input) > 2 else "", values)
    readers = tuple(dict.fromkeys(use.node.name for out in node.output
                                  for use in values.uses(out)))
    return QuantizedTensor(
        tensor, node.name, quant, kind, dtype,
        None if scale is None or not scale.size else float(np.min(scale)),
        None if scale is None or not scale.size else float(np.max(scale)),
        1 if scale is None else max(int(scale.size), 1),
        None if zero is None or not zero.size else float(np.max(np.abs(zero))),
        readers)


def _quantize_type(node: onnx.NodeProto, values: GraphValues) -> str:
    """A QuantizeLinear's output type: its zero point's, else ``output_dtype``, else uint8."""
    if len(node.input) > 2 and node.input[2]:
        zero = values.constant(node.input[2])
        if zero is not None:
            return dtype_name(zero.data_type)
    for attr in node.attribute:
        if attr.name == "output_dtype" and attr.i:
            return dtype_name(attr.i)
    return "uint8"  # the ONNX default


def _values(name: str, values: GraphValues) -> np.ndarray | None:
    tensor = values.constant(name)
    if tensor is None or tensor.data_location == onnx.TensorProto.EXTERNAL:
        return None
    try:
        return np.asarray(numpy_helper.to_array(tensor), dtype=np.float64)
    except (ValueError, TypeError):  # float8 zero points convert through ml_dtypes only
        return None
