"""Model Explorer serving for the Graph view's "whole graph" (optional; no widgets).

Google's Model Explorer (``pip install 'trt-workbench[explorer]'``: ai-edge-model-explorer
and its ONNX adapter model-explorer-onnx) draws a whole model folded by name namespace and
colours nodes from node-data JSON. Measured here (2 cores, headless Chromium, outside
requests blocked; ``bench/graph_bench.py --browser``): its page works offline (the remote
font falls back), a 1,700-node GPT is on screen in ~7 s; a 10,000-node one was still
"Processing graph..." after 5 minutes. Its
``server.start`` runs Flask in a daemon thread that has no stop, loops forever and asks PyPI
for a newer version, so it runs here as a **child process** on 127.0.0.1 and a free port:
stopping it is ending that process, several can run at once, the kernel is never blocked,
and the child ends by itself when the kernel does. The adapter reads models with
``load_external_data=False`` (weights are never loaded, so >2 GiB models open) and shows
If/Loop bodies as their own graphs.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.core.errors import BackendUnavailableError, WorkbenchError

__all__ = ["EXPLORER_HINT", "ExplorerServer", "ExplorerView", "explorer_installed"]

EXPLORER_HINT = ("pip install 'trt-workbench[explorer]' adds Google's Model Explorer: the "
                 "whole graph, folded by namespace, with this overlay's colours on its nodes")
_START_TIMEOUT_S = 90.0
# The child runs Model Explorer's command line and exits when its parent (the kernel) is
# gone: a kernel killed without closing its session must not leave a server behind.
_LAUNCHER = """
import os, runpy, sys, threading, time
parent = os.getppid()
def watch():
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)
threading.Thread(target=watch, daemon=True).start()
sys.argv = ["model_explorer", *sys.argv[1:]]
runpy.run_module("model_explorer", run_name="__main__", alter_sys=True)
"""


def explorer_installed() -> bool:
    """Whether Model Explorer and its ONNX adapter can be imported (nothing is imported)."""
    return all(importlib.util.find_spec(name) is not None
               for name in ("model_explorer", "model_explorer_onnx"))


@dataclass(frozen=True)
class ExplorerView:
    """A running Model Explorer: where it listens and what it shows."""

    host: str
    port: int
    label: str
    model: str
    node_data: str

    @property
    def url(self) -> str:
        data = {"models": [{"url": self.model}], "nodeData": [self.node_data],
                "nodeDataTargets": [""]}
        return (f"http://{self.host}:{self.port}/?data="
                + urllib.parse.quote(json.dumps(data), safe=""))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ExplorerServer:
    """At most one Model Explorer process per session; ``start`` replaces the previous one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self.view: ExplorerView | None = None

    def start(self, model: Path, node_data: dict[str, Any], folder: Path,
              label: str, data_name: str = "overlay") -> ExplorerView:
        """Serve ``model`` (a file) with ``node_data`` (Model Explorer JSON); returns where.

        Raises:
            BackendUnavailableError: Model Explorer is not installed.
            WorkbenchError: it did not answer within 90 s (its log is in the message).
        """
        if not explorer_installed():
            raise BackendUnavailableError(
                "Model Explorer is not installed, so the whole graph cannot be drawn with "
                "the overlay.", expected="ai-edge-model-explorer and model-explorer-onnx",
                found="neither importable", fix=EXPLORER_HINT)
        self.stop()
        run_dir = folder / f"explorer-{Path(label).stem}-{time.time_ns()}"
        run_dir.mkdir(parents=True, exist_ok=True)
        data_path = run_dir / f"{data_name}.json"  # Model Explorer shows the file's name
        data_path.write_text(json.dumps(node_data))
        log_path = run_dir / "model_explorer.log"
        port = _free_port()
        command = [sys.executable, "-c", _LAUNCHER, str(model), "--host", "127.0.0.1",
                   "--port", str(port), "--no_open_in_browser", "--extensions",
                   "model_explorer_onnx", "--node_data_paths", str(data_path)]
        with self._lock, log_path.open("wb") as log:
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL)
        view = ExplorerView("127.0.0.1", port, label, str(model), str(data_path))
        self._wait_ready(view, log_path)
        self.view = view
        return view

    def _wait_ready(self, view: ExplorerView, log_path: Path) -> None:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            process = self._process
            if process is None or process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"http://{view.host}:{view.port}/", timeout=2):
                    return
            except OSError:
                time.sleep(0.3)
        tail = log_path.read_text(errors="replace")[-1500:] if log_path.exists() else ""
        self.stop()
        raise WorkbenchError("Model Explorer did not start.",
                             expected=f"its page on 127.0.0.1:{view.port} within "
                             f"{_START_TIMEOUT_S:.0f} s", found=tail or "no output",
                             fix="check that `python -m model_explorer --help` runs in this "
                             "environment; the built-in neighbourhood view still works")

    def stop(self) -> None:
        """End the process if one runs (harmless otherwise)."""
        with self._lock:
            process, self._process = self._process, None
            self.view = None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
