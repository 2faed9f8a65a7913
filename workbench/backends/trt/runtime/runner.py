"""TrtRunner: run a serialized TensorRT engine on an NVIDIA GPU (TensorRT 10+ API only).

Named I/O tensors, ``set_input_shape`` / ``set_tensor_address`` / ``execute_async_v3``, and
output shapes read back from the execution context; never the removed binding-index API
(``execute_async_v2``, ``get_binding_*``). Memory goes through ``cuda_buffers`` (pycuda).

Where no GPU, no pycuda or no engine-capable TensorRT exists, ``TrtRunner.can_run()`` says
why and ``activate()`` raises ``BackendUnavailableError`` with that reason. Feeds are
validated before any GPU work whenever the I/O is known (from the engine, or from
``io_specs=``/``profiles=`` given by the caller, e.g. read from the engine card).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

import numpy as np

from workbench.backends.runner import ProfileRange, Runner, validate_feeds
from workbench.backends.trt.compat import load_trt
from workbench.backends.trt.lifetime import make_runtime
from workbench.backends.trt.logger import make_logger
from workbench.backends.trt.runtime.cuda_buffers import BufferSet, CudaContext, probe_gpu
from workbench.backends.trt.runtime.runner_io import (
    EngineIO,
    LatencyStats,
    fix_for,
    read_engine_io,
    run_blockers,
)
from workbench.core.errors import BackendUnavailableError, EngineLoadError, InferenceInputError
from workbench.core.logbus import LogBus
from workbench.core.records import TensorSpec

if TYPE_CHECKING:
    from workbench.engines.card import EngineArtifact

__all__ = ["LatencyStats", "TrtRunner", "prepare_buffers"]



class SerializedPlan(Protocol):
    """TensorRT's IHostMemory (a serialized engine): a buffer of ``nbytes`` bytes."""

    @property
    def nbytes(self) -> int: ...


class DeserializedEngine(Protocol):
    """TensorRT's ICudaEngine, used as it is (never serialized again)."""

    @property
    def num_io_tensors(self) -> int: ...

    def create_execution_context(self) -> object: ...


# What a runner runs: plan bytes, IHostMemory, an EngineArtifact (.plan + .card), the path of
# a saved engine, or an ICudaEngine.
EngineSource: TypeAlias = ("bytes | bytearray | memoryview | str | os.PathLike[str] | "
                           "EngineArtifact | SerializedPlan | DeserializedEngine")


def prepare_buffers(
    existing: BufferSet | None,
    inputs: Sequence[TensorSpec],
    outputs: Sequence[TensorSpec],
    shapes: Mapping[str, Sequence[int]],
) -> BufferSet:
    """The runner's buffer set-up: allocate on first use, then reshape (grow only if needed).

    Kept free of TensorRT so the GPU check can run it with a list of specs and no engine.
    """
    if existing is None:
        return BufferSet.allocate(inputs, outputs, shapes)
    existing.reshape(shapes)
    return existing


