"""Hostile-input generators shared by the fuzz tests and ``bench/reliability.py``.

Every generator is a plain function of a ``random.Random``: hypothesis drives them through
``st.randoms()`` (so failures shrink and replay), the reliability report through seeded
``random.Random(i)``. Nothing here imports TensorRT.

A :class:`ModelCase` is a set of files (the model and any external data) written into a
fresh folder; the property checked on it is :func:`check_outcome`: the call returned, or
raised a ``WorkbenchError`` with a non-empty message — never another exception, never a
hang (:func:`time_limit`), never a dead process (native calls run in a worker process, see
``tests/fuzz/test_fuzz_native.py``).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx
from onnx import TensorProto, helper

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_models"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from workbench.core.errors import WorkbenchError  # noqa: E402

__all__ = [
    "SEED_MODELS",
    "CaseTimeout",
    "ModelCase",
    "Outcome",
    "check_outcome",
    "fuzz_mode",
    "long_mode",
    "make_engine_case",
    "make_model_case",
    "mutate_bytes",
    "mutate_card",
    "mutate_plan",
    "random_profile_dict",
    "random_settings_kwargs",
    "random_shape",
    "seed_files",
    "time_limit",
]

# Small samples that parse (and one with external data); the big transformer is left out
# to keep a fast run fast.
SEED_MODELS: tuple[str, ...] = (
    "tiny_cnn", "mlp_dynamic_batch", "resnet_block", "unsupported_op",
    "needs_constant_folding", "ml_domain_classifier", "external_weights", "fp16_overflow",
)
HUGE = (2**31, 2**32 + 7, 2**62, 2**63 - 1, -1, -(2**31), -(2**63))


def long_mode() -> bool:
    return os.environ.get("WORKBENCH_FUZZ", "").lower() == "long"


def fuzz_mode() -> str:
    return "long" if long_mode() else "fast"


class CaseTimeout(BaseException):
    """Raised by :func:`time_limit` (a BaseException, so product code cannot swallow it)."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Fail a case that runs longer than ``seconds`` (main thread only; SIGALRM)."""

    def on_alarm(signum: int, frame: Any) -> None:
        raise CaseTimeout(f"case ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass(frozen=True)
class Outcome:
    """What one call did: ``ok`` (returned), ``refused`` (WorkbenchError) or ``bug``."""

    kind: str
    error: str = ""
    message: str = ""


def check_outcome(call: Callable[[], Any], seconds: float = 20.0) -> Outcome:
    """Run ``call``; classify the result. A bug is any exception that is not a
    WorkbenchError, a WorkbenchError with an empty message, or a time-out."""
    try:
        with time_limit(seconds):
            call()
    except WorkbenchError as err:
        if not err.message.strip() or not err.summary.strip():
            return Outcome("bug", type(err).__name__, "empty error message")
        return Outcome("refused", type(err).__name__, err.message)
    except CaseTimeout as err:
        return Outcome("bug", "CaseTimeout", str(err))
    except Exception as err:  # the property under test: nothing else may escape
        return Outcome("bug", type(err).__name__, f"{err!r}"[:2000])
    return Outcome("ok")


# -- model cases ---------------------------------------------------------------------------


@dataclass
class ModelCase:
    """Files to write into an empty folder; ``model`` names the .onnx file among them."""

    seed: str
    files: dict[str, bytes]
    model: str = "model.onnx"
    steps: list[str] = field(default_factory=list)

    def write(self, folder: Path) -> Path:
        for name, data in self.files.items():
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        return folder / self.model

    @property
    def model_bytes(self) -> bytes:
        return self.files[self.model]

    def describe(self) -> str:
        return f"{self.seed}: " + ", ".join(self.steps)


_SEED_CACHE: dict[str, tuple[bytes, dict[str, bytes]]] = {}


def seed_files(name: str) -> tuple[bytes, dict[str, bytes]]:
    """A sample's bytes and its external data files (by location)."""
    if name not in _SEED_CACHE:
        data = (SAMPLES / f"{name}.onnx").read_bytes()
        extra = {}
        if name == "external_weights":
            extra["external_weights.data"] = (SAMPLES / "external_weights.data").read_bytes()
        _SEED_CACHE[name] = (data, extra)
    return _SEED_CACHE[name]


def mutate_bytes(data: bytes, rng: random.Random, steps: list[str]) -> bytes:
    """One bytewise mutation: bit flips, truncation, splice, insertion, deletion."""
    buf = bytearray(data)
    kind = rng.choice(("flip", "flip", "truncate", "overwrite", "insert", "delete", "varint"))
    if not buf:  # an earlier step truncated everything: only growing makes sense
        kind = "insert"
    pos = rng.randrange(max(len(buf), 1))
    if kind == "flip":
        for _ in range(rng.randint(1, 8)):
            at = rng.randrange(len(buf))
            buf[at] ^= 1 << rng.randrange(8)
    elif kind == "truncate":
        del buf[pos:]
    elif kind == "overwrite":
        for i in range(pos, min(len(buf), pos + rng.randint(1, 16))):
            buf[i] = rng.randrange(256)
    elif kind == "insert":
        buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    elif kind == "delete":
        del buf[pos:pos + rng.randint(1, 32)]
    else:  # a huge varint where a length or a dim may be: protobuf's favourite trap
        buf[pos:pos] = b"\xff" * rng.randint(1, 9) + b"\x01"
    steps.append(f"bytes:{kind}@{pos}")
    return bytes(buf)


def _pick_tensor(model: onnx.ModelProto, rng: random.Random) -> TensorProto | None:
    tensors = list(model.graph.initializer)
    return rng.choice(tensors) if tensors else None


def _mut_dims(model: onnx.ModelProto, rng: random.Random) -> str:
    values = list(model.graph.input) + list(model.graph.output) + list(model.graph.value_info)
    if not values:
        return "dims:none"
    value = rng.choice(values)
    dims = value.type.tensor_type.shape.dim
    if dims:
        dim = rng.choice(dims)
        dim.dim_value = rng.choice(HUGE)
    else:
        value.type.tensor_type.shape.dim.add().dim_value = rng.choice(HUGE)
    return f"dims:{value.name}"


def _mut_tensor_dims(model: onnx.ModelProto, rng: random.Random) -> str:
    tensor = _pick_tensor(model, rng)
    if tensor is None:
        return "tensor-dims:none"
    if tensor.dims:
        tensor.dims[rng.randrange(len(tensor.dims))] = rng.choice(HUGE)
    else:
        tensor.dims.append(rng.choice(HUGE))
    return f"tensor-dims:{tensor.name}"


def _mut_tensor_data(model: onnx.ModelProto, rng: random.Random) -> str:
    tensor = _pick_tensor(model, rng)
    if tensor is None:
        return "tensor-data:none"
    choice = rng.choice(("short", "long", "dtype", "both", "float_data"))
    if choice == "short":
        tensor.raw_data = tensor.raw_data[: len(tensor.raw_data) // 3]
    elif choice == "long":
        tensor.raw_data = tensor.raw_data + bytes(rng.randint(1, 64))
    elif choice == "dtype":
        tensor.data_type = rng.choice((0, 8, 999, -5, TensorProto.STRING, TensorProto.INT4))
    elif choice == "both":
        tensor.float_data.extend([1.0, 2.0])
    else:
        tensor.ClearField("raw_data")
        tensor.float_data.extend([0.5] * rng.randint(0, 3))
    return f"tensor-data:{choice}:{tensor.name}"


def _mut_cycle(model: onnx.ModelProto, rng: random.Random) -> str:
    nodes = model.graph.node
    if len(nodes) < 2:
        return "cycle:none"
    first, last = sorted(rng.sample(range(len(nodes)), 2))
    if nodes[first].input and nodes[last].output:
        nodes[first].input[0] = nodes[last].output[0]
    elif nodes[last].output:
        nodes[first].input.append(nodes[last].output[0])
    return f"cycle:{first}<-{last}"


def _mut_self_loop(model: onnx.ModelProto, rng: random.Random) -> str:
    node = rng.choice(list(model.graph.node)) if model.graph.node else None
    if node is None or not node.output:
        return "self-loop:none"
    node.input.append(node.output[0])
    return f"self-loop:{node.name}"


def _mut_duplicates(model: onnx.ModelProto, rng: random.Random) -> str:
    graph = model.graph
    choice = rng.choice(("node", "output", "initializer", "input", "name"))
    if choice == "node" and graph.node:
        graph.node.append(graph.node[rng.randrange(len(graph.node))])
    elif choice == "output" and len(graph.node) > 1 and graph.node[0].output:
        graph.node[-1].output[0] = graph.node[0].output[0]
    elif choice == "initializer" and graph.initializer:
        graph.initializer.append(graph.initializer[0])
    elif choice == "input" and graph.input:
        graph.input.append(graph.input[0])
    elif graph.node:
        for node in graph.node:
            node.name = "same"
    return f"duplicate:{choice}"


def _mut_external(model: onnx.ModelProto, rng: random.Random) -> str:
    tensor = _pick_tensor(model, rng)
    if tensor is None:
        return "external:none"
    entries = {e.key: e.value for e in tensor.external_data}
    if tensor.data_location != TensorProto.EXTERNAL:
        tensor.data_location = TensorProto.EXTERNAL
        tensor.ClearField("raw_data")
        entries = {"location": "weights.bin", "offset": "0", "length": "16"}
    key = rng.choice(("location", "offset", "length", "junk"))
    entries[key] = rng.choice((
        "0", "-1", "-99999999999999999999", str(2**63), str(2**70), "1e3", "", "0x10", " 7",
        "../outside.bin", "/etc/passwd", "sub/../../escape.bin", "weights.bin\x00.txt",
        "C:\\Windows\\win.ini", "nonexistent.bin", "." , "sub", "link_out.bin",
    ))
    del tensor.external_data[:]
    for k, v in entries.items():
        tensor.external_data.add(key=k, value=v)
    return f"external:{key}={entries[key]!r}"


def _mut_opset(model: onnx.ModelProto, rng: random.Random) -> str:
    choice = rng.choice(("huge", "negative", "none", "domain", "ir"))
    if choice == "huge" and model.opset_import:
        model.opset_import[0].version = 2**62
    elif choice == "negative" and model.opset_import:
        model.opset_import[0].version = -3
    elif choice == "none":
        del model.opset_import[:]
    elif choice == "domain":
        model.opset_import.add(domain="evil.domain", version=1)
    else:
        model.ir_version = rng.choice((0, -1, 99, 2**40))
    return f"opset:{choice}"


def _mut_node(model: onnx.ModelProto, rng: random.Random) -> str:
    if not model.graph.node:
        return "node:none"
    node = rng.choice(list(model.graph.node))
    choice = rng.choice((
        "op", "attr-type", "attr-huge", "drop-input", "drop-output", "empty-names", "graph"))
    if choice == "op":
        node.op_type = rng.choice(("", "NoSuchOp", "Loop", "If", "Conv" * 100))
    elif choice == "attr-type":
        node.attribute.append(helper.make_attribute("kernel_shape", "not-ints"))
    elif choice == "attr-huge":
        node.attribute.append(helper.make_attribute("axes", [2**62, -(2**62)]))
    elif choice == "drop-input":
        del node.input[:]
    elif choice == "drop-output":  # TensorRT-RTX 1.7.1's parser segfaults on this
        del node.output[:]
    elif choice == "empty-names":
        for i in range(len(node.output)):
            node.output[i] = ""
    else:  # a subgraph whose body refers to itself
        body = helper.make_graph([helper.make_node("Identity", ["y"], ["y"])], "loop_body",
                                 [], [helper.make_tensor_value_info("y", 1, None)])
        node.attribute.append(helper.make_attribute("then_branch", body))
    return f"node:{choice}:{node.name}"


def _mut_graph(model: onnx.ModelProto, rng: random.Random) -> str:
    graph = model.graph
    choice = rng.choice(("no-outputs", "no-inputs", "no-nodes", "reverse", "undefined-type"))
    if choice == "no-outputs":
        del graph.output[:]
    elif choice == "no-inputs":
        del graph.input[:]
    elif choice == "no-nodes":
        del graph.node[:]
    elif choice == "reverse":
        nodes = list(graph.node)
        del graph.node[:]
        graph.node.extend(reversed(nodes))
    elif graph.input:
        graph.input[0].type.tensor_type.elem_type = rng.choice((0, 999, 16, 23))
    return f"graph:{choice}"


STRUCTURAL: tuple[Callable[[onnx.ModelProto, random.Random], str], ...] = (
    _mut_dims, _mut_tensor_dims, _mut_tensor_data, _mut_cycle, _mut_self_loop,
    _mut_duplicates, _mut_external, _mut_opset, _mut_node, _mut_graph,
)


def _extra_files(rng: random.Random, files: dict[str, bytes], steps: list[str]) -> None:
    """Data files for mutated external references: short, empty, or a folder's worth."""
    choice = rng.choice(("none", "short", "empty", "ok"))
    if choice == "short":
        files["weights.bin"] = bytes(7)
    elif choice == "empty":
        files["weights.bin"] = b""
    elif choice == "ok":
        files["weights.bin"] = bytes(rng.randint(16, 4096))
    steps.append(f"weights.bin:{choice}")


def make_model_case(rng: random.Random) -> ModelCase:
    """A sample mutated structurally (as a proto) and/or bytewise (as bytes)."""
    seed = rng.choice(SEED_MODELS)
    data, extra = seed_files(seed)
    steps: list[str] = []
    files = dict(extra)
    if rng.random() < 0.7:
        model = onnx.ModelProto()
        model.ParseFromString(data)
        for _ in range(rng.randint(1, 3)):
            steps.append(rng.choice(STRUCTURAL)(model, rng))
        data = model.SerializeToString()
        _extra_files(rng, files, steps)
    if rng.random() < 0.45 or not steps:
        for _ in range(rng.randint(1, 3)):
            data = mutate_bytes(data, rng, steps)
    files["model.onnx"] = data
    return ModelCase(seed, files, "model.onnx", steps)


# -- settings cases --------------------------------------------------------------------------

_TEXT = ("fp32", "fp16", "bf16", "FP16", "int8", "", "none", "ampere_plus", "detailed",
         "INFO", "verbose", "bogus", "8.9", "SM89", "9.0", "12.0", "7.5", "sm121", "x")


def _random_value(rng: random.Random) -> Any:
    return rng.choice((
        rng.choice(_TEXT), rng.randint(-5, 10), rng.choice(HUGE), None, True, 1.5,
        float("nan"), [rng.choice(_TEXT)], (), {"a": 1}, b"fp16",
    ))


def random_shape(rng: random.Random) -> list[Any]:
    return [rng.choice((0, 1, 2, 3, 8, 64, -1, 2**40, "x", None, 1.5))
            for _ in range(rng.randint(0, 4))]


def random_profile_dict(rng: random.Random, names: list[str]) -> dict[str, Any]:
    return {"input": rng.choice([*names, "", "nope", 3]), "min": random_shape(rng),
            "opt": random_shape(rng), "max": random_shape(rng)}


def random_settings_kwargs(rng: random.Random, names: list[str]) -> dict[str, Any]:
    """A dict for ``BuildSettings.from_dict``: mostly plausible keys with hostile values."""
    keys = ("precision", "keep_fp32", "workspace_mib", "optimization_level",
            "hardware_compatibility", "version_compatible", "refit", "strip_plan",
            "timing_cache", "compute_capabilities", "profiling_verbosity", "log_severity")
    data: dict[str, Any] = {}
    for key in rng.sample(keys, rng.randint(0, len(keys))):
        data[key] = _random_value(rng)
    if rng.random() < 0.6:
        data["profiles"] = [[random_profile_dict(rng, names) for _ in range(rng.randint(0, 2))]
                            for _ in range(rng.randint(0, 2))]
    if rng.random() < 0.05:
        data["unknown_key"] = 1
    return data


# -- engine cases ----------------------------------------------------------------------------

_CARD_VALUES = (
    "tensorrt", "tensorrt_rtx", "", "1.7.1.116", "10.3.0", "99.0", None, -1, 2**70, 1.5,
    [], {}, "0" * 64, "not-a-digest", {"precision": "int8"}, {"nonsense": 1}, [[{}]], True,
)


def mutate_plan(plan: bytes, rng: random.Random, steps: list[str]) -> bytes:
    """A saved plan, damaged: bytewise, or in its header (magic, size, version fields)."""
    choice = rng.choice(("bytes", "magic", "size", "version", "header", "empty", "tiny"))
    buf = bytearray(plan)
    if choice == "bytes":
        return mutate_bytes(plan, rng, steps)
    if choice == "magic":
        buf[0:4] = rng.choice((b"ftrt", b"ptrt", b"xtrt", b"\x00trt", b"PK\x03\x04", b"{\"a\""))
    elif choice == "size":
        size = rng.choice((0, 1, len(plan) - 1, len(plan) + 1, 2**63, 2**64 - 1))
        buf[16:24] = size.to_bytes(8, "little")
    elif choice == "version":
        buf[24:27] = bytes(rng.randrange(256) for _ in range(3))
    elif choice == "header":
        for _ in range(rng.randint(1, 6)):
            buf[rng.randrange(min(64, len(buf)))] = rng.randrange(256)
    elif choice == "empty":
        buf = bytearray()
    else:
        buf = buf[: rng.choice((3, 4, 27, 63, 64, 65))]
    steps.append(f"plan:{choice}")
    return bytes(buf)


def mutate_card(card: dict[str, Any], rng: random.Random, steps: list[str]) -> bytes:
    """An engine card (JSON) that lies, misses keys, or is not JSON at all."""
    choice = rng.choice(("value", "value", "drop", "settings", "profile", "text", "type"))
    data = json.loads(json.dumps(card))
    if choice == "value":
        key = rng.choice(sorted(data))
        data[key] = rng.choice(_CARD_VALUES)
    elif choice == "drop":
        data.pop(rng.choice(sorted(data)), None)
    elif choice == "settings":
        data["settings"] = random_settings_kwargs(rng, ["features", "x"])
    elif choice == "profile":
        data.setdefault("settings", {})["profiles"] = [[random_profile_dict(rng, ["features"])]]
    elif choice == "text":
        text = json.dumps(data, default=repr).encode()
        steps.append("card:text")
        return mutate_bytes(text, rng, steps)
    else:
        data = rng.choice(([data], "card", 3, None))
    steps.append(f"card:{choice}")
    return json.dumps(data, default=repr).encode()


def make_engine_case(plan: bytes, card: dict[str, Any], rng: random.Random
                     ) -> tuple[bytes, bytes | None, list[str]]:
    """(plan bytes, card bytes or None for no card, steps) — plan, card or both damaged."""
    steps: list[str] = []
    which = rng.choice(("plan", "card", "both", "no-card"))
    new_plan = mutate_plan(plan, rng, steps) if which in ("plan", "both", "no-card") else plan
    card_bytes: bytes | None = json.dumps(card).encode()
    if which in ("card", "both"):
        card_bytes = mutate_card(card, rng, steps)
    elif which == "no-card":
        card_bytes = None
        steps.append("card:none")
    return new_plan, card_bytes, steps


# -- native targets in a worker process ------------------------------------------------------

WORKER = Path(__file__).resolve().with_name("native_worker.py")


@dataclass
class NativeRun:
    """Cases a worker process ran; ``crashes`` are cases whose native call killed it."""

    target: str
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    crashes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def bugs(self) -> list[dict[str, Any]]:
        return [o for o in self.outcomes if o["kind"] == "bug"]

    @property
    def cases(self) -> int:
        return len(self.outcomes) + len(self.crashes)


def _worker(target: str, start: int, stop: int, extra: list[str], timeout: float,
            isolate: bool) -> tuple[list[dict[str, Any]], int | None, int]:
    """Run cases [start, stop); returns (outcomes, case it died on or None, returncode)."""
    import subprocess

    env = {**os.environ, "WORKBENCH_ISOLATE_PARSER": "1" if isolate else "0",
           "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, str(WORKER), target, str(start), str(stop), *extra],
        capture_output=True, text=True, timeout=timeout, env=env, cwd=str(ROOT),
    )
    outcomes, current = [], None
    for line in proc.stdout.splitlines():
        if not line.startswith("{"):
            continue
        record = json.loads(line)
        if "start" in record:
            current = record["start"]
        else:
            outcomes.append(record)
            current = None
    if proc.returncode == 0:
        return outcomes, None, 0
    if current is None:  # died outside a case: a worker bug, make it loud
        raise RuntimeError(f"fuzz worker failed (rc {proc.returncode}):\n{proc.stderr[-3000:]}")
    return outcomes, current, proc.returncode


def run_native_fuzz(target: str, start: int, count: int, extra: list[str] | None = None,
                    timeout: float = 600.0) -> NativeRun:
    """Fuzz ``target`` (diagnose | load_engine) over seeds [start, start+count) in worker
    processes with the parser probe off (fast). When a case kills the worker, that case is
    replayed through the product's own path (probe on) in a fresh worker, which must
    survive it: the crash is recorded as contained, or as a bug when the product died too."""
    run, extra = NativeRun(target), extra or []
    seed, stop = start, start + count
    while seed < stop:
        outcomes, died_on, rc = _worker(target, seed, stop, extra, timeout, isolate=False)
        run.outcomes.extend(outcomes)
        if died_on is None:
            break
        replay, died_again, rc2 = _worker(target, died_on, died_on + 1, extra, timeout,
                                          isolate=True)
        contained = died_again is None and all(o["kind"] != "bug" for o in replay)
        run.crashes.append({"i": died_on, "rc": rc, "contained": contained,
                            "replay": replay[0] if replay else {"rc": rc2}})
        seed = died_on + 1
    return run
