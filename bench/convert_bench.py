"""FP16 conversion at scale, and whether ONNX Runtime memory-maps the copies we write.

On a rung of the GPT ladder (``GPT_LADDER`` of ``sample_models/realistic.py``; default
``gpt_770m``: ~770M parameters, 3.0 GB of FP32 weights in external data, over protobuf's
2 GiB), each step in a fresh process (wall time, peak RSS its own, as a multiple of the
FP32 weight bytes):

================  =========================================================================
step              what it does
================  =========================================================================
onnx.load         ``onnx.load(path)`` with its external data: the floor of any proto-based
                  conversion
workbench         ``trt-workbench convert`` (``staged_model`` + ``write_converted_model``):
                  the graph converted, weights converted one tensor at a time into
                  ``<copy>.data`` (aligned to 64 KiB)
converter-common  onnxconverter-common ``float16.convert_float_to_float16(keep_io_types=True)``
                  then ``onnx.save(save_as_external_data=True)``; when it refuses a model
                  over 2 GiB, again with ``disable_shape_infer=True``
workbench copy    ``save_staged``: the FP32 copy staging, the mask fix and folding write
================  =========================================================================

Then an ONNX Runtime CPU session (created, no run) on the original, on our FP32 copy, on
our FP16 copy and on onnxconverter-common's FP16 copy, each in a fresh process: peak RSS,
RSS at the end split into anonymous (read into memory) and file-backed (mapped) pages, and
the bytes of the model's data file mapped into the process (``/proc/self/maps``): the
direct answer to "does ORT map it". Each session twice: with ORT's defaults, and with
``session.disable_prepacking`` (MLAS prepacks MatMul weights into copies of its own, which
hides whether the file's bytes were mapped or read).

Usage: ``python bench/convert_bench.py [--rung gpt_770m] [--skip-converter-common]``.
The 770M rung needs ~12 GB of free memory (onnxconverter-common holds the model twice)
and ~8 GB of disk.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sample_models.realistic import GPT_LADDER, gpt_like, gpt_param_bytes  # noqa: E402

WORKER = r"""
import json, os, sys, time
sys.path.insert(0, sys.argv[4])
step, model, out = sys.argv[1], sys.argv[2], sys.argv[3]
import onnx
start = time.perf_counter()
note = ""
if step == "onnx.load":
    onnx.load(model)
elif step == "workbench":
    from pathlib import Path
    from workbench.transforms.external import staged_model, write_converted_model
    with staged_model(model) as staged:
        write_converted_model(staged, "fp16", (), Path(out))
elif step == "workbench copy":
    from pathlib import Path
    from workbench.transforms.external import save_staged, staged_model
    with staged_model(model) as staged:
        save_staged(staged.model, staged.folder, Path(out))
elif step.startswith("converter-common"):
    from onnxconverter_common import float16
    loaded = onnx.load(model)
    converted = float16.convert_float_to_float16(
        loaded, keep_io_types=True, disable_shape_infer=step.endswith("no-infer"))
    del loaded
    onnx.save(converted, out, save_as_external_data=True,
              location=os.path.basename(out) + ".data")
else:  # "ort default" / "ort no-prepack": a CPU session on `model`, created, not run
    import onnxruntime as ort
    options = ort.SessionOptions()
    if step == "ort no-prepack":
        options.add_session_config_entry("session.disable_prepacking", "1")
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    data = os.path.realpath(model + ".data")
    mapped = 0
    with open("/proc/self/maps") as maps:
        for line in maps:
            parts = line.split(maxsplit=5)
            if len(parts) == 6 and os.path.realpath(parts[5].strip()) == data:
                low, high = (int(x, 16) for x in parts[0].split("-"))
                mapped += high - low
    note = mapped
wall = time.perf_counter() - start
status = {}
with open("/proc/self/status") as f:
    for line in f:
        key, _, value = line.partition(":")
        if key in ("VmHWM", "RssAnon", "RssFile"):
            status[key] = int(value.split()[0]) * 1024
print("RESULT " + json.dumps({"wall": wall, "rss": status["VmHWM"], "anon": status["RssAnon"],
                              "file": status["RssFile"], "mapped": note}))
