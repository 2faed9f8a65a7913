"""Triage a folder of models: which parse, build and pass FP16 (one row per model).

Each model runs in its own process (``workbench.app.zoo.worker``), so a TensorRT crash
or a hang (past ``timeout``) costs one row. The processes are started from any
``concurrent.futures.Executor``: a thread pool of ``jobs`` by default, or for example a
Dask cluster's ``client.get_executor()`` to spread a large zoo over machines (the model
paths must then be visible to the workers, e.g. on a shared file system)::

    report = triage_folder("zoo/", build=True, jobs=2)
    report.save("zoo.json"); Path("zoo.html").write_text(render_zoo(report))
    changes = compare_zoos(ZooReport.load("old.json"), report)   # after a TensorRT upgrade
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from workbench.app.share.versions import environment_info
from workbench.app.zoo.zygote import ask_zygote, close_idle_zygotes
from workbench.core.errors import WorkbenchError
from workbench.core.fileio import write_atomic

__all__ = ["COMPARED_FIELDS", "ZooChange", "ZooReport", "ZooRow", "compare_zoos",
           "find_models", "triage_folder", "triage_model"]

DEFAULT_TIMEOUT_S = 600.0
# What a re-run compares: the verdicts, not the timings.
COMPARED_FIELDS: tuple[str, ...] = ("status", "parse", "category", "build", "fp16")


@dataclass(frozen=True)
class ZooRow:
    """One model's verdicts. ``status`` is ok, error, crashed or timeout."""

    model: str
    status: str = "ok"
    parse: str = "not run"  # parses, fails, refused
    categories: tuple[str, ...] = ()
    parse_detail: str = ""
    build: str = "not run"  # built, failed, skipped (did not parse)
    build_seconds: float | None = None
    build_detail: str = ""
    plan_bytes: int | None = None
    fp16: str = "not run"  # pass, fail, error, skipped
    fp16_detail: str = ""
    error: str = ""
    seconds: float | None = None
    peak_rss_bytes: int | None = None
    size_bytes: int = 0

    @property
    def category(self) -> str:
        return self.categories[0] if self.categories else ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["categories"] = list(self.categories)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ZooRow:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["categories"] = tuple(values.get("categories", ()))
        return cls(**values)


@dataclass(frozen=True)
class ZooReport:
    """All rows of a triage, with what was asked and where it ran."""

    folder: str
    rows: tuple[ZooRow, ...]
    build: bool
    compare: bool
    wall_seconds: float
    environment: dict[str, str] = field(default_factory=dict)
    created: str = ""

    def counts(self) -> dict[str, int]:
        rows = self.rows
        return {"models": len(rows), "parse": sum(r.parse == "parses" for r in rows),
                "built": sum(r.build == "built" for r in rows),
                "fp16_pass": sum(r.fp16 == "pass" for r in rows),
                "crashed_or_timeout": sum(r.status in ("crashed", "timeout") for r in rows)}

    def to_dict(self) -> dict[str, Any]:
        return {"format": "trt-workbench-zoo/1", "folder": self.folder, "build": self.build,
                "compare": self.compare, "wall_seconds": self.wall_seconds,
                "environment": self.environment, "created": self.created,
                "rows": [row.to_dict() for row in self.rows]}

    def save(self, path: str | os.PathLike[str], overwrite: bool = False) -> Path:
        text = json.dumps(self.to_dict(), indent=2) + "\n"
        return write_atomic(Path(path), text.encode("utf-8"), overwrite=overwrite)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ZooReport:
        """Read a saved triage (``--json``); a clear error for anything else."""
        source = Path(path).expanduser()
        try:
            data = json.loads(source.read_text())
            return cls(str(data["folder"]), tuple(ZooRow.from_dict(r) for r in data["rows"]),
                       bool(data["build"]), bool(data["compare"]),
                       float(data["wall_seconds"]), dict(data.get("environment", {})),
                       str(data.get("created", "")))
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise WorkbenchError(f"Cannot read the earlier triage {source}.",
                                 expected="a file written by trt-workbench triage --json",
                                 found=f"{type(err).__name__}: {err}",
                                 fix="pass the JSON of an earlier run to --since") from err


@dataclass(frozen=True)
class ZooChange:
    """One difference between two triages of the same folder."""

    model: str
    what: str  # a COMPARED_FIELDS name, or "added" / "removed"
    before: str
    after: str

    def text(self) -> str:
        if self.what in ("added", "removed"):
            return f"{self.model}: {self.what}"
        return f"{self.model}: {self.what} {self.before or '-'} → {self.after or '-'}"


def compare_zoos(old: ZooReport, new: ZooReport) -> tuple[ZooChange, ...]:
    """What changed from ``old`` to ``new``, model by model (verdicts only).

    Build and FP16 verdicts are compared only when both runs made them.
    """
    compared = [name for name in COMPARED_FIELDS
                if (name != "build" or (old.build and new.build))
                and (name != "fp16" or (old.compare and new.compare))]
    before = {row.model: row for row in old.rows}
    after = {row.model: row for row in new.rows}
    changes = [ZooChange(m, "removed", "", "") for m in sorted(set(before) - set(after))]
    for model in sorted(after):
        if model not in before:
            changes.append(ZooChange(model, "added", "", ""))
            continue
        for name in compared:
            was, now = str(getattr(before[model], name)), str(getattr(after[model], name))
            if was != now:
                changes.append(ZooChange(model, name, was, now))
    return tuple(changes)


