"""Every flow on every committed real export: the model × flow table of issue 22.

Runs, per model and in its own process (one model's crash or memory cannot spill into the
next): load, parse triage, Build with the session's defaults, Run with generated inputs
(ONNX Runtime), Compare FP16 and BF16 (per-layer), an FP16 build, save and reload of the
engine, the HTML report and the bug bundle. Each cell is ``ok``, a clear workbench error
(``err:`` and its class: the flow refused, with expected / found / what to do) or ``RAW``
(any other exception: a bug). Baseline: the same table from another checkout of the
workbench (``--root``), measured in the same run when given.

    python bench/export_flows.py                 # this checkout
    python bench/export_flows.py --root /old/co  # also a baseline checkout, side by side
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
FLOWS = ("load", "parse", "build", "run", "fp16", "bf16", "fp16 build", "save/reload",
         "report", "bundle")

_WORKER = r'''
import json, sys, tempfile, traceback
from pathlib import Path
import numpy as np
from workbench.app.session.session import WorkbenchSession
from workbench.settings.settings import BuildSettings
from workbench.core.errors import WorkbenchError

path, out = Path(sys.argv[1]), {}
tmp = Path(tempfile.mkdtemp())
session = WorkbenchSession(engines_dir=tmp / "engines", work_dir=tmp / "out")

def cell(name, work):
    try:
        out[name] = work() or "ok"
    except WorkbenchError as err:
        out[name] = "err: " + type(err).__name__ + ": " + err.summary[:70]
    except Exception as err:
        out[name] = "RAW " + type(err).__name__ + ": " + str(err).splitlines()[0][:70]

def build(settings=None):
    session.start_build(settings)
    session.wait_build(600)

def run():
    session.make_inputs(0)
    result = session.run()
    bad = [n for n, v in result.outputs.items() if v.dtype.kind == "f" and not np.isfinite(v).all()]
    return "non-finite " + ",".join(bad) if bad else None

def compare(precision):
    return session.compare(precision).verdict

def fp16_build():
    settings = session.default_settings()
    from dataclasses import replace
    build(replace(settings, precision="fp16"))

def save_reload():
    session.save_engine("e")
    session.reload_engine("e")

def bundle():
    try:
        session.bundle(tmp / "bug.zip")
    except WorkbenchError as err:
        if "there is no failure to bundle" in err.summary:
            return "ok (nothing failed)"
        raise

cell("load", lambda: session.load(path) and None)
if out["load"] == "ok":
    cell("parse", lambda: None if session.diagnose() else "refused")
    cell("build", build)
    cell("run", run)
    cell("fp16", lambda: compare("fp16"))
    cell("bf16", lambda: compare("bf16"))
    cell("fp16 build", fp16_build)
    cell("save/reload", save_reload if session.artifact is not None else lambda: "no engine")
    cell("report", lambda: session.report(tmp / "r.html") and None)
    cell("bundle", bundle)
session.close()
print("RESULT " + json.dumps(out))
'''


def run_model(root: Path, model: Path, timeout: float) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(root))
    started = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-c", _WORKER, str(model)], cwd=root, env=env,
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"load": f"timeout after {timeout:.0f} s"}
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        return {"load": f"crashed (exit {done.returncode}): {done.stderr[-200:]}"}
    cells: dict[str, str] = json.loads(line[len("RESULT "):])
    cells["seconds"] = f"{time.perf_counter() - started:.0f}"
    return cells


def short(text: str) -> str:
    if text in ("ok", "PASSED") or text.startswith("ok"):
        return "ok"
    if text.startswith("RAW"):
        return "RAW"
    if text.startswith("err:"):
        return "err"
    return text.split(":")[0][:12]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, help="a baseline checkout to measure too")
    parser.add_argument("--only", nargs="*", help="export names (default: all)")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--json", type=Path, help="write every cell's full text here")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE))
    from sample_models.exports import EXPORTS

    models = [m for m in EXPORTS if not args.only or m.name in args.only]
    roots = [("now", HERE)] + ([("before", args.root.resolve())] if args.root else [])
    table: dict[str, dict[str, dict[str, str]]] = {}
    for model in models:
        table[model.name] = {label: run_model(root, model.path, args.timeout)
                             for label, root in roots}
        for label, _ in roots:
            cells = table[model.name][label]
            print(f"{model.name:28} {label:6} " + " ".join(
                f"{flow}={short(cells.get(flow, '-'))}" for flow in FLOWS), flush=True)
    print("\n| model | " + " | ".join(FLOWS) + " |")
    print("|---|" + "---|" * len(FLOWS))
    for name, by_root in table.items():
        cells = [" / ".join(short(by_root[label].get(flow, "-")) for label, _ in roots)
                 for flow in FLOWS]
        print(f"| {name} | " + " | ".join(cells) + " |")
    if len(roots) == 2:
        print("\ncells: now / before (" + str(args.root) + ")")
    if args.json:
        args.json.write_text(json.dumps(table, indent=1))
    raws = [(n, f) for n, by in table.items() for f, v in by["now"].items() if v.startswith("RAW")]
    print(f"\n{len(models)} models, {len(raws)} raw errors now" +
          "".join(f"\n  {n}: {f}: {table[n]['now'][f]}" for n, f in raws))
    return 1 if raws else 0


if __name__ == "__main__":
    with tempfile.TemporaryDirectory():
        raise SystemExit(main())
