"""The README's quick start and CLI examples run as written (in a temporary folder)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
QUICK_START = README.split("## Quick start", 1)[1]


def fenced(text: str, language: str) -> str:
    return text.split(f"```{language}\n", 1)[1].split("```", 1)[0]


@pytest.fixture()
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "sample_models").symlink_to(ROOT / "sample_models")
    return tmp_path


def test_quick_start_python_runs(workdir: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(workdir)
    namespace: dict[str, object] = {}
    exec(compile(fenced(QUICK_START, "python"), "README quick start", "exec"), namespace)
    out = capsys.readouterr().out
    assert "does NOT parse" in out and "fancy_activation" in out
    assert "rms.square" in out
    assert (workdir / "mlp.engine").stat().st_size > 0
    assert (workdir / "mlp.engine.json").exists()
    namespace["panel"] = None


# Expected exit status of each README command: compare exits 1 because FP16 fails on the
# overflow sample, which is the point of the example.
EXPECTED_STATUS = {"inspect": 0, "diagnose": 0, "build": 0, "engine": 0, "run": 0, "compare": 1}


def test_quick_start_cli_runs(workdir: Path) -> None:
    script = Path(sys.executable).with_name("trt-workbench")
    lines = [line for line in fenced(QUICK_START, "bash").splitlines() if line.strip()]
    assert len(lines) == len(EXPECTED_STATUS)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for line in lines:
        argv = shlex.split(line)
        assert argv[0] == "trt-workbench"
        result = subprocess.run([str(script), *argv[1:]], cwd=workdir, capture_output=True,
                                text=True, timeout=300, env=env)
        want = EXPECTED_STATUS[argv[1]]
        output = result.stdout[-1500:] + "\n" + result.stderr[-1500:]
        assert result.returncode == want, f"{line}\n{output}"
    assert (workdir / "folded.onnx").exists()
    assert (workdir / "resnet.engine.json").exists()
    assert (workdir / "out.npz").exists()
