"""A catalogue of hostile files, shared by ``tests/test_hostile_files.py`` and
``bench/reliability.py``: each case sets up files in a folder and calls the product.

A case passes when the workbench refuses it with a clear error: a WorkbenchError whose
summary, expected, found and fix are all filled in (or, for ``diagnose``, a falsy report
whose issue carries that error; for an engine card that lies about where the engine can
run, a LoadedEngine that refuses to deserialize and says why in ``mismatches``).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnx
from fuzz_cases import SAMPLES, check_outcome

from workbench.core.errors import WorkbenchError

__all__ = ["HOSTILE_CASES", "HostileCase", "run_hostile_case"]


@dataclass(frozen=True)
class HostileCase:
    name: str
    setup: Callable[[Path, Any], Path]  # (folder, engine artifact) -> the file to open
    target: str  # load_model | inspect_model | diagnose | build_engine | load_engine | settings


def _external(location: str, length: int | None = None) -> Callable[[Path, Any], Path]:
    def setup(folder: Path, _artifact: Any) -> Path:
        (folder / "elsewhere").mkdir(exist_ok=True)
        secret = folder / "elsewhere" / "secret.bin"
        secret.write_bytes(b"s3cret" * 4000)
        model_dir = folder / "model"
        model_dir.mkdir(exist_ok=True)
        shutil.copy(SAMPLES / "external_weights.data", model_dir)
        if location == "link.bin":
            (model_dir / "link.bin").symlink_to(secret)
        model = onnx.load(SAMPLES / "external_weights.onnx", load_external_data=False)
        for tensor in model.graph.initializer:
            for entry in tensor.external_data:
                if entry.key == "location":
                    entry.value = location.replace("SECRET", str(secret))
                if entry.key == "length" and length is not None:
                    entry.value = str(length)
        path = model_dir / "model.onnx"
        path.write_bytes(model.SerializeToString())
        return path

    return setup


def _bytes(make: Callable[[], bytes], name: str = "model.onnx") -> Callable[[Path, Any], Path]:
    def setup(folder: Path, _artifact: Any) -> Path:
        path = folder / name
        path.write_bytes(make())
        return path

    return setup


def _sparse(folder: Path, _artifact: Any) -> Path:
    path = folder / "huge.onnx"
    with open(path, "wb") as handle:
        handle.truncate(3 * 2**30)
    return path


def _node_without_outputs() -> bytes:
    model = onnx.load(SAMPLES / "tiny_cnn.onnx")
    del model.graph.node[0].output[:]  # TensorRT-RTX 1.7.1's parser segfaults on this
    return model.SerializeToString()


def _not_utf8() -> bytes:
    data = bytearray((SAMPLES / "tiny_cnn.onnx").read_bytes())
    at = data.index(b"conv1.w")
    data[at:at + 2] = b"\xc1\xcb"  # a name that is not UTF-8 text
    return bytes(data)


def _engine(plan_change: Callable[[bytes], bytes] | None = None,
            card_change: dict[str, Any] | None = None, card: bool = True
            ) -> Callable[[Path, Any], Path]:
    def setup(folder: Path, artifact: Any) -> Path:
        path = folder / "model.engine"
        path.write_bytes(plan_change(artifact.plan) if plan_change else artifact.plan)
        if card:
            data = artifact.card.to_dict()
            data.update(card_change or {})
            (folder / "model.engine.json").write_text(json.dumps(data))
        return path

    return setup


HOSTILE_CASES: tuple[HostileCase, ...] = (
    HostileCase("external data: absolute path", _external("SECRET"), "load_model"),
    HostileCase("external data: '..' path", _external("../elsewhere/secret.bin"),
                "inspect_model"),
    HostileCase("external data: symlink pointing out", _external("link.bin"), "build_engine"),
    HostileCase("external data: NUL in location", _external("external_weights.data\x00x"),
                "diagnose"),
    HostileCase("external data: larger than its file",
                _external("external_weights.data", length=10**9), "load_model"),
    HostileCase("external data: missing file", _external("nope.data"), "diagnose"),
    HostileCase("3 GiB .onnx file (sparse)", _sparse, "load_model"),
    HostileCase("truncated model", _bytes(lambda: (SAMPLES / "truncated.onnx").read_bytes()),
                "inspect_model"),
    HostileCase("empty model", _bytes(lambda: b""), "load_model"),
    HostileCase("text file named .onnx", _bytes(lambda: b"hello, I am not a model\n"),
                "diagnose"),
    HostileCase("names that are not UTF-8", _bytes(_not_utf8), "inspect_model"),
    HostileCase("node without outputs (parser segfault) - diagnose",
                _bytes(_node_without_outputs), "diagnose"),
    HostileCase("node without outputs (parser segfault) - build",
                _bytes(_node_without_outputs), "build_engine"),
    HostileCase("engine: empty file", _engine(lambda plan: b"", card=False), "load_engine"),
    HostileCase("engine: zip archive", _engine(lambda plan: b"PK\x03\x04" + bytes(96),
                                               card=False), "load_engine"),
    HostileCase("engine: ONNX model renamed", _engine(
        lambda plan: (SAMPLES / "tiny_cnn.onnx").read_bytes(), card=False), "load_engine"),
    HostileCase("engine: truncated, no card", _engine(lambda plan: plan[: len(plan) // 2],
                                                      card=False), "load_engine"),
    HostileCase("engine: card lies about the flavour", _engine(
        card_change={"flavour": "tensorrt", "trt_version": "10.13.0.35"}), "load_engine"),
    HostileCase("engine: card lies about the version", _engine(
        card_change={"trt_version": "0.9.0.1"}), "load_engine"),
    HostileCase("engine: card lies about the hash", _engine(
        card_change={"plan_sha256": "0" * 64}), "load_engine"),
    HostileCase("engine: card lies about the size", _engine(
        card_change={"plan_size": 64}), "load_engine"),
    HostileCase("engine: malformed card", _engine(card_change={"outputs": "text"}),
                "load_engine"),
    HostileCase("settings: wrong types", _bytes(
        lambda: json.dumps({"workspace_mib": "lots", "profiles": 3}).encode(), "s.json"),
        "settings"),
)


def _call(target: str, path: Path) -> Any:
    if target == "load_model":
        from workbench.inspection.loading import load_model
        return load_model(path)
    if target == "inspect_model":
        from workbench.inspection.summary import inspect_model
        return inspect_model(path)
    if target == "diagnose":
        from workbench.backends.trt.parse import diagnose
        return diagnose(path)
    if target == "build_engine":
        from workbench.backends.trt.build import build_engine
        return build_engine(path)
    if target == "load_engine":
        from workbench.backends.trt.runtime.engine import load_engine
        return load_engine(path)
    from workbench.settings.settings import BuildSettings
    return BuildSettings.from_dict(json.loads(path.read_text()))


def _clear(err: WorkbenchError) -> bool:
    return all(part and part.strip() for part in (err.summary, err.expected, err.found,
                                                  err.fix))


def run_hostile_case(case: HostileCase, folder: Path, artifact: Any) -> tuple[bool, str]:
    """(refused with a clear error, what the user saw)."""
    path = case.setup(folder, artifact)
    result: list[Any] = []
    outcome = check_outcome(lambda: result.append(_call(case.target, path)), seconds=120)
    if outcome.kind == "bug":
        return False, f"BUG {outcome.error}: {outcome.message}"
    if outcome.kind == "refused":
        try:
            _call(case.target, path)
        except WorkbenchError as err:  # again, to look at the error object itself
            return _clear(err), err.summary
        return False, "refused once, accepted the second time"
    value = result[0]
    if case.target == "diagnose":
        issue = value.issues[0] if value.issues else None
        ok = not value and issue is not None and issue.code == "REFUSED_BEFORE_PARSING"
        return ok, issue.cause if issue else "parsed"
    if case.target == "load_engine":
        # "no GPU" is true of every engine on a CPU machine: a lie must add its own reason
        lies = [m for m in value.mismatches if not m.startswith("no GPU")]
        return bool(lies) and not value.deserialized, lies[0] if lies else "accepted"
    return False, f"accepted: {type(value).__name__}"
