"""Graph transforms at scale: constant folding at 1k, 10k and 50k nodes, against named
baselines measured in the same run, each in a fresh process (time and peak RSS its own).

* ``workbench``: ``fold_constants(path, out_path=…)`` (the Parse tab's fold, the Model tab's
  freeze, ``trt-workbench diagnose --fold``): folded copy written.
* ``onnxscript``: ``onnxscript.optimizer.fold_constants`` on the onnx-ir model, then saved
  (the folder torch's exporter uses; skipped, with the reason, when not installed).
* ``polygraphy``: ``polygraphy surgeon sanitize --fold-constants`` (ONNX-GraphSurgeon).
* ``onnx.load``: reading the same file, the floor.

The graphs are what exporters write around a shape computation, repeated: ``x`` →
Shape → Gather → Unsqueeze → Concat → Reshape, and a Constant → Mul → Add chain on the
weights, so half of the nodes fold. Printed: seconds, peak RSS (MiB), nodes left.

``--corpus``: node counts instead, on every real export of ``sample_models/exports`` (the
question of issue 24: does ``onnxscript``'s folder do as well as ours?): the original, our
``fold_constants`` (folds into initializers, drops dead nodes), ``onnxscript.optimizer.
fold_constants`` alone and followed by onnx-ir's ``RemoveUnusedNodesPass`` (our fold drops
dead nodes too), then both again with the inputs frozen to the sizes of the export's hand
feeds (ours through ``input_shapes``; onnxscript's on a copy whose inputs declare them, with
its ``onnx_shape_inference=True``: without it, it folds no more on TorchScript exports, which
carry no value_info). Each cell is ``nodes (ops)``: all nodes, and those that are not
``Constant`` (onnxscript keeps folded values in Constant nodes where ours makes
initializers, so "ops" compares the work left). In process, in that order; the last line is
each tool's total time (onnxscript's covers both of its unfrozen columns).

Usage: ``python bench/transform_bench.py [--nodes 1000,10000,50000] [--corpus]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

WORKER = r"""
import json, resource, subprocess, sys, time
tool, model, out = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, sys.argv[4])
import onnx
start = time.perf_counter()
if tool == "workbench":
    from workbench.transforms.folding import fold_constants
    fold_constants(model, {"x": [1, 64]}, out_path=out)
elif tool == "onnxscript":
    import onnx_ir as ir
    from onnxscript.optimizer import fold_constants
    ir_model = ir.load(model)
    fold_constants(ir_model)
    ir.save(ir_model, out)
elif tool == "onnx.load":
    onnx.load(model)
    out = model
