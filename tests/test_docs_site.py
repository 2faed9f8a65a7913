"""The README is the newcomer's page and the manual a site: the site builds with warnings as
errors (`make docs`), and the README keeps the two set-up commands and working links into it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_the_site_builds_with_warnings_as_errors(tmp_path: Path) -> None:
    # --strict: a broken link or anchor, a page left out of the nav, a docstring griffe
    # cannot read (mkdocstrings' API reference) each fail the build, so they fail CI.
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    site = tmp_path / "site"
    assert (site / "index.html").exists() and (site / "panel.png").exists()
    # the API reference is rendered from the docstrings, not left as `::: name` lines
    reference = (site / "reference" / "session" / "index.html").read_text()
    assert "WorkbenchSession" in reference and ":::" not in reference
    # the "what works where" table lives in README.md and is included in the home page
    assert "refit, strip plan, version-compatible engines" in (site / "index.html").read_text()


def test_readme_keeps_the_two_set_up_commands() -> None:
    block = README.split("## Set-up: two commands", 1)[1].split("```bash\n", 1)[1]
    commands = [line.split("#")[0].strip() for line in block.split("```", 1)[0].splitlines()]
    assert commands == ["make lab", "make test"]


def test_readme_links_resolve() -> None:
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README)
    assert any(link.startswith("docs/guide/") for link in links)
    for link in links:
        if not link.startswith(("http://", "https://")):
            assert (ROOT / link).exists(), f"README links to {link}, which does not exist"


def test_the_site_folder_is_ignored_by_git() -> None:
    if not (ROOT / ".git").exists():  # a source tree without its history: read the file
        lines = (ROOT / ".gitignore").read_text().split()
        assert "/site/" in lines or "site/" in lines, "add /site/ to .gitignore"
        return
    ignored = subprocess.run(["git", "check-ignore", "-q", "site/index.html"], cwd=ROOT,
                             check=False)
    assert ignored.returncode == 0, "add /site/ to .gitignore: `make docs` writes there"
