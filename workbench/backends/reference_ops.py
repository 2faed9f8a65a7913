"""Kernels that replace ``onnx.reference``'s where it disagrees with ONNX Runtime and GPUs.

The CPU evaluator (``workbench.backends.reference``) runs both sides of a precision
comparison with ``onnx.reference``; where that runtime computes something else than ONNX
Runtime and TensorRT, the comparison measures the evaluator instead of the precision. Each
kernel here says which case it fixes and is checked against ONNX Runtime in the tests.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["average_pool", "average_pool_op", "inference_batch_norm_op"]


def average_pool_op() -> type:
    """AveragePool as ONNX Runtime computes it (accumulating in FP32, rounded once).

    onnx.reference pads a ``ceil_mode`` window that runs past the input on BOTH sides (half
    the overhang before the input): an EfficientNet export's pooler (``kernel_shape``
    [1280, 1280], ``ceil_mode=1`` on a 7×7 map, i.e. a global average) read only padding and
    gave all zeros (NaN without ``count_include_pad``), while ONNX Runtime and TensorRT clip
    the window to the input and average what it covers.
    """
    from onnx.reference.op_run import OpRun

    def _run(self: Any, x: Any, auto_pad: Any = None, ceil_mode: Any = None,
             dilations: Any = None, kernel_shape: Any = None, pads: Any = None,
             strides: Any = None, count_include_pad: Any = None) -> tuple[Any, ...]:
        return (average_pool(np.asarray(x), list(kernel_shape), strides=strides, pads=pads,
                             dilations=dilations, auto_pad=auto_pad or "NOTSET",
                             ceil_mode=bool(ceil_mode), count_include_pad=bool(count_include_pad)),)

    return type("AveragePool", (OpRun,), {"_run": _run, "op_domain": ""})


def _axis(size: int, kernel: int, stride: int, dilation: int, head: int, tail: int,
          auto_pad: str, ceil_mode: bool) -> tuple[int, int, int]:
    """Output length and the (head, tail) padding of one spatial axis, as the ONNX spec
    and ONNX Runtime define them."""
    span = (kernel - 1) * dilation + 1
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        out = -(-size // stride)
        total = max((out - 1) * stride + span - size, 0)
        small, large = total // 2, total - total // 2
        head, tail = (small, large) if auto_pad == "SAME_UPPER" else (large, small)
        return out, head, tail
    if auto_pad == "VALID":
        head = tail = 0
    room = size + head + tail - span
    out = (-(-room // stride) if ceil_mode else room // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + head:
        out -= 1  # the last window must start inside the input or its head padding
    return max(out, 0), head, tail


def average_pool(x: np.ndarray, kernel: Sequence[int], *, strides: Sequence[int] | None = None,
                 pads: Sequence[int] | None = None, dilations: Sequence[int] | None = None,
                 auto_pad: str = "NOTSET", ceil_mode: bool = False,
                 count_include_pad: bool = False) -> np.ndarray:
    """ONNX AveragePool over ``x`` (N, C, *spatial), computed in FP32, returned in x's type.

    Each window is clipped to the padded input; the divisor counts the positions of the
    window inside the padded input (``count_include_pad``) or inside the input itself, as
    ONNX Runtime does (a window past the padded end, possible with ``ceil_mode``, is never
    counted). A window that covers no input gives 0.
    """
    rank = x.ndim - 2
    strides = list(strides or [1] * rank)
    dilations = list(dilations or [1] * rank)
    pads = list(pads or [0] * (2 * rank))
    axes = [_axis(x.shape[2 + i], kernel[i], strides[i], dilations[i], pads[i], pads[rank + i],
                  auto_pad, ceil_mode) for i in range(rank)]
    wide = x.astype(np.float32, copy=False)
    y = np.zeros((*x.shape[:2], *(a[0] for a in axes)), dtype=np.float32)
    for position in itertools.product(*(range(a[0]) for a in axes)):
        window: list[slice] = []
        divisor = 1
        for i, at in enumerate(position):
            size, (_, head, tail) = x.shape[2 + i], axes[i]
            start = at * strides[i] - head
            stop = min(start + (kernel[i] - 1) * dilations[i] + 1, size + tail)
            padded = len(range(start, stop, dilations[i]))
            skipped = 0 if start >= 0 else -(start // dilations[i])  # steps before index 0
            first = start + skipped * dilations[i]
            inside = len(range(first, min(stop, size), dilations[i]))
            divisor *= padded if count_include_pad else inside
            window.append(slice(first, min(stop, size), dilations[i]))
        block = wide[tuple([slice(None), slice(None), *window])]
        if block.size and divisor:
            cell: tuple[Any, ...] = (slice(None), slice(None), *position)
            y[cell] = (
                block.sum(axis=tuple(range(2, 2 + rank)), dtype=np.float32) / divisor)
    return y.astype(x.dtype, copy=False)


def inference_batch_norm_op() -> type:
    """BatchNormalization with the running statistics, in FP32, rounded once (TensorRT folds
    it into a per-channel scale in FP32 when it builds the engine).

    onnx.reference's opset 9–13 kernel fills ``momentum`` with its schema default and then
    takes its training branch, normalising with the batch's own statistics: an opset-11
    export (Paddle) compared wrongly on CPU while ONNX Runtime and GPUs use the running ones.
    """
    from onnx.reference.ops.op_batch_normalization import (
        BatchNormalization_14,
        _batchnorm_test_mode,
    )

    def _run(self: Any, x: Any, scale: Any, bias: Any, mean: Any, var: Any,
             epsilon: Any = None, momentum: Any = None, training_mode: Any = None
             ) -> tuple[Any, ...]:
        if training_mode or len(self.onnx_node.output) > 1:  # a training graph: as onnx has it
            return BatchNormalization_14._run(
                self, x, scale, bias, mean, var, epsilon, momentum, training_mode)
        xs, ss, bs, ms, vs = (np.asarray(a, dtype=np.float32) for a in (x, scale, bias, mean, var))
        eps = 1e-5 if epsilon is None else float(epsilon)
        return (_batchnorm_test_mode(xs, ss, bs, ms, vs, epsilon=eps).astype(x.dtype),)

    return type("BatchNormalization", (BatchNormalization_14,),
                {"_run": _run, "op_domain": ""})
