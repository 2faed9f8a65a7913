"""A forking server for the zoo triage: still one process per model, without the imports.

Starting a fresh interpreter per model costs more than most models' triage (importing onnx,
NumPy and TensorRT: about 1–2 s on a busy 2-core machine, against 0.1–0.5 s of work). The
zygote imports them once, then forks one child per model: the child runs the model and
writes its row; the zygote waits for it, kills it at the timeout, and answers with how the
child ended. A crash or a hang still costs only that child. The zygote holds no TensorRT
object (only modules), so forking it is safe.

Protocol (one JSON object per line): the parent writes ``{"model", "out", "log", "build",
"compare", "timeout"}`` on stdin; the zygote answers ``{"code": int | None, "signal":
int | None, "timed_out": bool}`` on stdout. It exits on end of input or after
``IDLE_EXIT_S`` without a request (so executors that keep threads, like Dask's, never leak it).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["IDLE_EXIT_S", "ask_zygote", "close_idle_zygotes", "serve"]

IDLE_EXIT_S = 120.0
_POLL_S = 0.01


def _preload() -> None:
    """Import what every child needs (not onnxruntime: it starts threads; --compare only)."""
    os.environ["WORKBENCH_ISOLATE_PARSER"] = "0"  # the forked child is the isolation
    from workbench.app.zoo import worker  # noqa: F401
    from workbench.backends.trt import build, parse  # noqa: F401
    from workbench.backends.trt.compat import load_trt
    from workbench.core.errors import WorkbenchError

    with contextlib.suppress(WorkbenchError):  # no TensorRT: each child's row says so
        load_trt()


def _child(request: dict[str, Any]) -> None:
    """In the forked child: run one model, write its row, never return."""
    code = 1
    try:
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(log, 1)
        os.dup2(log, 2)
        from workbench.app.zoo.worker import write_row

        write_row(Path(request["model"]), Path(request["out"]), bool(request["build"]),
                  bool(request["compare"]))
        code = 0
    finally:
        os._exit(code)  # never run the zygote's loop, nor interpreter teardown, in a child


def _wait(pid: int, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return {"code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
                    "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
                    "timed_out": False}
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return {"code": None, "signal": int(signal.SIGKILL), "timed_out": True}
        time.sleep(_POLL_S)


def serve() -> None:
    """The zygote's loop (``python -m workbench.app.zoo.zygote``)."""
    _preload()
    while True:
        ready, _, _ = select.select([sys.stdin], [], [], IDLE_EXIT_S)
        line = sys.stdin.readline() if ready else ""
        if not line:  # idle for too long, or the parent is gone
            os._exit(0)
        request = json.loads(line)
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            _child(request)
        answer = _wait(pid, float(request["timeout"]))
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


# -- the parent's side: one zygote per executor thread ----------------------------------

class _Zygote:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.thread = threading.current_thread()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "workbench.app.zoo.zygote"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=dict(env))

    def ask(self, request: dict[str, Any], timeout: float) -> dict[str, Any] | None:
        """The zygote's answer, or None when the zygote itself is gone or stuck."""
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        try:
            stdin.write(json.dumps(request) + "\n")
            stdin.flush()
            # its own start-up (imports) comes on top of the model's timeout
            ready, _, _ = select.select([stdout], [], [], timeout + 120.0)
            line = stdout.readline() if ready else ""
            return dict(json.loads(line)) if line else None
        except (OSError, ValueError):
            return None

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()  # end of input: the zygote exits
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


_local = threading.local()
_zygotes: list[_Zygote] = []
_lock = threading.Lock()


def ask_zygote(request: dict[str, Any], timeout: float,
               env: Mapping[str, str]) -> dict[str, Any] | None:
    """Run one model through this thread's zygote (started on first use); None when the
    zygote failed (the caller then runs the model in a fresh interpreter)."""
    zygote: _Zygote | None = getattr(_local, "zygote", None)
    if zygote is None or zygote.process.poll() is not None:
        zygote = _local.zygote = _Zygote(env)
        with _lock:
            _zygotes.append(zygote)
    answer = zygote.ask(request, timeout)
    if answer is None:
        zygote.close()
        _local.zygote = None
    return answer


def close_idle_zygotes() -> None:
    """Stop the zygotes whose thread has ended (a finished executor's): waits for them."""
    with _lock:
        ended = [z for z in _zygotes if not z.thread.is_alive()]
        _zygotes[:] = [z for z in _zygotes if z.thread.is_alive()]
    for zygote in ended:
        zygote.close()


if __name__ == "__main__":
    serve()
