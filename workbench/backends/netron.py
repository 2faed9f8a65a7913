"""Netron serving for the panel's "View graph" (no widgets).

Netron is started only when the user asks, from the model's **bytes** (a ModelProto would
show operators only), on 127.0.0.1 with a free port and ``browse=False`` (a kernel must
never open a browser). ``netron.serve`` calls ``logging.basicConfig(level=INFO)`` when the
root logger has no handler, which would flood the notebook with every library's INFO lines,
so a NullHandler is installed first.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from workbench.core.errors import BackendUnavailableError, WorkbenchError

__all__ = ["GraphServer", "GraphView"]


@dataclass(frozen=True)
class GraphView:
    """A running Netron server: where it listens and what it shows."""

    host: str
    port: int
    label: str

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"


class GraphServer:
    """At most one Netron server at a time; ``start`` replaces the previous one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.view: GraphView | None = None

    def start(self, data: bytes, label: str) -> GraphView:
        """Serve ``data`` (an ONNX model's bytes) and return where."""
        try:
            import netron
        except ImportError as err:
            raise BackendUnavailableError(
                "Netron is not installed, so the graph cannot be shown.",
                expected="the netron package",
                found=f"ImportError: {err}",
                fix="pip install netron (never pin an exact version: old builds refuse to "
                "draw models)",
            ) from err
        root = logging.getLogger()
        if not root.hasHandlers():
            root.addHandler(logging.NullHandler())  # keeps netron from calling basicConfig
        name = label if label.endswith(".onnx") else f"{label}.onnx"  # netron detects by name
        self.stop()
        with self._lock:
            try:
                host, port = netron.serve(
                    name, data=bytes(data), address=("127.0.0.1", 0), browse=False
                )
            except OSError as err:
                raise WorkbenchError(
                    "Netron could not start its local web server.",
                    expected="a free port on 127.0.0.1",
                    found=f"{type(err).__name__}: {err}",
                    fix="try again; if it keeps failing, check that local ports are allowed",
                ) from err
            self.view = GraphView(str(host), int(port), label)
            return self.view

    def stop(self) -> None:
        """Stop the server if one runs (harmless otherwise)."""
        with self._lock:
            view, self.view = self.view, None
        if view is not None:
            import netron

            netron.stop((view.host, view.port))
