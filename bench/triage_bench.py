"""Triage of a generated model zoo: sequential vs ``--jobs 2``, and the cost of isolation.

The zoo (at least 20 models) is every model of ``sample_models/`` (failures included: they
are what a zoo holds), the realistic corpus of ``sample_models/realistic.py`` when it is
there, and conv chains of several depths to reach the count. Each variant runs in a fresh
subprocess, so its peak RSS is its own:

* ``in-process``: the baseline — one process calls diagnose and build_engine on every model
  in turn (no isolation: one crash would end the whole triage).
* ``jobs 1``: ``triage_folder(build=True)``, one process per model (forked from a zygote
  that has the imports done), one at a time.
* ``jobs 2``: the same with two models at once (``trt-workbench triage --jobs 2``).
* ``jobs 1 fresh``: ``WORKBENCH_ZOO_ZYGOTE=0``, a fresh interpreter per model.

Printed: wall time and its ratio to ``jobs 1``; peak RSS of the triage process and of the
largest model process, as MiB and as a multiple of the largest model's weight bytes.
Usage: ``python bench/triage_bench.py [--models 24]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_models"

VARIANT = r"""
import json, os, resource, sys, time
sys.path.insert(0, sys.argv[3])
variant, folder = sys.argv[1], sys.argv[2]
start = time.perf_counter()
if variant == "in-process":
    os.environ["WORKBENCH_ISOLATE_PARSER"] = "0"  # like the triage workers
    from pathlib import Path
    from workbench.backends.trt.build import build_engine
    from workbench.backends.trt.parse import diagnose
    from workbench.core.errors import WorkbenchError
    for path in sorted(Path(folder).rglob("*.onnx")):
        if diagnose(path, node_islands=False):
            try:
                build_engine(path)
            except WorkbenchError:
                pass
    rows = None
else:
    if variant.endswith("fresh"):
        os.environ["WORKBENCH_ZOO_ZYGOTE"] = "0"
    from workbench.app.zoo.triage import triage_folder
    report = triage_folder(folder, build=True, jobs=int(variant.split()[1]))
    rows = [r.to_dict() for r in report.rows]
wall = time.perf_counter() - start
own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
print(json.dumps({"wall": wall, "own_rss": own, "child_rss": children, "rows": rows}))
"""


def realistic_models(folder: Path) -> int:
    """Write the realistic corpus (sample_models/realistic.py) into ``folder``, if present."""
    sys.path.insert(0, str(ROOT))
    try:
        from sample_models.realistic import write_all  # type: ignore[import-not-found]
    except ImportError:  # the corpus is not in this checkout
        return 0
    return len(write_all(folder))


def make_zoo(folder: Path, count: int) -> list[Path]:
    sys.path.insert(0, str(ROOT / "tests"))
    from browser.models import conv_chain

    for path in SAMPLES.iterdir():
        if path.suffix in (".onnx", ".data"):
            shutil.copy(path, folder / path.name)
    (folder / "realistic").mkdir()
    realistic_models(folder / "realistic")
    depth = 10
    while len(list(folder.rglob("*.onnx"))) < count:
        conv_chain(folder / f"conv_chain_{depth}.onnx", depth, 32)
        depth += 20
    return sorted(folder.rglob("*.onnx"))


def run(variant: str, folder: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", VARIANT, variant, str(folder), str(ROOT)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=24)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="triage-bench-") as work:
        folder = Path(work)
        models = make_zoo(folder, max(20, args.models))
        biggest = max(p.stat().st_size + sum(d.stat().st_size for d in p.parent.glob("*.data"))
                      * (p.name == "external_weights.onnx") for p in models)
        print(f"zoo: {len(models)} models ({sum(p.stat().st_size for p in models) / 2**20:.1f} "
              f"MiB of .onnx), largest {biggest / 2**20:.1f} MiB; parse + build each")
        results = {v: run(v, folder)
                   for v in ("jobs 1", "jobs 2", "jobs 1 fresh", "in-process")}
    base = results["jobs 1"]["wall"]
    print(f"{'variant':<13} {'wall s':>8} {'vs jobs 1':>10} {'triage RSS MiB':>15} "
          f"{'largest child MiB':>18} {'child / weights':>16}")
    for variant, result in results.items():
        child = result["child_rss"] if variant != "in-process" else result["own_rss"]
        print(f"{variant:<13} {result['wall']:>8.1f} {result['wall'] / base:>9.2f}x "
              f"{result['own_rss'] / 2**20:>15.0f} {child / 2**20:>18.0f} "
              f"{child / biggest:>15.1f}x")
    rows = results["jobs 2"]["rows"]
    verdicts = {key: sum(1 for r in rows if r[field] == key)
                for field, key in (("parse", "parses"), ("build", "built"),
                                   ("status", "crashed"), ("status", "timeout"))}
    print("jobs 2 rows: " + ", ".join(f"{v} {k}" for k, v in verdicts.items())
          + f" of {len(rows)}")


if __name__ == "__main__":
    main()
