"""GPU check of the pycuda buffer code that TrtRunner uses (no TensorRT needed).

    PYTHONPATH=<pycuda site>:. python tests/gpu/check_pycuda_buffers.py [--report FILE]

Runs on any NVIDIA GPU with pycuda: allocation, pinned host memory, async copies on a
stream, round trips for several dtypes and shapes, resizing for dynamic shapes, freeing
(device memory returns), CUDA-event timing, a context used from another thread, and the
runner's buffer set-up from a list of I/O specs. Prints one line per check and exits 1
if any fails. ``tests/gpu/test_gpu_buffers.py`` runs the same checks under pytest.
"""

from __future__ import annotations

import ctypes
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from workbench.backends.trt.runtime.cuda_buffers import (  # noqa: E402
    BufferSet,
    CudaContext,
    HostDeviceBuffer,
    load_pycuda,
    probe_gpu,
    time_on_stream,
)
from workbench.backends.trt.runtime.runner import prepare_buffers  # noqa: E402
from workbench.core.errors import InferenceInputError  # noqa: E402
from workbench.core.records import TensorSpec  # noqa: E402

MiB = 1 << 20
DTYPES = ("float32", "float16", "int32", "int64", "int8", "bool")
SHAPES: tuple[tuple[int, ...], ...] = ((), (7,), (2, 3, 5, 4), (1, 0, 3))


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str


