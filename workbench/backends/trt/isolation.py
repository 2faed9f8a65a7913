"""Crash isolation for TensorRT's ONNX parser.

The parser is native code, and fuzzing found files on which it crashes (a segmentation
fault on a few flipped bits of a valid model: any node without outputs). In-process, that
kills the Jupyter kernel. So a model is first parsed in a child process; a crash or a hang
there becomes a ModelLoadError, and only a model the parser survived is parsed here.

The child is a few lines that import only the TensorRT module (about 0.1 s), and it is
started *before* the caller's own validation and hashing, which it overlaps: a build pays
for the probe only where the probe outlasts that work. Each model is probed once per
process. ``WORKBENCH_ISOLATE_PARSER=0`` turns the probe off (trusted files).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence

from workbench.backends.trt.compat import load_trt
from workbench.core.errors import ModelLoadError
from workbench.engines.card import sha256_hex
from workbench.inspection.loading import ModelFile

__all__ = ["ParserProbe", "ensure_parser_survives", "start_parser_probe"]

PROBE_TIMEOUT_S = 300.0

# argv: module, target ("-" = bytes on stdin), checks (comma-separated parser methods).
_CHILD = """
import importlib, os, sys
trt = importlib.import_module(sys.argv[1])
class Quiet(trt.ILogger):
    def __init__(self):
        trt.ILogger.__init__(self)
    def log(self, severity, msg):
        pass
logger = Quiet()
target = sys.argv[2]
data = sys.stdin.buffer.read() if target == "-" else open(target, "rb").read()
for check in sys.argv[3].split(","):
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # must outlive the parser (TensorRT lifetimes)
    parser = trt.OnnxParser(network, logger)
    call = getattr(parser, check)
    call(data) if target == "-" else call(data, path=target)
    del parser, network, builder
os._exit(0)  # only the parse is on trial, not interpreter teardown
"""

# model identity -> the parser calls it survived (a diagnose's probe covers a later build's)
_SURVIVED: dict[str, set[str]] = {}


def _identity(model_file: ModelFile) -> str:
    if model_file.path is not None:
        # path + size + mtime: no need to hash a large file just to recognise it again
        stat = model_file.path.stat()
        return f"{model_file.path}:{stat.st_size}:{stat.st_mtime_ns}"
    return sha256_hex(model_file.data)


class ParserProbe:
    """A child process parsing one model; ``wait`` raises if the parser died."""

    def __init__(self, model_file: ModelFile, checks: Sequence[str]) -> None:
        # Only what the wait needs: holding the ModelFile would keep a large model's bytes
        # alive through the whole build that follows (its peak memory).
        self._label = model_file.label
        self._stdin = model_file.data if model_file.path is None else None
        self._identity, self._checks = _identity(model_file), set(checks)
        target = "-" if model_file.path is None else str(model_file.path)
        self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
            [sys.executable, "-c", _CHILD, load_trt().__name__, target, ",".join(checks)],
            stdin=subprocess.PIPE if model_file.path is None else subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )

    def wait(self, timeout: float = PROBE_TIMEOUT_S) -> None:
        """Wait for the child's verdict (at most once; later calls return at once).

        Raises:
            ModelLoadError: the parser crashed or ran longer than ``timeout`` seconds.
        """
        proc, self._proc = self._proc, None
        if proc is None:
            return
        data, self._stdin = self._stdin, None
        try:
            _, stderr = proc.communicate(input=data, timeout=timeout)
        except subprocess.TimeoutExpired as err:
            proc.kill()
            proc.communicate()
            raise _parser_hung(self._label, timeout) from err
        except BaseException:
            proc.kill()  # KeyboardInterrupt while waiting: leave no orphan behind
            proc.communicate()
            raise
        if proc.returncode < 0:
            raise _parser_crashed(self._label, -proc.returncode, stderr)
        # a Python failure in the child shows in the real parse, so only crashes count here
        _SURVIVED.setdefault(self._identity, set()).update(self._checks)

    def cancel(self) -> None:
        """Stop the child without a verdict (the caller gave up before parsing)."""
        proc, self._proc, self._stdin = self._proc, None, None
        if proc is not None:
            proc.kill()
            proc.communicate()


def start_parser_probe(model_file: ModelFile, checks: Sequence[str] = ("parse",)
                       ) -> ParserProbe | None:
    """Start probing ``model_file`` in a child; None when there is nothing to probe.

    ``checks`` are the parser calls the caller will make in-process ("parse",
    "supports_model_v2"): each is tried in the child first.
    """
    if os.environ.get("WORKBENCH_ISOLATE_PARSER", "1").strip() == "0":
        return None
    if set(checks) <= _SURVIVED.get(_identity(model_file), set()):
        return None
    try:
        return ParserProbe(model_file, checks)
    except OSError:
        return None  # no child processes here: parse in-process as before


def ensure_parser_survives(model_file: ModelFile, timeout: float = PROBE_TIMEOUT_S,
                           checks: Sequence[str] = ("parse", "supports_model_v2")) -> None:
    """Probe ``model_file`` in a child and wait for the verdict (see the module docstring).

    Raises:
        ModelLoadError: the parser crashed or ran longer than ``timeout`` seconds.
    """
    probe = start_parser_probe(model_file, checks)
    if probe is not None:
        probe.wait(timeout)


def _parser_hung(label: str, timeout: float) -> ModelLoadError:
    return ModelLoadError(
        f"TensorRT's ONNX parser did not finish on {label} within {timeout:g} s (run in a "
        "separate process, which was stopped).",
        expected="a parse that ends with success or with parser errors",
        found="the parser still running (hung on this file?)",
        fix="check the file is a complete, valid ONNX model (re-export or copy it again); "
        "for very large trusted models set WORKBENCH_ISOLATE_PARSER=0",
    )


def _parser_crashed(label: str, signum: int, stderr: bytes) -> ModelLoadError:
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    tail = stderr.decode(errors="replace").strip().splitlines()[-5:]
    return ModelLoadError(
        f"TensorRT's ONNX parser crashed on {label} ({name}); this process was protected "
        "by parsing it in a separate process first.",
        expected="a file TensorRT's parser can read (it may still report parser errors)",
        found=f"the parser process died with {name}",
        fix="the file is most likely corrupt: copy or re-export it and check it with "
        "the panel's Model tab (or `trt-workbench inspect`); if it is a valid ONNX model, "
        "report the crash to NVIDIA "
        "together with the file",
        details=tail,
    )
