"""Benchmark: inspect_model vs onnx.load vs `polygraphy inspect model` on one big model.

    python bench/inspect_bench.py            # ≥ 30,000 nodes, ≥ 500 MiB external weights
    python bench/inspect_bench.py --quick    # small model, a few seconds

A chain of MatMul → Add → Relu blocks is written to a temporary folder, its weights
streamed straight into one external .data file (never held in memory as a whole). Each
tool then runs in a fresh subprocess, so its peak RSS (``ru_maxrss`` from ``wait4``) is
its own. Times and RSS are printed as ratios against ``onnx.load`` measured in the same
run. Target: inspect_model ≤ 1.0× onnx.load time, peak RSS well below the weights' size.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper

BIN = Path(sys.executable).parent
MiB = 1024 * 1024
POLYGRAPHY = "polygraphy inspect model"

# Runs inside each measured subprocess: import first, then time only the operation. Peak
# RSS is read from /proc/self/status (VmHWM): a fresh exec starts its own high-water mark,
# whereas ru_maxrss of a child also counts the parent's memory at fork time.
CHILD = r"""
import json, runpy, sys, time
what, path, result = sys.argv[1], sys.argv[2], sys.argv[3]
import onnx
if what == "inspect_model":
    from workbench.inspection.summary import inspect_model
start, cpu_start = time.perf_counter(), time.process_time()
if what == "inspect_model":
    summary = inspect_model(path)
    assert len(summary.nodes) > 0
elif what == "onnx.load":
    model = onnx.load(path)
else:  # the installed polygraphy CLI, in this process (its own start-up counted)
    sys.argv = [what, "inspect", "model", path]
    try:
        runpy.run_path(what, run_name="__main__")
    except SystemExit as exit:
        if exit.code not in (0, None):
            raise
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
with open(result, "w") as out:
    json.dump({"seconds": seconds, "cpu": cpu, "peak_rss_kib": int(hwm.split()[1])}, out)
