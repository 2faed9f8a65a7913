"""How well does the CPU FP16 candidate model real FP16 GPU arithmetic? (issue 16)

    python tests/gpu/check_fp16_fidelity.py [--device cuda] [--report FILE.md] [--json FILE]

For every sample model and every model of the realistic corpus, on the same seeded inputs:
the FP32 reference (ONNX Runtime, CPU), the workbench's CPU FP16 candidate
(``compare_precision(..., backend="numpy")``: NumPy float16 through ``onnx.reference``) and
the SAME converted FP16 graph run with PyTorch's FP16 kernels on ``--device``
(``torch_onnx.TorchGraph``: cuBLAS / cuDNN on a GPU). Per model: do the verdicts agree
(pass / fail / non-finite), the first node over the drift threshold on each side, and the
ratio of the CPU candidate's error to the GPU's (error = max|x - fp32| / max|fp32| over the
outputs, the drift measure). The evaluator itself is checked first: the FP32 graph through
it must match ONNX Runtime. Needs PyTorch (not a workbench dependency); exits 1 when the
evaluator disagrees with ONNX Runtime, 2 when ``--device cuda`` has no GPU.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for folder in (ROOT, HERE):  # run as a script from anywhere; torch_onnx lives beside this
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import fidelity_report  # noqa: E402
import torch  # noqa: E402
from torch_onnx import GraphError, TorchGraph  # noqa: E402

from workbench.app.precision.compare import _named_nodes, compare_precision  # noqa: E402
from workbench.backends.ort import OrtRunner, index_input_ranges  # noqa: E402
from workbench.backends.reference import map_candidate  # noqa: E402
from workbench.compare.drift import GraphNode, compute_drift  # noqa: E402
from workbench.compare.metrics import compare_outputs  # noqa: E402
from workbench.compare.tolerances import Tolerances  # noqa: E402
from workbench.core.errors import WorkbenchError  # noqa: E402
from workbench.feeds.inputs import make_inputs  # noqa: E402
from workbench.inspection.loading import load_model  # noqa: E402
from workbench.transforms.precision.fp16 import convert_precision  # noqa: E402

SEED = 0
EVALUATOR_TOLERANCE = 1e-4  # FP32 graph through torch vs ONNX Runtime, relative to scale
# Valid sizes for corpus models whose default seeded feeds do not run (a feeds problem, not
# an FP16 one: the row's note says so), so that their FP16 arithmetic is still measured.
FEED_DIMS: dict[str, dict[str, int]] = {
    "paddle_detector": {"p2o.DynamicDimension.0": 1, "p2o.DynamicDimension.1": 64,
                        "p2o.DynamicDimension.2": 64},
    "if_switch": {"batch": 1, "samples": 512},
}


@dataclass(frozen=True)
class ModelResult:
    """One model's row; ``skipped`` says why a model has no numbers on some side."""

    name: str
    source: str
    ops: str
    skipped: str = ""
    cpu_verdict: str = ""
    gpu_verdict: str = ""
    cpu_error: float = float("nan")
    gpu_error: float = float("nan")
    cpu_vs_gpu: float = float("nan")
    cpu_first_bad: str | None = None
    gpu_first_bad: str | None = None
    evaluator_error: float = float("nan")
    note: str = ""

    @property
    def agree(self) -> bool:
        return not self.skipped and self.cpu_verdict == self.gpu_verdict

    @property
    def ratio(self) -> float:
        if self.cpu_error == self.gpu_error:
            return 1.0
        return self.cpu_error / self.gpu_error if self.gpu_error else float("inf")


def model_paths(work: Path) -> list[tuple[str, Path]]:
    """(source, path) of every sample model and every realistic corpus model."""
    paths = [("sample", p) for p in sorted((ROOT / "sample_models").glob("*.onnx"))]
    try:
        from sample_models.realistic import write_all
    except ImportError:  # the corpus is not in this checkout
        return paths
    return paths + [("realistic", p) for p in write_all(work)]


def _ops(model: object) -> str:
    graph = model.graph  # type: ignore[attr-defined]
    return " ".join(sorted({n.op_type for n in graph.node}))


def _error(reference: dict[str, np.ndarray], candidate: dict[str, np.ndarray]) -> float:
    """max|c - r| / max|r| over the float outputs; inf when c is non-finite where r is not."""
    worst = 0.0
    for name, ref in reference.items():
        if ref.dtype.kind != "f" or name not in candidate:
            continue
        r, c = ref.astype(np.float64), candidate[name].astype(np.float64)
        finite = np.isfinite(r)
        if (~np.isfinite(c) & finite).any():
            return float("inf")
        scale = float(np.abs(r[finite]).max()) if finite.any() else 0.0
        diff = float(np.abs(c[finite] - r[finite]).max()) if finite.any() else 0.0
        worst = max(worst, diff / scale if scale else (0.0 if diff == 0 else float("inf")))
    return worst


def _verdict(report: object, reference: dict, candidate: dict) -> str:
    for name, ref in reference.items():
        if ref.dtype.kind != "f" or name not in candidate:
            continue
        if (~np.isfinite(candidate[name].astype(np.float64)) & np.isfinite(ref)).any():
            return "non-finite"
    return "pass" if report else "fail"


