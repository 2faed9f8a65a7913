"""ONNX Runtime's static quantizer, driven by a ``QuantSettings`` (an onnxruntime importer).

The second module allowed to import onnxruntime (``tests/test_layering.py``): quantization
lives in ``onnxruntime.quantization``, which is large and unrelated to running models, so
it is kept out of ``workbench.backends.ort``. ``onnxruntime`` is imported inside
``quantize_qdq`` only, so importing this module costs nothing.

Calibration batches come from an iterator the caller makes (the one feed generator, or
``.npz`` files): ORT runs the model on each to collect activation ranges. Cancelling and
progress work through that iterator, between batches.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from workbench.core.errors import BuildCancelled, QuantizationError
from workbench.transforms.quant.settings import Calibrator, QuantPrecision, QuantSettings

__all__ = ["quantize_qdq"]

Batches = Iterator[dict[str, np.ndarray]]


def quantize_qdq(
    model_path: str | os.PathLike[str], out_path: str | os.PathLike[str],
    settings: QuantSettings, batches: Batches, *, total: int = 0,
    cancel: Callable[[], bool] | None = None,
    on_batch: Callable[[int, int], None] | None = None,
    external_data: bool = False,
) -> None:
    """Write the Q/DQ model of ``model_path`` to ``out_path`` (which must not exist).

    Args:
        model_path: The float model (its nodes named as the exclusion list names them).
        out_path: Where ORT writes the quantized model.
        settings: The preset (``QuantSettings.tensorrt``) or other settings.
        batches: Calibration feeds, one dict per batch.
        total: How many batches ``batches`` yields (for progress).
        cancel: Returns True to stop before the next batch (raises BuildCancelled).
        on_batch: Called as ``on_batch(done, total)`` as ORT takes each batch.
        external_data: Write weights to an external data file (models over 2 GiB).
    """
    from onnxruntime.quantization import (  # lazily: see the module docstring
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class _Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.done = 0

        def get_next(self) -> dict[str, np.ndarray] | None:
            if cancel is not None and cancel():
                raise BuildCancelled("The quantization was cancelled.",
                                     expected="calibration to run to the end",
                                     found=f"cancelled after {self.done} batch(es)",
                                     fix="start it again; nothing was written")
            batch = next(batches, None)
            if batch is not None:
                self.done += 1
                if on_batch is not None:
                    on_batch(self.done, total)
            return batch

    qtype = (QuantType.QFLOAT8E4M3FN if settings.precision is QuantPrecision.FP8
             else QuantType.QInt8)
    methods = {Calibrator.MINMAX: CalibrationMethod.MinMax,
               Calibrator.ENTROPY: CalibrationMethod.Entropy,
               Calibrator.PERCENTILE: CalibrationMethod.Percentile,
               Calibrator.DISTRIBUTION: CalibrationMethod.Distribution}
    arguments: dict[str, Any] = {
        "quant_format": QuantFormat.QDQ, "activation_type": qtype, "weight_type": qtype,
        "op_types_to_quantize": list(settings.op_types) or None,
        "per_channel": settings.per_channel, "nodes_to_exclude": list(settings.exclude),
        "calibrate_method": methods[settings.calibrator],
        "extra_options": settings.extra_options(),
        "use_external_data_format": external_data,
    }
    quiet = logging.getLogger().level
    logging.getLogger().setLevel(logging.ERROR)  # ORT warns "consider pre-processing" per call
    try:
        with warnings.catch_warnings():
            # its NumPy divisions by a zero scale warn; the result is checked instead
            warnings.simplefilter("ignore", RuntimeWarning)
            quantize_static(str(model_path), str(out_path), _Reader(), **arguments)
    except BuildCancelled:
        raise
    except Exception as err:  # ORT raises ValueError/RuntimeError/its own Fail classes
        nan = "has nan" in str(err).lower()
        raise QuantizationError(
            "ONNX Runtime's quantizer produced NaN values for this model." if nan else
            "ONNX Runtime could not quantize this model.",
            expected=f"a float model ONNX Runtime runs and quantizes ({settings.describe()})",
            found=f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}",
            fix=_fix_for(settings, str(err)),
            details=str(err).splitlines()[-20:],
        ) from err
    finally:
        logging.getLogger().setLevel(quiet)
    if not Path(out_path).exists():
        raise QuantizationError("ONNX Runtime's quantizer wrote no file.",
                                expected=f"a model at {out_path}", found="nothing",
                                fix="check the calibration data: it must feed every input")


def _fix_for(settings: QuantSettings, text: str) -> str:
    if settings.precision is QuantPrecision.FP8:
        why = ("its FP8 path divides by a scale of 0 for an all-zero or constant tensor "
               "(the Distribution calibrator fits a normal distribution per tensor), so a "
               "quantized initializer became NaN; " if "has nan" in text.lower() else
               "FP8 needs ONNX Runtime's Distribution calibrator and operators it can "
               "quantize to float8; ")
        return why + ("use precision 'int8' (the TensorRT preset), or exclude the node "
                      "reading the tensor named above")
    if "input" in text.lower() and ("missing" in text.lower() or "feed" in text.lower()):
        return "give calibration batches with every model input (names and shapes)"
    return ("check that ONNX Runtime runs the model (Run tab); exclude the node ORT names "
            "above with exclude=(...), or quantize fewer op types")
