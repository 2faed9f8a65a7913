"""Every ``trt.X.Y`` the backend uses exists in every TensorRT that can reach that code.

The real pybind modules of the latest TensorRT 10.x, 11.x and TensorRT-RTX come from their
PyPI bindings wheels (cached in ``.cache/trt-bindings``). Each links only a handful of C
functions from the TensorRT libraries; a stand-in library exporting them (returning NULL)
lets the real module import, so ``dir()`` gives the exact API without running TensorRT.
A static scan of ``workbench/backends/trt/**/*.py`` finds the ``trt.`` accesses and the
function each sits in; ``compat.BRANCHES`` says which families reach that function.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT, in_ci

from workbench.backends.trt.compat import BRANCHES, FAMILIES

CACHE = ROOT / ".cache" / "trt-bindings"
WHEELS: dict[str, str] = {  # family -> pip requirement (pip picks the newest match)
    "tensorrt-10": "tensorrt-cu13-bindings>=10,<11",
    "tensorrt-11": "tensorrt-cu13-bindings>=11,<12",
    "tensorrt_rtx": "tensorrt-rtx-cu13-bindings",
}
SYSTEM_LIBS = ("libstdc++", "libm.", "libc.", "libgcc", "libdl", "librt", "libpthread", "ld-")

DUMP = r"""
import importlib.machinery, importlib.util, json, sys
name, path = sys.argv[1], sys.argv[2]
loader = importlib.machinery.ExtensionFileLoader(name, path)
spec = importlib.util.spec_from_loader(name, loader)
module = importlib.util.module_from_spec(spec)
loader.exec_module(module)
api = {"": sorted(dir(module))}
for attr in dir(module):
    obj = getattr(module, attr)
    if isinstance(obj, type):
        api[attr] = sorted(dir(obj))
        for inner in dir(obj):
            value = getattr(obj, inner, None)
            if isinstance(value, type) and not inner.startswith("_"):
                api[f"{attr}.{inner}"] = sorted(dir(value))
