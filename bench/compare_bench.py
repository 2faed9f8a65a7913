"""FP16 comparisons: their cost in ONNX Runtime FP32 runs, and against Polygraphy.

    .venv/bin/python bench/compare_bench.py [--models gpt_120m,gpt_like,bert_like]
        [--before DIR] [--steps outputs,layers,keep] [--repeats 3] [--json out.json]
    .venv/bin/python bench/compare_bench.py --profile [--models gpt_120m] [--before DIR]
    .venv/bin/python bench/compare_bench.py --polygraphy [--layers 6] [--width 256]

Default: each comparison as a multiple of one ONNX Runtime FP32 run (session + run) of the
same model on the same feeds, measured in the same run, with peak RSS as a multiple of the
model's weight bytes (``bench/compare_ratio.py``; each figure from a fresh interpreter).
Models: the GPT ladder (``gpt_10m``, ``gpt_120m``, ``gpt_770m``; batch 1 × 32 tokens; with
``_overflow`` appended, the rung with an FP16 overflow before its final LayerNorm, whose
keep-list search runs trials: ``--models gpt_120m_overflow --steps keep``), the
real-export corpus by name (``qwen2_dynamo``…, on its hand-written feeds), the realistic
corpus by name, or .onnx paths. ``--before DIR`` adds columns measured with the
workbench of another checkout (``git worktree add /tmp/before main``). ``--profile``: where
the time goes (cProfile), per category, outputs-only and per-layer.

``--polygraphy``: per-layer FP16 drift, the workbench against ``polygraphy run --onnxrt``
(mark all), as below.

For each model (the sample ``transformer_block.onnx`` and a generated deeper transformer)
both tools get the same inputs and produce the same information: every intermediate
tensor of the FP32 model next to the FP16 model's, compared. Polygraphy needs two runs
(FP32 with ``--save-outputs``, FP16 with ``--load-outputs``); the workbench does one
``compare_precision`` call. The FP16 model file Polygraphy loads is converted beforehand,
outside its timing (which favours Polygraphy).

Honesty note, printed with the figures: ``polygraphy run --onnxrt`` on the FP16 model runs
ONNX Runtime's CPU kernels, which compute FP16 ops in FP32 internally, so its "FP16"
numbers show weight rounding but not activation overflow. The workbench evaluates the
FP16 graph with NumPy float16 arithmetic, which overflows like real FP16.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workbench.app.precision.compare import compare_precision  # noqa: E402
from workbench.feeds.generator import FeedOptions, model_feeds  # noqa: E402
from workbench.transforms.precision.fp16 import convert_to_fp16  # noqa: E402


def _layer(n: int, d: int, heads: int, rng: np.random.Generator, x: str) -> tuple[list, list, str]:
    """One pre-LN transformer layer (attention + GELU MLP), names prefixed ``l{n}.``."""
    p, dh = f"l{n}.", d // heads
    w = lambda *s: (rng.standard_normal(s) * (1 / np.sqrt(s[0]))).astype(np.float32)  # noqa: E731
    node = helper.make_node
    nodes = [node("LayerNormalization", [x, p + "ln1.g", p + "ln1.b"], [p + "x1"], name=p + "ln1",
                  axis=-1, epsilon=1e-5)]
    for proj in "qkv":
        perm = [0, 2, 3, 1] if proj == "k" else [0, 2, 1, 3]
        nodes += [
            node("MatMul", [p + "x1", p + proj + ".w"], [p + proj + "0"], name=p + proj + "_proj"),
            node("Reshape", [p + proj + "0", "heads_shape"], [p + proj + "1"],
                 name=p + proj + "_split"),
            node("Transpose", [p + proj + "1"], [p + proj + "h"], name=p + proj + "_t", perm=perm),
        ]
    nodes += [
        node("MatMul", [p + "qh", p + "kh"], [p + "s0"], name=p + "scores"),
        node("Mul", [p + "s0", "scale"], [p + "s1"], name=p + "scale"),
        node("Softmax", [p + "s1"], [p + "probs"], name=p + "softmax", axis=-1),
        node("MatMul", [p + "probs", p + "vh"], [p + "c0"], name=p + "context"),
        node("Transpose", [p + "c0"], [p + "c1"], name=p + "merge_t", perm=[0, 2, 1, 3]),
        node("Reshape", [p + "c1", "merge_shape"], [p + "c2"], name=p + "merge"),
        node("MatMul", [p + "c2", p + "o.w"], [p + "a"], name=p + "out_proj"),
        node("Add", [x, p + "a"], [p + "x2"], name=p + "residual1"),
        node("LayerNormalization", [p + "x2", p + "ln2.g", p + "ln2.b"], [p + "x3"],
             name=p + "ln2", axis=-1, epsilon=1e-5),
        node("MatMul", [p + "x3", p + "fc1.w"], [p + "m0"], name=p + "fc1"),
        node("Div", [p + "m0", "sqrt2"], [p + "g0"], name=p + "gelu.div"),
        node("Erf", [p + "g0"], [p + "g1"], name=p + "gelu.erf"),
        node("Add", [p + "g1", "one"], [p + "g2"], name=p + "gelu.add"),
        node("Mul", [p + "m0", p + "g2"], [p + "g3"], name=p + "gelu.mul"),
        node("Mul", [p + "g3", "half"], [p + "m1"], name=p + "gelu.half"),
        node("MatMul", [p + "m1", p + "fc2.w"], [p + "m2"], name=p + "fc2"),
        node("Add", [p + "x2", p + "m2"], [p + "out"], name=p + "residual2"),
    ]
    inits = [
        numpy_helper.from_array(np.ones(d, np.float32), p + "ln1.g"),
        numpy_helper.from_array(np.zeros(d, np.float32), p + "ln1.b"),
        numpy_helper.from_array(np.ones(d, np.float32), p + "ln2.g"),
        numpy_helper.from_array(np.zeros(d, np.float32), p + "ln2.b"),
        *(numpy_helper.from_array(w(d, d), p + f"{k}.w") for k in "qkvo"),
        numpy_helper.from_array(w(d, 4 * d), p + "fc1.w"),
        numpy_helper.from_array(w(4 * d, d), p + "fc2.w"),
    ]
    del dh
    return nodes, inits, p + "out"


def make_transformer(path: Path, layers: int, d: int, heads: int = 8, vocab: int = 1000) -> Path:
    rng = np.random.default_rng(0)
    nodes = [helper.make_node("Gather", ["embedding", "token_ids"], ["x0"], name="embedding")]
    inits = [
        numpy_helper.from_array(rng.standard_normal((vocab, d)).astype(np.float32), "embedding"),
        numpy_helper.from_array(np.array([0, 0, heads, d // heads], np.int64), "heads_shape"),
        numpy_helper.from_array(np.array([0, 0, d], np.int64), "merge_shape"),
        numpy_helper.from_array(np.array(1 / np.sqrt(d // heads), np.float32), "scale"),
        numpy_helper.from_array(np.array(np.sqrt(2), np.float32), "sqrt2"),
        numpy_helper.from_array(np.array(1, np.float32), "one"),
        numpy_helper.from_array(np.array(0.5, np.float32), "half"),
    ]
    x = "x0"
    for n in range(layers):
        more_nodes, more_inits, x = _layer(n, d, heads, rng, x)
        nodes += more_nodes
        inits += more_inits
    nodes.append(helper.make_node("Identity", [x], ["hidden_states"], name="output"))
    graph = helper.make_graph(
        nodes, f"transformer_{layers}x{d}",
        [helper.make_tensor_value_info("token_ids", TensorProto.INT64, ["batch", "sequence"])],
        [helper.make_tensor_value_info("hidden_states", TensorProto.FLOAT,
                                       ["batch", "sequence", d])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def _polygraphy(args: list[str]) -> float:
    exe = shutil.which("polygraphy", path=str(Path(sys.executable).parent)) or "polygraphy"
    start = time.perf_counter()
    result = subprocess.run([exe, "run", *args], capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    # exit 1 just means "outputs differ" (FP16 vs FP32 always differs a little)
    if result.returncode not in (0, 1) or "Traceback" in result.stderr:
        raise RuntimeError(f"polygraphy failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return elapsed


def bench_model(
    model_path: Path, work: Path, sequence: int, repeats: int
) -> dict[str, float | int | str]:
    from polygraphy.json import save_json

    model = onnx.load(model_path)
    feeds = model_feeds(model, seed=0, options=FeedOptions(dims={"batch": 1, "sequence": sequence}))
    inputs_json, fp16_path = work / "inputs.json", work / "fp16.onnx"
    save_json([feeds], str(inputs_json))
    with warnings.catch_warnings():  # the converter warns per weight it rounds to 1e-7
        warnings.simplefilter("ignore")
        onnx.save(convert_to_fp16(model), fp16_path)  # outside Polygraphy's timing

    times = []
    for _ in range(repeats):  # best of N on both sides: the machine is shared
        start = time.perf_counter()
        report = compare_precision(model_path, inputs=feeds, per_layer=True, backend="numpy")
        times.append(time.perf_counter() - start)
    ours, first = min(times), times[0]

    # '*' is `--onnx-outputs mark all` (that spelling is deprecated since Polygraphy 0.53)
    common = ["--onnxrt", "--onnx-outputs", "*", "--load-inputs", str(inputs_json)]
    fp32_out = work / "fp32_outputs.json"
    theirs = float("inf")
    for _ in range(repeats):
        fp32_run = _polygraphy([str(model_path), *common, "--save-outputs", str(fp32_out)])
        theirs = min(theirs, fp32_run + _polygraphy(
            [str(fp16_path), *common, "--load-outputs", str(fp32_out),
             "--atol", "1e-2", "--rtol", "1e-2"]))
    return {
        "model": model_path.name, "nodes": len(model.graph.node),
        "tensors compared": len(report.drift.layers) if report.drift else 0,
        "workbench s": ours, "workbench first s": first, "polygraphy s": theirs,
        "ratio": theirs / ours,
        "verdict": "PASS" if report else "FAIL",
        "first bad node": report.first_bad_node or "none",
    }


def polygraphy_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="per-layer drift against Polygraphy")
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--sequence", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3, help="best of N (default 3)")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        big = make_transformer(work / "transformer_big.onnx", args.layers, args.width)
        for path, seq in ((ROOT / "sample_models" / "transformer_block.onnx", 16),
                          (big, args.sequence)):
            sub = work / path.stem
            sub.mkdir()
            rows.append(bench_model(path, sub, seq, args.repeats))
    print(f"{'model':28} {'nodes':>5} {'tensors':>7} {'workbench':>10} {'polygraphy':>11} "
          f"{'ratio':>6} {'1st call':>8}  verdict / first bad node")
    for r in rows:
        print(f"{r['model']:28} {r['nodes']:>5} {r['tensors compared']:>7} "
              f"{r['workbench s']:>9.2f}s {r['polygraphy s']:>10.2f}s {r['ratio']:>5.1f}× "
              f"{r['workbench first s']:>7.2f}s  "
              f"{r['verdict']} / {r['first bad node']}")
    print(
        "\nSame inputs, same information (every intermediate tensor, FP32 vs FP16).\n"
        "Polygraphy: two `polygraphy run --onnxrt --onnx-outputs '*'` (= mark all) processes (FP32 "
        "save, FP16 load+compare), FP16 model converted beforehand and not timed.\n"
        "Workbench: one compare_precision() call in this process (conversion included).\n"
        f"Times are the best of {args.repeats} on each side ('1st call': the workbench's first, "
        "cold call, which also imports ONNX Runtime). Each Polygraphy process pays its own "
        "interpreter and import start-up (~0.4 s), which dominates on the small model.\n"
        "Note: polygraphy --onnxrt on the FP16 model runs ONNX Runtime's CPU kernels, which "
        "compute FP16 ops in FP32 internally: it sees weight rounding, not FP16 overflow. "
        "The workbench's numbers come from NumPy float16 arithmetic (onnx.reference), which "
        "overflows like FP16 — so it is also the only one of the two that would catch "
        "fp16_overflow.onnx."
    )
    return 0 if all(float(r["ratio"]) >= 2 for r in rows) else 1


LADDER_DIMS = {"batch": 1, "sequence": 32}
OVERFLOW = "_overflow"  # gpt_120m_overflow: a rung whose keep-list search has trials to run
OVERFLOW_SCALE = 1000.0


def with_fp16_overflow(path: Path) -> Path:
    """The rung with ``sample_models/fp16_overflow.onnx``'s pattern before its final
    LayerNorm: an RMS norm of the residual stream scaled by 1000, computed without
    pre-scaling. In FP32 it changes nothing the LayerNorm keeps (the scale cancels); in FP16
    its squares overflow, the outputs fail, and the keep-list search has to find the FP32
    island (square, mean, +eps, sqrt) by running trials. The file is rewritten in place."""
    model = onnx.load(path)
    graph = model.graph
    final = next(i for i, node in enumerate(graph.node) if node.name == "transformer.ln_f")
    h = graph.node[final].input[0]
    node = helper.make_node
    added = [
        node("Mul", [h, "rms.scale_value"], ["rms.scaled"], name="rms.scale"),
        node("Mul", ["rms.scaled", "rms.scaled"], ["rms.squared"], name="rms.square"),
        node("ReduceMean", ["rms.squared"], ["rms.mean_square"], name="rms.mean", axes=[-1],
             keepdims=1),
        node("Add", ["rms.mean_square", "rms.eps"], ["rms.mean_square_eps"],
             name="rms.add_eps"),
        node("Sqrt", ["rms.mean_square_eps"], ["rms.root"], name="rms.sqrt"),
        node("Div", ["rms.scaled", "rms.root"], ["rms.normed"], name="rms.normalize"),
    ]
    graph.node[final].input[0] = "rms.normed"
    for offset, made in enumerate(added):
        graph.node.insert(final + offset, made)
    graph.initializer.extend([
        numpy_helper.from_array(np.array(OVERFLOW_SCALE, np.float32), "rms.scale_value"),
        numpy_helper.from_array(np.array(1e-6, np.float32), "rms.eps")])
    onnx.save(model, path)
    return path


def _models(names: str, folder: Path) -> list[tuple[str, Path, dict[str, Any]]]:
    """(name, path, dims) per model; dims {"feeds": npz} for a real export (its hand feeds)."""
    from sample_models.realistic import GPT_LADDER, gpt_like, realistic_model

    models = []
    for name in (n for n in names.split(",") if n):
        if name.endswith(OVERFLOW) and name[:-len(OVERFLOW)] in GPT_LADDER:
            shape = GPT_LADDER[name[:-len(OVERFLOW)]]
            path = gpt_like(folder, shape.layers, shape.d_model, shape.heads, shape.vocab,
                            shape.seq, name=name)
            models.append((name, with_fp16_overflow(path), LADDER_DIMS))
        elif name in GPT_LADDER:
            shape = GPT_LADDER[name]
            path = gpt_like(folder, shape.layers, shape.d_model, shape.heads, shape.vocab,
                            shape.seq, name=name)
            models.append((name, path, LADDER_DIMS))
        elif Path(name).suffix == ".onnx":
            models.append((Path(name).stem, Path(name), {}))
        elif name in _exports():
            from sample_models.exports import export_path, hand_feeds

            np.savez(folder / f"{name}.hand.npz", **hand_feeds(name))
            models.append((name, export_path(name), {"feeds": folder / f"{name}.hand.npz"}))
        else:
            models.append((name, realistic_model(name).make(folder), {}))
    return models


def _exports() -> set[str]:
    try:
        from sample_models.exports import EXPORTS
    except ImportError:  # the committed real-export corpus is not in this checkout
        return set()
    return {entry.name for entry in EXPORTS}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--polygraphy" in argv:
        argv.remove("--polygraphy")
        return polygraphy_main(argv)
    from bench.compare_ratio import CACHE_NOTE, profile_in, ratio_table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="gpt_120m,gpt_like,bert_like")
    parser.add_argument("--before", type=Path, help="a checkout to measure beside this one")
    parser.add_argument("--steps", default="outputs,layers",
                        help="outputs, layers, keep (comma-separated)")
    parser.add_argument("--repeats", type=int, default=3, help="best of N per step")
    parser.add_argument("--profile", action="store_true", help="where the time goes")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="compare-bench-") as tmp:
        models = _models(args.models, Path(tmp))
        if args.profile:
            for name, path, dims in models:
                for label, root in (("after", ROOT), ("before", args.before)):
                    if root is not None:
                        print(f"\n{name} ({label}: {root})")
                        print(profile_in(root, path, dims), end="")
            return 0
        rows = ratio_table(models, args.before, tuple(args.steps.split(",")), args.repeats)
    print("\nbaseline: onnxruntime.InferenceSession(path) + one run, same feeds, in each "
          f"step's fresh process, interleaved with its repeats; best of {args.repeats}. "
          "peak ×W: peak RSS / FP32 weight bytes (the step's first repeat, before any "
          "baseline run). The FP16 side is NumPy float16 through onnx.reference (see "
          "--polygraphy's note).\n" + CACHE_NOTE)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
