"""TensorRT objects are made and dropped under one guard, and never left to the cyclic GC.

Why: TensorRT-RTX holds a process-wide mutex while ``createInferBuilder`` logs through our
Python logger (every builder after the first logs that its logger differs from the first
one). Any allocation in that callback may start Python's cyclic GC; if the GC then frees an
unreachable ``IBuilder`` (one kept by the traceback of an earlier failed build), the
builder's destructor takes the same mutex and the thread waits for itself forever. A CI run
hung so (py-spy: ``createInferBuilder`` → ``PyLogger::log`` → ``gc_collect_main`` →
``IBuilder`` dealloc → ``pthread_mutex_lock``). Two threads can do the same to each other:
one inside ``createInferBuilder`` waiting for the GIL in the logger, the other holding the
GIL in a destructor waiting for the mutex.

So: top-level objects are made with ``make_builder`` / ``make_runtime`` (one
thread at a time, GC paused), the build and the diagnosis drop theirs inside
``trt_guard``, and ``releases_trt_objects`` clears the frames of an exception
leaving them, so the objects those frames held die there, under the guard.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import traceback
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any, TypeVar

from workbench.core.gcpause import gc_paused

__all__ = ["make_builder", "make_runtime", "releases_trt_objects", "trt_guard"]

_LOCK = threading.RLock()
F = TypeVar("F", bound=Callable[..., Any])


@contextlib.contextmanager
def trt_guard() -> Iterator[None]:
    """Hold while making or dropping TensorRT objects: one thread at a time (a waiting
    thread releases the GIL), and no automatic GC inside."""
    with _LOCK, gc_paused():
        yield


def make_builder(trt: ModuleType, logger: Any) -> Any:
    """``trt.Builder(logger)`` under the guard."""
    with trt_guard():
        return trt.Builder(logger)


def make_runtime(trt: ModuleType, logger: Any) -> Any:
    """``trt.Runtime(logger)`` under the guard."""
    with trt_guard():
        return trt.Runtime(logger)


def releases_trt_objects(func: F) -> F:
    """On an exception, clear the locals of the frames it passed through (its causes'
    too) under the guard before it propagates: the TensorRT objects they held die now,
    not in a later GC pass that may run inside TensorRT."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except BaseException as err:
            with trt_guard():
                seen: set[int] = set()
                current: BaseException | None = err
                while current is not None and id(current) not in seen:
                    seen.add(id(current))
                    traceback.clear_frames(current.__traceback__)  # skips running frames
                    current = current.__cause__ or current.__context__
            raise

    return wrapper  # type: ignore[return-value]
