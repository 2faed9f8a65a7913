"""Scale: every step of the workbench on a ladder of GPT-2-shaped models, up to over 2 GiB.

Rungs (``GPT_LADDER`` and ``gpt_like`` of ``sample_models/realistic.py``, random weights):
about 10M, 120M and 770M parameters. As ``torch.onnx.export`` writes them, the smaller two
keep their weights inside the .onnx file; the last has 3.1 GB of weights in external data,
over protobuf's 2 GiB. Each step runs in a fresh subprocess, so its peak RSS
(``VmHWM``, or ``ru_maxrss`` where there is no /proc) is its own:

=============  ===============================================  ========================
step           workbench call                                   baseline (same run)
=============  ===============================================  ========================
inspect        ``inspect_model(path)``                          ``onnx.load(path)``
diagnose       ``diagnose(path)``                               ``onnx.load(path)``
fold           ``fold_constants(path, out_path=…)`` (the Parse   ``onnx.load(path)``
               tab's fold and the Model tab's freeze; large
               weights written to ``<name>.data``)
build          ``build_engine`` + ``save_engine`` (FP32)        the bare TensorRT script
                                                                (``reproduce.python_script``)
run            ``run_model("onnxruntime", path, feeds)``        ``InferenceSession(path)`` + run
compare        ``compare_precision(per_layer=False)``           ``InferenceSession(path)`` + run
compare-layers ``compare_precision()`` (per-layer drift)        ``InferenceSession(path)`` + run
mask-fix       ``verify_mask_clamp`` (clamped copy written,     ``InferenceSession(path)`` + run
               FP32 before/after, per-layer comparison)
=============  ===============================================  ========================

For each rung and step it prints wall time and peak RSS, each as a ratio to its baseline and
RSS as a multiple of the FP32 weight bytes, then how each figure grows from rung to rung,
and the budgets: fold ≤ 2.5×, run ≤ 1.5×, compare ≤ 2.5×, per-layer and mask fix ≤ 3× the
weight bytes, per-layer time ≤ 1.5× outputs-only. Feeds: batch 1, sequence 32. Wall times are
noisy on a shared machine; memory is not.

Usage: ``python bench/scale_bench.py [--rungs gpt_10m,gpt_120m,gpt_770m] [--steps ...]
[--json out.json]``.
The largest rung needs about 12 GB free (the TensorRT build) and some 6 GB of disk.
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sample_models.realistic import GPT_LADDER, gpt_like, gpt_param_bytes  # noqa: E402

STEPS = ("inspect", "diagnose", "fold", "build", "run", "compare", "compare-layers", "mask-fix")
BASELINES = {"inspect": "onnx.load", "diagnose": "onnx.load", "fold": "onnx.load",
             "build": "bare TensorRT build",
             "run": "ORT session", "compare": "ORT session", "compare-layers": "ORT session",
             "mask-fix": "ORT session"}
BUDGETS = {"fold": 2.5, "run": 1.5, "compare": 2.5, "compare-layers": 3.0,
           "mask-fix": 3.0}  # peak RSS / weight bytes
DIMS = {"batch": 1, "sequence": 32}

WORKER = r"""
import json, sys, time
sys.path.insert(0, sys.argv[3])
step, model = sys.argv[1], sys.argv[2]
dims = json.loads(sys.argv[4])
import numpy as np, onnx, onnxruntime
def feeds():
    # token ids below the vocabulary size, made without parsing the model here: a model with
    # inline weights would cost its size again in this process, outside the step measured
    rng = np.random.default_rng(0)
    ids = rng.integers(0, int(sys.argv[5]), (dims["batch"], dims["sequence"]), dtype=np.int64)
    return {"input_ids": ids}
if step in ("run", "compare", "compare-layers", "mask-fix", "ORT session"):
    inputs = feeds()
start = time.perf_counter()
if step == "onnx.load":
    onnx.load(model)
elif step == "bare TensorRT build":
    from workbench.app.share import reproduce
    from workbench.settings.settings import BuildSettings
    from workbench.inspection.summary import inspect_model
    settings = BuildSettings().resolved(inspect_model(model).inputs)
    script = reproduce.python_script(settings, model, model + ".bare.engine")
    start = time.perf_counter()
    exec(compile(script, "bare_build.py", "exec"), {"__name__": "__main__"})
elif step == "ORT session":
    session = onnxruntime.InferenceSession(model)
    session.run(None, inputs)
elif step == "inspect":
    from workbench.inspection.summary import inspect_model
    inspect_model(model)
