"""The import rings of DESIGN.md, checked by importing every module with packages blocked.

Each module is imported in a fresh interpreter in which the packages its layer may not use
raise ImportError. A module that needs a blocked package fails to import, and the test
names it.
"""

from __future__ import annotations

import ast
import json
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
# The backends ring's onnxruntime importers: the runner, and ORT's static quantizer
ORT_OWNERS = ("workbench.backends.ort", "workbench.backends.ort_quant",
              "workbench.backends.ort_node")
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
    if module in ORT_OWNERS:
        return TRT + WIDGETS
    if module.startswith("workbench.compare"):
        return (*ALL_HEAVY, "onnx")
    if module.startswith(("workbench.inspection", "workbench.graph")):
        return ALL_HEAVY
    return ALL_HEAVY


# The workbench's own rings (docs/DEVELOPING.md): a package may import its own ring's
# packages and anything below, never above.
RINGS: dict[str, int] = {
    "core": 0,
    "graph": 1, "inspection": 1, "transforms": 1, "compare": 1, "settings": 1, "engines": 1,
    "triage": 1, "feeds": 1,
    "backends": 2,
    "app": 3,
    "ui": 4, "cli": 4,
}


def _package_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "workbench" else None


def _imported_workbench_modules(path: Path) -> list[tuple[int, str]]:
    """Every ``workbench.*`` import in a file, at any depth (function-local ones too)."""
    tree = ast.parse(path.read_text())
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "workbench":
                found += [(node.lineno, f"workbench.{a.name}") for a in node.names]
            elif node.module.startswith("workbench."):
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("workbench.")]
    return found


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking_block(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def _runtime_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Import statements at any depth (function-local too), except under TYPE_CHECKING."""
    found: list[ast.Import | ast.ImportFrom] = []
    pending = [tree]
    while pending:
        node = pending.pop()
        for child in ast.iter_child_nodes(node):
            if _is_type_checking_block(child):
                pending.extend(getattr(child, "orelse", []))  # the else: branch does run
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                found.append(child)
            pending.append(child)
    return found


def import_graph() -> dict[str, set[str]]:
    """module -> the workbench modules it imports when it runs (submodules resolved)."""
    files = {_module_name(p): p for p in (ROOT / "workbench").rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        targets: set[str] = set()
        for node in _runtime_imports(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets |= {a.name for a in node.names if a.name in files}
            elif node.module and node.level == 0 and node.module.startswith("workbench"):
                for alias in node.names:  # ``from workbench.app import reproduce``
                    sub = f"{node.module}.{alias.name}"
                    targets.add(sub if sub in files else node.module)
        graph[module] = {t for t in targets if t in files and t != module}
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_no_import_cycles_between_workbench_modules() -> None:
    """Every import counts (function-local ones too); only TYPE_CHECKING blocks are free."""
    graph = import_graph()
    assert len(graph) > 50 and "workbench.settings.plan" in graph["workbench.settings.render"]
    assert not import_cycles(graph), "import cycles:\n" + "\n".join(
        " <-> ".join(group) for group in import_cycles(graph))


def test_the_cycle_finder_finds_cycles() -> None:
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []


def test_every_package_has_a_ring() -> None:
    packages = {p.name for p in (ROOT / "workbench").iterdir() if (p / "__init__.py").exists()}
    assert packages == set(RINGS), "update RINGS and docs/DEVELOPING.md for new packages"
    flat = sorted(p.name for p in (ROOT / "workbench").glob("*.py") if p.name != "__init__.py")
    assert flat == [], f"modules outside any ring: {flat}"


def test_workbench_imports_point_down() -> None:
    offenders = []
    for path in sorted((ROOT / "workbench").rglob("*.py")):
        rel = path.relative_to(ROOT)
        if rel.as_posix() == "workbench/__init__.py":
            continue  # the lazy export table names every ring on purpose
        own = rel.parts[1]
        for line, target in _imported_workbench_modules(path):
            package = _package_of(target)
            if package is None or package not in RINGS:
                offenders.append(f"{rel}:{line}: {target} (not inside a ring)")
            elif RINGS[package] > RINGS[own]:
                offenders.append(f"{rel}:{line}: {own} (ring {RINGS[own]}) imports "
                                 f"{target} (ring {RINGS[package]})")
    assert not offenders, "imports pointing up:\n" + "\n".join(offenders)


BLOCKER = """
import builtins, importlib, json, sys, traceback
blocked = set(sys.argv[1].split(",")) if sys.argv[1] else set()
real_import = builtins.__import__
current = [""]
def guarded(name, globals=None, locals=None, fromlist=(), level=0):
    if level == 0 and name.split(".")[0] in blocked:
        raise ImportError(f"layering: {name} is blocked for " + current[0])
    return real_import(name, globals, locals, fromlist, level)
builtins.__import__ = guarded
failures = {}
for module in sys.argv[2:]:
    current[0] = module
    try:
        importlib.import_module(module)
    except Exception:
        failures[module] = traceback.format_exc()[-2000:]
print("FAILURES " + json.dumps(failures))
"""


def test_modules_found() -> None:
    assert len(all_modules()) > 5


def _by_blocked_set() -> dict[tuple[str, ...], list[str]]:
    groups: dict[tuple[str, ...], list[str]] = {}
    for module in all_modules():
        groups.setdefault(blocked_for(module), []).append(module)
    return groups


@pytest.mark.parametrize("blocked", list(_by_blocked_set()), ids=",".join)
def test_modules_respect_their_rings(blocked: tuple[str, ...]) -> None:
    """Every module imports with the packages of its ring blocked: one interpreter per set
    of blocked packages (five, not one per module), each module imported in turn. A module
    already imported by an earlier one imported without the blocked packages too."""
    modules = _by_blocked_set()[blocked]
    result = subprocess.run(
        [sys.executable, "-c", BLOCKER, ",".join(blocked), *modules],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )
    line = next((x for x in result.stdout.splitlines() if x.startswith("FAILURES ")), None)
    assert line is not None, result.stderr[-2000:]
    failures = json.loads(line[len("FAILURES "):])
    assert not failures, (
        f"modules import a package their layer may not use ({', '.join(blocked)}):\n"
        + "\n".join(f"{module}:\n{trace}" for module, trace in failures.items()))


def test_heavy_packages_imported_only_by_their_owners() -> None:
    """Static check: the import statements themselves live only in the owning modules."""
    owners = {
        "tensorrt": "workbench/backends/trt/", "tensorrt_rtx": "workbench/backends/trt/",
        "pycuda": "workbench/backends/trt/",
        "onnxruntime": ("workbench/backends/ort.py", "workbench/backends/ort_quant.py",
                        "workbench/backends/ort_node.py"),
        "ipywidgets": "workbench/ui/", "IPython": "workbench/ui/",
    }
    offenders = []
    for path in sorted((ROOT / "workbench").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for number, line in enumerate(path.read_text().splitlines(), 1):
            stripped = line.strip()
            for package, owner in owners.items():
                prefixes = (f"import {package}", f"from {package} ", f"from {package}.")
                if stripped.startswith(prefixes) and not rel.startswith(owner):  # str or tuple
                    offenders.append(f"{rel}:{number}: {stripped}")
    assert not offenders, "heavy imports outside their ring:\n" + "\n".join(offenders)


def test_no_workbench_module_is_imported_by_string() -> None:
    """importlib.import_module("workbench…") / __import__ hide a dependency from mypy and
    from the checks above; only the package root's lazy export table may (it is checked by
    test_public_api: every name is also imported under TYPE_CHECKING)."""
    offenders = []
    for path in sorted((ROOT / "workbench").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel == "workbench/__init__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and node.args and isinstance(
                    node.args[0], ast.Constant) and str(node.args[0].value).startswith(
                    "workbench"):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name in ("import_module", "__import__", "find_spec", "_api"):
                    offenders.append(f"{rel}:{node.lineno}: {name}({node.args[0].value!r})")
    assert not offenders, "imports by string:\n" + "\n".join(offenders)
