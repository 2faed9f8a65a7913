"""``gc_paused()``: the cyclic garbage collector off for a block, its state restored after."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["gc_paused"]


@contextmanager
def gc_paused() -> Iterator[None]:
    """No automatic GC pass inside the block; the previous state is restored, even on error.
    (Explicit ``gc.collect()`` calls still run.)"""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