wall = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
nodes = len(onnx.load(out, load_external_data=False).graph.node)
print("RESULT " + json.dumps({"wall": wall, "rss": rss, "nodes": nodes}))
"""


def make_model(path: Path, nodes: int) -> Path:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    made, inits, count = [], [], 0
    hidden = "x"
    block = 0
    while count < nodes:
        b = f"b{block}"
        inits += [numpy_helper.from_array(np.array(0, np.int64), f"{b}.i0"),
                  numpy_helper.from_array(np.array([0], np.int64), f"{b}.axes"),
                  numpy_helper.from_array(np.array([-1], np.int64), f"{b}.rest"),
                  numpy_helper.from_array(np.full((64,), 0.5, np.float32), f"{b}.w")]
        made += [
            helper.make_node("Shape", [hidden], [f"{b}.shape"], name=f"{b}/Shape"),
            helper.make_node("Gather", [f"{b}.shape", f"{b}.i0"], [f"{b}.n"], name=f"{b}/Gather"),
            helper.make_node("Unsqueeze", [f"{b}.n", f"{b}.axes"], [f"{b}.n1"],
                             name=f"{b}/Unsqueeze"),
            helper.make_node("Concat", [f"{b}.n1", f"{b}.rest"], [f"{b}.target"], axis=0,
                             name=f"{b}/Concat"),
            helper.make_node("Reshape", [hidden, f"{b}.target"], [f"{b}.r"], name=f"{b}/Reshape"),
            helper.make_node("Constant", [], [f"{b}.two"], name=f"{b}/Constant",
                             value=numpy_helper.from_array(np.array(2.0, np.float32))),
            helper.make_node("Mul", [f"{b}.w", f"{b}.two"], [f"{b}.w2"], name=f"{b}/Mul"),
            helper.make_node("Add", [f"{b}.r", f"{b}.w2"], [f"{b}.out"], name=f"{b}/Add"),
        ]
        hidden, count, block = f"{b}.out", count + 8, block + 1
    graph = helper.make_graph(
        made, "fold_bench", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])],
        [helper.make_tensor_value_info(hidden, TensorProto.FLOAT, None)], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def measure(tool: str, model: Path, out: Path) -> dict[str, float] | str:
    if tool == "polygraphy":
        return _polygraphy(model, out)
    done = subprocess.run([sys.executable, "-c", WORKER, tool, str(model), str(out), str(ROOT)],
                          capture_output=True, text=True, check=False)
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        return f"failed: {last[:90]}"
    result: dict[str, float] = json.loads(line[len("RESULT "):])
    return result


def _polygraphy(model: Path, out: Path) -> dict[str, float] | str:
    exe = shutil.which("polygraphy") or str(Path(sys.executable).parent / "polygraphy")
    if not Path(exe).exists():
        return "not installed"
    script = (f"import resource, subprocess, sys, time, json, onnx\n"
              f"s = time.perf_counter()\n"
              f"r = subprocess.run([{exe!r}, 'surgeon', 'sanitize', {str(model)!r}, "
              f"'--fold-constants', '-o', {str(out)!r}], capture_output=True)\n"
              f"w = time.perf_counter() - s\n"
              f"rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
              f"n = len(onnx.load({str(out)!r}).graph.node) if r.returncode == 0 else -1\n"
              f"print('RESULT ' + json.dumps({{'wall': w, 'rss': rss, 'nodes': n}}))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=False)
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    return json.loads(line[len("RESULT "):]) if line else "failed"


def corpus_table() -> None:
    """The ``--corpus`` table (see the module doc)."""
    import logging
    import time
    import warnings

    import onnx
    import onnx_ir as ir
    from onnx_ir.passes.common import RemoveUnusedNodesPass
    from onnxscript.optimizer import fold_constants as onnxscript_fold

    sys.path.insert(0, str(ROOT))  # the corpus registry (sample_models/) of this checkout
    from sample_models.exports import EXPORTS, export_path, hand_feeds
    from workbench.transforms.folding import fold_constants

    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)  # onnxscript logs every node it cannot fold

    def count(graph: onnx.GraphProto) -> str:
        ops = sum(1 for node in graph.node if node.op_type != "Constant")
        return f"{len(graph.node)} ({ops})"

    def onnxscript_counts(model: onnx.ModelProto, infer: bool = False) -> tuple[str, str]:
        ir_model = ir.serde.deserialize_model(model)
        onnxscript_fold(ir_model, onnx_shape_inference=infer)
        alone = count(ir.serde.serialize_model(ir_model).graph)
        RemoveUnusedNodesPass()(ir_model)
        return alone, count(ir.serde.serialize_model(ir_model).graph)

    def ours(path: Path, shapes: dict[str, list[int]] | None = None) -> str:
        return count(fold_constants(path, shapes).model.graph)

    def frozen_copy(path: Path, shapes: dict[str, list[int]]) -> onnx.ModelProto:
        model = onnx.load(path)
        for info in model.graph.input:
            for dim, size in zip(info.type.tensor_type.shape.dim, shapes.get(info.name, ()),
                                 strict=False):
                dim.Clear()
                dim.dim_value = size
        return model

    columns = ("original", "workbench", "onnxscript", "os + unused", "wb frozen",
               "os+u frozen")
    spent = dict.fromkeys(("workbench", "onnxscript", "wb frozen", "os+u frozen"), 0.0)

    def timed(column: str, work: Any, *args: Any) -> Any:
        start = time.perf_counter()
        result = work(*args)
        spent[column] += time.perf_counter() - start
        return result

    print(f"{'export':<28}" + "".join(f"{c:>13}" for c in columns))
    for entry in EXPORTS:
        path = export_path(entry.name)
        shapes = {name: list(value.shape) for name, value in hand_feeds(entry.name).items()}
        alone, dropped = timed("onnxscript", onnxscript_counts, onnx.load(path))
        cells = [count(onnx.load(path).graph), timed("workbench", ours, path), alone, dropped,
                 timed("wb frozen", ours, path, shapes),
                 timed("os+u frozen", onnxscript_counts, frozen_copy(path, shapes), True)[1]]
        print(f"{entry.name:<28}" + "".join(f"{c:>13}" for c in cells), flush=True)
    print(f"{'time (s)':<28}{'':>13}"
          + "".join(f"{spent[c]:>13.2f}" if c in spent else f"{'':>13}" for c in columns[1:]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", default="1000,10000,50000")
    parser.add_argument("--corpus", action="store_true",
                        help="node counts after folding on the real-export corpus instead")
    args = parser.parse_args()
    if args.corpus:
        corpus_table()
        return 0
    tools = ("workbench", "onnxscript", "polygraphy", "onnx.load")
    print(f"{'nodes':>7} {'tool':<12} {'wall s':>8} {'× wb':>6} {'peak MiB':>9} {'left':>7}")
    with tempfile.TemporaryDirectory(prefix="transform-bench-") as tmp:
        for count in (int(n) for n in args.nodes.split(",")):
            model = make_model(Path(tmp) / f"m{count}.onnx", count)
            results = {tool: measure(tool, model, Path(tmp) / f"{tool}-{count}.onnx")
                       for tool in tools}
            base = results["workbench"]
            for tool, r in results.items():
                if isinstance(r, str):
                    print(f"{count:>7} {tool:<12} {r}")
                    continue
                ratio = r["wall"] / base["wall"] if isinstance(base, dict) else float("nan")
                print(f"{count:>7} {tool:<12} {r['wall']:8.2f} {ratio:6.2f} {r['rss']:9.0f} "
                      f"{int(r['nodes']):>7}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
