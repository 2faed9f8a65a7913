"""The bug bundle of a failed FP16/BF16 comparison: what a precision bug report needs.

A model that TensorRT parses and builds can still fail its comparison (an FP16 overflow, a
layer whose error leaves the tolerances). Its bundle holds the model and a repro that runs
the same comparison as written: ``repro.sh`` with ``trt-workbench compare`` (exit status 1
when it fails) and ``repro.py`` with ``workbench.compare_precision``, at the same precision,
seed, symbolic-dim sizes and keep list. Nothing is compared again to write it: the report
the session already has is the diagnosis.
"""

from __future__ import annotations

import json
import shlex
from typing import TYPE_CHECKING

from workbench.app.share import reproduce

if TYPE_CHECKING:
    from workbench.app.precision.compare import PrecisionReport
    from workbench.core.records import TensorSpec

__all__ = ["compared_dims", "comparison_texts"]


def compared_dims(model_inputs: tuple[TensorSpec, ...], report: PrecisionReport
                  ) -> dict[str, int]:
    """The size each symbolic dim had in the comparison (from the inputs it ran on)."""
    used = {spec.name: spec.shape for spec in report.inputs}
    dims: dict[str, int] = {}
    for spec in model_inputs:
        shape = used.get(spec.name)
        for axis, dim in enumerate(spec.shape or ()):
            if isinstance(dim, str) and shape is not None and axis < len(shape):
                dims.setdefault(dim, int(shape[axis]))  # type: ignore[arg-type]
    return dims


def comparison_texts(report: PrecisionReport, dims: dict[str, int]) -> dict[str, str]:
    """repro.sh, repro.py, verbose.log (the comparison's own text), diagnosis.json and
    README.md of a comparison-failure bundle (``versions.json`` is the caller's)."""
    seed = 0 if report.seed is None else report.seed
    argv = ["trt-workbench", "compare", "model.onnx", "--precision", report.precision,
            "--seed", str(seed)]
    for name, size in dims.items():
        argv += ["--dim", f"{name}={size}"]
    if report.keep_fp32:
        argv += ["--keep-fp32", *report.keep_fp32]
    command = shlex.join(argv)
    inputs = ("" if report.seed is not None else
              "\nNote: the comparison ran on inputs you gave (an .npz or edited values), which "
              "are not in this bundle; the repro uses generated inputs of the same sizes.\n")
    diagnosis = {"stage": "compare", "precision": report.precision, "verdict": report.verdict,
                 "first_bad_node": report.first_bad_node,
                 "suggested_keep_fp32": list(report.suggested_keep_fp32),
                 "summary": report.summary().splitlines()}
    return {
        "repro.sh": f"#!/bin/sh\n# Reproduces the {report.precision.upper()} comparison: "
                    f"exits 1 when it fails.\n{command}\n",
        "repro.py": reproduce.compare_script("model.onnx", report.precision, report.keep_fp32,
                                             seed, dims or None),
        "verbose.log": report.summary() + "\n",
        "diagnosis.json": json.dumps(diagnosis, indent=2) + "\n",
        "README.md": f"""# {report.precision.upper()} accuracy failure: {report.verdict}

Made by trt-workbench. The model parses and builds; its {report.precision.upper()} comparison
against FP32 fails{f" first at node `{report.first_bad_node}`" if report.first_bad_node else ""}.
{inputs}
## Files
- `model.onnx`: the whole model.
- `repro.sh`: `{command}` (exit status 1: the comparison fails).
- `repro.py`: the same comparison in Python (`python repro.py` prints the report).
- `verbose.log`: the comparison's report as the workbench printed it.
- `diagnosis.json`: verdict, first bad node, suggested keep-FP32 list.
- `versions.json`: the versions of the workbench, TensorRT, onnx, ONNX Runtime, NumPy.

Check `model.onnx` is something you may share.
""",
    }
