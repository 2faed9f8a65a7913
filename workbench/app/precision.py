"""FP16 accuracy: the FP32 graph on ONNX Runtime against the FP16 graph, layer by layer.

The candidate is the graph that :func:`workbench.transforms.fp16.convert_to_fp16` makes,
the same conversion the builder uses, so what is measured is what gets built; how it is
evaluated (NumPy float16 on CPU, or TensorRT on a GPU) lives in ``fp16_candidate``.
Nothing here imports onnxruntime or TensorRT at module level: the ORT runner imports it
when activated, and TensorRT is reached only inside a function, when a GPU can run it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from workbench.app.layerwise import candidate_outputs, convert_staged, layer_drift
from workbench.backends.ort import OrtRunner, index_input_ranges
from workbench.backends.reference import NUMPY_PATH, TENSORRT_PATH, tensorrt_outputs
from workbench.compare.drift import DEFAULT_DRIFT_THRESHOLD, DriftReport
from workbench.compare.metrics import ComparisonReport, compare_outputs
from workbench.compare.tolerances import Tolerances
from workbench.core.errors import ComparisonError
from workbench.core.records import TensorSpec
from workbench.feeds.inputs import load_inputs, make_inputs
from workbench.inspection.loading import ModelSource
from workbench.inspection.protos import graph_io_specs
from workbench.transforms.external import staged_model
from workbench.transforms.fp16 import missing_nodes

__all__ = ["NUMPY_PATH", "TENSORRT_PATH", "PrecisionReport", "compare_precision"]

SUPPORTED = ("fp16",)


@dataclass(frozen=True)
class PrecisionReport:
    """FP32 vs reduced precision: outputs, per-layer drift, and what to keep in FP32."""

    model: str
    precision: str
    path: str
    outputs: ComparisonReport
    drift: DriftReport | None
    keep_fp32: tuple[str, ...]
    inputs: tuple[TensorSpec, ...]
    seed: int | None
    timings: tuple[tuple[str, float], ...]
    notes: tuple[str, ...] = ()
    reference_outputs: dict[str, np.ndarray] = field(default_factory=dict, repr=False,
                                                     compare=False)
    candidate_outputs: dict[str, np.ndarray] = field(default_factory=dict, repr=False,
                                                     compare=False)

    @property
    def passed(self) -> bool:
        return self.outputs.passed

    def __bool__(self) -> bool:
        return self.passed

    @property
    def first_bad_node(self) -> str | None:
        return self.drift.first_bad_node if self.drift else None

    @property
    def suggested_keep_fp32(self) -> tuple[str, ...]:
        """Nodes to pass back as ``keep_fp32`` (already including the current ones)."""
        if self.drift is None:
            return self.keep_fp32
        extra = [n for n in self.drift.suggested_keep_fp32 if n not in self.keep_fp32]
        return (*self.keep_fp32, *extra)

    @property
    def out_of_range(self) -> tuple[Any, ...]:
        return self.drift.out_of_range if self.drift else ()

    def summary(self) -> str:
        lines = [
            f"{self.precision.upper()} vs FP32 for {self.model}: "
            + ("PASSED" if self.passed else "FAILED"),
            f"  candidate numbers from: {self.path}",
            f"  tolerances: {self.outputs.tolerances.describe()}",
            *("  " + o.summary() for o in self.outputs.outputs),
        ]
        if self.keep_fp32:
            lines.append("  kept in FP32: " + ", ".join(self.keep_fp32))
        if self.drift is not None:
            lines += _drift_lines(self.drift)
        lines += ["  note: " + note for note in self.notes]
        lines.append("  timings: " + ", ".join(f"{k} {v:.3f}s" for k, v in self.timings))
        lines.append("  rule: " + self.outputs.rule)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model, "precision": self.precision, "path": self.path,
            "passed": self.passed, "keep_fp32": list(self.keep_fp32),
            "first_bad_node": self.first_bad_node,
            "suggested_keep_fp32": list(self.suggested_keep_fp32),
            "inputs": [spec.to_dict() for spec in self.inputs], "seed": self.seed,
            "timings": dict(self.timings), "notes": list(self.notes),
            "outputs": self.outputs.to_dict(),
            "drift": None if self.drift is None else self.drift.to_dict(),
        }


def _drift_lines(drift: DriftReport) -> list[str]:
    lines = [
        f"  per-layer drift: {len(drift.layers)} tensors, threshold {drift.threshold:g} "
        "(max|fp16 - fp32| / max|fp32|)",
        f"  first node over threshold: {drift.first_bad_node or 'none'}"
        + (f" (tensor {drift.first_bad_tensor})" if drift.first_bad_tensor else ""),
    ]
    lines += ["  out of FP16 range: " + issue.describe() for issue in drift.out_of_range[:10]]
    if len(drift.out_of_range) > 10:
        lines.append(f"  ... and {len(drift.out_of_range) - 10} more range findings")
    if drift.suggested_keep_fp32:
        lines.append("  suggested keep-FP32 list: " + " ".join(drift.suggested_keep_fp32))
        lines.append(f"    ({drift.reason})")
    return lines


def compare_precision(
    source: ModelSource,
    precision: str = "fp16",
    inputs: Mapping[str, np.ndarray] | str | Path | None = None,
    keep_fp32: Iterable[str] = (),
    seed: int = 0,
    tolerances: Tolerances | None = None,
    per_layer: bool = True,
    *,
    dims: Mapping[str, int] | None = None,
    drift_threshold: float = DEFAULT_DRIFT_THRESHOLD,
    backend: str = "auto",
    on_progress: Callable[[str, int, int], None] | None = None,
) -> PrecisionReport:
    """Compare the FP16 graph against FP32 ONNX Runtime on the same inputs.

    Args:
        source: Path, bytes or ModelProto of an FP32 model.
        precision: ``"fp16"`` (BF16 is not supported: see the error it raises).
        inputs: Feeds (dict or ``.npz`` path); seeded random feeds when None.
        keep_fp32: Node names to leave in FP32 (e.g. ``report.suggested_keep_fp32``).
        seed: Seed of the random feeds.
        tolerances: Output tolerances; the preset named by ``precision`` when None.
        per_layer: Also compare every intermediate tensor (drift, range, keep list).
        dims: Sizes of symbolic dims for the random feeds, e.g. ``{"batch": 4}``.
        drift_threshold: Per-layer error (relative to the tensor's scale) called bad.
        backend: ``"auto"`` (TensorRT when a GPU runner reports itself ready, else NumPy
            float16) or ``"numpy"``.
        on_progress: Called as ``on_progress(phase, done, total)`` while weights are
            converted and graphs evaluated (from the calling thread).

    Memory: the model's weights are never held twice. Weights in external data are read
    one tensor at a time (models over 2 GiB work by path); peak memory is about the FP32
    weight bytes (ONNX Runtime, then the FP16 side at half that), and about 1.5× with
    per-layer drift, whose figures are taken tensor by tensor as both graphs run.
    """
    _check_precision(precision)
    _check_backend(backend)
    clock = _Clock()
    with staged_model(source) as staged:
        model = _named_nodes(staged.model)
        keep = _check_keep(model, keep_fp32)
        feeds = _feeds(model, inputs, seed, dims)
        output_names = [o.name for o in model.graph.output]
        # ONNX Runtime from the path: it reads external weights itself, and its memory is
        # given back before the FP16 side loads any.
        if on_progress is not None:
            on_progress("running the FP32 reference (ONNX Runtime)", 0, 0)
        with OrtRunner(staged.path or staged.model) as reference_runner:
            ref_out = reference_runner.infer(feeds)
        clock.lap("fp32 reference (onnxruntime)")
        fp16 = convert_staged(staged, model, keep, on_progress)
        notes = list(fp16.notes)
        clock.lap("fp16 conversion")
        gpu_outputs, gpu_notes = (None, []) if backend == "numpy" else tensorrt_outputs(
            staged.path or model, keep, feeds)
        notes += gpu_notes
        drift = None
        if per_layer:
            drift, candidate = layer_drift(staged, model, fp16, feeds, drift_threshold,
                                           on_progress)
        elif gpu_outputs is None:
            candidate = candidate_outputs(fp16, feeds, on_progress)
        else:
            candidate = {}
        del fp16
        if gpu_outputs is not None:
            candidate.update(gpu_outputs)
        clock.lap("fp16 candidate")
    cand_out = {name: candidate[name] for name in output_names if name in candidate}
    report = compare_outputs(ref_out, cand_out, tolerances or Tolerances.preset(precision))
    clock.lap("comparison")
    return PrecisionReport(
        model=_label(source), precision=precision,
        path=_path_text(gpu_outputs is not None, per_layer),
        outputs=report, drift=drift, keep_fp32=keep,
        inputs=tuple(TensorSpec(n, a.dtype.name, tuple(a.shape)) for n, a in feeds.items()),
        seed=None if inputs is not None else seed, timings=clock.laps, notes=tuple(notes),
        reference_outputs=ref_out, candidate_outputs=cand_out,
    )


class _Clock:
    def __init__(self) -> None:
        self._last = time.perf_counter()
        self.laps: tuple[tuple[str, float], ...] = ()

    def lap(self, label: str) -> None:
        now = time.perf_counter()
        self.laps = (*self.laps, (label, now - self._last))
        self._last = now


def _check_precision(precision: str) -> None:
    if precision in SUPPORTED:
        return
    hint = (
        "BF16 needs a BF16 graph conversion and bfloat16 arithmetic, which this version "
        "does not implement; compare FP16, and use Tolerances.preset('bf16') to judge "
        "BF16 engine outputs you produce yourself" if precision == "bf16"
        else "use precision='fp16'"
    )
    raise ComparisonError(
        f"Precision {precision!r} cannot be compared here.",
        expected="one of " + ", ".join(SUPPORTED),
        found=repr(precision),
        fix=hint,
    )


def _path_text(on_gpu: bool, per_layer: bool) -> str:
    if not on_gpu:
        return NUMPY_PATH
    return TENSORRT_PATH + (f" (outputs); per-layer drift from {NUMPY_PATH}" if per_layer else "")


def _check_backend(backend: str) -> None:
    if backend not in ("auto", "numpy"):
        raise ComparisonError(
            f"Unknown candidate backend {backend!r}.",
            expected="'auto' (TensorRT when a GPU can run engines, else NumPy float16) or 'numpy'",
            found=repr(backend),
            fix="pass backend='auto' or backend='numpy'",
        )


def _label(source: ModelSource) -> str:
    if isinstance(source, (str, Path)):
        return str(source)
    if isinstance(source, onnx.ModelProto):
        return source.graph.name or "<ModelProto>"
    return "<model bytes>"


def _named_nodes(model: onnx.ModelProto) -> onnx.ModelProto:
    """Unnamed nodes get ``<op>_<index>`` names: keep lists and reports need a handle."""
    if all(node.name for node in model.graph.node):
        return model
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    for index, node in enumerate(copy.graph.node):
        if not node.name:
            node.name = f"{node.op_type}_{index}"
    return copy


def _check_keep(model: onnx.ModelProto, keep_fp32: Iterable[str]) -> tuple[str, ...]:
    keep = tuple(dict.fromkeys(keep_fp32))
    names = [node.name for node in model.graph.node]
    unknown = missing_nodes(model, keep)
    if unknown:
        shown = ", ".join(names[:12]) + (" ..." if len(names) > 12 else "")
        raise ComparisonError(
            "keep_fp32 names nodes that are not in the model.",
            expected=f"node names of this graph ({shown})",
            found=", ".join(unknown),
            fix="use node names (not tensor names), e.g. from report.suggested_keep_fp32",
        )
    return keep


def _feeds(
    model: onnx.ModelProto,
    inputs: Mapping[str, np.ndarray] | str | Path | None,
    seed: int,
    dims: Mapping[str, int] | None,
) -> dict[str, np.ndarray]:
    if inputs is None:
        ranges = index_input_ranges(model)
        specs = graph_io_specs(model.graph)[0]
        return make_inputs(specs, seed=seed, dims=dims, int_range=ranges or None)
    if isinstance(inputs, (str, Path)):
        inputs = load_inputs(inputs)
    return {name: np.asarray(value) for name, value in inputs.items()}


def node_names(model: onnx.ModelProto) -> Sequence[str]:
    """Node names in topological order (for UIs offering a keep-FP32 choice)."""
    return [node.name for node in _named_nodes(model).graph.node]
