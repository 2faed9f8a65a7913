"""The graph part: the model drawn by Netron (its bytes, served on 127.0.0.1) or by Model
Explorer (a child process, coloured by an overlay of what the session found)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.app.session.tasks import Event
from workbench.backends.netron import GraphServer, GraphView

if TYPE_CHECKING:
    from workbench.app.overlays.overlay import GraphOverlay, OverlayKind
    from workbench.app.overlays.overlay_graph import OverlayGraph
    from workbench.app.session.session import WorkbenchSession
    from workbench.app.session.state import SessionState
    from workbench.backends.explorer import ExplorerServer, ExplorerView
    from workbench.inspection.summary import ModelSummary

__all__ = ["GraphPart"]


class GraphPart:
    """Netron's ``view`` and Model Explorer's ``explorer_view``; overlays of findings.

    Overlays read every part's findings, so this part holds the session (read only).
    """

    def __init__(self, state: SessionState, session: WorkbenchSession) -> None:
        self.state = state
        self._session = session
        self._netron = GraphServer()
        self._explorer_server: ExplorerServer | None = None  # started on first use
        # the overlays' index of the current model's graph, by the summary it was built from
        self.index: tuple[ModelSummary, OverlayGraph] | None = None
        state.on_new_model(self.stop)  # a new model: the old drawing is stale

    # -- Netron -----------------------------------------------------------------------

    def start(self) -> GraphView:
        """Serve the current model's bytes with Netron on 127.0.0.1; returns where."""
        model = self.state.require_model()
        view = self._netron.start(model.data, model.label)
        self.state.events.emit(Event.GRAPH, view)
        return view

    def stop(self) -> None:
        """Stop the Netron server (announced with ``Event.GRAPH`` and None)."""
        if self._netron.view is not None:
            self._netron.stop()
            self.state.events.emit(Event.GRAPH, None)

    @property
    def view(self) -> GraphView | None:
        return self._netron.view

    # -- overlays and Model Explorer --------------------------------------------------

    def overlay(self, kind: OverlayKind | str = "parse") -> GraphOverlay:
        """What the session found, as marks on the graph's nodes (``parse``, ``fp16``,
        ``bf16``, ``int8``, ``keep``, ``engine``): see ``workbench.app.overlays.overlay``."""
        from workbench.app.overlays.graph_overlays import session_overlay

        return session_overlay(self._session, kind)

    def start_explorer(self, kind: OverlayKind | str = "parse") -> ExplorerView:
        """Serve the whole model with Model Explorer (the ``[explorer]`` extra), coloured by
        the ``kind`` overlay, in a child process on 127.0.0.1; returns where."""
        from workbench.app.overlays.graph_overlays import explorer_node_data

        model = self.state.require_model()
        node_data = explorer_node_data(self._session, self.overlay(kind))
        path = model.path
        if path is None:  # an upload: Model Explorer reads files only
            path = self.state.derived_path("explorer-upload")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(model.data)
        view = self._explorer.start(path, node_data, self.state.work_dir, model.label,
                                    f"{kind} overlay")
        self.state.events.emit(Event.GRAPH, view)
        return view

    def stop_explorer(self) -> None:
        """Stop Model Explorer's process, if one was started."""
        server = self._explorer_server  # none started: nothing to import
        if server is not None and server.view is not None:
            server.stop()
            self.state.events.emit(Event.GRAPH, None)

    @property
    def explorer_view(self) -> ExplorerView | None:
        server = self._explorer_server
        return server.view if server is not None else None

    @property
    def _explorer(self) -> ExplorerServer:
        from workbench.backends.explorer import ExplorerServer

        if self._explorer_server is None:
            self._explorer_server = ExplorerServer()
        return self._explorer_server
