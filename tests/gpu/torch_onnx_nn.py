"""The compute-heavy operators of ``torch_onnx``: GEMMs, convolutions, pooling, resizing,
control flow, ONNX Runtime's integer quantization ops and ai.onnx.ml's LinearClassifier.

Imported by ``torch_onnx`` at its end; registers into its ``OPS`` table.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from torch_onnx import Attrs, Tensor, TorchGraph, ints, op

__all__: list[str] = []


@op("MatMul")
def _matmul(g: TorchGraph, node: onnx.NodeProto, x: list[Any], a: Attrs) -> list[Tensor]:
    return [torch.matmul(x[0], x[1])]


@op("Gemm")
def _gemm(g: TorchGraph, node: onnx.NodeProto, x: list[Any], a: Attrs) -> list[Tensor]:
    left = x[0].t() if a.get("transA", 0) else x[0]
    right = x[1].t() if a.get("transB", 0) else x[1]
    out = torch.matmul(left, right)
    if a.get("alpha", 1.0) != 1.0:
        out = out * a["alpha"]
    if len(x) > 2 and x[2] is not None:
        out = out + (x[2] * a["beta"] if a.get("beta", 1.0) != 1.0 else x[2])
    return [out]


@op("Einsum")
def _einsum(g: TorchGraph, node: onnx.NodeProto, x: list[Any], a: Attrs) -> list[Tensor]:
    equation = a["equation"]
    equation = equation.decode() if isinstance(equation, bytes) else equation
    return [torch.einsum(equation, *x)]


def _padding(a: Attrs, data: Tensor, kernel: list[int], strides: list[int],
             dilations: list[int]) -> list[int]:
    """ONNX pads [x1_begin, x2_begin, ..., x1_end, ...] → F.pad's order (last dim first)."""
    spatial = list(data.shape[2:])
    mode = a.get("auto_pad", b"NOTSET")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    if mode in ("SAME_UPPER", "SAME_LOWER"):
        begins, ends = [], []
        for size, k, s, d in zip(spatial, kernel, strides, dilations, strict=True):
            total = max(0, (-(-size // s) - 1) * s + (k - 1) * d + 1 - size)
            small, large = total // 2, total - total // 2
            begins.append(small if mode == "SAME_UPPER" else large)
            ends.append(large if mode == "SAME_UPPER" else small)
        pads = begins + ends
    elif mode == "VALID":
        pads = [0] * (2 * len(spatial))
    else:
        pads = list(a.get("pads", [0] * (2 * len(spatial))))
    half = len(pads) // 2
    torch_order: list[int] = []
    for axis in reversed(range(half)):
        torch_order += [pads[axis], pads[axis + half]]
    return torch_order


def _conv(data: Tensor, weight: Tensor, bias: Tensor | None, a: Attrs) -> Tensor:
    kernel = list(weight.shape[2:])
    rank = len(kernel)
    strides = list(a.get("strides", [1] * rank))
    dilations = list(a.get("dilations", [1] * rank))
    padded = F.pad(data, _padding(a, data, kernel, strides, dilations))
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[rank]
    return conv(padded, weight, bias, stride=strides, dilation=dilations, groups=a.get("group", 1))


@op("Conv")
def _conv_op(g: TorchGraph, node: onnx.NodeProto, x: list[Any], a: Attrs) -> list[Tensor]:
    return [_conv(x[0], x[1], x[2] if len(x) > 2 else None, a)]


@op("MaxPool")
def _max_pool(g: TorchGraph, node: onnx.NodeProto, x: list[Any], a: Attrs) -> list[Tensor]:
    kernel = list(a["kernel_shape"])
    rank = len(kernel)
    strides = list(a.get("strides", [1] * rank))
    dilations = list(a.get("dilations", [1] * rank))
    padded = F.pad(x[0], _padding(a, x[0], kernel, strides, dilations), value=-float("inf"))
    pool = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}[rank]
    return [pool(padded, kernel, strides, 0, dilations, ceil_mode=bool(a.get("ceil_mode", 0)))]


def _text(value: Any, default: str) -> str:
    if value is None:
        return default
    return value.decode() if isinstance(value, bytes) else str(value)


def _nearest_index(out_size: int, in_size: int, scale: float, a: Attrs) -> list[int]:
    """Source index of each output position, as ONNX Resize (nearest) defines it."""
    mode = _text(a.get("coordinate_transformation_mode"), "half_pixel")
    rounding = _text(a.get("nearest_mode"), "round_prefer_floor")
    picked = []
    for i in range(out_size):
        if mode == "asymmetric":
            src = i / scale
        elif mode == "align_corners":
            src = 0.0 if out_size == 1 else i * (in_size - 1) / (out_size - 1)
        elif mode in ("half_pixel", "pytorch_half_pixel"):
            src = (i + 0.5) / scale - 0.5 if (out_size > 1 or mode == "half_pixel") else 0.0
        else:
            raise NotImplementedError(f"Resize coordinate_transformation_mode={mode}")
        if rounding == "floor":
            index = int(np.floor(src))
        elif rounding == "ceil":
            index = int(np.ceil(src))
        elif rounding == "round_prefer_ceil":
            index = int(np.floor(src + 0.5))
        else:  # round_prefer_floor
            index = int(np.ceil(src - 0.5))
        picked.append(min(max(index, 0), in_size - 1))
    return picked


@op("Resize")
def _resize(g: TorchGraph, node: onnx.NodeProto, x: list[Any], a: Attrs) -> list[Tensor]:
    if _text(a.get("mode"), "nearest") != "nearest":
        raise NotImplementedError(f"Resize mode={a.get('mode')!r}")
    data = x[0]
    scales = x[2].double().tolist() if len(x) > 2 and x[2] is not None and x[2].numel() else []
    sizes = ints(x[3]) if len(x) > 3 and x[3] is not None else []
    if sizes:
        scales = [o / i for o, i in zip(sizes, data.shape, strict=True)]
    else:
        sizes = [int(np.floor(i * s)) for i, s in zip(data.shape, scales, strict=True)]
    for axis, (size, scale) in enumerate(zip(sizes, scales, strict=True)):
        if size != data.shape[axis] or scale != 1.0:
            index = _nearest_index(size, data.shape[axis], scale, a)
            data = data.index_select(axis, torch.tensor(index, device=data.device))
    return [data]


@op("If")
def _if(g: TorchGraph, node: onnx.NodeProto, x: list[Any], a: Attrs) -> list[Tensor]:
    branch = a["then_branch"] if bool(x[0].reshape(-1)[0]) else a["else_branch"]
    # the branch sees the enclosing graph's tensors: run_graph's scope is all of them
    values = g.run_graph(branch, g.scope)
    return [values[out.name] for out in branch.output]


# ---- ONNX Runtime's dynamic quantization (integers; exact in float64) ---------------------

@op("DynamicQuantizeLinear")
def _dynamic_quantize(g: TorchGraph, node: onnx.NodeProto, x: list[Any], a: Attrs
                      ) -> list[Tensor]:
    data = x[0].float()
    # tensor ops, not Python min/max: a NaN in the input must reach the scale (as in
    # ONNX's reference and any GPU reduction), not be compared away
    zero_t = torch.zeros((), dtype=torch.float32, device=g.device)
    low, high = torch.minimum(data.min(), zero_t), torch.maximum(data.max(), zero_t)
    scale = torch.where(high > low, (high - low) / 255.0, torch.ones_like(high))
    scale = torch.where(torch.isnan(high - low), high - low, scale)
    zero = torch.clamp(torch.round(-low / scale), 0, 255)
    q = torch.clamp(torch.round(data / scale) + zero, 0, 255)
    return [torch.nan_to_num(q).to(torch.uint8), scale,
            torch.nan_to_num(zero).to(torch.uint8)]


def _minus_zero(value: Tensor, zero: Tensor | None) -> Tensor:
    """value - zero_point in float64 (exact for 8-bit integers); per-channel on axis 0."""
    wide = value.double()
    if zero is None:
        return wide
    offset = zero.double()
    if offset.numel() > 1:
        offset = offset.reshape(-1, *[1] * (value.dim() - 1))
    return wide - offset


@op("MatMulInteger")
def _matmul_integer(g: TorchGraph, node: onnx.NodeProto, x: list[Any], a: Attrs
                    ) -> list[Tensor]:
    left = x[0].double() - (x[2].double() if len(x) > 2 and x[2] is not None else 0)
    right = x[1].double() - (x[3].double() if len(x) > 3 and x[3] is not None else 0)
    return [torch.matmul(left, right).round().to(torch.int32)]


@op("ConvInteger")
def _conv_integer(g: TorchGraph, node: onnx.NodeProto, x: list[Any], a: Attrs) -> list[Tensor]:
    data = x[0].double() - (x[2].double() if len(x) > 2 and x[2] is not None else 0)
    weight = _minus_zero(x[1], x[3] if len(x) > 3 else None)
    return [_conv(data, weight, None, a).round().to(torch.int32)]


# ---- ai.onnx.ml ---------------------------------------------------------------------------

@op("LinearClassifier", domain="ai.onnx.ml")
def _linear_classifier(g: TorchGraph, node: onnx.NodeProto, x: list[Any], a: Attrs
                       ) -> list[Tensor]:
    data = x[0].float()
    labels = list(a.get("classlabels_ints") or [])
    if not labels:
        raise NotImplementedError("LinearClassifier with string labels")
    coefficients = torch.tensor(a["coefficients"], dtype=torch.float32, device=g.device)
    coefficients = coefficients.reshape(-1, data.shape[-1])
    scores = data @ coefficients.t()
    if a.get("intercepts"):
        scores = scores + torch.tensor(a["intercepts"], dtype=torch.float32, device=g.device)
    post = _text(a.get("post_transform"), "NONE")
    if post == "SOFTMAX":
        scores = torch.softmax(scores, dim=-1)
    elif post == "LOGISTIC":
        scores = torch.sigmoid(scores)
    elif post != "NONE":
        raise NotImplementedError(f"LinearClassifier post_transform={post}")
    if scores.shape[-1] == 1:  # binary: one score column, labels[1] when positive
        chosen = (scores[:, 0] > (0.5 if post == "LOGISTIC" else 0.0)).long()
    else:
        chosen = torch.argmax(scores, dim=-1)
    label_table = torch.tensor(labels, dtype=torch.int64, device=g.device)
    return [label_table[chosen], scores]
