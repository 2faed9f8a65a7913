"""docs/DEVELOPING.md's ring map lists every package of the workbench, and only those."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_ring_map_matches_the_tree() -> None:
    text = (ROOT / "docs" / "DEVELOPING.md").read_text()
    block = text.split("## Layers", 1)[1].split("```", 2)[1]
    listed = set(re.findall(r"(workbench/[a-z_/]+)/ ", block))
    packages = {p.parent.relative_to(ROOT).as_posix()
                for p in (ROOT / "workbench").rglob("__init__.py")} - {"workbench"}
    assert listed == packages, (f"missing from the map: {sorted(packages - listed)}; "
                                f"listed but not in the tree: {sorted(listed - packages)}")


def test_no_folder_holds_more_than_twelve_modules() -> None:
    crowded = {}
    for package in (ROOT / "workbench").rglob("__init__.py"):
        modules = [p for p in package.parent.glob("*.py") if p.name != "__init__.py"]
        if len(modules) > 12:
            crowded[package.parent.relative_to(ROOT).as_posix()] = len(modules)
    assert not crowded, f"folders over ~12 modules: {crowded}"
