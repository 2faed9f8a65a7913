"""The import rings of DESIGN.md, checked by importing every module with packages blocked.

Each module is imported in a fresh interpreter in which the packages its layer may not use
raise ImportError. A module that needs a blocked package fails to import, and the test
names it.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import workbench

ROOT = Path(__file__).resolve().parent.parent

TRT = ("tensorrt", "tensorrt_rtx", "pycuda")
ORT = ("onnxruntime",)
WIDGETS = ("ipywidgets", "IPython")
ALL_HEAVY = TRT + ORT + WIDGETS


def all_modules() -> list[str]:
    names = ["workbench"]
    for info in pkgutil.walk_packages(workbench.__path__, "workbench."):
        if not info.name.endswith("__main__"):  # importing it runs the program
            names.append(info.name)
    return sorted(names)


def blocked_for(module: str) -> tuple[str, ...]:
    """The packages a module may NOT import, by its ring."""
    if module.startswith("workbench.ui"):
        return TRT + ORT  # the panel reaches TensorRT/ORT only through the session, lazily
    if module.startswith("workbench.backends.trt"):
        return ORT + WIDGETS
    if module == "workbench.backends.ort":
        return TRT + WIDGETS
    if module.startswith("workbench.compare"):
        return (*ALL_HEAVY, "onnx")
    if module.startswith("workbench.inspection"):
        return ALL_HEAVY
    return ALL_HEAVY


BLOCKER = """
import builtins, importlib, sys
blocked = set(sys.argv[2].split(",")) if sys.argv[2] else set()
real_import = builtins.__import__
def guarded(name, globals=None, locals=None, fromlist=(), level=0):
    if level == 0 and name.split(".")[0] in blocked:
        raise ImportError(f"layering: {name} is blocked for " + sys.argv[1])
    return real_import(name, globals, locals, fromlist, level)
builtins.__import__ = guarded
importlib.import_module(sys.argv[1])
"""


def test_modules_found() -> None:
    assert len(all_modules()) > 5


@pytest.mark.parametrize("module", all_modules())
def test_module_respects_its_ring(module: str) -> None:
    blocked = blocked_for(module)
    result = subprocess.run(
        [sys.executable, "-c", BLOCKER, module, ",".join(blocked)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    assert result.returncode == 0, (
        f"{module} imports a package its layer may not use ({', '.join(blocked)}):\n"
        + result.stderr[-2000:]
    )


def test_heavy_packages_imported_only_by_their_owners() -> None:
    """Static check: the import statements themselves live only in the owning modules."""
    owners = {
        "tensorrt": "workbench/backends/trt/", "tensorrt_rtx": "workbench/backends/trt/",
        "pycuda": "workbench/backends/trt/", "onnxruntime": "workbench/backends/ort.py",
        "ipywidgets": "workbench/ui/", "IPython": "workbench/ui/",
    }
    offenders = []
    for path in sorted((ROOT / "workbench").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for number, line in enumerate(path.read_text().splitlines(), 1):
            stripped = line.strip()
            for package, owner in owners.items():
                prefixes = (f"import {package}", f"from {package} ", f"from {package}.")
                if stripped.startswith(prefixes) and not rel.startswith(owner):
                    offenders.append(f"{rel}:{number}: {stripped}")
    assert not offenders, "heavy imports outside their ring:\n" + "\n".join(offenders)
