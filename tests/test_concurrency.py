"""Concurrency and interruption: 8 builds at once with random cancels, repeated; each ends
built, cancelled or failed with its own log; no leaked threads or file descriptors; and a
KeyboardInterrupt during a blocking build_engine cancels the build cleanly.

Rounds: 3 by default, 20 with WORKBENCH_FUZZ=long (``make fuzz``). The round logic lives
in :func:`run_concurrent_round`, which ``bench/reliability.py`` reuses.
"""

from __future__ import annotations

import _thread
import os
import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import onnx
import pytest

from workbench.app.jobs import BuildJob
from workbench.backends.trt.build import build_engine
from workbench.build.settings import BuildSettings
from workbench.core.errors import BuildCancelled, WorkbenchError

ROOT = Path(__file__).resolve().parent.parent
# Tokens that TensorRT never prints by itself (plain words like "alpha" are attribute names).
NAMES = tuple(f"wbq{k}z" for k in range(8))
SEEDS = ("mlp_dynamic_batch", "tiny_cnn", "resnet_block")
LONG = os.environ.get("WORKBENCH_FUZZ", "").lower() == "long"


def write_named_models(folder: Path) -> dict[str, Path]:
    """One model per name: a sample whose file and node names all carry that name, so
    any line of one build's log that reaches another build's log is visible."""
    models = {}
    for index, name in enumerate(NAMES):
        seed = SEEDS[index % len(SEEDS)]
        model = onnx.load(ROOT / "sample_models" / f"{seed}.onnx")
        for node in model.graph.node:
            node.name = f"{name}_{node.name or node.op_type}"
        path = folder / f"{name}_{seed}.onnx"
        onnx.save(model, path)
        models[name] = path
    return models


@dataclass
class RoundResult:
    """One round: outcomes by name, and problems found (empty when clean)."""

    states: dict[str, str]
    problems: list[str]


def _cancel_plan(job: BuildJob, rng: random.Random) -> threading.Timer | None:
    choice = rng.choice(("never", "never", "now", "soon", "later"))
    if choice == "now":
        job.cancel()
    elif choice in ("soon", "later"):
        timer = threading.Timer(rng.uniform(0.0, 0.3 if choice == "soon" else 1.5), job.cancel)
        timer.start()
        return timer
    return None


def _check_job(name: str, job: BuildJob) -> list[str]:
    problems = []
    text = "\n".join(job.log.lines())
    others = [other for other in NAMES if other != name and other in text]
    if others:
        problems.append(f"{name}: log mentions other builds: {others}")
    if job.state == "done":
        if job.result is None or job.error is not None or name not in text:
            problems.append(f"{name}: built without a result or without its own log")
    elif job.state == "cancelled":
        if not isinstance(job.error, BuildCancelled):
            problems.append(f"{name}: cancelled with {type(job.error).__name__}")
    elif job.state == "failed":
        if not isinstance(job.error, WorkbenchError):
            problems.append(f"{name}: failed with a bug: {job.error!r}")
    else:
        problems.append(f"{name}: ended in state {job.state!r}")
    return problems


def run_concurrent_round(models: dict[str, Path], rng: random.Random,
                         timeout: float = 120.0) -> RoundResult:
    """Start a BuildJob per model at once, cancel some at random moments, wait for all."""
    settings = BuildSettings(optimization_level=rng.choice((0, 1)), log_severity="VERBOSE")
    jobs = {name: BuildJob(path, settings, start=False) for name, path in models.items()}
    timers = []
    for job in jobs.values():
        job.start()
        timers.append(_cancel_plan(job, rng))
    problems = []
    for name, job in jobs.items():
        if not job.join(timeout):
            problems.append(f"{name}: still running after {timeout} s")
        job._thread.join(5)
    for timer in timers:
        if timer is not None:
            timer.cancel()
            timer.join()
    for name, job in jobs.items():
        problems.extend(_check_job(name, job))
    return RoundResult({n: j.state for n, j in jobs.items()}, problems)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def settle(baseline_threads: int, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while threading.active_count() > baseline_threads and time.monotonic() < deadline:
        time.sleep(0.02)


def test_eight_builds_at_once_with_random_cancels(tmp_path: Path) -> None:
    models = write_named_models(tmp_path)
    run_concurrent_round(models, random.Random(-1))  # warm-up: TensorRT's caches and pools
    threads_before, fds_before = set(threading.enumerate()), open_fds()
    seen: set[str] = set()
    for round_index in range(20 if LONG else 3):
        result = run_concurrent_round(models, random.Random(round_index))
        assert not result.problems, result.problems
        seen.update(result.states.values())
    settle(len(threads_before))
    leaked = set(threading.enumerate()) - threads_before
    assert not leaked, f"threads left running: {[t.name for t in leaked]}"
    assert open_fds() <= fds_before, f"file descriptors: {fds_before} before, {open_fds()} after"
    assert "done" in seen and "cancelled" in seen


def _interrupt_when_building(started: threading.Event) -> None:
    # Always interrupt once the build reported progress: under load this thread may run
    # only after the build returned, and the interrupt must then still land (in the wait
    # below) rather than leave pytest.raises with nothing raised.
    if started.wait(30):
        _thread.interrupt_main()


def test_keyboard_interrupt_cancels_a_blocking_build(sample) -> None:
    """A KeyboardInterrupt (Ctrl-C, Jupyter's interrupt) while the main thread is inside
    build_engine stops TensorRT at its next step and surfaces as KeyboardInterrupt, with
    the BuildCancelled that stopped it as context; nothing keeps running afterwards."""
    model = sample("transformer_block")
    build_engine(model)  # warm-up
    threads_before, fds_before, stderr_before = threading.active_count(), open_fds(), \
        os.fstat(2).st_ino
    for _attempt in range(3):
        started = threading.Event()
        timer = threading.Thread(target=_interrupt_when_building, args=(started,))
        timer.start()
        try:
            with pytest.raises(KeyboardInterrupt) as info:
                build_engine(model, on_progress=lambda _e, ev=started: ev.set())
                timer.join(30)  # the build won the race: the interrupt lands here instead
                time.sleep(3)
        finally:
            timer.join()
        if isinstance(info.value.__context__, BuildCancelled):
            break
    else:
        pytest.skip("every build finished before the interrupt arrived")
    assert "cancelled" in str(info.value.__context__)  # stopped by the cancel, not finished
    settle(threads_before)
    assert threading.active_count() <= threads_before  # no TensorRT or stderr thread left
    assert open_fds() <= fds_before and os.fstat(2).st_ino == stderr_before
    assert build_engine(model).card.plan_size > 0  # and the next build works