"""


def measure(step: str, model: Path, out: Path) -> dict[str, float] | str:
    """One step in a fresh interpreter; its figures, or why it failed (last error line)."""
    done = subprocess.run([sys.executable, "-c", WORKER, step, str(model), str(out), str(ROOT)],
                          capture_output=True, text=True, check=False)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        errors = [ln for ln in done.stderr.strip().splitlines() if ln.strip()]
        return f"FAILED (exit {done.returncode}): {(errors or ['?'])[-1][:150]}"
    result: dict[str, float] = json.loads(lines[-1][len("RESULT "):])
    return result


def data_bytes(model: Path) -> int:
    data = model.with_name(model.name + ".data")
    return data.stat().st_size if data.exists() else 0


def print_step(label: str, r: dict[str, float] | str, weights: int,
               floor: dict[str, float] | str | None) -> None:
    if isinstance(r, str):
        print(f"  {label:<30} {r}", flush=True)
        return
    ratio = (f"{r['wall'] / floor['wall']:7.2f}{r['rss'] / floor['rss']:7.2f}"
             if isinstance(floor, dict) else f"{'':>14}")
    print(f"  {label:<30}{r['wall']:8.1f}{r['rss'] / 2**30:9.2f}{r['rss'] / weights:9.2f}"
          f"{ratio}", flush=True)


def print_session(label: str, r: dict[str, float] | str, file_weights: int) -> None:
    if isinstance(r, str):
        print(f"  {label:<34} {r}", flush=True)
        return
    mapped = float(r["mapped"] or 0)
    print(f"  {label:<34}{r['wall']:7.1f}{r['rss'] / 2**30:9.2f}"
          f"{r['rss'] / file_weights:8.2f}{r['anon'] / 2**30:8.2f}{r['file'] / 2**30:8.2f}"
          f"{mapped / 2**30:9.2f}  {'MAPPED' if mapped > file_weights / 2 else 'read'}",
          flush=True)


def line_counts() -> None:
    """Lines of the packages issue 24 tracks (transforms/, inspection/, graph/)."""
    total = 0
    for package in ("transforms", "inspection", "graph"):
        lines = sum(len(p.read_text().splitlines())
                    for p in (ROOT / "workbench" / package).rglob("*.py"))
        total += lines
        print(f"  workbench/{package + '/':<13}{lines:6d}")
    print(f"  {'total':<23}{total:6d}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rung", default="gpt_770m", choices=list(GPT_LADDER))
    parser.add_argument("--skip-converter-common", action="store_true")
    parser.add_argument("--keep", type=Path, help="write the models here and keep them")
    args = parser.parse_args()
    print("lines of code (issue 24):")
    line_counts()
    shape = GPT_LADDER[args.rung]
    weights = gpt_param_bytes(shape)
    with tempfile.TemporaryDirectory(prefix="convert-bench-") as tmp:
        folder = args.keep or Path(tmp)
        started = time.perf_counter()
        # external data even for the small rungs: the mapping question is about it
        model = gpt_like(folder, shape.layers, shape.d_model, shape.heads, shape.vocab,
                         shape.seq, name=args.rung, external=True)
        print(f"\n{args.rung}: {shape.param_count() / 1e6:.0f}M parameters, "
              f"{weights / 2**30:.2f} GiB of FP32 weights in external data, written in "
              f"{time.perf_counter() - started:.0f} s")
        print(f"  {'step':<30}{'wall s':>8}{'peak GiB':>9}{'×weights':>9}"
              f"{'×load t':>7}{'×load m':>7}")
        outs = {"workbench": folder / "workbench.fp16.onnx",
                "workbench copy": folder / "workbench.copy.onnx",
                "converter-common": folder / "occ.fp16.onnx"}
        floor = measure("onnx.load", model, model)
        print_step("onnx.load (floor)", floor, weights, None)
        results = {step: measure(step, model, out) for step, out in outs.items()
                   if step != "converter-common" or not args.skip_converter_common}
        for step in ("workbench", "converter-common"):
            if step in results:
                print_step(f"FP16 {step}", results[step], weights, floor)
        occ = results.get("converter-common")
        if isinstance(occ, str):
            outs["converter-common no-infer"] = outs.pop("converter-common")
            occ = results["converter-common no-infer"] = measure(
                "converter-common no-infer", model, outs["converter-common no-infer"])
            print_step("FP16 converter-common (no infer)", occ, weights, floor)
        print_step("FP32 copy (save_staged)", results["workbench copy"], weights, floor)

        print("\nONNX Runtime CPU session created on each file (RSS over that file's "
              "weight bytes; anon = read into memory, file = mapped pages touched; "
              "data mapped = bytes of its .data file mapped):")
        print(f"  {'file / options':<34}{'wall s':>7}{'peak GiB':>9}{'×wts':>8}"
              f"{'anon':>8}{'file':>8}{'mapped':>9}  verdict")
        files = {"original (packed)": model}
        files.update({f"ours {k}": v for k, v in outs.items()
                      if k.startswith("workbench") and v.exists()})
        files.update({k: v for k, v in outs.items()
                      if k.startswith("converter-common") and v.exists()})
        for label, path in files.items():
            for options in ("ort default", "ort no-prepack"):
                r = measure(options, path, path)
                print_session(f"{label}, {options[4:]}", r, data_bytes(path) or weights)
    return 0


if __name__ == "__main__":
    sys.exit(main())
