"""Regenerate constraints/dev.txt: the checking toolchain `make test` installs, per Python.

    make constraints                      # every Python in pyproject's classifiers
    python constraints/update.py PY...    # the same, with interpreters you name

For each interpreter: a fresh venv, `pip install -e .[dev]` WITHOUT the old constraints (so
this picks up new releases), then mypy over workbench/ with a fresh cache. The file pins
mypy, ruff and every installed distribution whose types mypy read (numpy, onnx, matplotlib,
... found from mypy's cache, not from a hand-kept list), with a `python_version` marker where
the Pythons resolve different versions (numpy 2.2 is the last release for 3.10).

Only the dev install (`make test`, `make lint`, `make typecheck`) applies the file; what
users install (`pip install .`, `make lab`) keeps pyproject's lower bounds. Stdlib only.
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "constraints" / "dev.txt"
# Pinned besides what mypy reads: the checkers, and the docs toolchain that `make test` runs
# (tests/test_docs_site.py: mkdocs --strict, whose warnings change with griffe's version).
ALWAYS = ("mypy", "ruff", "mkdocs", "mkdocstrings", "mkdocstrings-python", "mkdocs-autorefs",
          "griffelib", "markdown", "pymdown-extensions")
# Releases that resolve but do not work together, kept out while resolving (pyproject keeps
# lower bounds only): mkdocstrings 1.0.6, the last for Python 3.10, fails with
# pymdown-extensions 12 ("Highlight.__init__() missing ... 'md'").
KNOWN_BAD = ('pymdown-extensions<12; python_version < "3.11"',)

# Runs inside each venv: the top-level modules in mypy's cache -> installed distributions.
_PROBE = r"""
import importlib.metadata as md, json, sys
from pathlib import Path
cache = Path(sys.argv[1])
modules = {p.name.split(".")[0] for p in cache.iterdir()}
modules -= set(sys.stdlib_module_names) | {"workbench", "__main__", "_typeshed"}
# Not md.packages_distributions(): on 3.10 it reads only top_level.txt, which numpy lacks.
owners = {}
for dist in md.distributions():
    tops = set((dist.read_text("top_level.txt") or "").split())
    tops |= {f.parts[0].split(".")[0] for f in dist.files or () if f.parts}
    for top in tops:
        owners.setdefault(top, set()).add(dist.metadata["Name"])
dists = {d for m in modules for d in owners.get(m, ())}
print(json.dumps({
    "python": "%d.%d" % sys.version_info[:2],
    "full": sys.version.split()[0],
    "versions": {d: md.version(d) for d in sorted(dists | set(sys.argv[2:]))},
}))
"""


def supported_pythons() -> list[str]:
    """The X.Y versions of pyproject's `Programming Language :: Python :: X.Y` classifiers."""
    text = (ROOT / "pyproject.toml").read_text()
    return re.findall(r'"Programming Language :: Python :: (3\.\d+)"', text)


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def resolve(python: str, work: Path) -> dict:
    """Install .[dev] into a fresh venv of `python`; the versions mypy's checks depend on."""
    venv = work / "venv"
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    avoid = work / "known-bad.txt"
    avoid.write_text("\n".join(KNOWN_BAD) + "\n")
    subprocess.run([*pip, "-c", str(avoid), "-e", f"{ROOT}[dev]"], check=True)
    cache = work / "mypy-cache"
    checked = subprocess.run(
        [str(venv / "bin" / "mypy"), "--no-sqlite-cache", "--cache-dir", str(cache), "workbench"],
        cwd=ROOT, capture_output=True, text=True,
    )
    if checked.returncode != 0:  # still pin: `make test` will show the errors to fix
        print(f"{python}: mypy finds errors with these versions:\n{checked.stdout}", flush=True)
    (level,) = [p for p in cache.iterdir() if p.is_dir()]  # mypy's cache/<X.Y>/
    probe = subprocess.run(
        [str(venv / "bin" / "python"), "-c", _PROBE, str(level), *ALWAYS],
        check=True, capture_output=True, text=True,
    )
    return json.loads(probe.stdout)


def _resolve_fresh(python: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="wb-constraints-") as work:
        print(f"resolving the dev install on {python} ...", flush=True)
        return resolve(python, Path(work))


def render(results: list[dict]) -> str:
    """One line per distribution; markers only where the Pythons disagree."""
    names = sorted({canonical(d) for r in results for d in r["versions"]})
    per_python = [{canonical(d): v for d, v in r["versions"].items()} for r in results]
    lines = [
        "# The checking toolchain of `make test` (mypy, ruff and the packages whose types mypy",
        "# reads), applied only by the Makefile's dev install: pip install -c constraints/dev.txt.",
        "# Regenerate with `make constraints` (constraints/update.py); do not edit by hand.",
        f"# Generated {datetime.date.today().isoformat()} on Python "
        + ", ".join(r["full"] for r in results) + ".",
        "# A Python not listed below gets only the unmarked pins.",
    ]
    for name in names:
        versions = {
            r["python"]: pins.get(name) for r, pins in zip(results, per_python, strict=True)
        }
        if len(set(versions.values())) == 1:
            lines.append(f"{name}=={next(iter(versions.values()))}")
            continue
        for python, version in versions.items():
            if version is not None:
                lines.append(f'{name}=={version}; python_version == "{python}"')
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("pythons", nargs="+", help="one interpreter per supported Python")
    args = parser.parse_args(argv)
    # Two at a time: the installs wait on downloads and unpacking more than on one core.
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(_resolve_fresh, args.pythons))
    found = sorted(r["python"] for r in results)
    if found != sorted(supported_pythons()):
        print(f"note: pyproject's classifiers list {supported_pythons()}, resolved {found}")
    OUTPUT.write_text(render(results))
    print(f"wrote {OUTPUT.relative_to(ROOT)}; run `make test` on each Python to check it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
