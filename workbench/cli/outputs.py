"""Output files of CLI commands: refused up front when they exist, before minutes of work."""

from __future__ import annotations

from pathlib import Path

from workbench.core.errors import WorkbenchError

__all__ = ["refuse_existing_output"]


def refuse_existing_output(path: str, overwrite: bool) -> None:
    if Path(path).exists() and not overwrite:  # before minutes of work, not after
        raise WorkbenchError(f"{path} already exists.", expected="a new file name",
                             found=path, fix="choose another name, or pass --overwrite")
