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
    """'onnx>=1.16' -> ('onnx', '>=1.16'); names normalised as PEP 503 does; markers dropped."""
    match = REQUIREMENT.match(text.split(";")[0].strip())
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
    assert {"numpy", "onnx", "onnxruntime", "tensorrt-rtx", "ml-dtypes",
            "ipywidgets", "jupyterlab", "matplotlib", "netron"} <= names
    assert "onnxconverter-common" not in names  # only a test and a bench use it


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


def supported_pythons() -> list[str]:
    """Pyproject's `Programming Language :: Python :: 3.X` classifiers: the tested Pythons."""
    classifiers = pyproject()["project"]["classifiers"]
    prefix = "Programming Language :: Python :: "
    return [c.removeprefix(prefix) for c in classifiers if re.fullmatch(r".*:: 3\.\d+", c)]


def test_supported_pythons_agree_everywhere() -> None:
    pythons = supported_pythons()
    minors = [int(v.split(".")[1]) for v in pythons]
    assert pythons[0] == "3.10" and minors == list(range(minors[0], minors[-1] + 1)), pythons
    assert pyproject()["project"]["requires-python"] == f">={pythons[0]}"
    env_python = [line.split("#")[0].strip().removeprefix("- ")
                  for line in (ROOT / "environment.yml").read_text().splitlines()
                  if line.strip().startswith("- python")]
    assert env_python == [f"python>={pythons[0]},<3.{minors[-1] + 1}"]
    readme = (ROOT / "README.md").read_text()
    listed = ", ".join(pythons[:-1]) + f" and {pythons[-1]}"
    assert f"Supported and tested: **{listed}**" in readme
    assert f"({pythons[0]} and {pythons[-1]})" in readme  # the CI legs the README names
    ci = (ROOT / ".ci" / "run").read_text()
    assert "Programming Language :: Python ::" in ci  # CI takes its legs from the classifiers


def constraint_lines() -> list[tuple[str, str, str | None]]:
    """constraints/dev.txt as (name, version, python or None) triples."""
    rows = []
    for line in (ROOT / "constraints" / "dev.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        match = re.fullmatch(r'([a-z0-9-]+)==([^;\s]+)(?:; python_version == "(3\.\d+)")?', line)
        assert match, f"constraints/dev.txt: cannot read {line!r}"
        rows.append((match.group(1), match.group(2), match.group(3)))
    return rows


def test_constraints_pin_the_checkers_for_every_supported_python() -> None:
    rows = constraint_lines()
    names = {name for name, _, _ in rows}
    assert {"mypy", "ruff", "numpy"} <= names
    for name in names:
        pythons = [python for n, _, python in rows if n == name]
        # unmarked: one pin for all; marked: at most one pin per supported Python (a package
        # only some Pythons install, e.g. exceptiongroup on 3.10, has fewer)
        assert pythons == [None] or (
            None not in pythons and len(set(pythons)) == len(pythons)
            and set(pythons) <= set(supported_pythons())), name
    for checker in ("mypy", "ruff"):  # the same checkers everywhere
        assert [p for n, _, p in rows if n == checker] == [None], checker
    numpy = {python for name, _, python in rows if name == "numpy"}
    assert numpy == set(supported_pythons()) or numpy == {None}


def test_only_the_dev_install_applies_the_constraints() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipes = {block.split(":", 1)[0]: block for block in makefile.split("\n\n")}
    dev = next(b for t, b in recipes.items() if t.startswith("$(DEVSTAMP)"))
    user = next(b for t, b in recipes.items() if t.startswith("$(STAMP)"))
    assert "-c $(CONSTRAINTS)" in dev and "$(CONSTRAINTS)" not in user
    assert "python_version" not in pyproject()["tool"]["mypy"]  # mypy checks as its own Python