def _reference(name: str, model: object) -> tuple[dict, dict, str]:
    """Seeded feeds (the Compare tab's), the FP32 values of every tensor, and a note when
    the default feeds fail and ``FEED_DIMS`` sizes the model's dynamic dims instead."""
    def attempt(dims: dict[str, int] | None) -> tuple[dict, dict]:
        runner = OrtRunner(model, expose_intermediates=True)  # type: ignore[arg-type]
        feeds = make_inputs(runner.input_specs(), seed=SEED, dims=dims,
                            int_range=index_input_ranges(model) or None)  # type: ignore[arg-type]
        with runner:
            return feeds, runner.infer(feeds)

    try:
        return (*attempt(None), "")
    except WorkbenchError as err:
        if name not in FEED_DIMS:
            raise
        dims = FEED_DIMS[name]
        return (*attempt(dims), f"default feeds fail ({err.summary}); fed with dims {dims}")


def check_model(source: str, path: Path, device: str) -> ModelResult:
    name = path.stem
    try:
        model = _named_nodes(load_model(path))
    except WorkbenchError as err:
        return ModelResult(name, source, "", skipped=f"bad-input sample: {err.summary}")
    ops = _ops(model)
    try:
        feeds, reference_all, note = _reference(name, model)
        cpu = compare_precision(model, inputs=feeds, backend="numpy", per_layer=True)
    except WorkbenchError as err:
        return ModelResult(name, source, ops, skipped=f"CPU path: {err.summary}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        conversion = convert_precision(model, "fp16", ())  # what compare_precision measured
    fp16_model = conversion.model
    outputs = [o.name for o in model.graph.output]
    reference = {n: reference_all[n] for n in outputs}
    cpu_verdict = _verdict(cpu.outputs, reference, cpu.candidate_outputs)
    try:
        fp32_run = TorchGraph(model, device).run(feeds)
    except NotImplementedError as err:
        return ModelResult(name, source, ops, skipped=f"torch evaluator: {err}")
    try:
        gpu_all = TorchGraph(fp16_model, device).run(feeds, intermediates=True)
    except GraphError as err:  # the CPU path ran a graph a real FP16 runtime refuses
        return ModelResult(name, source, ops, cpu_verdict=cpu_verdict,
                           gpu_verdict=f"refused: {err}", cpu_first_bad=cpu.first_bad_node,
                           cpu_error=_error(reference, cpu.candidate_outputs),
                           evaluator_error=_error(reference, fp32_run), note=note)
    gpu = {n: gpu_all[n] for n in outputs}
    gpu_report = compare_outputs(reference, gpu, Tolerances.preset("fp16"))
    nodes = [GraphNode(n.name, n.op_type, tuple(n.input), tuple(n.output))
             for n in model.graph.node]
    gpu_drift = compute_drift(
        nodes, reference_all, map_candidate(model, fp16_model, gpu_all, conversion.views),
        cpu.drift.threshold if cpu.drift else 1e-2, outputs)
    cpu_out = cpu.candidate_outputs
    return ModelResult(
        name, source, ops,
        cpu_verdict=cpu_verdict,
        gpu_verdict=_verdict(gpu_report, reference, gpu),
        cpu_error=_error(reference, cpu_out), gpu_error=_error(reference, gpu),
        cpu_vs_gpu=_error({n: v for n, v in gpu.items() if np.isfinite(v).all()}, cpu_out),
        cpu_first_bad=cpu.first_bad_node, gpu_first_bad=gpu_drift.first_bad_node,
        evaluator_error=_error(reference, fp32_run), note=note,
    )


def environment(device: str, commit: str) -> dict[str, str]:
    import onnx
    import onnxruntime

    info = {"device": device, "torch": torch.__version__, "numpy": np.__version__,
            "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__,
            "python": sys.version.split()[0], "workbench commit": commit}
    if device.startswith("cuda"):
        props = torch.cuda.get_device_properties(0)
        info["device"] = f"{props.name} (compute capability {props.major}.{props.minor})"
        info["cuda"] = str(torch.version.cuda)
        info["cudnn"] = str(torch.backends.cudnn.version())
    info["fp16 GEMM reduced-precision reduction"] = str(
        torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction)
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (the real check) or cpu")
    parser.add_argument("--report", type=Path, help="write the Markdown report here")
    parser.add_argument("--json", type=Path, help="write the rows as JSON here")
    parser.add_argument("--only", nargs="*", help="model names to check (default: all)")
    # a copy of the tree (the GPU machine's) may carry a stale .git: say the commit outright
    parser.add_argument("--commit", default="not recorded", help="the commit checked")
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("SKIPPED: --device cuda needs PyTorch with a CUDA GPU")
        return 2
    # FP32 parts (the evaluator's own check, nodes kept in FP32) must be real FP32, not TF32
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    rows = []
    with tempfile.TemporaryDirectory(prefix="fp16-fidelity-") as work:
        for source, path in model_paths(Path(work)):
            if args.only and path.stem not in args.only:
                continue
            row = check_model(source, path, args.device)
            print(fidelity_report.row_line(row), flush=True)
            rows.append(row)
    env = environment(args.device, args.commit)
    text = fidelity_report.render(rows, env)
    print(text.split("\n## ", 2)[1] if "\n## " in text else text)
    if args.report:
        args.report.write_text(text)
    if args.json:
        args.json.write_text(json.dumps({"environment": env, "rows": [
            {**asdict(r), "agree": r.agree, "ratio": r.ratio} for r in rows]}, indent=1))
    bad = [r.name for r in rows if not r.skipped and not r.evaluator_error <= EVALUATOR_TOLERANCE]
    if bad:
        print(f"FAIL: the torch evaluator disagrees with ONNX Runtime in FP32 on {bad}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
