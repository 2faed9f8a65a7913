"""One BLAS thread per caller while two graphs are evaluated side by side.

Per-layer drift evaluates the FP32 and the reduced-precision graph on two Python threads
(NumPy releases the GIL in its kernels). With NumPy's OpenBLAS left at one thread per core,
each matmul of one thread waits for the pool the other holds: measured on 2 cores, two
threads of GPT-sized matmuls took 8× longer than with one BLAS thread each. This sets
OpenBLAS to one thread for the duration of a ``with`` block, through the same exported
function ``threadpoolctl`` calls, and puts the old count back after. Other BLAS builds
(MKL, Accelerate) or a library that cannot be found: nothing changes.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["single_threaded_blas"]

_SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
            "openblas_set_num_threads64_", "openblas_set_num_threads")
_lock = threading.Lock()
_users = 0
_saved: int | None = None


@functools.cache
def _openblas() -> tuple[Any, Any] | None:
    """(get, set) of the OpenBLAS that NumPy loaded, or None."""
    import numpy  # noqa: F401  (loads its BLAS, so that it is in the process's map)

    try:
        maps = Path("/proc/self/maps").read_text().splitlines()
    except OSError:
        return None
    paths = {line.split()[-1] for line in maps if "openblas" in line.lower() and "/" in line}
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in _SETTERS:
            setter = getattr(lib, name, None)
            getter = getattr(lib, name.replace("set_num", "get_num"), None)
            if setter is not None and getter is not None:
                getter.restype = ctypes.c_int
                return getter, setter
    return None


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """OpenBLAS on one thread inside the block (nested and concurrent blocks share it)."""
    global _users, _saved
    blas = _openblas()
    if blas is None:
        yield
        return
    get, set_threads = blas
    with _lock:
        if _users == 0:
            _saved = int(get())
            set_threads(1)
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0 and _saved is not None:
                set_threads(_saved)
