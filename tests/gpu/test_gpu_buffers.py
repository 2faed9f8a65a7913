"""pytest wrapper of check_pycuda_buffers.py: each check is one test, skipped without a GPU."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench.backends.trt.runtime.cuda_buffers import CudaContext, load_pycuda, probe_gpu
from workbench.core.errors import BackendUnavailableError

SKIP_REASON = (
    "needs an NVIDIA GPU and pycuda "
    "(run on a GPU machine: python tests/gpu/check_pycuda_buffers.py)"
)


def _load_check_module():
    path = Path(__file__).with_name("check_pycuda_buffers.py")
    spec = importlib.util.spec_from_file_location("check_pycuda_buffers", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


check = _load_check_module()


def _unavailable() -> str | None:
    probe = probe_gpu()
    if not probe.present:
        return f"{SKIP_REASON}: {probe.reason}"
    try:
        load_pycuda()
    except BackendUnavailableError:
        return f"{SKIP_REASON}: pycuda is not installed"
    return None


@pytest.fixture(scope="module")
def cuda_context() -> Iterator[CudaContext]:
    reason = _unavailable()
    if reason:
        pytest.skip(reason)
    ctx = CudaContext(0).open()
    yield ctx
    ctx.close()


@pytest.mark.gpu
@pytest.mark.parametrize("name", list(check.CHECKS))
def test_buffer_check(cuda_context: CudaContext, name: str) -> None:
    result = check.run_check(cuda_context, name)
    assert result.ok, f"{name}: {result.detail}"


def test_check_script_reports_skip_without_gpu(capsys: pytest.CaptureFixture[str]) -> None:
    """Without a GPU the script says why instead of failing obscurely."""
    if probe_gpu().present:
        pytest.skip("a GPU is present: the skip path is not taken here")
    assert check.main([]) == 2
    assert "SKIPPED: no NVIDIA GPU found" in capsys.readouterr().out
