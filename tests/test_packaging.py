"""pyproject.toml is the one list of dependencies; environment.yml must agree with it."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: no tomllib in the standard library
    tomllib = pytest.importorskip("tomli")

REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(.*)$")


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def parse_requirement(text: str) -> tuple[str, str]:
    """'onnx>=1.16' -> ('onnx', '>=1.16'); names normalised as PEP 503 does."""
    match = REQUIREMENT.match(text.strip())
    assert match, f"cannot parse requirement {text!r}"
    return re.sub(r"[-_.]+", "-", match.group(1)).lower(), match.group(2).replace(" ", "")


def environment_pip_packages() -> list[str]:
    """The entries of environment.yml's `- pip:` list (a tiny parser: no PyYAML needed)."""
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "- pip:")
    indent = len(lines[start]) - len(lines[start].lstrip())
    packages = []
    for line in lines[start + 1 :]:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if len(line) - len(line.lstrip()) <= indent:
            break
        packages.append(line.strip().removeprefix("- ").split("#")[0].strip())
    return packages


def test_environment_matches_pyproject_dependencies() -> None:
    declared = dict(parse_requirement(r) for r in pyproject()["project"]["dependencies"])
    entries = environment_pip_packages()
    from_env = dict(parse_requirement(e) for e in entries if not e.startswith("-"))
    assert from_env == declared, (
        "environment.yml's pip list differs from pyproject.toml [project].dependencies"
    )
    # ...and it installs this checkout with the dev extras
    assert "-e .[dev]" in entries


def test_dependencies_have_lower_bounds_only() -> None:
    project = pyproject()["project"]
    requirements = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements += extra
    for requirement in requirements:
        name, spec = parse_requirement(requirement)
        assert spec.startswith(">="), f"{name} needs a lower bound, found {spec!r}"
        assert "==" not in spec and "<" not in spec, f"{name} is pinned: {spec!r}"
    names = {parse_requirement(r)[0] for r in project["dependencies"]}
    assert {"numpy", "onnx", "onnxruntime", "tensorrt-rtx", "onnxconverter-common",
            "ipywidgets", "jupyterlab", "matplotlib", "netron"} <= names


def test_project_metadata() -> None:
    project = pyproject()["project"]
    assert project["name"] == "trt-workbench"
    assert project["requires-python"] == ">=3.10"
    assert project["scripts"] == {"trt-workbench": "workbench.cli:main"}
    extras = project["optional-dependencies"]
    assert {"dev", "gpu", "tensorrt"} <= set(extras)
    dev = {parse_requirement(r)[0] for r in extras["dev"]}
    assert {"pytest", "ruff", "mypy", "nbclient", "playwright", "hypothesis", "polygraphy"} <= dev
    assert [parse_requirement(r)[0] for r in extras["gpu"]] == ["pycuda"]
    assert [parse_requirement(r)[0] for r in extras["tensorrt"]] == ["tensorrt"]


def test_netron_never_pinned_exactly() -> None:
    netron = [r for r in pyproject()["project"]["dependencies"] if r.startswith("netron")]
    assert len(netron) == 1
    assert "==" not in netron[0] and "~=" not in netron[0]
    env_netron = [e for e in environment_pip_packages() if e.startswith("netron")]
    assert env_netron and "==" not in env_netron[0]
