"""`make lab`, the README's first command, starts JupyterLab on the tour notebook, as root
too (NVIDIA's containers run as root, where JupyterLab refuses to start without
--allow-root). Run for real: the server answers /api/status, then it is stopped."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from browser.lab import _prepare_dirs, _wait_ready, free_port

ROOT = Path(__file__).resolve().parents[1]


def test_make_lab_passes_allow_root_only_as_root() -> None:
    # under `make test` the nested make prints "make[1]: Entering directory" lines too
    out = subprocess.run(["make", "--no-print-directory", "-n", "lab", f"VENV={sys.prefix}"],
                         cwd=ROOT, text=True, capture_output=True, check=True).stdout
    (line,) = [x for x in out.splitlines() if "jupyter lab" in x]
    assert line.endswith("notebooks/01_tour.ipynb")
    assert ("--allow-root" in line) is (os.getuid() == 0)


@pytest.mark.slow
@pytest.mark.skipif(os.getuid() != 0, reason="the root case needs a root user")
def test_make_lab_starts_jupyterlab_as_root(tmp_path: Path) -> None:
    env = _prepare_dirs(tmp_path)
    token, port = secrets.token_hex(16), free_port()
    args = (f"--no-browser --ip=127.0.0.1 --port={port} --port-retries=0 "
            f"--IdentityProvider.token={token}")
    log = tmp_path / "lab.log"
    with log.open("wb") as out:
        process = subprocess.Popen(["make", "lab", f"VENV={sys.prefix}", f"LAB_ARGS={args}"],
                                   cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        _wait_ready(f"http://127.0.0.1:{port}", token, process, log)
        assert "Running as root is not recommended" not in log.read_text()
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=20)
