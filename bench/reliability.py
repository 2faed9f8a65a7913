"""Reliability report: fuzzing, hostile files, concurrent builds, leaks, interruption.

    python bench/reliability.py                       # fast mode (CI), under 2 minutes
    WORKBENCH_FUZZ=long python bench/reliability.py   # make fuzz: many more cases

Prints counts, not timings. Crashes, bugs (exceptions other than WorkbenchError, or
time-outs), leaked threads and leaked file descriptors must all be 0, and every hostile
file must be refused with a clear error; the exit status is 1 otherwise. The case
generators are the ones the tests use (``tests/fuzz/fuzz_cases.py``,
``tests/fuzz/hostile_cases.py``, ``tests/test_concurrency.py``).
"""

from __future__ import annotations

import _thread
import os
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "fuzz"), str(ROOT / "tests")]

from fuzz_cases import (  # noqa: E402
    check_outcome,
    fuzz_mode,
    long_mode,
    make_model_case,
    random_settings_kwargs,
    run_native_fuzz,
)
from hostile_cases import HOSTILE_CASES, run_hostile_case  # noqa: E402
from test_concurrency import (  # noqa: E402
    open_fds,
    run_concurrent_round,
    settle,
    write_named_models,
)

from workbench.core.errors import BuildCancelled  # noqa: E402

__all__ = ["main"]

# Seeds start away from the tests' own, so the report explores other cases.
SEED_BASE = 1_000_000
SIZES = {"fast": {"models": 300, "diagnose": 300, "engines": 200, "settings": 500,
                  "rounds": 3},
         "long": {"models": 8000, "diagnose": 10000, "engines": 6000, "settings": 20000,
                  "rounds": 20}}


@dataclass
class Report:
    cases: Counter[str] = field(default_factory=Counter)
    bugs: list[str] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)
    contained: list[str] = field(default_factory=list)
    hostile: list[tuple[str, bool, str]] = field(default_factory=list)
    builds: Counter[str] = field(default_factory=Counter)
    build_problems: list[str] = field(default_factory=list)
    leaked_threads: int = 0
    leaked_fds: int = 0
    interrupt: str = "not run"

    @property
    def clean(self) -> bool:
        return not (self.bugs or self.crashes or self.build_problems or self.leaked_threads
                    or self.leaked_fds) and all(ok for _n, ok, _s in self.hostile) and (
            self.interrupt.startswith("cancelled cleanly"))


def fuzz_in_process(report: Report, models: int, settings: int) -> None:
    """load_model / inspect_model on mutated models; BuildSettings on random dicts."""
    from workbench.core.records import TensorSpec
    from workbench.inspection.loading import load_model
    from workbench.inspection.summary import inspect_model
    from workbench.settings.settings import BuildSettings

    for i in range(SEED_BASE, SEED_BASE + models):
        case = make_model_case(random.Random(i))
        with tempfile.TemporaryDirectory() as tmp:
            path = case.write(Path(tmp))
            data = case.model_bytes
            for name, call in (("load_model", lambda p=path: load_model(p)),
                               ("inspect_model", lambda p=path: inspect_model(p)),
                               ("load_model(bytes)", lambda d=data: load_model(d))):
                outcome = check_outcome(call)
                report.cases[name] += 1
                if outcome.kind == "bug":
                    report.bugs.append(f"{name} seed {i} [{case.describe()}]: "
                                       f"{outcome.error}: {outcome.message[:200]}")
    inputs = [TensorSpec("x", "float32", ("batch", 3, None)), TensorSpec("y", "int64", (2,))]
    for i in range(SEED_BASE, SEED_BASE + settings):
        data = random_settings_kwargs(random.Random(i), ["x", "y"])
        outcome = check_outcome(lambda d=data: BuildSettings.from_dict(d).resolved(inputs))
        report.cases["BuildSettings"] += 1
        if outcome.kind == "bug":
            report.bugs.append(f"BuildSettings {data!r}: {outcome.error}: {outcome.message}")


def fuzz_native(report: Report, diagnose_cases: int, engine_cases: int) -> None:
    """diagnose and load_engine in worker processes (a native crash kills only a worker)."""
    from workbench.backends.trt.build import build_engine
    from workbench.engines.card import save_engine
    from workbench.settings.settings import BuildSettings

    runs = [run_native_fuzz("diagnose", SEED_BASE, diagnose_cases)]
    with tempfile.TemporaryDirectory() as tmp:
        artifact = build_engine(ROOT / "sample_models" / "mlp_dynamic_batch.onnx",
                                BuildSettings(compute_capabilities=("8.9",)))
        save_engine(artifact, Path(tmp) / "engine.plan")
        runs.append(run_native_fuzz("load_engine", SEED_BASE, engine_cases, [tmp]))
    for run in runs:
        report.cases[run.target] += run.cases
        report.bugs.extend(f"{run.target} seed {b['i']} [{b['desc']}]: {b['error']}: "
                           f"{b['message'][:200]}" for b in run.bugs)
        for crash in run.crashes:
            text = f"{run.target} seed {crash['i']}: worker died (rc {crash['rc']})"
            (report.contained if crash["contained"] else report.crashes).append(text)


