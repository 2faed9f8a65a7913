"""CUDA memory for the TensorRT runner, through pycuda: context, pinned/device buffers, timing.

pycuda is optional (``pip install 'trt-workbench[gpu]'``, built from source against the CUDA
toolkit), so it is imported inside functions: this module imports cleanly without it and
raises ``BackendUnavailableError`` only when something here is used. Nothing in it knows
TensorRT; ``BufferSet`` turns I/O ``TensorSpec``s plus concrete shapes into memory, which is
the part of the runner that can be checked on a GPU with no engine-capable TensorRT
(``tests/gpu/check_pycuda_buffers.py``).
"""

from __future__ import annotations

import importlib
import math
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from workbench.backends.trt.compat import probe_gpu
from workbench.core.errors import BackendUnavailableError, InferenceInputError
from workbench.core.records import TensorSpec

__all__ = [
    "PYCUDA_MISSING",
    "BufferSet",
    "CudaContext",
    "HostDeviceBuffer",
    "elapsed_ms",
    "load_pycuda",
    "probe_gpu",  # re-exported from compat, where all feature detection lives
    "time_on_stream",
]

PYCUDA_MISSING = (
    "pycuda is not installed: pip install 'trt-workbench[gpu]' (needs the CUDA toolkit)"
)


def load_pycuda() -> Any:
    """Return ``pycuda.driver``, or raise BackendUnavailableError saying how to get it."""
    try:
        return importlib.import_module("pycuda.driver")
    # A pycuda built against another CUDA raises OSError/ImportError from its extension.
    except Exception as err:
        raise BackendUnavailableError(
            "pycuda is needed for GPU buffers and is not usable here.",
            expected="an importable pycuda (import pycuda.driver)",
            found=f"{type(err).__name__}: {err}",
            fix="pip install 'trt-workbench[gpu]' on a machine with the CUDA toolkit "
            "(pycuda builds from source: nvcc and the CUDA headers must be found)",
        ) from err


class CudaContext:
    """The device's primary CUDA context, made current only inside ``with ctx.active():``.

    The primary context is the one the CUDA runtime (and so TensorRT) uses, which keeps
    pycuda's pointers valid for TensorRT. CUDA makes a context current per thread, so every
    use pushes it on the calling thread and pops it after; the lock keeps two threads from
    interleaving work on the same runner.
    """

    def __init__(self, device_index: int = 0) -> None:
        self.device_index = device_index
        self._ctx: Any = None
        self._device: Any = None
        self._lock = threading.RLock()

    @property
    def is_open(self) -> bool:
        return self._ctx is not None

    def open(self) -> CudaContext:
        """Initialise the driver and retain the primary context. Calling it twice is harmless."""
        if self._ctx is None:
            cuda = load_pycuda()
            try:
                cuda.init()
                self._device = cuda.Device(self.device_index)
                self._ctx = self._device.retain_primary_context()
            except cuda.Error as err:
                raise BackendUnavailableError(
                    f"CUDA device {self.device_index} could not be opened.",
                    expected="a working NVIDIA GPU and driver",
                    found=f"{type(err).__name__}: {err}",
                    fix="check nvidia-smi; pick another device_index",
                ) from err
        return self

    @contextmanager
    def active(self) -> Iterator[Any]:
        """Make the context current on this thread; yields ``pycuda.driver``."""
        if self._ctx is None:
            self.open()
        cuda = load_pycuda()
        with self._lock:
            self._ctx.push()
            try:
                yield cuda
            finally:
                cuda.Context.pop()

    def device_info(self) -> dict[str, Any]:
        if self._device is None:
            self.open()
        free, total = self.mem_get_info()
        return {
            "name": self._device.name(),
            "compute_capability": self._device.compute_capability(),
            "free_bytes": free,
            "total_bytes": total,
        }

    def mem_get_info(self) -> tuple[int, int]:
        with self.active() as cuda:
            free, total = cuda.mem_get_info()
        return int(free), int(total)

    def close(self) -> None:
        """Release the primary context (idempotent)."""
        if self._ctx is not None:
            ctx, self._ctx = self._ctx, None
            ctx.detach()


