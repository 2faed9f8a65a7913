"""One model of a zoo triage, in its own process: ``python -m workbench.app.zoo.worker``.

``zoo_worker MODEL --out RESULT.json [--build] [--compare]`` writes one row (a dict of
``workbench.app.zoo.triage.ZooRow`` fields) to RESULT.json. It runs in a child process so
that a crash or a hang of TensorRT costs the caller one row, not the whole triage; the
caller (``workbench.app.zoo.triage.triage_model``) turns a missing result into such a row.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workbench.core.errors import WorkbenchError

__all__ = ["main", "triage_in_process", "write_row"]


def triage_in_process(model: Path, build: bool, compare: bool) -> dict[str, Any]:
    """Parse, then optionally build and compare ``model``; the row's fields."""
    from workbench.backends.trt.parse import diagnose

    row: dict[str, Any] = {"status": "ok"}
    start = time.perf_counter()
    report = diagnose(model, node_islands=False)
    refused = any(i.code == "REFUSED_BEFORE_PARSING" for i in report.issues)
    row["parse"] = "parses" if report else ("refused" if refused else "fails")
    row["categories"] = list(report.categories)
    row["parse_detail"] = report.issues[0].cause if report.issues else ""
    if build:
        row.update(_build(model) if report else {"build": "skipped"})
    if compare:
        row.update(_compare(model) if not refused else {"fp16": "skipped"})
    row["seconds"] = time.perf_counter() - start
    return row


def _build(model: Path) -> dict[str, Any]:
    from workbench.backends.trt.build import build_engine

    start = time.perf_counter()
    try:
        artifact = build_engine(model)
    except WorkbenchError as err:
        return {"build": "failed", "build_seconds": time.perf_counter() - start,
                "build_detail": err.summary}
    return {"build": "built", "build_seconds": time.perf_counter() - start,
            "plan_bytes": len(artifact.plan), "build_detail": ""}


def _compare(model: Path) -> dict[str, Any]:
    from workbench.app.precision.compare import compare_precision
    from workbench.settings.fields import Precision

    try:
        report = compare_precision(model, Precision.FP16)
    except WorkbenchError as err:
        return {"fp16": "error", "fp16_detail": err.summary}
    detail = "" if report.passed else (
        f"first node over threshold: {report.first_bad_node}" if report.first_bad_node
        else ", ".join(report.outputs.failed_outputs))
    return {"fp16": "pass" if report.passed else "fail", "fp16_detail": detail}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="zoo_worker")
    parser.add_argument("model")
    parser.add_argument("--out", required=True)
    parser.add_argument("--build", action="store_true")
    parser.add_argument("--compare", action="store_true")
    args = parser.parse_args(argv)
    # This process is the isolation: no second child per parse.
    os.environ["WORKBENCH_ISOLATE_PARSER"] = "0"
    write_row(Path(args.model), Path(args.out), args.build, args.compare)
    sys.stdout.flush()
    os._exit(0)  # skip interpreter teardown: TensorRT's destructors are not on trial


def write_row(model: Path, out: Path, build: bool, compare: bool) -> None:
    """Triage ``model`` in this process and write its row to ``out`` as JSON."""
    try:
        row = triage_in_process(model, build, compare)
    except WorkbenchError as err:
        row = {"status": "error", "error": err.summary}
    row["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    out.write_text(json.dumps(row))


if __name__ == "__main__":
    main()
