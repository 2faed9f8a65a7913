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


def test_type_checkers_see_every_public_name() -> None:
    """The lazy table's names are all imported under TYPE_CHECKING, from the same module."""
    import ast
    from pathlib import Path

    import workbench

    tree = ast.parse(Path(workbench.__file__).read_text())
    seen = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            for child in ast.walk(node):
                if isinstance(child, ast.ImportFrom):
                    seen.update({alias.name: child.module for alias in child.names})
    missing = {f"from {m} import {n}" for n, m in workbench._EXPORTS.items() if seen.get(n) != m}
    assert not missing, "add under TYPE_CHECKING in workbench/__init__.py: " + "; ".join(
        sorted(missing))
    assert set(seen) == set(workbench._EXPORTS), "names imported but not exported"
