"""The teaching notebooks are tests: each one runs top to bottom, headless, without a GPU.

Every ``notebooks/*.ipynb`` is executed with nbclient in a kernel that runs *this* Python
(a kernelspec written to a temporary JUPYTER_PATH, so a user-level ``python3`` kernel from
another environment can never be picked up), with ``notebooks/`` as the working directory,
as ``make lab`` has it. Any error, including a failing ``assert`` cell, fails the test. The
notebooks are committed without outputs, so what is in the repository can never be stale.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
KERNEL = "trt-workbench-tests"
CELL_TIMEOUT_S = 300
NOTEBOOK_BUDGET_S = 120  # the four run in ~20 s together on 2 cores; this catches a hang early

PANEL_STILL_WORKS = """\
assert panel.comm is not None, "the tour closed the panel"
again = panel.build.start()
assert again is not None and again.wait(120) and again.state == "done", again
"""

EXPECTED = (
    "01_tour.ipynb",
    "02_engine_serialization.ipynb",
    "03_debug_parse_failures.ipynb",
    "04_fp16_accuracy.ipynb",
)


@pytest.fixture(scope="module")
def jupyter_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A JUPYTER_PATH holding one kernelspec: ipykernel started with this interpreter."""
    folder = tmp_path_factory.mktemp("jupyter") / "kernels" / KERNEL
    folder.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (trt-workbench tests)",
        "language": "python",
    }
    (folder / "kernel.json").write_text(json.dumps(spec))
    return str(folder.parent.parent)


def test_all_notebooks_are_present() -> None:
    assert tuple(p.name for p in NOTEBOOKS) == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        assert cell.outputs == [], f"{path.name} cell {index} has saved outputs: strip them"
        assert cell.execution_count is None, f"{path.name} cell {index} has an execution count"
    assert "widgets" not in nb.metadata, f"{path.name} has saved widget state: strip it"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_headless(
    path: Path, jupyter_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JUPYTER_PATH", jupyter_path)
    nb = nbformat.read(path, as_version=4)
    if path.name == "01_tour.ipynb":
        # Run All on the tour (make lab's first step) must end with the panel on screen
        # and working: a cell after the last one checks it is open and can still build.
        nb.cells.append(nbformat.v4.new_code_cell(PANEL_STILL_WORKS))
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name=KERNEL,
        resources={"metadata": {"path": str(NOTEBOOKS_DIR)}},
    )
    start = time.monotonic()
    client.execute()  # raises CellExecutionError with the cell's traceback on any error
    elapsed = time.monotonic() - start
    assert elapsed < NOTEBOOK_BUDGET_S, f"{path.name} took {elapsed:.0f} s"
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code_cells), "not every cell ran"
    errors = [o for c in code_cells for o in c.outputs if o.output_type == "error"]
    assert not errors