def _nbytes(dtype: np.dtype, shape: tuple[int, ...]) -> int:
    return int(math.prod(shape)) * dtype.itemsize


class HostDeviceBuffer:
    """One tensor's pinned host array and device allocation, grown on demand.

    The pinned memory is a flat byte block viewed as ``dtype``/``shape``: a smaller shape
    (dynamic batch) reuses the block, only a larger one reallocates. Zero-size tensors still
    get a one-byte allocation so TensorRT always receives a valid address.
    Call methods with the owning context current.
    """

    def __init__(self, name: str, dtype: str | np.dtype, shape: Sequence[int]) -> None:
        self.name = name
        self.dtype = np.dtype(dtype)
        self.shape: tuple[int, ...] = tuple(int(d) for d in shape)
        self.capacity = 0
        self._raw: np.ndarray | None = None
        self._device: Any = None
        self._allocate(max(self.nbytes, 1))

    @property
    def nbytes(self) -> int:
        return _nbytes(self.dtype, self.shape)

    @property
    def host(self) -> np.ndarray:
        """The pinned host array, shaped like the tensor (a view: copy before keeping it)."""
        if self._raw is None:
            raise RuntimeError(f"buffer {self.name!r} was freed")
        return self._raw[: self.nbytes].view(self.dtype).reshape(self.shape)

    @property
    def device_ptr(self) -> int:
        if self._device is None:
            raise RuntimeError(f"buffer {self.name!r} was freed")
        return int(self._device)

    @property
    def is_freed(self) -> bool:
        return self._device is None

    def _allocate(self, capacity: int) -> None:
        cuda = load_pycuda()
        self._raw = cuda.pagelocked_empty(capacity, np.uint8)
        self._device = cuda.mem_alloc(capacity)
        self.capacity = capacity

    def resize(self, shape: Sequence[int]) -> bool:
        """Take a new shape; returns True when the memory had to be reallocated."""
        new_shape = tuple(int(d) for d in shape)
        needed = _nbytes(self.dtype, new_shape)
        self.shape = new_shape
        if needed <= self.capacity:
            return False
        self.free()
        self._allocate(needed)
        return True

    def write(self, array: np.ndarray) -> None:
        """Copy ``array`` into the pinned host memory (resizing to its shape)."""
        self.resize(array.shape)
        np.copyto(self.host, array, casting="same_kind")

    def h2d_async(self, stream: Any) -> None:
        if self.nbytes:  # an empty tensor (batch 0) has nothing to copy
            load_pycuda().memcpy_htod_async(self._device, self.host, stream)

    def d2h_async(self, stream: Any) -> None:
        if self.nbytes:
            load_pycuda().memcpy_dtoh_async(self.host, self._device, stream)

    def free(self) -> None:
        """Free device and pinned memory now rather than at garbage collection (idempotent)."""
        if self._device is not None:
            self._device.free()
            self._device = None
        if self._raw is not None:
            host_alloc = getattr(self._raw, "base", None)
            if host_alloc is not None and hasattr(host_alloc, "free"):
                host_alloc.free()
            self._raw = None
        self.capacity = 0


