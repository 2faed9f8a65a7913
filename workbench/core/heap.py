"""``give_back_free_heap()``: memory the process freed goes back to the system now.

Why: glibc keeps freed heap pages (below its mmap threshold) for reuse. After ONNX Runtime
has read and released a model with inline weights (~1.6x the weights on a 123M GPT), those
pages stayed in the process, so the FP16 side of a comparison stacked its weights on top:
peak RSS 2.3x the weights instead of ORT's own 1.6x. ``malloc_trim(0)`` returns them.
Elsewhere than glibc: nothing to do, nothing done.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from typing import Any

__all__ = ["give_back_free_heap"]


@functools.cache
def _malloc_trim() -> Any:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return getattr(ctypes.CDLL(name), "malloc_trim", None)
    except OSError:
        return None


def give_back_free_heap() -> None:
    """Return the free pages of the C heap to the system (glibc only; cheap)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