elif step == "diagnose":
    from workbench.backends.trt.parse import diagnose
    diagnose(model)
elif step == "fold":
    from workbench.transforms.folding import fold_constants
    fold_constants(model, out_path=model + ".folded.onnx", overwrite=True)
elif step == "build":
    from workbench.backends.trt.build import build_engine
    from workbench.engines.card import save_engine
    save_engine(build_engine(model), model + ".engine", overwrite=True)
elif step == "run":
    from workbench.app.session.run import run_model
    run_model("onnxruntime", model, inputs)
elif step == "mask-fix":
    from workbench.app.precision.mask_fix import verify_mask_clamp
    assert verify_mask_clamp(model, backend="numpy", dims=dims).verified
else:
    from workbench.app.precision.compare import compare_precision
    compare_precision(model, per_layer=step == "compare-layers", backend="numpy", dims=dims)
wall = time.perf_counter() - start
from bench.peak_rss import peak_rss  # ROOT is on sys.path in both workers
rss = peak_rss()
print("RESULT " + json.dumps({"wall": wall, "rss": rss}))
"""


def measure(step: str, model: Path, vocab: int) -> dict[str, float]:
    """One step in a fresh interpreter: its wall time (s) and peak RSS (bytes)."""
    done = subprocess.run(
        [sys.executable, "-c", WORKER, step, str(model), str(ROOT), json.dumps(DIMS),
         str(vocab)],
        capture_output=True, text=True, check=False,
    )
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-15:])
        raise SystemExit(f"step {step!r} failed on {model.name} (exit {done.returncode}):\n"
                         f"{tail}")
    return json.loads(lines[-1][len("RESULT "):])


def run_rung(name: str, folder: Path, steps_wanted: tuple[str, ...] = STEPS) -> dict[str, object]:
    started = time.perf_counter()
    if name == TORCH_RUNG:
        model, params, vocab = export_torch_gpt2(folder)
        weights = 4 * params
    else:
        shape = GPT_LADDER[name]
        weights, params, vocab = gpt_param_bytes(shape), shape.param_count(), shape.vocab
        model = gpt_like(folder, shape.layers, shape.d_model, shape.heads, shape.vocab,
                         shape.seq, name=name)
    data = [p for p in folder.iterdir() if p.suffix != ".onnx"]
    where = "external data" if data else "inside the .onnx"
    print(f"\n{name}: {params / 1e6:.0f}M parameters, {weights / 2**30:.2f} GiB "
          f"of FP32 weights ({where}), written in {time.perf_counter() - started:.1f} s",
          flush=True)
    base = {b: measure(b, model, vocab)
            for b in dict.fromkeys(BASELINES[s] for s in steps_wanted)}
    for b, m in base.items():
        print(f"  baseline {b:<20} {m['wall']:7.2f} s  {m['rss'] / 2**30:6.2f} GiB "
              f"({m['rss'] / weights:.2f}× weights)", flush=True)
    print(f"  {'step':<15}{'wall s':>8}{'×base':>7}{'peak GiB':>10}{'×base':>7}"
          f"{'×weights':>10}  baseline")
    steps = {}
    for step in steps_wanted:
        m = steps[step] = measure(step, model, vocab)
        b = base[BASELINES[step]]
        print(f"  {step:<15}{m['wall']:8.2f}{m['wall'] / b['wall']:7.2f}"
              f"{m['rss'] / 2**30:10.2f}{m['rss'] / b['rss']:7.2f}"
              f"{m['rss'] / weights:10.2f}  {BASELINES[step]}", flush=True)
    for path in folder.iterdir():
        path.unlink()  # gigabytes per rung: gone before the next one is written
    return {"params": params, "weight_bytes": weights,
            "baselines": base, "steps": steps}


# GPT-2 large (774M) as torch's dynamo exporter writes it: value_info for every tensor,
# node metadata, 3.1 GB of weights in external data. Needs a Python with torch and
# transformers (`make fixtures` makes .venv-fixtures); random weights, no download.
TORCH_RUNG = "gpt2_774m_torch"
TORCH_EXPORTER = r"""
import sys, torch, transformers
from pathlib import Path
torch.manual_seed(0)
config = transformers.GPT2Config(n_embd=1280, n_layer=36, n_head=20, n_positions=1024,
                                 vocab_size=50257)
