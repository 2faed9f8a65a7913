"""TensorRT objects never die inside TensorRT (backends/trt/lifetime.py), with real
TensorRT-RTX: a CI run hung when the cyclic GC, started inside the logger callback of
createInferBuilder, freed the builder of an earlier failed build (whose traceback kept it),
and the builder's destructor waited for the mutex createInferBuilder held."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import workbench
from workbench.core.errors import BuildError, WorkbenchError

ROOT = Path(__file__).resolve().parent.parent

HANG = r"""
import gc, sys
import workbench
from workbench.backends.trt import logger as trt_logger
from workbench.core.errors import BuildError

class CollectFirst(tuple):
    # NOISE that runs a full GC whenever TensorRT logs: what any allocation there may do
    def __iter__(self):
        gc.collect()
        return super().__iter__()

gc.disable()  # the failed build's garbage waits for a collection inside TensorRT's logging
try:
    workbench.build_engine(sys.argv[1])
except BuildError as err:
    cycle = [err]
    cycle.append(cycle)  # reachable only through a cycle, as pytest.raises leaves it
del cycle
trt_logger.NOISE = CollectFirst(trt_logger.NOISE)
workbench.build_engine(sys.argv[2])
print("no deadlock")
"""


def _tensorrt_locals(err: BaseException) -> list[str]:
    found = []
    tb = err.__traceback__
    while tb is not None:
        for name, value in list(tb.tb_frame.f_locals.items()):
            if type(value).__module__.startswith("tensorrt"):
                found.append(f"{tb.tb_frame.f_code.co_name}:{name}")
        tb = tb.tb_next
    return found


def test_a_failed_build_or_diagnosis_leaves_no_tensorrt_object_in_its_traceback(sample,
                                                                             tmp_path) -> None:
    try:
        workbench.build_engine(sample("unsupported_op"))
    except BuildError as err:
        assert _tensorrt_locals(err) == []  # before: _build's builder, network, parser
    else:
        raise AssertionError("unsupported_op built")
    missing = tmp_path / "missing.onnx"
    try:
        workbench.build_engine(missing)
    except WorkbenchError as err:
        assert _tensorrt_locals(err) == []


def test_a_gc_pass_inside_tensorrts_logging_does_not_deadlock(sample) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        done = subprocess.run([sys.executable, "-c", HANG, str(sample("unsupported_op")),
                               str(sample("tiny_cnn"))], capture_output=True, text=True,
                              env=env, timeout=120, check=False)
    except subprocess.TimeoutExpired as err:
        raise AssertionError("deadlock: a GC pass inside TensorRT's logger callback freed "
                             "an earlier builder (see backends/trt/lifetime.py)") from err
    assert done.returncode == 0 and "no deadlock" in done.stdout, done.stderr[-3000:]