"""


@dataclass(frozen=True)
class Measurement:
    tool: str
    op_seconds: float  # the call alone, after imports (polygraphy: its whole CLI run)
    cpu_seconds: float  # CPU time of the same: steadier than wall time on a shared machine
    process_seconds: float
    peak_rss_bytes: int


def build_model(folder: Path, nodes: int, weight_bytes: int) -> tuple[Path, int]:
    """Write the model and its external data; return (model path, bytes of weights)."""
    blocks = math.ceil(nodes / 3)
    width = math.ceil(math.sqrt(weight_bytes / (4 * blocks)))
    data_name = "bench_weights.data"
    rng = np.random.default_rng(0)
    # One random pool, sliced at different offsets: weights differ without generating
    # (and holding) 500 MB of random numbers.
    pool = rng.standard_normal(4 * MiB).astype(np.float32)
    graph_nodes, initializers = [], []
    offset = 0
    with open(folder / data_name, "wb") as data:
        for i in range(blocks):
            for name, shape in ((f"w{i}", (width, width)), (f"b{i}", (width,))):
                count = math.prod(shape)
                start = (i * 7919) % (pool.size - count)
                raw = pool[start : start + count].tobytes()
                data.write(raw)
                initializers.append(_external_tensor(name, shape, data_name, offset, len(raw)))
                offset += len(raw)
            x = "input" if i == 0 else f"r{i - 1}"
            graph_nodes += [
                helper.make_node("MatMul", [x, f"w{i}"], [f"m{i}"], name=f"block{i}.matmul"),
                helper.make_node("Add", [f"m{i}", f"b{i}"], [f"a{i}"], name=f"block{i}.bias"),
                helper.make_node("Relu", [f"a{i}"], [f"r{i}"], name=f"block{i}.relu"),
            ]
    graph_nodes[-1].output[0] = "output"
    graph = helper.make_graph(
        graph_nodes, "inspect_bench",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", width])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", width])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = folder / "inspect_bench.onnx"
    path.write_bytes(model.SerializeToString())
    return path, offset


def _external_tensor(
    name: str, shape: tuple[int, ...], location: str, offset: int, length: int
) -> TensorProto:
    tensor = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=shape)
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", str(offset)), ("length", str(length))):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    return tensor


def measure(tool: str, path: Path, scratch: Path) -> Measurement:
    what = str(BIN / "polygraphy") if tool == POLYGRAPHY else tool
    result = scratch / "result.json"
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, what, str(path), str(result)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{tool} failed ({proc.returncode}):\n{proc.stderr.decode()[-3000:]}")
    data = json.loads(result.read_text())
    result.unlink()
    return Measurement(
        tool, float(data["seconds"]), float(data["cpu"]), elapsed, int(data["peak_rss_kib"]) * 1024
    )


def warm_page_cache(folder: Path) -> None:
    """Read every file once so no tool pays for the first disk read."""
    for file in folder.iterdir():
        with open(file, "rb") as handle:
            while handle.read(64 * MiB):
                pass


def run(nodes: int, weight_bytes: int, repeat: int, keep: Path | None) -> None:
    folder = Path(tempfile.mkdtemp(prefix="inspect_bench_"))
    try:
        start = time.perf_counter()
        path, written = build_model(folder, nodes, weight_bytes)
        print(f"model: {nodes:,}+ nodes, {written / MiB:,.0f} MiB external weights, "
              f"proto {path.stat().st_size / MiB:.1f} MiB "
              f"(generated in {time.perf_counter() - start:.1f} s) in {folder}")
        warm_page_cache(folder)
        tools = ("onnx.load", "inspect_model", POLYGRAPHY)
        runs: dict[str, list[Measurement]] = {tool: [] for tool in tools}
        for _ in range(repeat):  # interleaved, so drift affects every tool alike
            for tool in tools:
                runs[tool].append(measure(tool, path, folder))
        report(runs, written)
        if keep is not None:
            shutil.copytree(folder, keep, dirs_exist_ok=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def report(runs: dict[str, list[Measurement]], weights: int) -> None:
    def median(tool: str, key: str) -> float:
        return statistics.median(getattr(m, key) for m in runs[tool])

    def peak(tool: str) -> int:
        return max(m.peak_rss_bytes for m in runs[tool])

    base = "onnx.load"
    print(f"\n{'tool':<26}{'call s':>8}{'CPU s':>8}{'process s':>11}{'peak RSS':>13}"
          f"{'× load time':>13}{'× load CPU':>12}{'× RSS':>8}{'RSS/weights':>13}")
    for tool in runs:
        op, cpu, proc = (median(tool, k) for k in ("op_seconds", "cpu_seconds",
                                                     "process_seconds"))
        rss = peak(tool)
        print(f"{tool:<26}{op:8.3f}{cpu:8.3f}{proc:11.3f}{rss / MiB:9.0f} MiB"
              f"{op / median(base, 'op_seconds'):12.2f}×"
              f"{cpu / median(base, 'cpu_seconds'):11.2f}×"
              f"{rss / peak(base):7.2f}×{rss / weights:13.3f}")
    print(f"\n(median of {len(runs[base])} interleaved runs each. call s: wall time of the "
          "call alone, after imports (polygraphy: its whole CLI, imports included); CPU s: "
          "its CPU time; process s: the whole subprocess; peak RSS: VmHWM of the subprocess; "
          f"weights: {weights / MiB:,.0f} MiB)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small model (3,000 nodes, 20 MiB)")
    parser.add_argument("--nodes", type=int, help="at least this many nodes (default 30,000)")
    parser.add_argument("--weights-mib", type=int, help="MiB of weights (default 512)")
    parser.add_argument("--repeat", type=int, help="runs per tool (default 3, quick 1)")
    parser.add_argument("--keep", type=Path, help="copy the generated model into this folder")
    args = parser.parse_args(argv)
    nodes = args.nodes or (3_000 if args.quick else 30_000)
    weights = (args.weights_mib or (20 if args.quick else 512)) * MiB
    repeat = args.repeat or (1 if args.quick else 3)
    run(nodes, weights, repeat, args.keep)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
