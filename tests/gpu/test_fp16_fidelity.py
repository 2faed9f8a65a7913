"""pytest wrapper of check_fp16_fidelity.py. PyTorch is not a workbench dependency: without
it these skip; with it (CPU is enough) the evaluator is checked against ONNX Runtime, and
with a CUDA GPU the whole fidelity check runs."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip(
    "torch",
    reason="needs PyTorch, which the workbench does not depend on "
    "(on a GPU machine: python tests/gpu/check_fp16_fidelity.py)",
)


def _load(name: str):
    path = Path(__file__).with_name(f"{name}.py")
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


check = _load("check_fp16_fidelity")
ROOT = Path(__file__).resolve().parents[2]
CPU_MODELS = ("tiny_cnn", "resnet_block", "transformer_block", "fp16_overflow",
              "mlp_dynamic_batch")


@pytest.mark.parametrize("name", CPU_MODELS)
def test_evaluator_matches_onnxruntime_and_cpu_candidate_on_cpu(name: str) -> None:
    row = check.check_model("sample", ROOT / "sample_models" / f"{name}.onnx", "cpu")
    assert not row.skipped, row.skipped
    assert row.evaluator_error <= check.EVALUATOR_TOLERANCE, row
    # PyTorch's CPU float16 kernels and NumPy float16 are both FP16: same verdict
    assert row.agree, row


def test_fidelity_on_gpu(tmp_path: Path) -> None:
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs an NVIDIA GPU with PyTorch (python tests/gpu/check_fp16_fidelity.py)")
    assert check.main(["--device", "cuda", "--report", str(tmp_path / "report.md")]) == 0
    assert "Verdicts agree on" in (tmp_path / "report.md").read_text()
