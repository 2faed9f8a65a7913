"""Flavour detection, feature probes and require()."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import workbench
from workbench.backends.trt import compat
from workbench.core.errors import BackendUnavailableError


def test_backend_info_describes_tensorrt_rtx_here() -> None:
    info = workbench.backend_info()
    assert info.flavour in compat.FLAVOURS and info.version
    if info.flavour == "tensorrt_rtx":
        assert info.family == "tensorrt_rtx" and info.strongly_typed
        assert info.has("compute_capability_targets") and info.has("engine_validity")
        assert not info.has("weak_typing_fp16")
    assert info.to_dict()["gpu"]["present"] == info.gpu_present
    assert set(info.features) | set(info.missing) == set(compat.FEATURES)


def test_require_names_the_feature_and_version() -> None:
    info = compat.backend_info()
    missing = [f for f in info.missing if f != "gpu"]
    if not missing:
        pytest.skip("every feature is present in this TensorRT")
    with pytest.raises(BackendUnavailableError) as err:
        compat.require(missing[0])
    assert missing[0] in err.value.summary and info.label in err.value.summary


def test_gpu_probe_is_quiet_and_require_gpu_says_so() -> None:
    code = "from workbench.backends.trt.compat import gpu_info; print(gpu_info().present)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and done.stderr == ""
    if compat.gpu_info().present:
        pytest.skip("a GPU is present")
    with pytest.raises(BackendUnavailableError, match="needs an NVIDIA GPU"):
        compat.require("gpu")


@pytest.mark.parametrize(("family", "flavour", "version"), [
    ("tensorrt-10", "tensorrt", "10.16.0.32"), ("tensorrt-11", "tensorrt", "11.0.1"),
    ("tensorrt_rtx", "tensorrt_rtx", "1.7.1.116"),
])
def test_family_of(family: str, flavour: str, version: str) -> None:
    assert compat.family_of(flavour, version) == family


def test_workbench_trt_override() -> None:
    env = {**os.environ, "WORKBENCH_TRT": "tensorrt_rtx"}
    code = "import workbench; print(workbench.backend_info().flavour)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=60)
    assert done.stdout.strip() == "tensorrt_rtx"
    env["WORKBENCH_TRT"] = "tensorflow"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=60)
    assert done.returncode != 0 and "is not a TensorRT flavour" in done.stderr
