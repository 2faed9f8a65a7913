"""Every name `workbench` exports resolves, and importing the package stays cheap."""

from __future__ import annotations

import subprocess
import sys

import workbench


def test_every_exported_name_resolves() -> None:
    missing = [name for name in workbench.__all__ if not hasattr(workbench, name)]
    assert not missing, f"exported but not importable: {missing}"


def test_import_workbench_loads_no_heavy_package() -> None:
    code = ("import sys, workbench; heavy = [m for m in ('tensorrt', 'tensorrt_rtx', "
            "'onnxruntime', 'ipywidgets', 'IPython', 'matplotlib', 'onnx') if m in sys.modules];"
            " print(','.join(heavy))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.strip() == "", f"`import workbench` loaded {result.stdout.strip()}"
