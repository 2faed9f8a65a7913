"""Quantize a float model to Q/DQ (INT8 or FP8) for TensorRT, into a new file.

The model is staged (nodes named by ``workbench.transforms.naming.name_nodes``, so the
exclusion list uses the names every other report uses) into a temporary folder beside the
result, ONNX Runtime's static quantizer writes the Q/DQ model there, the result is checked
(``workbench.inspection.quantization.quantization_info``: usable scales, only the
types TensorRT's DequantizeLinear takes) and then linked into place, never over an existing
file. The user's model is only read.

Calibration: seeded batches from the one feed generator
(``workbench.feeds.generator.model_feeds``, seeds ``seed .. seed+n-1``), or feeds you
give: a dict (one batch), a list of dicts, or ``.npz`` files (one batch each).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from workbench.backends.ort_quant import quantize_qdq
from workbench.core.errors import QuantizationError, WorkbenchError
from workbench.feeds.generator import FeedOptions, model_feeds
from workbench.feeds.inputs import load_inputs
from workbench.inspection.external_data import external_data_refs
from workbench.inspection.loading import ModelSource, load_model
from workbench.inspection.quantization import QuantInfo, quantization_info
from workbench.transforms.external import (
    INLINE_LIMIT,
    inline_weight_bytes,
    refuse_model_files,
    save_staged,
    staged_model,
)
from workbench.transforms.naming import name_nodes
from workbench.transforms.quant.settings import QuantPrecision, QuantSettings, check_exclude

__all__ = ["Calibration", "QuantizeResult", "quantize_model"]

Batch = Mapping[str, np.ndarray]
# None: generated; a dict: one batch; a path / list of paths or dicts: one batch each
Calibration = Batch | str | Path | Sequence[Batch | str | Path] | None
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class QuantizeResult:
    """What was written, from what, how, and what it contains."""

    source: str
    path: Path
    settings: QuantSettings
    calibration: str  # in words: "8 generated batches (seeds 0-7)" or "2 .npz files"
    info: QuantInfo = field(repr=False)
    seconds: float = 0.0

    @property
    def quantized_nodes(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.info.quantized_nodes)

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for tensor in self.info.tensors:
            counts[tensor.kind] = counts.get(tensor.kind, 0) + 1
        made = ", ".join(f"{n} {kind}s" for kind, n in counts.items()) or "nothing"
        return (f"quantized {self.source} -> {self.path} in {self.seconds:.2f} s: "
                f"{self.settings.describe()}; calibrated on {self.calibration}; "
                f"Q/DQ on {made}; {len(self.info.quantized_nodes)} nodes read quantized values")

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "path": str(self.path),
                "settings": self.settings.to_dict(), "calibration": self.calibration,
                "seconds": self.seconds, "quantization": self.info.to_dict()}


def quantize_model(
    source: ModelSource, out_path: str | os.PathLike[str],
    settings: QuantSettings | None = None, calibration: Calibration = None, *,
    seed: int = 0, options: FeedOptions | None = None,
    cancel: Callable[[], bool] | None = None, on_progress: Progress | None = None,
) -> QuantizeResult:
    """Write the Q/DQ model of ``source`` to ``out_path`` (refused if it exists).

    Args:
        source: The float model (path, bytes or ModelProto); never modified.
        out_path: The new file.
        settings: Default: the TensorRT preset (``QuantSettings.tensorrt``).
        calibration: See the module docstring.
        seed: Seeds the generated calibration batches.
        options: Sizes and integer ranges of the generated calibration batches.
        cancel: Returns True to stop between calibration batches (BuildCancelled).
        on_progress: ``on_progress(phase, done, total)``.

    Raises:
        QuantizationError: ORT failed, or what it wrote has scales TensorRT cannot use
            (NaN, infinite or zero) or DequantizeLinear inputs it refuses.
    """
    settings = settings or QuantSettings.tensorrt()
    began = time.perf_counter()
    target = Path(out_path).expanduser().resolve()
    try:
        refuse_model_files(target, overwrite=False)
    except WorkbenchError as err:
        raise QuantizationError(
            f"Not quantizing: {target} exists.", expected="a path where no file exists yet",
            found=err.found or "an existing file (it is left untouched)",
            fix="choose another output path: results never overwrite a file") from err
    target.parent.mkdir(parents=True, exist_ok=True)
    with staged_model(source) as staged, tempfile.TemporaryDirectory(
            prefix=".workbench-quant-", dir=target.parent) as tmp:
        named = name_nodes(staged.model)
        check_exclude(named, settings.exclude)
        big = bool(external_data_refs(named)) or inline_weight_bytes(named) > INLINE_LIMIT
        float_path = save_staged(named, staged.folder, Path(tmp) / "float.onnx")
        batches, total, words = _batches(named, calibration, settings, seed, options)
        if on_progress is not None:
            on_progress("calibrating (ONNX Runtime)", 0, total)
        written = Path(tmp) / target.name
        quantize_qdq(float_path, written, settings, batches, total=total, cancel=cancel,
                     external_data=big,
                     on_batch=None if on_progress is None else (
                         lambda done, n: on_progress("calibrating (ONNX Runtime)", done, n)))
        info = quantization_info(load_model(written, load_weights=False))
        _check_result(info, settings)
        _move_into_place(written, target)
    return QuantizeResult(staged.label, target, settings, words, info,
                          time.perf_counter() - began)


def _batches(model: onnx.ModelProto, calibration: Calibration, settings: QuantSettings,
             seed: int, options: FeedOptions | None) -> tuple[Iterator[dict[str, np.ndarray]],
                                                           int, str]:
    if calibration is None:
        n = settings.calibration_batches
        generated = (model_feeds(model, seed=seed + k, options=options) for k in range(n))
        return generated, n, f"{n} generated batches (seeds {seed}-{seed + n - 1})"
    if isinstance(calibration, Mapping):
        return iter([{k: np.asarray(v) for k, v in calibration.items()}]), 1, "1 given batch"
    items = [calibration] if isinstance(calibration, (str, Path)) else list(calibration)
    if not items:
        raise QuantizationError("No calibration batches were given.",
                                expected="at least one batch (a dict or an .npz file)",
                                found="an empty list", fix="pass calibration=None to "
                                "calibrate on generated feeds, or give .npz files")
    files = sum(isinstance(item, (str, Path)) for item in items)

    def read() -> Iterator[dict[str, np.ndarray]]:
        for item in items:
            if isinstance(item, (str, Path)):
                yield load_inputs(item)
            else:
                yield {k: np.asarray(v) for k, v in item.items()}

    words = (f"{files} .npz file(s)" if files == len(items) else f"{len(items)} given batches")
    return read(), len(items), words


def _check_result(info: QuantInfo, settings: QuantSettings) -> None:
    """Refuse a model TensorRT cannot use: NaN, infinite or zero scales. (A model with
    nothing quantized, every candidate excluded, is valid: the exclusion search makes it.)"""
    bad = info.bad_scales
    if bad:
        fp8 = settings.precision is QuantPrecision.FP8
        raise QuantizationError(
            f"ONNX Runtime wrote {len(bad)} unusable scale(s): the model would compute "
            "NaN or nothing.",
            expected="finite, positive scales for every QuantizeLinear/DequantizeLinear",
            found="; ".join(f"{t.tensor}: {t.bad_scale}" for t in bad[:6])
            + (" ..." if len(bad) > 6 else ""),
            fix=("ORT's FP8 path (QFLOAT8E4M3FN, Distribution calibrator) fits a normal "
                 "distribution per tensor; constant or degenerate activations give NaN "
                 "scales. Use precision 'int8' (the TensorRT preset), or exclude the nodes "
                 "named above" if fp8 else
                 "calibrate on more varied data (constant activations give zero ranges), "
                 "or exclude the nodes named above"),
        )


def _move_into_place(written: Path, target: Path) -> None:
    """Link ORT's files into place: atomic, and refused if the target appeared meanwhile."""
    moves = [(written, target)]
    data = written.parent / (written.name + ".data")
    if data.exists():  # ORT names its external data file after the model
        moves.append((data, target.parent / data.name))
    for src, dst in moves:
        try:
            os.link(src, dst)
        except FileExistsError as err:
            raise QuantizationError(f"{dst} appeared while quantizing.",
                                    expected="a new file", found=f"{dst} exists",
                                    fix="choose another output path") from err
        except OSError:  # no hard links on this file system: copy, still never over a file
            with open(src, "rb") as reader, open(dst, "xb") as writer:
                while chunk := reader.read(16 << 20):
                    writer.write(chunk)