class BufferSet:
    """Pinned + device buffers for every I/O tensor of an engine, at concrete shapes."""

    def __init__(self, inputs: Sequence[TensorSpec], outputs: Sequence[TensorSpec]) -> None:
        self.input_names = tuple(s.name for s in inputs)
        self.output_names = tuple(s.name for s in outputs)
        self.specs = {s.name: s for s in (*inputs, *outputs)}
        self.buffers: dict[str, HostDeviceBuffer] = {}

    @classmethod
    def allocate(
        cls,
        inputs: Sequence[TensorSpec],
        outputs: Sequence[TensorSpec],
        shapes: Mapping[str, Sequence[int]],
    ) -> BufferSet:
        """Allocate one buffer per tensor at ``shapes`` (static specs need no entry)."""
        buffers = cls(inputs, outputs)
        try:
            for name, shape in buffers.concrete_shapes(shapes).items():
                buffers.buffers[name] = HostDeviceBuffer(name, buffers.specs[name].dtype, shape)
        except BaseException:
            buffers.free()
            raise
        return buffers

    def concrete_shapes(self, shapes: Mapping[str, Sequence[int]]) -> dict[str, tuple[int, ...]]:
        """Each tensor's shape: from ``shapes`` or a static spec, checked against the spec."""
        result = {}
        for name, spec in self.specs.items():
            given = shapes.get(name)
            if given is None and not spec.is_dynamic and spec.shape is not None:
                given = tuple(int(d) for d in spec.shape)  # type: ignore[arg-type]
            if given is None or any(int(d) < 0 for d in given):
                raise InferenceInputError(
                    f"Tensor {name!r} has no concrete shape to allocate.",
                    expected=f"a shape matching {spec.shape_text()} with every dim ≥ 0",
                    found="nothing" if given is None else str(list(given)),
                    fix="set every input shape first (outputs take theirs from the engine); "
                    "data-dependent output shapes are not supported",
                )
            _check_against_spec(spec, tuple(int(d) for d in given))
            result[name] = tuple(int(d) for d in given)
        return result

    def reshape(self, shapes: Mapping[str, Sequence[int]]) -> list[str]:
        """Take new shapes (dynamic batch); returns the names that were reallocated."""
        grown = []
        for name, shape in self.concrete_shapes(shapes).items():
            if self.buffers[name].resize(shape):
                grown.append(name)
        return grown

    def __getitem__(self, name: str) -> HostDeviceBuffer:
        return self.buffers[name]

    def addresses(self) -> dict[str, int]:
        return {name: buf.device_ptr for name, buf in self.buffers.items()}

    @property
    def nbytes(self) -> int:
        return sum(buf.capacity for buf in self.buffers.values())

    def load_inputs(self, feeds: Mapping[str, np.ndarray]) -> None:
        for name in self.input_names:
            self.buffers[name].write(np.asarray(feeds[name]))

    def upload(self, stream: Any) -> None:
        for name in self.input_names:
            self.buffers[name].h2d_async(stream)

    def download(self, stream: Any) -> None:
        for name in self.output_names:
            self.buffers[name].d2h_async(stream)

    def outputs(self) -> dict[str, np.ndarray]:
        """Copies of the output host arrays (call after the stream has synchronized)."""
        return {name: self.buffers[name].host.copy() for name in self.output_names}

    def free(self) -> None:
        for buf in self.buffers.values():
            buf.free()
        self.buffers.clear()


def _check_against_spec(spec: TensorSpec, shape: tuple[int, ...]) -> None:
    if spec.shape is None:
        return
    fixed_ok = all(
        not isinstance(d, int) or d < 0 or d == s for d, s in zip(spec.shape, shape, strict=False)
    )
    if len(spec.shape) != len(shape) or not fixed_ok:
        raise InferenceInputError(
            f"Shape {list(shape)} does not fit tensor {spec.name!r}.",
            expected=f"shape {spec.shape_text()}",
            found=str(list(shape)),
            fix="give the declared rank and the fixed sizes; only dynamic dims may vary",
        )


def elapsed_ms(start: Any, end: Any) -> float:
    """Milliseconds between two recorded CUDA events (``end`` must have completed)."""
    return float(end.time_since(start))


def time_on_stream(
    stream: Any, enqueue: Callable[[], None], iterations: int, warmup: int = 0
) -> list[float]:
    """Time ``enqueue()`` on ``stream`` with CUDA events: one ms figure per iteration.

    Everything is enqueued back to back and synchronized once at the end, so host
    overhead between launches does not hide in the GPU figures.
    """
    cuda = load_pycuda()
    for _ in range(warmup):
        enqueue()
    stream.synchronize()
    marks = [cuda.Event() for _ in range(iterations + 1)]
    marks[0].record(stream)
    for i in range(iterations):
        enqueue()
        marks[i + 1].record(stream)
    marks[-1].synchronize()
    return [elapsed_ms(marks[i], marks[i + 1]) for i in range(iterations)]
