"""The graph conversion step of strongly typed builds, for every precision it exists for.

``workbench.settings.plan.GRAPH_CONVERSIONS`` lists the precisions converted here; the
builder, ``trt-workbench convert`` (the trtexec rendering's first step) and the generated
Python script all call ``convert_graph``, so the graph TensorRT builds is the same
whichever way the build is run.
"""

from __future__ import annotations

from collections.abc import Iterable

import onnx

from workbench.core.errors import BuildSettingsError
from workbench.settings.fields import Precision, PrecisionArg
from workbench.settings.plan import GRAPH_CONVERSIONS
from workbench.transforms.precision.fp16 import Conversion, convert_precision

__all__ = ["convert", "convert_graph"]


def convert_graph(model: onnx.ModelProto, precision: PrecisionArg,
                  keep_fp32: Iterable[str] = ()) -> onnx.ModelProto:
    """A copy of ``model`` in ``precision`` (I/O types kept; ``keep_fp32`` nodes in FP32)."""
    return convert(model, precision, keep_fp32).model


def convert(model: onnx.ModelProto, precision: PrecisionArg,
            keep_fp32: Iterable[str] = ()) -> Conversion:
    """``convert_graph`` with the conversion's report (nodes in FP16/BF16, nodes kept in
    FP32 and why)."""
    try:
        wanted = Precision(precision)
    except ValueError as err:
        raise _no_conversion(str(precision)) from err
    if wanted in GRAPH_CONVERSIONS:
        return convert_precision(model, wanted, keep_fp32)
    raise _no_conversion(wanted.value)


def _no_conversion(found: str) -> BuildSettingsError:
    known = " / ".join(sorted(p.value for p in GRAPH_CONVERSIONS))
    return BuildSettingsError(
        f"The workbench has no {found.upper()} graph conversion.",
        expected=f"a precision it converts graphs to: {known}",
        found=found,
        fix="use --precision fp16, or convert the graph with another tool and build it as "
        "it is (precision fp32 keeps the graph's types)",
    )
