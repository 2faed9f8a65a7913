"""The session's folder of saved engines: list, save, delete (pure Python, no TensorRT).

Each engine is ``<name>.engine`` with its card ``<name>.engine.json`` (see
``workbench.engines.card``). Names are plain file names — no folders, no ``..`` — so a name
typed into the panel can never write or delete outside the folder. Reloading (the validity
check) is ``workbench.backends.trt.runtime.engine.load_engine``, called by the session.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from workbench.core.errors import EngineLoadError, EngineSaveError, WorkbenchError
from workbench.engines.card import EngineArtifact, EngineCard, card_path_for, save_engine

__all__ = ["EngineEntry", "EngineLibrary"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
SUFFIX = ".engine"


@dataclass(frozen=True)
class EngineEntry:
    """One saved engine as listed: its files, size and card (or why the card is unusable)."""

    name: str
    path: Path
    size: int
    card: EngineCard | None
    card_problem: str | None


class EngineLibrary:
    """A folder of engines. Created on first save, never before."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path_for(self, name: str) -> Path:
        """``folder/<name>.engine`` for a safe name; raises EngineSaveError otherwise."""
        stem = name[: -len(SUFFIX)] if name.endswith(SUFFIX) else name
        if not _NAME.match(stem) or stem.endswith("."):
            raise EngineSaveError(
                f"{name!r} cannot be used as an engine name.",
                expected="letters, digits, '.', '_' or '-' (up to 100), starting with a letter "
                "or digit; no folders",
                found=repr(name),
                fix="for example tiny_cnn-fp16",
            )
        return self.folder / f"{stem}{SUFFIX}"

    def save(self, artifact: EngineArtifact, name: str, overwrite: bool = False) -> Path:
        path = self.path_for(name)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise EngineSaveError(
                f"Cannot create the engines folder {self.folder}.",
                expected="a writable location", found=f"{type(err).__name__}: {err}",
                fix="choose another folder: WorkbenchSession(engines_dir=...)",
            ) from err
        return save_engine(artifact, path, overwrite=overwrite)

    def entries(self) -> list[EngineEntry]:
        if not self.folder.is_dir():
            return []
        return [self._entry(path) for path in sorted(self.folder.glob(f"*{SUFFIX}"))]

    def _entry(self, path: Path) -> EngineEntry:
        card, problem = None, None
        card_file = card_path_for(path)
        try:
            card = EngineCard.from_dict(json.loads(card_file.read_text()))
        except FileNotFoundError:
            problem = "no card (.json) beside the engine"
        except (OSError, ValueError, KeyError, TypeError, WorkbenchError) as err:
            problem = f"unreadable card: {type(err).__name__}: {err}"
        return EngineEntry(path.name[: -len(SUFFIX)], path, path.stat().st_size, card, problem)

    def existing(self, name: str) -> Path:
        path = self.path_for(name)
        if not path.is_file():
            saved = ", ".join(e.name for e in self.entries()) or "none"
            raise EngineLoadError(
                f"No saved engine called {name!r} in {self.folder}.",
                expected="the name of a saved engine", found=f"saved engines: {saved}",
                fix="save the built engine first, or pick one from the list",
            )
        return path

    def delete(self, name: str, confirm: bool = False) -> list[Path]:
        """Delete the engine and its card; refuses unless ``confirm`` is True."""
        path = self.existing(name)
        if not confirm:
            raise WorkbenchError(
                f"Deleting {path.name} needs confirmation.",
                expected="confirm=True (in the panel: tick 'yes, delete')",
                found="no confirmation", fix="confirm, or leave the engine where it is",
            )
        removed = []
        for target in (path, card_path_for(path)):
            if target.exists():
                target.unlink()
                removed.append(target)
        return removed