def _random(dtype: str, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype.startswith("float"):
        return rng.standard_normal(shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)


def _round_trip(buf: HostDeviceBuffer, data: np.ndarray, stream: Any) -> np.ndarray:
    """Host → device, wipe the host copy, device → host; returns what came back."""
    buf.write(data)
    buf.h2d_async(stream)
    stream.synchronize()  # the wipe below must not race the upload
    buf.host[...] = np.zeros((), dtype=buf.dtype)
    buf.d2h_async(stream)
    stream.synchronize()
    return buf.host.copy()


def _is_pinned(array: np.ndarray) -> bool:
    """cuMemHostGetFlags succeeds only for page-locked memory the driver allocated."""
    lib = ctypes.CDLL("libcuda.so.1")
    flags = ctypes.c_uint(0)
    return lib.cuMemHostGetFlags(ctypes.byref(flags), ctypes.c_void_p(array.ctypes.data)) == 0


def check_device(ctx: CudaContext, cuda: Any) -> str:
    info = ctx.device_info()
    probe = probe_gpu(ctx.device_index)
    pycuda = sys.modules["pycuda"]
    version = getattr(pycuda, "VERSION_TEXT", "?")
    return (
        f"{info['name']}, compute capability {probe.compute_capability}, "
        f"{info['free_bytes'] / MiB:.0f}/{info['total_bytes'] / MiB:.0f} MiB free, "
        f"driver CUDA {cuda.get_driver_version()}, pycuda {version}"
    )


def check_pinned(ctx: CudaContext, cuda: Any) -> str:
    buf = HostDeviceBuffer("x", "float32", (256, 256))
    try:
        pageable = np.zeros(16, np.float32)
        assert _is_pinned(buf.host), "host buffer is not page-locked"
        assert not _is_pinned(pageable), "probe cannot tell pageable memory apart"
        assert buf.device_ptr != 0 and buf.nbytes == 256 * 256 * 4
        return f"host array page-locked (cuMemHostGetFlags), device ptr 0x{buf.device_ptr:x}"
    finally:
        buf.free()


def check_round_trips(ctx: CudaContext, cuda: Any) -> str:
    rng = np.random.default_rng(0)
    stream = cuda.Stream()
    done = []
    for dtype in DTYPES:
        for shape in SHAPES:
            data = _random(dtype, shape, rng)
            buf = HostDeviceBuffer(f"{dtype}{shape}", dtype, shape)
            try:
                back = _round_trip(buf, data, stream)
            finally:
                buf.free()
            assert back.dtype == data.dtype and back.shape == data.shape, (back.dtype, back.shape)
            assert np.array_equal(back, data), f"{dtype} {shape}: data changed on the way"
            done.append(f"{dtype}{list(shape)}")
    return f"{len(done)} exact round trips: {', '.join(DTYPES)} × shapes {list(SHAPES)}"


def check_large_and_timing(ctx: CudaContext, cuda: Any) -> str:
    count = 64 * MiB // 4
    data = np.arange(count, dtype=np.float32)
    stream = cuda.Stream()
    buf = HostDeviceBuffer("big", "float32", (count,))
    try:
        back = _round_trip(buf, data, stream)
        assert np.array_equal(back, data), "64 MiB round trip changed data"
        up = time_on_stream(stream, lambda: buf.h2d_async(stream), iterations=10, warmup=2)
        down = time_on_stream(stream, lambda: buf.d2h_async(stream), iterations=10, warmup=2)
        pageable = np.empty_like(data)
        start = time.perf_counter()
        for _ in range(10):
            cuda.memcpy_dtoh(pageable, buf.device_ptr)
        pageable_s = (time.perf_counter() - start) / 10
    finally:
        buf.free()
    assert min(up) > 0 and min(down) > 0, "CUDA events measured no time"
    gbps = [64 * MiB / (np.median(t) / 1e3) / 1e9 for t in (up, down)]
    return (
        f"64 MiB float32 exact; pinned H2D {gbps[0]:.1f} GB/s, D2H {gbps[1]:.1f} GB/s "
        f"(CUDA events, median of 10); pageable D2H {64 * MiB / pageable_s / 1e9:.1f} GB/s"
    )


def check_resize(ctx: CudaContext, cuda: Any) -> str:
    stream = cuda.Stream()
    rng = np.random.default_rng(1)
    buf = HostDeviceBuffer("dyn", "float16", (1, 64))
    try:
        first_ptr = buf.device_ptr
        grew = buf.resize((32, 64))
        assert grew and buf.capacity == 32 * 64 * 2
        shrank = buf.resize((4, 64))
        assert not shrank and buf.capacity == 32 * 64 * 2, "shrinking should reuse memory"
        for batch in (4, 32, 1, 0):
            data = _random("float16", (batch, 64), rng)
            assert np.array_equal(_round_trip(buf, data, stream), data), f"batch {batch}"
    finally:
        buf.free()
    return (
        f"1→32 reallocates (ptr 0x{first_ptr:x} → new block), 32→4 reuses, "
        "round trips at batch 4, 32, 1, 0 exact"
    )


def check_free(ctx: CudaContext, cuda: Any) -> str:
    size = 256 * MiB
    before, _ = cuda.mem_get_info()
    bufs = [HostDeviceBuffer(f"b{i}", "uint8", (size,)) for i in range(4)]
    during, _ = cuda.mem_get_info()
    for buf in bufs:
        buf.free()
        buf.free()  # idempotent
    after, _ = cuda.mem_get_info()
    taken, returned = before - during, after - during
    assert taken >= 4 * size, f"only {taken / MiB:.0f} MiB taken for 1024 MiB of buffers"
    assert abs(after - before) <= 2 * MiB, f"{(before - after) / MiB:.1f} MiB not returned"
    assert all(b.is_freed for b in bufs)
    return (
        f"4×256 MiB: free memory fell {taken / MiB:.0f} MiB, rose {returned / MiB:.0f} MiB "
        f"after free(); net {(before - after) / MiB:+.1f} MiB; double free harmless"
    )


def check_buffer_set(ctx: CudaContext, cuda: Any) -> str:
    """The TrtRunner path: specs + shapes → BufferSet, bind, copy, reshape, free."""
    inputs = [
        TensorSpec("features", "float32", ("batch", 64)),
        TensorSpec("token_ids", "int64", ("batch", "sequence")),
        TensorSpec("mask", "bool", ("batch", "sequence")),
    ]
    outputs = [
        TensorSpec("probabilities", "float32", ("batch", 10)),
        TensorSpec("hidden", "float16", ("batch", "sequence", 32)),
    ]
    stream = cuda.Stream()
    rng = np.random.default_rng(2)
    before, _ = cuda.mem_get_info()
    buffers = None
    lines = []
    for batch, seq in ((8, 16), (2, 5), (64, 128)):
        shapes = {"features": (batch, 64), "token_ids": (batch, seq), "mask": (batch, seq),
                  "probabilities": (batch, 10), "hidden": (batch, seq, 32)}
        buffers = prepare_buffers(buffers, inputs, outputs, shapes)
        addresses = buffers.addresses()
        assert len(set(addresses.values())) == 5 and all(addresses.values())
        feeds = {s.name: _random(s.dtype, shapes[s.name], rng) for s in inputs}
        buffers.load_inputs(feeds)
        buffers.upload(stream)
        # Stand-in for the engine: the GPU copies the first batch×10 features into
        # "probabilities" (device to device, through the bound addresses), and "hidden" is
        # uploaded through its own buffer.
        flat = feeds["features"].reshape(-1)[: batch * 10]
        expected = {"probabilities": flat.reshape(batch, 10),
                    "hidden": _random("float16", shapes["hidden"], rng)}
        buffers["hidden"].write(expected["hidden"])
        buffers["hidden"].h2d_async(stream)
        cuda.memcpy_dtod_async(addresses["probabilities"], addresses["features"],
                               batch * 10 * 4, stream)
        stream.synchronize()
        for name in expected:
            buffers[name].host[...] = 0
        buffers.download(stream)
        stream.synchronize()
        got = buffers.outputs()
        for name, value in expected.items():
            assert np.array_equal(got[name], value), f"{name} at batch {batch}"
        lines.append(f"({batch},{seq}) {buffers.nbytes / 1024:.0f} KiB")
    assert buffers is not None
    buffers.free()
    try:  # a dynamic output without a shape is refused before anything is allocated
        BufferSet.allocate(inputs, outputs, {"features": (1, 64)})
        raise AssertionError("BufferSet accepted tensors without shapes")
    except InferenceInputError as err:
        assert "no concrete shape" in err.summary
    after, _ = cuda.mem_get_info()
    assert abs(after - before) <= 2 * MiB, f"{(before - after) / MiB:.1f} MiB not returned"
    return "5 tensors (float32/int64/bool in, float32/float16 out) at " + ", ".join(lines) + \
        "; addresses distinct; outputs exact; all memory returned"


def check_other_thread(ctx: CudaContext, cuda: Any) -> str:
    """The context is pushed per call, so a worker thread can use it too."""
    errors: list[BaseException] = []
    results: list[bool] = []

    def work() -> None:
        try:
            with ctx.active() as drv:
                stream = drv.Stream()
                buf = HostDeviceBuffer("t", "int32", (1000,))
                data = np.arange(1000, dtype=np.int32)
                results.append(bool(np.array_equal(_round_trip(buf, data, stream), data)))
                buf.free()
                # pycuda frees a stream in its context: drop it while this thread holds it.
                del stream
        except BaseException as err:  # reported by the main thread below
            errors.append(err)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(60)
    assert not errors, f"worker thread failed: {errors[0]!r}"
    assert results == [True], "worker thread round trip failed"
    return "round trip inside a worker thread with ctx.active(): exact"


CHECKS: dict[str, Callable[[CudaContext, Any], str]] = {
    "device": check_device,
    "pinned host memory": check_pinned,
    "round trips (dtypes × shapes)": check_round_trips,
    "64 MiB copy + event timing": check_large_and_timing,
    "resize for dynamic shapes": check_resize,
    "free returns memory": check_free,
    "TrtRunner BufferSet from specs": check_buffer_set,
    "context from another thread": check_other_thread,
}


# Checks that make the context current themselves (on another thread).
OWN_CONTEXT = {"context from another thread"}


def run_check(ctx: CudaContext, name: str) -> CheckResult:
    try:
        if name in OWN_CONTEXT:
            return CheckResult(name, True, CHECKS[name](ctx, load_pycuda()))
        with ctx.active() as cuda:
            return CheckResult(name, True, CHECKS[name](ctx, cuda))
    except Exception as err:  # one failing check must not hide the others
        return CheckResult(name, False, f"{type(err).__name__}: {err}")


def run_all(device_index: int = 0) -> list[CheckResult]:
    ctx = CudaContext(device_index).open()
    try:
        return [run_check(ctx, name) for name in CHECKS]
    finally:
        ctx.close()


def main(argv: list[str]) -> int:
    probe = probe_gpu()
    if not probe.present:
        print(f"SKIPPED: {probe.reason}")
        return 2
    results = run_all()
    lines = ["pycuda buffer check (workbench/backends/trt/cuda_buffers.py)"]
    lines += [f"[{'PASS' if r.ok else 'FAIL'}] {r.name}: {r.detail}" for r in results]
    failed = sum(not r.ok for r in results)
    lines.append(f"{len(results) - failed} passed, {failed} failed")
    text = "\n".join(lines)
    print(text)
    if "--report" in argv:
        Path(argv[argv.index("--report") + 1]).write_text(text + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