model = transformers.GPT2LMHeadModel(config).eval()
class Logits(torch.nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner
    def forward(self, input_ids):
        return self.inner(input_ids=input_ids, use_cache=False).logits
ids = torch.zeros((1, 32), dtype=torch.int64)
seq = torch.export.Dim("sequence", min=2, max=1024)
with torch.no_grad():
    program = torch.onnx.export(Logits(model), (ids,), dynamo=True, external_data=True,
                                input_names=["input_ids"], output_names=["logits"],
                                dynamic_shapes=({1: seq},), optimize=True)
program.save(sys.argv[1], external_data=True)
print("PARAMS", sum(p.numel() for p in model.parameters()))
"""


def torch_python() -> str | None:
    """A Python with torch and transformers: $WORKBENCH_TORCH_PYTHON, .venv-fixtures, or
    this one."""
    import os

    for candidate in (os.environ.get("WORKBENCH_TORCH_PYTHON"),
                      str(ROOT / ".venv-fixtures" / "bin" / "python"), sys.executable):
        if candidate and Path(candidate).exists() and subprocess.run(
                [candidate, "-c", "import torch, transformers"], capture_output=True,
                check=False).returncode == 0:
            return candidate
    return None


def export_torch_gpt2(folder: Path) -> tuple[Path, int, int]:
    python = torch_python()
    if python is None:
        raise SystemExit(f"{TORCH_RUNG} needs a Python with torch and transformers "
                         "(make fixtures, or WORKBENCH_TORCH_PYTHON)")
    path = folder / f"{TORCH_RUNG}.onnx"
    done = subprocess.run([python, "-c", TORCH_EXPORTER, str(path)], capture_output=True,
                          text=True, check=False)
    params = [line for line in done.stdout.splitlines() if line.startswith("PARAMS ")]
    if done.returncode != 0 or not params:
        raise SystemExit(f"exporting {TORCH_RUNG} failed:\n{done.stderr[-2000:]}")
    return path, int(params[0].split()[1]), 50257


def print_budgets(results: dict[str, dict]) -> bool:
    ok = True
    print("\nbudgets (peak RSS / FP32 weight bytes; per-layer time / outputs-only time):")
    for name, rung in results.items():
        weights, steps = rung["weight_bytes"], rung["steps"]
        checks = [(f"{step} ≤ {limit}×", steps[step]["rss"] / weights, limit)
                  for step, limit in BUDGETS.items() if step in steps]
        memory_checks = list(checks)
        if "compare" in steps and "compare-layers" in steps:
            checks.append(("per-layer time ≤ 1.5×",
                           steps["compare-layers"]["wall"] / steps["compare"]["wall"], 1.5))
        text = ", ".join(f"{label}: {value:.2f} {'ok' if value <= limit else 'OVER'}"
                         for label, value, limit in checks)
        # the budgets are for models whose weights dominate (the 124M and 774M)
        binding = weights >= 256 << 20
        ok &= not binding or all(value <= limit for _, value, limit in memory_checks)
        print(f"  {name}: {text}" + ("" if binding else " (interpreter overhead dominates)"))
    return ok


def print_growth(results: dict[str, dict]) -> None:
    names = list(results)
    if len(names) < 2:
        return
    print("\ngrowth rung to rung (wall ×, peak RSS ×; weights ×):")
    for before, after in itertools.pairwise(names):
        a, b = results[before], results[after]
        print(f"  {before} → {after}: weights ×{b['weight_bytes'] / a['weight_bytes']:.1f}")
        for step in a["steps"]:
            x, y = a["steps"][step], b["steps"][step]
            print(f"    {step:<15} wall ×{y['wall'] / x['wall']:6.1f}   "
                  f"peak RSS ×{y['rss'] / x['rss']:5.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rungs", default=",".join(GPT_LADDER),
                        help="comma-separated rungs (" + ", ".join(GPT_LADDER) + f"; "
                        f"{TORCH_RUNG}: GPT-2 large exported by torch, when torch is here)")
    parser.add_argument("--steps", default=",".join(STEPS),
                        help="comma-separated steps (" + ", ".join(STEPS) + ")")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    rungs = [r for r in args.rungs.split(",") if r]
    unknown = [r for r in rungs if r not in GPT_LADDER and r != TORCH_RUNG]
    if unknown:
        parser.error(f"unknown rungs {unknown}; choose from {[*GPT_LADDER, TORCH_RUNG]}")
    steps = tuple(s for s in args.steps.split(",") if s)
    if not set(steps) <= set(STEPS):
        parser.error(f"unknown steps {sorted(set(steps) - set(STEPS))}; choose from {STEPS}")
    results = {}
    with tempfile.TemporaryDirectory(prefix="scale-bench-") as tmp:
        for name in rungs:
            results[name] = run_rung(name, Path(tmp), steps)
    ok = print_budgets(results)
    print_growth(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