class TrtRunner(Runner):
    """Run a TensorRT engine with pinned host buffers, device buffers and one CUDA stream.

    Args:
        engine_or_path: plan bytes, a path to a ``.engine``/``.plan`` file, or an already
            deserialized ``ICudaEngine``.
        profile_index: the optimization profile whose shape ranges apply.
        device_index: the CUDA device to run on.
        io_specs: ``(inputs, outputs)`` known without deserializing (e.g. from the engine
            card), so feeds can be validated on machines that cannot run the engine.
        profiles: per input ``(min shape, max shape)``, same purpose.
        allow_host_code: let the engine run embedded host code (plugins, lean runtime). Only
            for engines from a source you trust; never on by default.
        log: where TensorRT's messages go (a new WARNING-level bus by default).
    """

    name = "TensorRT"

    def __init__(
        self,
        engine_or_path: EngineSource,
        profile_index: int = 0,
        *,
        device_index: int = 0,
        io_specs: tuple[Sequence[TensorSpec], Sequence[TensorSpec]] | None = None,
        profiles: Mapping[str, ProfileRange] | None = None,
        allow_host_code: bool = False,
        log: LogBus | None = None,
    ) -> None:
        super().__init__()
        self.log = log if log is not None else LogBus("WARNING")
        self._source = engine_or_path
        # Read the plan now: a bad path fails at construction, with no GPU involved.
        self._plan = None if _is_engine_object(engine_or_path) else _read_plan(engine_or_path)
        self.profile_index = profile_index
        self.device_index = device_index
        self.allow_host_code = allow_host_code
        self._declared = _declared_io(engine_or_path, profile_index, io_specs, profiles)
        self._io: EngineIO | None = None
        self._cuda: CudaContext | None = None
        self._logger: Any = None
        self._runtime: Any = None
        self._engine: Any = None
        self._context: Any = None
        self._stream: Any = None
        self._buffers: BufferSet | None = None

    # ---- what can run here -------------------------------------------------------------
    @staticmethod
    def can_run(device_index: int = 0) -> tuple[bool, str]:
        """(True, description) when engines can run here, else (False, every reason)."""
        problems = run_blockers(device_index)
        if problems:
            return False, "; ".join(problems)
        probe = probe_gpu(device_index)
        return True, f"{probe.name} (compute capability {probe.compute_capability})"

    # ---- I/O description (no GPU needed when declared) -----------------------------------
    def _known_io(self) -> EngineIO:
        io = self._io or self._declared
        if io is None:
            raise EngineLoadError(
                "The engine's inputs are not known yet.",
                expected="an activated runner, or io_specs=/profiles= from the engine card",
                found="an engine that has not been deserialized (that needs a GPU)",
                fix="call runner.activate() on a GPU machine, or pass io_specs=(inputs, outputs)",
            )
        return io

    def input_specs(self) -> tuple[TensorSpec, ...]:
        return self._known_io().inputs

    def output_specs(self) -> tuple[TensorSpec, ...]:
        return self._known_io().outputs

    def profile_ranges(self) -> dict[str, ProfileRange]:
        return dict(self._known_io().ranges)

    def validate(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Check names, dtypes, ranks and profile ranges; touches no GPU."""
        return validate_feeds(self.input_specs(), feeds, self.profile_ranges())

    def infer(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Validate first (even before activation when the I/O is declared), then run."""
        checked = self.validate(feeds) if (self._io or self._declared) else None
        self._require_active("infer()/benchmark()")
        return self._infer_impl(checked if checked is not None else self.validate(feeds))

    # ---- lifecycle -----------------------------------------------------------------------
    def _activate_impl(self) -> None:
        problems = run_blockers(self.device_index)
        if problems:
            raise BackendUnavailableError(
                f"TensorRT engines cannot run here: {problems[0]}.",
                expected="an NVIDIA GPU, pycuda, and a TensorRT that runs engines on that GPU",
                found="; ".join(problems),
                fix=fix_for(problems[0]),
            )
        self._cuda = CudaContext(self.device_index).open()
        try:
            with self._cuda.active() as cuda:
                self._engine = self._deserialize()
                self._io = read_engine_io(self._engine, self.profile_index)
                self._check_declared()
                self._stream = cuda.Stream()
                self._context = self._engine.create_execution_context()
                if self._context is None:
                    raise EngineLoadError(
                        "TensorRT could not create an execution context.",
                        expected="enough free GPU memory for the engine's activations",
                        found="create_execution_context() returned None",
                        fix="free GPU memory (other processes), or rebuild with smaller profiles",
                    )
                if self.profile_index:
                    self._context.set_optimization_profile_async(
                        self.profile_index, self._stream.handle
                    )
        except BaseException:
            self._deactivate_impl()
            raise

    def _deactivate_impl(self) -> None:
        if self._cuda is None:
            return
        with self._cuda.active():
            if self._buffers is not None:
                self._buffers.free()
            # Drop TensorRT objects while the context is current: they free device memory.
            self._buffers = self._context = self._stream = None
            if not _is_engine_object(self._source):
                self._engine = self._runtime = None
        self._cuda.close()
        self._cuda = None

    def _deserialize(self) -> Any:
        if _is_engine_object(self._source):
            return self._source
        trt = load_trt()
        plan = self._plan or b""
        # TensorRT holds the logger by reference only: keep it alive with the runner.
        self._logger = make_logger(trt, self.log)
        self._runtime = make_runtime(trt, self._logger)
        # Host code in a plan is code execution: only ever enabled on explicit trust.
        if self.allow_host_code and hasattr(self._runtime, "engine_host_code_allowed"):
            self._runtime.engine_host_code_allowed = True
        engine = self._runtime.deserialize_cuda_engine(plan)
        if engine is None:
            raise EngineLoadError(
                "TensorRT could not deserialize the engine.",
                expected=f"a plan built by this TensorRT ({trt.__name__} {trt.__version__}) "
                "for this GPU",
                found=f"{len(plan)} bytes that TensorRT rejected",
                fix="rebuild the engine on this machine; if it embeds host code and you trust "
                "its source, pass allow_host_code=True",
                details=list(self._logger.errors),
            )
        return engine

    def _check_declared(self) -> None:
        if self._declared is None or self._io is None:
            return
        # A card written from the ONNX model names dynamic dims ("batch"); the engine says
        # -1. Compare what both know: names, dtypes, ranks and fixed sizes.
        if _signature(self._declared.inputs) != _signature(self._io.inputs):
            raise EngineLoadError(
                "The engine's inputs differ from the declared io_specs (engine card).",
                expected=_describe(self._declared.inputs),
                found=_describe(self._io.inputs),
                fix="the card does not belong to this engine: rebuild or re-save the engine",
            )

    # ---- inference -----------------------------------------------------------------------
    def _bind(self, feeds: Mapping[str, np.ndarray]) -> BufferSet:
        """Set input shapes, read output shapes from the context, point TensorRT at memory."""
        io = self._known_io()
        shapes: dict[str, tuple[int, ...]] = {}
        for spec in io.inputs:
            shape = tuple(feeds[spec.name].shape)
            if not self._context.set_input_shape(spec.name, shape):
                raise InferenceInputError(
                    f"TensorRT refused shape {list(shape)} for input {spec.name!r}.",
                    expected=f"a shape inside profile {self.profile_index}: "
                    f"{io.ranges.get(spec.name)}",
                    found=str(list(shape)),
                    fix="use a shape inside the profile, or rebuild with a wider one",
                )
            shapes[spec.name] = shape
        for spec in io.outputs:
            shapes[spec.name] = tuple(self._context.get_tensor_shape(spec.name))
        self._buffers = prepare_buffers(self._buffers, io.inputs, io.outputs, shapes)
        for name, address in self._buffers.addresses().items():
            self._context.set_tensor_address(name, address)
        return self._buffers

    def _enqueue(self, buffers: BufferSet) -> None:
        if not self._context.execute_async_v3(self._stream.handle):
            raise InferenceInputError(
                "TensorRT failed to enqueue the inference.",
                expected="execute_async_v3 to return True",
                found="False (see the TensorRT log for the reason)",
                fix="check input shapes against the profile; rebuild the engine for this GPU",
            )

    def _infer_impl(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        assert self._cuda is not None
        with self._cuda.active():
            buffers = self._bind(feeds)
            buffers.load_inputs(feeds)
            buffers.upload(self._stream)
            self._enqueue(buffers)
            buffers.download(self._stream)
            self._stream.synchronize()
            return buffers.outputs()

    def benchmark(
        self, feeds: Mapping[str, np.ndarray], warmup: int = 10, iterations: int = 100
    ) -> LatencyStats:
        """Time inference like trtexec: warm-up, then CUDA events around every launch.

        Inputs are uploaded once; the figures are GPU compute time per inference
        (min/median/p90/p99), and throughput is inferences per second of wall time while
        the launches run back to back on one stream.
        """
        if iterations < 1 or warmup < 0:
            raise InferenceInputError(
                "Benchmark needs at least one iteration.",
                expected="iterations ≥ 1 and warmup ≥ 0",
                found=f"iterations={iterations}, warmup={warmup}",
                fix="pass positive counts",
            )
        checked = self.validate(feeds) if (self._io or self._declared) else None
        self._require_active("infer()/benchmark()")
        checked = checked if checked is not None else self.validate(feeds)
        assert self._cuda is not None
        with self._cuda.active() as cuda:
            buffers = self._bind(checked)
            buffers.load_inputs(checked)
            buffers.upload(self._stream)
            for _ in range(warmup):
                self._enqueue(buffers)
            self._stream.synchronize()
            marks = [cuda.Event() for _ in range(iterations + 1)]
            started = time.perf_counter()
            marks[0].record(self._stream)
            for i in range(iterations):
                self._enqueue(buffers)
                marks[i + 1].record(self._stream)
            marks[-1].synchronize()
            wall_s = time.perf_counter() - started
            samples = [marks[i + 1].time_since(marks[i]) for i in range(iterations)]
            marks.clear()  # events are destroyed in their context, while it is current
        return LatencyStats.from_samples(samples, wall_s, warmup=warmup)


def _declared_io(
    source: EngineSource,
    profile_index: int,
    io_specs: tuple[Sequence[TensorSpec], Sequence[TensorSpec]] | None,
    profiles: Mapping[str, ProfileRange] | None,
) -> EngineIO | None:
    """The I/O known without deserializing: explicit arguments, else an artifact's card."""
    card = getattr(source, "card", None)
    if io_specs is None and card is not None and hasattr(card, "inputs"):
        io_specs = (card.inputs, card.outputs)
        card_profiles = getattr(card, "profiles", ())
        if profiles is None and profile_index < len(card_profiles):
            profiles = {p.input: (p.min, p.max) for p in card_profiles[profile_index]}
    if io_specs is None:
        return None
    return EngineIO(tuple(io_specs[0]), tuple(io_specs[1]), dict(profiles or {}), {})


def _signature(specs: Sequence[TensorSpec]) -> list[tuple[str, str, tuple[int | None, ...]]]:
    def fixed(spec: TensorSpec) -> tuple[int | None, ...]:
        return tuple(d if isinstance(d, int) and d >= 0 else None for d in spec.shape or ())

    return sorted((s.name, s.dtype, fixed(s)) for s in specs)


def _describe(specs: Sequence[TensorSpec]) -> str:
    return ", ".join(f"{s.name}:{s.dtype}{s.shape_text()}" for s in specs)


def _is_engine_object(source: object) -> bool:
    return hasattr(source, "create_execution_context") and hasattr(source, "num_io_tensors")


def _read_plan(source: EngineSource) -> bytes:
    """Plan bytes from bytes/IHostMemory (buffer protocol), an artifact, or a file path."""
    for attr in ("plan", "data"):  # an engine artifact record carrying its bytes
        value = getattr(source, attr, None)
        if isinstance(value, (bytes, bytearray)):
            return bytes(value)
    if not isinstance(source, (str, os.PathLike)):
        try:
            return bytes(memoryview(source))  # type: ignore[arg-type]  # IHostMemory's buffer
        except TypeError as err:
            raise EngineLoadError(
                "TrtRunner cannot read an engine from this object.",
                expected="plan bytes, IHostMemory, an EngineArtifact, a path, or an ICudaEngine",
                found=type(source).__name__,
                fix="pass the serialized engine or the path of a saved .engine file",
            ) from err
    path = Path(os.fspath(source))
    try:
        data = path.read_bytes()
    except OSError as err:
        raise EngineLoadError(
            f"The engine file {path} could not be read.",
            expected="a readable serialized engine (.engine / .plan)",
            found=f"{type(err).__name__}: {err}",
            fix="check the path; build and save an engine first",
        ) from err
    if not data:
        raise EngineLoadError(
            f"The engine file {path} is empty.",
            expected="a serialized engine",
            found="0 bytes",
            fix="rebuild and save the engine again",
        )
    return data