def hostile_files(report: Report) -> None:
    from workbench.backends.trt.build import build_engine
    from workbench.settings.settings import BuildSettings

    artifact = build_engine(ROOT / "sample_models" / "mlp_dynamic_batch.onnx",
                            BuildSettings(compute_capabilities=("8.9",)))
    for case in HOSTILE_CASES:
        with tempfile.TemporaryDirectory() as tmp:
            ok, seen = run_hostile_case(case, Path(tmp), artifact)
        report.hostile.append((case.name, ok, seen.splitlines()[0][:90] if seen else ""))


def concurrency(report: Report, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        models = write_named_models(Path(tmp))
        run_concurrent_round(models, random.Random(-1))  # warm-up: caches, pools
        threads, fds = set(threading.enumerate()), open_fds()
        for index in range(rounds):
            result = run_concurrent_round(models, random.Random(SEED_BASE + index))
            report.builds.update(result.states.values())
            report.build_problems.extend(result.problems)
        settle(len(threads))
        report.leaked_threads = len(set(threading.enumerate()) - threads)
        report.leaked_fds = max(0, open_fds() - fds)


def interrupt(report: Report) -> None:
    """_thread.interrupt_main() while the main thread is inside build_engine."""
    from workbench.backends.trt.build import build_engine

    model = ROOT / "sample_models" / "transformer_block.onnx"
    for _attempt in range(3):
        started = threading.Event()
        timer = threading.Thread(
            target=lambda ev=started: ev.wait(30) and _thread.interrupt_main())
        timer.start()
        began = time.monotonic()
        try:
            build_engine(model, on_progress=lambda _e, ev=started: ev.set())
            time.sleep(3)  # the build won the race; the interrupt lands here
        except KeyboardInterrupt as err:
            if isinstance(err.__context__, BuildCancelled):
                report.interrupt = (f"cancelled cleanly in {time.monotonic() - began:.2f} s "
                                    "(KeyboardInterrupt after BuildCancelled)")
                timer.join()
                return
        timer.join()
    report.interrupt = "the build was never interrupted mid-way (raced 3 times)"


def print_report(report: Report, mode: str, seconds: float) -> None:
    refused = sum(ok for _n, ok, _s in report.hostile)
    built = sum(report.builds.values())
    clean = built - len(report.build_problems)
    parts = ", ".join(f"{name} {count}" for name, count in sorted(report.cases.items()))
    print(f"TensorRT Workbench reliability report ({mode} mode, {seconds:.0f} s)")
    print(f"  fuzz cases run:                {sum(report.cases.values())}  ({parts})")
    print(f"  crashes:                       {len(report.crashes)}")
    print(f"  native parser crashes contained by isolation: {len(report.contained)}")
    print(f"  bugs (non-WorkbenchError / hang): {len(report.bugs)}")
    print(f"  hostile files refused with a clear error: {refused}/{len(report.hostile)}")
    print(f"  concurrent builds completed cleanly: {clean}/{built}  "
          f"({', '.join(f'{k} {v}' for k, v in sorted(report.builds.items()))})")
    print(f"  leaked threads: {report.leaked_threads}   leaked fds: {report.leaked_fds}")
    print(f"  KeyboardInterrupt during build_engine: {report.interrupt}")
    for name, ok, seen in report.hostile:
        print(f"    [{'refused' if ok else 'NOT REFUSED'}] {name}: {seen}")
    for line in report.crashes + report.bugs + report.build_problems:
        print(f"    ! {line}")
    print("  verdict: " + ("CLEAN" if report.clean else "NOT CLEAN"))


def main() -> int:
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    import warnings

    warnings.simplefilter("ignore")
    mode = fuzz_mode()
    size = SIZES["long" if long_mode() else "fast"]
    began = time.monotonic()
    report = Report()
    fuzz_in_process(report, size["models"], size["settings"])
    fuzz_native(report, size["diagnose"], size["engines"])
    hostile_files(report)
    concurrency(report, size["rounds"])
    interrupt(report)
    print_report(report, mode, time.monotonic() - began)
    return 0 if report.clean else 1


if __name__ == "__main__":
    sys.exit(main())
