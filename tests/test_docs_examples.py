"""Every code example of the README and the manual (docs/) runs as written.

Each ```python block is executed, page by page and in order, in one namespace per page (a
later block may use what an earlier one made), in a temporary folder beside a link to
sample_models/, as a reader who copies the page into a notebook would. A block preceded by
``<!-- no-run: REASON -->`` is skipped with that reason (e.g. it needs a GPU); a block
preceded by ``<!-- output contains: "A", "B" -->`` must print each of those strings. The
quick start's shell lines run through the installed ``trt-workbench`` command.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

_FENCE = re.compile(r"^```python\n(.*?)^```$", re.M | re.S)
_MARK = re.compile(r"<!--\s*(no-run|output contains):\s*(.*?)\s*-->\s*\Z", re.S)


@dataclass(frozen=True)
class Example:
    page: str  # relative to the repository root
    index: int  # 0-based, among the page's python blocks
    line: int  # where the block starts (1-based), for the failure message
    code: str
    no_run: str | None = None  # the reason it is skipped
    expect: tuple[str, ...] = ()


def examples(path: Path) -> list[Example]:
    text = path.read_text()
    found = []
    for index, match in enumerate(_FENCE.finditer(text)):
        before = text[:match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        mark = _MARK.search(before)
        kind, arg = (mark.group(1), mark.group(2)) if mark else (None, "")
        found.append(Example(
            page=path.relative_to(ROOT).as_posix(), index=index,
            line=text[:match.start()].count("\n") + 1, code=match.group(1),
            no_run=arg if kind == "no-run" else None,
            expect=tuple(re.findall(r'"([^"]*)"', arg)) if kind == "output contains" else ()))
    return found


ALL = [example for page in PAGES for example in examples(page)]


@dataclass
class PageRun:
    """One page's namespace and folder, shared by its blocks in order."""

    folder: Path
    namespace: dict[str, object] = field(default_factory=dict)
    done: int = 0  # blocks of the page already executed (or skipped)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, PageRun]:
    return {}


def _page_run(runs: dict[str, PageRun], page: str,
              tmp_path_factory: pytest.TempPathFactory) -> PageRun:
    if page not in runs:
        folder = tmp_path_factory.mktemp(re.sub(r"\W", "_", page))
        (folder / "sample_models").symlink_to(ROOT / "sample_models")
        runs[page] = PageRun(folder)
    return runs[page]


def _execute(example: Example, run: PageRun) -> str:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(example.code, f"{example.page}:{example.line}", "exec"), run.namespace)
    return printed.getvalue()


def test_every_page_with_examples_is_found() -> None:
    pages = {example.page for example in ALL}
    assert {"README.md", "docs/quickstart.md", "docs/guide/inspect.md"} <= pages
    assert all(example.code.strip() for example in ALL)


@pytest.mark.parametrize("example", ALL, ids=lambda e: f"{e.page}#{e.index + 1}")
def test_example_runs(example: Example, runs: dict[str, PageRun],
                      tmp_path_factory: pytest.TempPathFactory,
                      monkeypatch: pytest.MonkeyPatch) -> None:
    if example.no_run is not None:
        pytest.skip(f"{example.page}:{example.line}: {example.no_run}")
    run = _page_run(runs, example.page, tmp_path_factory)
    monkeypatch.chdir(run.folder)
    # run alone (-k), a block still gets what the page's earlier blocks made
    for earlier in examples(ROOT / example.page)[run.done:example.index]:
        if earlier.no_run is None:
            _execute(earlier, run)
    out = _execute(example, run)
    run.done = example.index + 1
    for text in example.expect:
        assert text in out, f"{example.page}:{example.line} should print {text!r}:\n{out[-2000:]}"


# Expected exit status of each quick-start command: compare exits 1 because FP16 fails on
# the overflow sample, which is the point of the example.
EXPECTED_STATUS = {"inspect": 0, "diagnose": 0, "build": 0, "engine": 0, "run": 0, "compare": 1}


def test_quick_start_commands_run(tmp_path: Path) -> None:
    text = (ROOT / "docs" / "quickstart.md").read_text()
    block = text.split("```bash\n", 1)[1].split("```", 1)[0]
    lines = [line for line in block.splitlines() if line.strip()]
    assert len(lines) == len(EXPECTED_STATUS)
    (tmp_path / "sample_models").symlink_to(ROOT / "sample_models")
    script = Path(sys.executable).with_name("trt-workbench")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for line in lines:
        argv = shlex.split(line)
        assert argv[0] == "trt-workbench"
        result = subprocess.run([str(script), *argv[1:]], cwd=tmp_path, capture_output=True,
                                text=True, timeout=300, env=env)
        output = result.stdout[-1500:] + "\n" + result.stderr[-1500:]
        assert result.returncode == EXPECTED_STATUS[argv[1]], f"{line}\n{output}"
    assert (tmp_path / "folded.onnx").exists()
    assert (tmp_path / "resnet.engine.json").exists()
    assert (tmp_path / "out.npz").exists()
