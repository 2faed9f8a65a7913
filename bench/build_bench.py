"""Build overhead of the workbench vs the bare TensorRT API, and live-log latency.

For sample_models/resnet_block.onnx and a generated ~100 MB conv net, each variant runs in
a fresh subprocess (so peak RSS is its own), a few times, alternating; medians are printed:

* ``workbench``: ``build_engine`` with VERBOSE logging streamed to a LogBus whose consumer
  thread drains a queue (as the panel does) and measures the latency from the TensorRT
  callback (the record's timestamp, taken inside the callback) to the consumer.
* ``workbench_trusted``: the same with ``WORKBENCH_ISOLATE_PARSER=0`` — no parser-crash
  probe (a child process that parses each new model once per process before the build).
* ``workbench_rebuild``: the second build of the same file in one process (the panel's
  case: build, change a setting, build again): the file version's validation, SHA-256 and
  parser probe are reused (``backends/trt/file_versions.py``).
* ``bare``: the same network and settings with the bare TensorRT API and ``trt.Logger``
  at WARNING, the plain script a user would write.

The workbench does more than the bare script by design: it validates the ONNX file before
TensorRT sees it (``parser.parse`` accepts garbage) and hashes it for the engine card —
about 0.2 s per 100 MB on the reference machine. Wall times are noisy on a shared 2-core
machine; the ratio of the fastest runs ("min") is printed beside the ratio of medians.

Targets: wall and peak RSS ratios ≤ 1.05, log latency p99 < 50 ms. Usage:
``python bench/build_bench.py [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESNET = ROOT / "sample_models" / "resnet_block.onnx"
RESNET_SHAPES = ("image", (1, 3, 32, 32), (1, 3, 64, 64), (4, 3, 128, 128))

WORKER = r"""
import json, queue, resource, sys, threading, time
sys.path.insert(0, sys.argv[4])
variant, model, shapes = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
if variant.startswith("workbench"):
    from workbench.backends.trt.build import build_engine
    from workbench.core.logbus import LogBus
    from workbench.build.settings import BuildSettings, ShapeProfile
    profiles = (ShapeProfile(*shapes),) if shapes else ()
    settings = BuildSettings(profiles=profiles, log_severity="VERBOSE")
    bus, inbox, latencies = LogBus("VERBOSE"), queue.Queue(), []
    bus.subscribe(inbox.put)
    def consume():
        while (record := inbox.get()) is not None:
            latencies.append(time.time() - record.time)
    consumer = threading.Thread(target=consume); consumer.start()
    import tensorrt_rtx  # imported before timing, like the bare variant
    if variant.endswith("rebuild"):  # a second build of the same file in one process
        build_engine(model, settings)
    start = time.perf_counter()
    plan = build_engine(model, settings, on_log=bus).plan
    wall = time.perf_counter() - start
    inbox.put(None); consumer.join()
else:
    import tensorrt_rtx as trt
    latencies = []
    start = time.perf_counter()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    assert parser.parse_from_file(model)
    config = builder.create_builder_config()
    config.builder_optimization_level = 3
    config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED
    if shapes:
        profile = builder.create_optimization_profile()
        profile.set_shape(*shapes)
        config.add_optimization_profile(profile)
    plan = builder.build_serialized_network(network, config)
    wall = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"wall": wall, "rss_mib": rss, "plan": len(bytes(plan)),
                  "latencies": latencies}))
"""


def make_big_convnet(path: Path) -> Path:
    """A static 512-channel conv chain of ~104 MB of weights (11 × 3×3 convolutions)."""
    sys.path.insert(0, str(ROOT / "tests"))  # the same generator the panel bench uses
    from browser.models import conv_chain

    return conv_chain(path, layers=11, channels=512)


def run_once(variant: str, model: Path, shapes: object) -> dict:
    # "workbench_trusted" skips the parser-crash probe (a child process that parses the
    # model first; once per model per process), as WORKBENCH_ISOLATE_PARSER=0 does.
    env = {**os.environ, "WORKBENCH_ISOLATE_PARSER": "0" if variant.endswith("trusted") else "1"}
    done = subprocess.run(
        [sys.executable, "-c", WORKER, variant, str(model), json.dumps(shapes), str(ROOT)],
        capture_output=True, text=True, timeout=300, check=False, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{variant} on {model.name} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(model: Path, shapes: object, repeats: int, workbench: str) -> dict[str, float]:
    runs: dict[str, list[dict]] = {workbench: [], "bare": []}
    for _ in range(repeats):
        for variant in runs:  # alternate, so drift hits both variants alike
            runs[variant].append(run_once(variant, model, shapes))
    runs["workbench"] = runs.pop(workbench)
    med = {v: {k: statistics.median(r[k] for r in rs) for k in ("wall", "rss_mib")}
           for v, rs in runs.items()}
    latencies = np.array([x for r in runs["workbench"] for x in r["latencies"]]) * 1000
    return {
        "wall_workbench_s": med["workbench"]["wall"], "wall_bare_s": med["bare"]["wall"],
        "wall_ratio": med["workbench"]["wall"] / med["bare"]["wall"],
        # the fastest run of each is the least disturbed by other load on a shared machine
        "wall_ratio_min": min(r["wall"] for r in runs["workbench"])
        / min(r["wall"] for r in runs["bare"]),
        "rss_workbench_mib": med["workbench"]["rss_mib"], "rss_bare_mib": med["bare"]["rss_mib"],
        "rss_ratio": med["workbench"]["rss_mib"] / med["bare"]["rss_mib"],
        "log_records": len(latencies) / repeats,
        "latency_p50_ms": float(np.percentile(latencies, 50)) if len(latencies) else 0.0,
        "latency_p99_ms": float(np.percentile(latencies, 99)) if len(latencies) else 0.0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        big = make_big_convnet(Path(tmp) / "big_convnet.onnx")
        cases = [("resnet_block", RESNET, list(RESNET_SHAPES)), ("convnet_100MB", big, None)]
        print(f"{'model':26} {'wall wb/bare (s)':>20} {'ratio':>6} {'min':>6} "
              f"{'RSS wb/bare (MiB)':>20} {'ratio':>6} {'records':>8} {'p50 ms':>7} {'p99 ms':>7}")
        results = {}
        for (name, model, shapes), variant in itertools.product(
                cases, ("workbench", "workbench_trusted", "workbench_rebuild")):
            label = name + {"workbench_trusted": " (no probe)",
                            "workbench_rebuild": " (rebuild)"}.get(variant, "")
            r = results[label] = measure(model, shapes, args.repeats, variant)
            print(f"{label:26} {r['wall_workbench_s']:9.3f}/{r['wall_bare_s']:<9.3f} "
                  f"{r['wall_ratio']:6.3f} {r['wall_ratio_min']:6.3f} "
                  f"{r['rss_workbench_mib']:9.0f}/{r['rss_bare_mib']:<9.0f}"
                  f" {r['rss_ratio']:6.3f} {r['log_records']:8.0f} {r['latency_p50_ms']:7.3f} "
                  f"{r['latency_p99_ms']:7.3f}")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