def find_models(folder: str | os.PathLike[str]) -> list[Path]:
    """Every ``.onnx`` file under ``folder`` (recursively), sorted."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise WorkbenchError(f"{root} is not a folder.", expected="a folder of .onnx files",
                             found="a file" if root.exists() else "nothing at that path",
                             fix="pass the folder that holds the models")
    return sorted(root.rglob("*.onnx"))


def triage_model(path: str, name: str, build: bool = False, compare: bool = False,
                 timeout: float = DEFAULT_TIMEOUT_S) -> ZooRow:
    """Triage one model in its own process (safe to run on any executor's worker).

    The process is forked from this thread's zygote (``workbench.app.zoo.zygote``),
    which has the heavy imports done; where there is no ``fork``, or the zygote fails (or
    ``WORKBENCH_ZOO_ZYGOTE=0``), a fresh interpreter runs the model instead.
    """
    size = Path(path).stat().st_size if Path(path).exists() else 0
    with tempfile.TemporaryDirectory(prefix="wb-zoo-") as work:
        out, log = Path(work) / "row.json", Path(work) / "child.log"
        start = time.perf_counter()
        use_zygote = hasattr(os, "fork") and os.environ.get("WORKBENCH_ZOO_ZYGOTE") != "0"
        ended = _in_zygote(path, out, log, build, compare, timeout) if use_zygote else None
        if ended is None:
            ended = _in_fresh_process(path, out, log, build, compare, timeout)
        if ended == "timeout":
            return ZooRow(name, status="timeout", size_bytes=size, seconds=timeout,
                          error=f"still running after {timeout:g} s; stopped")
        if not out.exists():
            tail = log.read_text(errors="replace") if log.exists() else ""
            return ZooRow(name, status="crashed", size_bytes=size,
                          seconds=time.perf_counter() - start, error=_crash_text(ended, tail))
        data = json.loads(out.read_text())
    return ZooRow.from_dict({**data, "model": name, "size_bytes": size})


def _in_zygote(path: str, out: Path, log: Path, build: bool, compare: bool,
               timeout: float) -> int | str | None:
    """How the forked child ended: "timeout", its exit status, or -signal; None if the
    zygote itself failed."""
    request = {"model": path, "out": str(out), "log": str(log), "build": build,
               "compare": compare, "timeout": timeout}
    answer = ask_zygote(request, timeout, _child_env())
    if answer is None:
        return None
    if answer["timed_out"]:
        return "timeout"
    return -int(answer["signal"]) if answer["signal"] is not None else int(answer["code"])


def _in_fresh_process(path: str, out: Path, log: Path, build: bool, compare: bool,
                      timeout: float) -> int | str:
    command = [sys.executable, "-m", "workbench.app.zoo.worker", path, "--out", str(out),
               *(["--build"] if build else []), *(["--compare"] if compare else [])]
    with log.open("w") as sink:
        try:
            done = subprocess.run(command, stdout=sink, stderr=sink, timeout=timeout,
                                  check=False, env=_child_env())
        except subprocess.TimeoutExpired:
            return "timeout"
    return done.returncode


def _child_env() -> dict[str, str]:
    """The environment of a model's process: this workbench first on its path, so a child
    imports the same code as its parent (a notebook may have put it on sys.path by hand)."""
    package_root = str(Path(__file__).resolve().parents[2])
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": package_root + (os.pathsep + path if path else "")}


def _crash_text(code: int | str, stderr: str) -> str:
    number = int(code)
    how = (f"killed by {signal.Signals(-number).name}" if number < 0 and -number in
           signal.valid_signals() else f"exited with status {number}")
    tail = [line for line in stderr.strip().splitlines() if line.strip()][-3:]
    return how + (": " + " | ".join(tail) if tail else "")


def triage_folder(folder: str | os.PathLike[str], *, build: bool = False,
                  compare: bool = False, jobs: int = 1, executor: Executor | None = None,
                  timeout: float = DEFAULT_TIMEOUT_S,
                  on_row: Callable[[ZooRow], None] | None = None) -> ZooReport:
    """Triage every ``.onnx`` under ``folder``; rows in file-name order.

    Args:
        folder: The model zoo.
        build: Also build an engine of each model that parses.
        compare: Also compare FP16 against FP32 (ONNX Runtime) for each model.
        jobs: Models triaged at once when no ``executor`` is given.
        executor: Any ``concurrent.futures.Executor`` (e.g. a Dask client's
            ``get_executor()``); each task starts one child process.
        timeout: Seconds one model may take before its process is stopped.
        on_row: Called with each row as it finishes (in completion order).
    """
    root = Path(folder).expanduser()
    models = find_models(root)
    if jobs < 1:
        raise WorkbenchError("--jobs must be at least 1.", found=str(jobs),
                             fix="pass --jobs 1 or more")
    start = time.perf_counter()
    own = executor is None
    pool = ThreadPoolExecutor(max_workers=jobs) if executor is None else executor
    try:
        futures = [pool.submit(triage_model, str(path.resolve()),
                               path.relative_to(root).as_posix(), build, compare, timeout)
                   for path in models]
        rows = _collect(futures, on_row)
    finally:
        if own:
            pool.shutdown(wait=True)
        close_idle_zygotes()  # those of finished threads: reaped, so their usage is counted
    return ZooReport(root.name or str(root), tuple(sorted(rows, key=lambda r: r.model)),
                     build, compare, time.perf_counter() - start, environment_info(),
                     time.strftime("%Y-%m-%d %H:%M:%S %Z"))


def _collect(futures: Iterable[Any], on_row: Callable[[ZooRow], None] | None) -> list[ZooRow]:
    from concurrent.futures import as_completed

    rows = []
    for future in as_completed(list(futures)):
        row = future.result()
        rows.append(row)
        if on_row is not None:
            on_row(row)
    return rows
