"""FP16 accuracy: the FP32 graph on ONNX Runtime against the FP16 graph, layer by layer.

The candidate is the graph that ``workbench.transforms.precision.fp16.convert_to_fp16`` makes,
the same conversion the builder uses, so what is measured is what gets built; how it is
evaluated (NumPy float16 on CPU, or TensorRT on a GPU) lives in ``fp16_candidate``.
Nothing here imports onnxruntime or TensorRT at module level: the ORT runner imports it
when activated, and TensorRT is reached only inside a function, when a GPU can run it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import onnx

from workbench.app.precision.compare_cache import model_identity, reference_outputs
from workbench.app.precision.layerwise import (
    candidate_outputs,
    convert_staged,
    large_model,
    layer_drift,
)
from workbench.app.precision.lines import fallback_notes
from workbench.app.precision.reference_check import check_reference
from workbench.app.precision.report import PrecisionReport
from workbench.backends.blas_threads import single_threaded_blas
from workbench.backends.ort import OrtRunner
from workbench.backends.reference import BF16_PATH, NUMPY_PATH, TENSORRT_PATH, tensorrt_outputs
from workbench.compare.drift import DEFAULT_DRIFT_THRESHOLD
from workbench.compare.metrics import compare_outputs
from workbench.compare.tolerances import Tolerances
from workbench.compare.verdicts import uninformative_outputs
from workbench.core.errors import ComparisonError
from workbench.core.gcpause import gc_paused
from workbench.core.heap import give_back_free_heap
from workbench.core.records import Choice, TensorSpec
from workbench.feeds.generator import FeedOptions, model_feeds
from workbench.feeds.inputs import load_inputs
from workbench.inspection.loading import ModelSource, source_label
from workbench.settings.fields import Precision, PrecisionArg, reduced_precision
from workbench.transforms.external import staged_model
from workbench.transforms.mask_clamp import (
    find_mask_constants,
)
from workbench.transforms.naming import name_nodes
from workbench.transforms.precision.fp16 import missing_nodes

__all__ = ["NUMPY_PATH", "TENSORRT_PATH", "CandidateBackend", "PrecisionReport",
           "candidate_backend", "compare_precision", "fp32_outputs", "model_feeds_for"]


class CandidateBackend(Choice):
    """What evaluates the reduced-precision candidate of a comparison."""

    AUTO = "auto"  # TensorRT when a GPU runner reports itself ready, else the CPU evaluator
    NUMPY = "numpy"  # the CPU evaluator (NumPy float16 / ml_dtypes bfloat16) only


def candidate_backend(backend: CandidateBackend | str) -> CandidateBackend:
    """``backend`` (enum or text) as a CandidateBackend, or a ComparisonError."""
    try:
        return CandidateBackend(backend)
    except ValueError as err:
        raise ComparisonError(
            f"Unknown candidate backend {str(backend)!r}.",
            expected="'auto' (TensorRT when a GPU can run engines, else NumPy float16) or 'numpy'",
            found=repr(str(backend)),
            fix="pass backend='auto' or backend='numpy'",
        ) from err


def compare_precision(
    source: ModelSource,
    precision: PrecisionArg = Precision.FP16,
    inputs: Mapping[str, np.ndarray] | str | Path | None = None,
    keep_fp32: Iterable[str] = (),
    seed: int = 0,
    tolerances: Tolerances | None = None,
    per_layer: bool = True,
    *,
    dims: Mapping[str, int] | None = None,
    int_ranges: Mapping[str, tuple[int, int]] | None = None,
    drift_threshold: float | None = None,
    backend: CandidateBackend | str = CandidateBackend.AUTO,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> PrecisionReport:
    """Compare the FP16 graph against FP32 ONNX Runtime on the same inputs.

    Args:
        source: Path, bytes or ModelProto of an FP32 model.
        precision: ``Precision.FP16`` or ``Precision.BF16``, or their text ``"fp16"`` /
            ``"bf16"`` (BF16: bfloat16 rounding after every operator, with ml_dtypes;
            FP32's range, so no range findings).
        inputs: Feeds (dict or ``.npz`` path); seeded random feeds when None.
        keep_fp32: Node names to leave in FP32 (e.g. ``report.suggested_keep_fp32``).
        seed: Seed of the random feeds.
        tolerances: Output tolerances; the preset named by ``precision`` when None.
        per_layer: Also compare every intermediate tensor (drift, range, keep list).
        dims: Sizes of symbolic dims for the random feeds, e.g. ``{"batch": 4}`` (the
            others take the default build profile's opt sizes).
        int_ranges: ``[low, high)`` per integer input, over the ranges found in the graph
            (``workbench.feeds.generator.model_feeds`` makes the feeds).
        drift_threshold: Per-layer error (relative to the tensor's scale) called bad;
            None: 1e-2 for FP16, 8e-2 for BF16 (8× coarser rounding).
        backend: A ``CandidateBackend`` or its text: ``"auto"`` (TensorRT when a GPU
            runner reports itself ready, else NumPy float16) or ``"numpy"``.
        on_progress: Called as ``on_progress(phase, done, total)`` while weights are
            converted and graphs evaluated (from the calling thread).

    Memory: the model's weights are never held twice. Weights in external data are read
    one tensor at a time (models over 2 GiB work by path; large inline weights are first
    staged to a temporary folder); peak memory is about the FP32 weight bytes (ONNX
    Runtime, then the reduced-precision side at half that), and about 1.5× with per-layer
    drift, whose figures are taken tensor by tensor as both graphs run.
    """
    precision, backend = reduced_precision(precision), candidate_backend(backend)
    clock = _Clock()
    # No cyclic GC passes inside: a comparison makes thousands of short-lived containers
    # (per node), each gen-2 pass walked the whole heap (~50k objects, up to ~18 ms on a
    # small export), and what it leaves is freed by reference counting anyway
    with gc_paused(), staged_model(source) as staged:
        # weights stay on disk: the graph only; read from a file, it is ours to name in place
        model = name_nodes(staged.model, in_place=isinstance(source, (str, Path)))
        keep = _check_keep(model, keep_fp32)
        feeds = model_feeds_for(model, inputs, seed, FeedOptions(dims or {}, int_ranges or {}))
        output_names = [o.name for o in model.graph.output]
        mask_constants = find_mask_constants(model, staged.folder)
        # ONNX Runtime from the path: it reads external weights itself, and its memory is
        # given back before the reduced-precision side loads any.
        if on_progress is not None:
            on_progress("running the FP32 reference (ONNX Runtime)", 0, 0)
        ref_out = reference_outputs(
            model_identity(staged.path, model, staged.folder), feeds,
            lambda: fp32_outputs(staged.path or staged.model, feeds,
                                 optimize=large_model(model, feeds)))
        clock.lap("fp32 reference (onnxruntime)")
        converted = convert_staged(staged, model, precision, keep, on_progress)
        notes: list[str] = []
        clock.lap(f"{precision} conversion")
        on_cpu = backend is CandidateBackend.NUMPY
        gpu_outputs, gpu_notes = (None, []) if on_cpu else tensorrt_outputs(
            staged.path or model, keep, feeds, precision)
        notes += gpu_notes
        drift = None
        fell_back: list[str] = []
        fp32_cpu: dict[str, np.ndarray] = {}
        # One BLAS thread: per-layer runs two graphs on two threads, and these matmuls of a
        # few rows are memory-bound; a pool of threads waiting on each other (or on a busy
        # machine) was 3-8x slower (measured on 2 cores)
        with single_threaded_blas():
            if per_layer:
                threshold = drift_threshold or DEFAULT_DRIFT_THRESHOLD * (
                    8 if precision is Precision.BF16 else 1)
                drift, candidate = layer_drift(staged, model, converted, feeds, threshold,
                                               precision is Precision.FP16, on_progress, fell_back,
                                               fp32_cpu)
            elif gpu_outputs is None:
                candidate = candidate_outputs(converted, feeds, on_progress, fell_back)
            else:
                candidate = {}
        conversion_report = converted.report
        del converted
        notes += fallback_notes(fell_back, precision)
        if gpu_outputs is not None:
            candidate.update(gpu_outputs)
        clock.lap(f"{precision} candidate")
        cand_out = {name: candidate[name] for name in output_names if name in candidate}
        preset = Tolerances.preset(precision.value)  # presets are named by text (also tf32)
        report = compare_outputs(ref_out, cand_out, tolerances or preset)
        # the CPU evaluator checked against ONNX Runtime: every per-layer run (its FP32 side
        # is at hand), and any CPU candidate that fails (is it FP16, or the evaluator?)
        check = check_reference(staged, model, feeds, ref_out, fp32_cpu if per_layer else None) \
            if per_layer or (gpu_outputs is None and not report.passed) else None
    clock.lap("comparison")
    return PrecisionReport(
        model=source_label(source), precision=precision,
        path=_path_text(gpu_outputs is not None, per_layer, precision),
        outputs=report, drift=drift, keep_fp32=keep,
        inputs=tuple(TensorSpec(n, a.dtype.name, tuple(a.shape)) for n, a in feeds.items()),
        seed=None if inputs is not None else seed, timings=clock.laps, notes=tuple(notes),
        conversion=conversion_report, inconclusive=uninformative_outputs(ref_out, report),
        mask_constants=mask_constants, not_evaluated=tuple(fell_back), reference_check=check,
        reference_outputs=ref_out, candidate_outputs=cand_out,
    )


def fp32_outputs(source: ModelSource, feeds: Mapping[str, np.ndarray], *,
                 optimize: bool = True) -> dict[str, np.ndarray]:
    """The FP32 reference: ONNX Runtime's outputs of ``source`` on ``feeds``.

    ``optimize=False`` runs the graph as written (no ORT graph optimizations): for a small
    model, optimizing costs more than the one run it serves (swin_torchscript's session:
    64 ms → 36 ms, its run ~20 ms), and the unfused graph is the one the FP16 side evaluates.
    """
    with OrtRunner(source, graph_optimizations=optimize) as reference_runner:
        outputs = reference_runner.infer(dict(feeds))
    give_back_free_heap()  # ORT's memory leaves before the reduced-precision side arrives
    return outputs


class _Clock:
    def __init__(self) -> None:
        self._last = time.perf_counter()
        self.laps: tuple[tuple[str, float], ...] = ()

    def lap(self, label: str) -> None:
        now = time.perf_counter()
        self.laps = (*self.laps, (label, now - self._last))
        self._last = now


def _path_text(on_gpu: bool, per_layer: bool, precision: Precision = Precision.FP16) -> str:
    cpu = NUMPY_PATH if precision is Precision.FP16 else BF16_PATH
    if not on_gpu:
        return cpu
    return TENSORRT_PATH + (f" (outputs); per-layer drift from {cpu}" if per_layer else "")


def _named_nodes(model: onnx.ModelProto) -> onnx.ModelProto:
    """Unnamed nodes get the names builds accept too (``workbench.transforms.naming``)."""
    return name_nodes(model)


def _check_keep(model: onnx.ModelProto, keep_fp32: Iterable[str]) -> tuple[str, ...]:
    keep = tuple(dict.fromkeys(keep_fp32))
    unknown = missing_nodes(model, keep)
    if unknown:
        names = [node.name for node in model.graph.node]
        shown = ", ".join(names[:12]) + (" ..." if len(names) > 12 else "")
        raise ComparisonError(
            "keep_fp32 names nodes that are not in the model.",
            expected=f"node names of this graph ({shown})",
            found=", ".join(unknown),
            fix="use node names (not tensor names), e.g. from report.suggested_keep_fp32",
        )
    return keep


def model_feeds_for(
    model: onnx.ModelProto,
    inputs: Mapping[str, np.ndarray] | str | Path | None,
    seed: int,
    options: FeedOptions,
) -> dict[str, np.ndarray]:
    """The feeds a comparison uses: ``inputs`` (a dict or an ``.npz``), else generated."""
    if inputs is None:
        return model_feeds(model, seed=seed, options=options)
    if isinstance(inputs, (str, Path)):
        inputs = load_inputs(inputs)
    return {name: np.asarray(value) for name, value in inputs.items()}


def node_names(model: onnx.ModelProto) -> Sequence[str]:
    """Node names in topological order (for UIs offering a keep-FP32 choice)."""
    return [node.name for node in _named_nodes(model).graph.node]
