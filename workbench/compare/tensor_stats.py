"""Per-tensor figures of per-layer drift, in one pass over each tensor, block by block.

Per-layer drift takes figures of every tensor of the graph (hundreds to thousands of
them). Written as whole-array NumPy expressions that costs a dozen full passes and as many
temporary arrays per tensor (float64 copies, masks, fancy-indexed copies). Here each tensor
is read once, in blocks small enough to stay in the CPU cache, and every figure is taken
from the same block while it is there:

- ``pair_figures`` (reference vs candidate): the largest ``|c - r|``, the reference's
  largest ``|r|`` and the three dot products of the cosine. Differences and dot products
  are taken in float64, as before (a float32 difference of an FP16 and an FP32 value is
  not always exact); ``max |r|`` is exact in any precision.
- ``range_figures`` (FP32 values against the FP16 range): counts and extremes in
  float32, which is exact here: ``|x|`` of a float32 is a float32, and the three limits
  (65504, 2**-14, 2**-24) are float32 numbers, so every comparison has the same answer as
  in float64.

Tensors with NaN or infinity take the masked path of ``workbench.compare.drift``
(None here), which says how many and where: rare, and exact either way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["PairFigures", "RangeFigures", "pair_figures", "range_figures"]

_BLOCK = 1 << 15  # elements per block: two float64 blocks stay in L2


@dataclass(frozen=True)
class PairFigures:
    """Figures of one reference/candidate pair whose values are all finite."""

    max_abs: float  # max |c - r|
    scale: float  # max |r|
    cosine: float | None


def _float_view(values: np.ndarray) -> np.ndarray | None:
    flat = values.reshape(-1)
    return flat if flat.dtype.kind == "f" or flat.dtype.name == "bfloat16" else None


def pair_figures(ref: np.ndarray, cand: np.ndarray) -> PairFigures | None:
    """max |c - r|, max |r| and the cosine, or None when a value is NaN/inf (or the
    reference is not floating point): then the caller's masked path decides."""
    r, c = _float_view(ref), _float_view(cand)
    if r is None or c is None or r.size == 0 or r.size != c.size:
        return None
    wide_r = np.empty(min(_BLOCK, r.size), np.float64)
    wide_c = np.empty_like(wide_r)
    max_abs = scale = rc = rr = cc = 0.0
    with np.errstate(invalid="ignore", over="ignore"):  # NaN/inf: found below, masked path
        for start in range(0, r.size, _BLOCK):
            block = _pair_block(r, c, start, wide_r, wide_c)
            rc, rr, cc = rc + block[0], rr + block[1], cc + block[2]
            scale, max_abs = max(scale, block[3]), max(max_abs, block[4])
    if not all(math.isfinite(v) for v in (rc, rr, cc, max_abs, scale)):
        return None  # a NaN or inf somewhere (or a sum beyond float64): the masked path
    norm = math.sqrt(rr) * math.sqrt(cc)
    if norm == 0.0:
        cosine = 1.0 if rr == 0.0 and cc == 0.0 else 0.0
    else:
        cosine = min(1.0, max(-1.0, rc / norm))
    return PairFigures(max_abs, scale, cosine)


def _pair_block(r: np.ndarray, c: np.ndarray, start: int, wide_r: np.ndarray,
                wide_c: np.ndarray) -> tuple[float, float, float, float, float]:
    """r·c, r·r, c·c, max |r| and max |c - r| of one block, in float64."""
    n = min(_BLOCK, r.size - start)
    br, bc = wide_r[:n], wide_c[:n]
    np.copyto(br, r[start:start + n], casting="unsafe")
    np.copyto(bc, c[start:start + n], casting="unsafe")
    # einsum's own loop, not BLAS: the FP32 graph runs BLAS on the other thread, and two
    # callers of OpenBLAS's thread pool wait on each other far longer than these sums take
    dots = (float(np.einsum("i,i->", br, bc)), float(np.einsum("i,i->", br, br)),
            float(np.einsum("i,i->", bc, bc)))
    scale = max(float(br.max()), -float(br.min()))
    np.subtract(bc, br, out=bc)
    np.abs(bc, out=bc)
    return (*dots, scale, float(bc.max()))


@dataclass(frozen=True)
class RangeFigures:
    """FP32 values against the FP16 range: counts and extremes of each kind."""

    total: int
    nonzero: int
    overflow: int
    largest: float  # largest |x| (of the overflowing ones when there are any)
    underflow: int
    smallest_underflow: float
    subnormal: int
    smallest_subnormal: float


def range_figures(ref: np.ndarray, fp16_max: float, min_normal: float,
                  min_subnormal: float) -> RangeFigures | None:
    """Counts of |x| > ``fp16_max``, 0 < |x| < ``min_subnormal`` and ``min_subnormal`` <=
    |x| < ``min_normal``, with their extremes; None for NaN/inf (the masked path)."""
    values = ref.reshape(-1)
    if values.dtype != np.float32 or values.size == 0:
        return None
    limits = np.float32(fp16_max), np.float32(min_normal), np.float32(min_subnormal)
    block = np.empty(min(_BLOCK, values.size), np.float32)
    nonzero = over = under = sub = 0
    largest, small_under, small_sub = 0.0, math.inf, math.inf
    for start in range(0, values.size, _BLOCK):
        a = block[:min(_BLOCK, values.size - start)]
        np.abs(values[start:start + a.size], out=a)
        top = float(a.max())
        if not math.isfinite(top):
            return None
        largest = max(largest, top)
        nonzero += int(np.count_nonzero(a))
        if top > limits[0]:
            over += int(np.count_nonzero(a > limits[0]))
        low = a[a < limits[1]]
        if low.size:
            low = low[low > 0]
            tiny = low < limits[2]
            under += int(np.count_nonzero(tiny))
            sub += low.size - int(np.count_nonzero(tiny))
            if under:
                small_under = min(small_under, float(low[tiny].min(initial=np.inf)))
            if low.size > np.count_nonzero(tiny):
                small_sub = min(small_sub, float(low[~tiny].min()))
    return RangeFigures(values.size, nonzero, over, largest, under, small_under, sub,
                        small_sub)
