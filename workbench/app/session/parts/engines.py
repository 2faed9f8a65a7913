"""The engines part: the folder of saved engines (save the last build, reload and check
one, delete one), announced with ``Event.ENGINES``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.app.session.engine_library import EngineEntry, EngineLibrary
from workbench.app.session.tasks import Event, TaskKind, background
from workbench.core.errors import WorkbenchError

if TYPE_CHECKING:
    from pathlib import Path

    from workbench.app.session.parts.builds import BuildPart
    from workbench.app.session.state import SessionState
    from workbench.backends.trt.runtime.engine import LoadedEngine

__all__ = ["EnginePart"]


class EnginePart:
    """Saved engines under ``engines_dir``; ``loaded`` is the one reloaded last."""

    def __init__(self, state: SessionState, builds: BuildPart) -> None:
        self.state = state
        self.builds = builds
        self.loaded: LoadedEngine | None = None
        state.on_new_model(self._reset)

    def _reset(self) -> None:
        self.loaded = None

    @property
    def library(self) -> EngineLibrary:
        """The folder (created on the first save)."""
        return EngineLibrary(self.state.engines_dir)

    def entries(self) -> list[EngineEntry]:
        """The saved engines, each with its card (or why the card is unusable)."""
        return self.library.entries()

    def _changed(self) -> None:
        self.state.events.emit(Event.ENGINES, self.entries())

    @background(TaskKind.ENGINES, "saving the engine", needs_model=False)
    def save(self, name: str, overwrite: bool = False) -> Path:
        """Save the last built engine (and its card) as ``engines_dir/<name>.engine``."""
        artifact = self.builds.artifact
        if artifact is None:
            raise WorkbenchError("There is no built engine to save.",
                                 expected="a successful build in this session",
                                 found="no engine built yet", fix="build one first")
        path = self.library.save(artifact, name, overwrite=overwrite)
        self._changed()
        return path

    @background(TaskKind.ENGINES, "reloading and checking the engine", needs_model=False)
    def reload(self, name: str) -> LoadedEngine:
        """Check a saved engine against its card and this machine (``LoadedEngine``)."""
        from workbench.backends.trt.runtime.engine import load_engine

        self.loaded = loaded = load_engine(self.library.existing(name))
        self._changed()
        return loaded

    def delete(self, name: str, confirm: bool = False) -> list[Path]:
        """Delete a saved engine and its card; refuses without ``confirm=True``."""
        removed = self.library.delete(name, confirm=confirm)
        if self.loaded is not None and self.loaded.path in removed:
            self.loaded = None
        self._changed()
        return removed