print(json.dumps(api))
"""


def _download(requirement: str, folder: Path) -> Path:
    wheels = sorted(folder.glob("*.whl"))
    if wheels:
        return wheels[-1]
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
         "--disable-pip-version-check", "-q", "-d", str(folder), requirement],
        capture_output=True, text=True, timeout=300,
    )
    wheels = sorted(folder.glob("*.whl"))
    if done.returncode != 0 or not wheels:
        message = f"cannot download {requirement} from PyPI: {done.stderr.strip()[-300:]}"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return wheels[-1]


def _undefined_trt_symbols(module: Path) -> list[str]:
    out = subprocess.run(["nm", "-D", "--undefined-only", str(module)], capture_output=True,
                         text=True, check=True).stdout
    names = [line.split()[-1] for line in out.splitlines() if line.strip()]
    return sorted(n for n in names if "@" not in n and not n.startswith(("Py", "_Py", "_"))
                  and n not in ("dlopen", "dlsym", "dlclose"))


def _needed(module: Path) -> list[str]:
    out = subprocess.run(["readelf", "-d", str(module)], capture_output=True, text=True,
                         check=True).stdout
    libs = [line.split("[")[1].rstrip("]") for line in out.splitlines() if "(NEEDED)" in line]
    return [lib for lib in libs if not lib.startswith(SYSTEM_LIBS)]


def _stand_in(module: Path, folder: Path) -> Path:
    """Compile a library exporting the TensorRT symbols, named as each NEEDED library."""
    libs = folder / "stand-in"
    libs.mkdir(exist_ok=True)
    source = libs / "stand_in.c"
    symbols = _undefined_trt_symbols(module)
    source.write_text("".join(f"void *{name}(void) {{ return 0; }}\n" for name in symbols))
    built = libs / "libstand_in.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(built), str(source)], check=True,
                   capture_output=True)
    for lib in _needed(module):
        shutil.copyfile(built, libs / lib)
    return libs


def _api(family: str) -> dict[str, set[str]]:
    folder = CACHE / family
    dump = folder / "api.json"
    if not dump.exists():
        if shutil.which("gcc") is None or shutil.which("nm") is None:
            pytest.skip("needs gcc and nm (binutils) to build the stand-in library")
        wheel = _download(WHEELS[family], folder)
        extracted = folder / "wheel"
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(extracted)
        (module,) = [p for p in extracted.glob("*_bindings/*.so") if p.stem.startswith("tensorrt")]
        libs = _stand_in(module, folder)
        env = {**os.environ, "LD_LIBRARY_PATH": str(libs)}
        done = subprocess.run([sys.executable, "-c", DUMP, module.stem, str(module)],
                              capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0, f"{family}: the real bindings did not import: {done.stderr}"
        dump.write_text(done.stdout)
    return {key: set(value) for key, value in json.loads(dump.read_text()).items()}


def _accesses() -> list[tuple[str, str, int, tuple[str, ...]]]:
    """(branch key 'module:function', file, line, attribute chain) for each ``trt.`` use."""
    found = []
    for path in sorted((ROOT / "workbench" / "backends" / "trt").rglob("*.py")):
        tree = ast.parse(path.read_text())
        for top in tree.body:
            key = f"{path.stem}:{getattr(top, 'name', '<module>')}"
            for node in ast.walk(top):
                chain = _chain(node)
                if chain:
                    found.append((key, path.name, node.lineno, chain))
    return found


def _chain(node: ast.AST) -> tuple[str, ...] | None:
    """trt.A.B → ("A", "B") for the outermost attribute node only."""
    if not isinstance(node, ast.Attribute):
        return None
    names = []
    current: ast.AST = node
    while isinstance(current, ast.Attribute):
        names.append(current.attr)
        current = current.value
    if not (isinstance(current, ast.Name) and current.id == "trt"):
        return None
    if names[-1].startswith("__"):
        return None  # __version__, __name__, __file__ come from the Python package, not the .so
    return tuple(reversed(names))


@pytest.fixture(scope="module")
def apis() -> dict[str, dict[str, set[str]]]:
    return {family: _api(family) for family in FAMILIES}


def test_scan_finds_the_backend_accesses() -> None:
    chains = {chain[:2] for _, _, _, chain in _accesses()}
    assert ("BuilderFlag", "FP16") in chains and ("Builder",) in chains
    assert {key for key, *_ in _accesses()} >= set(BRANCHES) - {"compat:_probe_features"}


def test_every_trt_attribute_exists_where_it_is_reachable(apis) -> None:
    problems = []
    seen = set()
    for key, file, line, chain in _accesses():
        for family in BRANCHES.get(key, frozenset(FAMILIES)):
            api = apis[family]
            for depth in range(1, min(len(chain), 3) + 1):
                owner = ".".join(chain[: depth - 1])
                if owner not in api and depth > 1:
                    break  # an instance attribute or a deeper level the dump does not hold
                if chain[depth - 1] not in api.get(owner, set()):
                    problems.append(f"{file}:{line} trt.{'.'.join(chain[:depth])} is missing "
                                    f"in {family} (reached via {key})")
                    break
        seen.add(chain)
    assert seen, "the scan found no trt. accesses"
    assert not problems, "\n".join(sorted(set(problems)))


def test_documented_differences_hold(apis) -> None:
    """The facts the precision strategy rests on (TESTING.md: TensorRT API across versions)."""
    assert "FP16" in apis["tensorrt-10"]["BuilderFlag"]
    assert "FP16" not in apis["tensorrt-11"]["BuilderFlag"]
    assert "FP16" not in apis["tensorrt_rtx"]["BuilderFlag"]
    assert "get_engine_validity" in apis["tensorrt_rtx"]["Runtime"]
    assert "set_compute_capability" in apis["tensorrt_rtx"]["IBuilderConfig"]


def _script_problems(script: str, api: dict[str, set[str]]) -> list[str]:
    problems = []
    for node in ast.walk(ast.parse(script)):
        chain = _chain(node)
        if not chain:
            continue
        for depth in range(1, min(len(chain), 3) + 1):
            owner = ".".join(chain[: depth - 1])
            if owner not in api and depth > 1:
                break
            if chain[depth - 1] not in api.get(owner, set()):
                problems.append(f"trt.{'.'.join(chain[:depth])}")
                break
    return problems


def test_rendered_scripts_use_only_their_tensorrts_api(apis) -> None:
    """The bare-API script of each family's plan (weak-typing pins on 10, converted graph on
    11 / RTX, targets on RTX) names only attributes that family's real bindings have."""
    from workbench.settings.features import BackendFeatures
    from workbench.settings.plan import make_plan
    from workbench.settings.render import python_script
    from workbench.settings.settings import BuildSettings, ShapeProfile

    typical = {"tensorrt-10": BackendFeatures.typical(rtx=False, strongly_typed=False),
               "tensorrt-11": BackendFeatures.typical(rtx=False, strongly_typed=True),
               "tensorrt_rtx": BackendFeatures.typical(rtx=True)}
    shape = ShapeProfile("x", (1, 8), (2, 8), (4, 8))
    problems = []
    for family, features in typical.items():
        api = apis[family]
        # The typical features say what the real bindings say.
        assert features.has("weak_typing_fp16") == ("FP16" in api["BuilderFlag"])
        assert features.has("compute_capability_targets") == (
            "set_compute_capability" in api["IBuilderConfig"])
        for settings in (
            BuildSettings(precision="fp16", keep_fp32=("n1",), profiles=(shape,),
                          workspace_mib=64, hardware_compatibility="ampere_plus", refit=True,
                          version_compatible=True, strip_plan=True, timing_cache="t.bin",
                          profiling_verbosity="layer_names_only"),
            BuildSettings(compute_capabilities=("8.9",) if family == "tensorrt_rtx" else ()),
        ):
            script = python_script(make_plan(settings, features), "m.onnx", "m.engine")
            problems += [f"{family}: {p}" for p in _script_problems(script, api)]
    assert not problems, "\n".join(sorted(set(problems)))
