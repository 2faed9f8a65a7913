"""The bug bundle of a failed FP16 comparison (issue 25): the model and a repro of the same
comparison that, unzipped, fails the same way (``trt-workbench compare`` exits 1, the Python
repro prints FAILED at the same first bad node). Nothing is compared again to write it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from workbench.app.session.session import WorkbenchSession


def test_a_failed_comparison_bundles_a_repro_that_fails_the_same_way(
        tmp_path: Path, samples_dir: Path) -> None:
    session = WorkbenchSession(engines_dir=tmp_path / "engines", work_dir=tmp_path / "out")
    session.load(samples_dir / "fp16_overflow.onnx")
    assert session.diagnose()
    report = session.compare("fp16")
    assert report.verdict == "FAILED" and report.first_bad_node == "rms.square"
    assert session.failed_comparison() is report
    bundle = session.bundle(tmp_path / "fp16.zip")
    assert (bundle.stage, bundle.category) == ("compare", "FP16_ACCURACY")
    folder = tmp_path / "unzipped"
    with zipfile.ZipFile(bundle.path) as archive:
        archive.extractall(folder)
        names = set(archive.namelist())
    assert {"model.onnx", "repro.sh", "repro.py", "verbose.log", "diagnosis.json",
            "versions.json", "README.md"} <= names
    diagnosis = json.loads((folder / "diagnosis.json").read_text())
    assert diagnosis["verdict"] == "FAILED" and diagnosis["first_bad_node"] == "rms.square"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    shell = subprocess.run(["sh", "repro.sh"], cwd=folder, capture_output=True, text=True,
                           timeout=300, env=env, check=False)
    assert shell.returncode == 1, shell.stdout + shell.stderr
    assert "FAILED" in shell.stdout and "rms.square" in shell.stdout
    python = subprocess.run([sys.executable, "repro.py"], cwd=folder, capture_output=True,
                            text=True, timeout=300, check=False)
    assert python.returncode == 0, python.stderr
    assert "FP16 vs FP32" in python.stdout and "FAILED" in python.stdout
    assert "rms.square" in python.stdout
    session.close()
