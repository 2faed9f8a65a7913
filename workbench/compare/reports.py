"""Saving and loading comparison reports as JSON.

Non-finite statistics (a NaN max error, an infinite smallest atol) are written as
``NaN``/``Infinity``, which Python's json module reads back; the values are the truth
and rounding them to null would hide a broken output.
"""

from __future__ import annotations

import json
import os
from dataclasses import fields
from pathlib import Path
from typing import Any

from workbench.compare.metrics import PASS_RULE, ComparisonReport, OutputComparison
from workbench.compare.tolerances import Tolerances
from workbench.core.errors import ComparisonError
from workbench.core.fileio import write_atomic

__all__ = ["load_report", "report_from_dict", "save_report"]

_TUPLE_FIELDS = ("reference_shape", "candidate_shape", "worst_index")


def save_report(path: str | os.PathLike[str], report: ComparisonReport) -> Path:
    """Write ``report`` as JSON (atomically, replacing an earlier report at ``path``)."""
    target = Path(path)
    try:
        write_atomic(target, json.dumps(report.to_dict(), indent=2).encode(), overwrite=True)
    except OSError as err:
        raise ComparisonError(
            f"Cannot write the report to {target}.",
            expected="a writable path",
            found=f"{type(err).__name__}: {err}",
            fix="check that the folder exists and is writable",
        ) from err
    return target


def load_report(path: str | os.PathLike[str]) -> ComparisonReport:
    """Read a report written by ``save_report``."""
    source = Path(path)
    try:
        data = json.loads(source.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ComparisonError(
            f"Cannot read a comparison report from {source}.",
            expected="a JSON file written by save_report()",
            found=f"{type(err).__name__}: {err}",
            fix="check the path; re-run the comparison and save it again",
        ) from err
    return report_from_dict(data)


def report_from_dict(data: Any) -> ComparisonReport:
    """Rebuild a report from ``ComparisonReport.to_dict`` output."""
    if not isinstance(data, dict) or not isinstance(data.get("outputs"), list):
        raise _malformed("a JSON object with an 'outputs' list", type(data).__name__)
    tolerances = Tolerances.from_dict(data.get("tolerances") or {})
    outputs = tuple(_output_from_dict(item) for item in data["outputs"])
    extra = data.get("extra_candidate_outputs") or []
    return ComparisonReport(outputs, tolerances, str(data.get("rule", PASS_RULE)), tuple(extra))


def _output_from_dict(item: Any) -> OutputComparison:
    if not isinstance(item, dict):
        raise _malformed("an object per output", type(item).__name__)
    known = {f.name for f in fields(OutputComparison)}
    values = {k: v for k, v in item.items() if k in known}
    for key in _TUPLE_FIELDS:
        if values.get(key) is not None:
            values[key] = tuple(values[key])
    try:
        output = OutputComparison(**values)
    except TypeError as err:
        raise _malformed("every required output field (name, passed, atol, ...)", str(err)) from err
    if not isinstance(output.name, str) or not isinstance(output.passed, bool):
        raise _malformed("'name' a string and 'passed' a boolean", repr(item)[:200])
    return output


def _malformed(expected: str, found: str) -> ComparisonError:
    return ComparisonError(
        "Malformed comparison report.",
        expected=expected,
        found=found,
        fix="load only files written by save_report(); re-run the comparison",
    )
