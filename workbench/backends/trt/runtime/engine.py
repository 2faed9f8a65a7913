"""Load a saved engine: check its bytes and card, explain mismatches, deserialize on a GPU.

Order matters: everything that can be checked without TensorRT running (size, magic,
SHA-256 against the card, flavour/version against the card, the RTX header's validity)
is checked first, and the plan is deserialized only when a GPU is present. Host code
embedded in an engine never runs unless ``trust_host_code=True``.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.backends.trt import compat
from workbench.backends.trt.layers import layers_from_inspector
from workbench.backends.trt.lifetime import make_runtime, trt_guard
from workbench.backends.trt.logger import STDERR, make_logger
from workbench.core.errors import EngineLoadError, WorkbenchError
from workbench.core.logbus import LogBus
from workbench.engines.card import EngineCard, EngineLayerInfo, card_path_for, sha256_hex

__all__ = ["NO_GPU_VALIDITY", "LoadedEngine", "load_engine"]

# First bytes of serialized plans: TensorRT-RTX writes "vtrt"; full TensorRT "ftrt" (and
# "ptrt"-style variants for version-compatible plans). Checked loosely: *trt in 4 bytes.
_PLAN_MAGIC_SUFFIX = b"trt"
_RTX_SIZE_OFFSET = 16  # little-endian u64: the plan's total size, in the RTX header
NO_GPU_VALIDITY = "cannot be checked without a GPU"


@dataclass(frozen=True)
class LoadedEngine:
    """The result of ``load_engine``: what the file is and whether it can run here."""

    path: Path
    plan_size: int
    plan_sha256: str
    card: EngineCard | None
    card_path: Path
    validity: str  # VALID | SUBOPTIMAL | INVALID | unchecked
    validity_reasons: tuple[str, ...]
    mismatches: tuple[str, ...]
    explanation: str
    installed: str
    gpu_present: bool
    deserialized: bool
    host_code_allowed: bool
    layers: tuple[EngineLayerInfo, ...]
    layers_source: str
    warnings: tuple[str, ...] = ()
    engine: Any = field(default=None, repr=False, compare=False)

    @property
    def can_run(self) -> bool:
        return self.deserialized and self.engine is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path), "plan_size": self.plan_size,
            "plan_sha256": self.plan_sha256,
            "card": None if self.card is None else self.card.to_dict(),
            "validity": self.validity, "validity_reasons": list(self.validity_reasons),
            "mismatches": list(self.mismatches), "explanation": self.explanation,
            "installed": self.installed, "gpu_present": self.gpu_present,
            "deserialized": self.deserialized, "host_code_allowed": self.host_code_allowed,
            "layers_source": self.layers_source, "layers": [x.to_dict() for x in self.layers],
            "warnings": list(self.warnings),
        }


def load_engine(path: str | Path, trust_host_code: bool = False) -> LoadedEngine:
    """Check and (with a GPU) deserialize a saved engine.

    Raises:
        EngineLoadError: missing, empty, truncated, corrupt or foreign file; a card that
            is malformed or whose SHA-256 does not match the plan; failed deserialization.
    """
    engine_path = Path(path).expanduser()
    plan = _read_plan(engine_path)
    card_file = card_path_for(engine_path)
    card, notes = _read_card(card_file, engine_path)
    digest = sha256_hex(plan)
    _check_against_card(plan, digest, card, engine_path)
    info = compat.backend_info()
    validity, reasons = _header_validity(plan) if info.has("engine_validity") else (
        "unchecked", ())
    if validity == "INVALID" and not info.gpu_present:
        # RTX's header check answers INVALID on any machine without a GPU, for every plan
        # (a malformed header was refused above): that is no verdict about this engine.
        validity, reasons = "unchecked", (NO_GPU_VALIDITY,)
    mismatches = _mismatches(card, info, validity, reasons)
    header_version = _rtx_header_version(plan)
    if card is None and header_version and not info.version.startswith(header_version):
        mismatches.insert(0, f"version: the plan header says TensorRT-RTX {header_version}, "
                          f"installed {info.label}")
    engine, layers, source = None, card.layers if card else (), card.layers_source if card else (
        "none")
    if info.gpu_present and not mismatches:
        engine = _deserialize(plan, trust_host_code, engine_path)
        layers, source = layers_from_inspector(compat.load_trt(), engine), "engine_inspector"
    return LoadedEngine(
        path=engine_path, plan_size=len(plan), plan_sha256=digest, card=card,
        card_path=card_file, validity=validity, validity_reasons=reasons,
        mismatches=tuple(mismatches),
        explanation=_explain(card, info, mismatches, header_version),
        installed=info.machine_text(), gpu_present=info.gpu_present,
        deserialized=engine is not None, host_code_allowed=bool(trust_host_code),
        layers=tuple(layers), layers_source=source, warnings=tuple(notes), engine=engine,
    )


def _read_plan(path: Path) -> bytes:
    if not path.is_file():
        raise EngineLoadError(f"Engine file not found: {path}", expected="an existing file",
                              found="nothing at that path" if not path.exists() else "a folder",
                              fix="check the path; engines are saved with save_engine")
    plan = path.read_bytes()
    if not plan:
        raise EngineLoadError(f"{path} is empty (0 bytes).", expected="a serialized engine",
                              found="an empty file",
                              fix="the save was interrupted; build and save the engine again")
    if _PLAN_MAGIC_SUFFIX not in plan[:4] or len(plan) < 64:
        raise EngineLoadError(
            f"{path} is not a TensorRT engine.",
            expected="a plan written by build_serialized_network (starts with '…trt')",
            found=_describe_foreign(plan),
            fix="build an engine from the model first (the panel's Build button, then Save "
            "engine in the Engines tab; or `trt-workbench build MODEL -o ENGINE`)",
        )
    if plan[:4] == b"vtrt":
        declared = int.from_bytes(plan[_RTX_SIZE_OFFSET:_RTX_SIZE_OFFSET + 8], "little")
        if declared != len(plan):
            raise EngineLoadError(
                f"{path} is truncated or padded.",
                expected=f"{declared} bytes, the size its header declares",
                found=f"{len(plan)} bytes",
                fix="copy the engine again (or rebuild it); an interrupted copy cuts files",
            )
    return plan


def _describe_foreign(data: bytes) -> str:
    head = data[:16]
    if head.startswith(b"PK"):
        kind = "a zip archive"
    elif head.lstrip()[:1] in (b"{", b"["):
        kind = "JSON text (an engine card?)"
    elif b"onnx" in data[:64].lower() or head[:1] == b"\x08":
        kind = "what looks like an ONNX model (protobuf)"
    elif len(data) < 64:
        kind = "a file too small to hold even an engine header"
    else:
        kind = "unknown data"
    return f"{kind}: {len(data)} bytes starting {head!r}"


def _read_card(card_file: Path, engine_path: Path) -> tuple[EngineCard | None, list[str]]:
    if not card_file.exists():
        note = (f"{engine_path.name} has no engine card ({card_file.name}): its TensorRT "
                "version, targets and checksum cannot be checked.")
        warnings.warn(note, stacklevel=3)
        return None, [note]
    try:
        return EngineCard.from_dict(json.loads(card_file.read_text())), []
    # AttributeError: a list or text where the card has an object; WorkbenchError: the
    # settings inside it do not validate (BuildSettingsError).
    except (OSError, ValueError, KeyError, TypeError, AttributeError, WorkbenchError
            ) as err:
        raise EngineLoadError(
            f"The engine card {card_file} is unreadable.",
            expected="the JSON card written by save_engine",
            found=f"{type(err).__name__}: {err}",
            fix="restore the card, or delete it to load the engine without checks",
        ) from err


def _check_against_card(plan: bytes, digest: str, card: EngineCard | None, path: Path) -> None:
    if card is None:
        return
    if card.plan_size != len(plan):
        raise EngineLoadError(
            f"{path} does not have the size its card records: truncated or replaced.",
            expected=f"{card.plan_size} bytes (plan_size in {path.name}.json)",
            found=f"{len(plan)} bytes",
            fix="copy the engine again together with its card, or rebuild it",
        )
    if card.plan_sha256 != digest:
        raise EngineLoadError(
            f"{path} does not match its card: the plan's SHA-256 differs.",
            expected=f"SHA-256 {card.plan_sha256}", found=f"SHA-256 {digest}",
            fix="the engine was corrupted or the card belongs to another engine; copy both "
            "again, or rebuild",
        )


def _header_validity(plan: bytes) -> tuple[str, tuple[str, ...]]:
    trt = compat.load_trt()
    # Without a GPU the check logs a CUDA error: keep it off the console (quiet bus).
    logger = make_logger(trt, LogBus("INTERNAL_ERROR"))
    with STDERR.capture(lambda line: None):
        runtime = make_runtime(trt, logger)
        header = plan[: runtime.engine_header_size]
        validity, diagnostics = runtime.get_engine_validity(header)
        with trt_guard():  # see lifetime.py
            del runtime
    reasons = tuple(name for name, flag in trt.EngineInvalidityDiagnostics.__members__.items()
                    if int(diagnostics) & int(flag))
    if "MALFORMED_ENGINE" in reasons:
        raise EngineLoadError(
            "The engine header is malformed.", expected="a valid TensorRT-RTX plan header",
            found=f"get_engine_validity: {validity.name} ({', '.join(reasons)})",
            fix="the file is corrupt or not an engine; rebuild it",
        )
    return validity.name, reasons


def _mismatches(card: EngineCard | None, info: compat.BackendInfo, validity: str,
                reasons: tuple[str, ...]) -> list[str]:
    found = []
    if card is not None and card.flavour != info.flavour:
        found.append(f"flavour: built with {card.flavour_label}, installed {info.label}")
    elif card is not None and card.trt_version != info.version:
        found.append(f"version: built with {card.flavour_label}, installed {info.label}")
    if not info.gpu_present:
        found.append("no GPU: an engine can only be deserialized and run on an NVIDIA GPU")
    elif card is not None and card.compute_capabilities and (
            info.gpu.compute_capability not in card.compute_capabilities):
        found.append(f"GPU: built for {card.target_text()}, this GPU is "
                     f"{info.gpu.compute_capability}")
    if info.gpu_present and validity == "INVALID":
        found.append("TensorRT says the plan is invalid here: " + ", ".join(reasons))
    return found


def _rtx_header_version(plan: bytes) -> str | None:
    """TensorRT-RTX plans carry their version (major, minor, patch) at bytes 24–26."""
    if plan[:4] != b"vtrt" or len(plan) < 27:
        return None
    return ".".join(str(b) for b in plan[24:27])


def _explain(card: EngineCard | None, info: compat.BackendInfo, mismatches: list[str],
             header_version: str | None = None) -> str:
    here = f"this machine has {info.machine_text()}"
    if card is None and header_version:
        built = f"built with TensorRT-RTX {header_version} (from the plan header; no card)"
    elif card is None:
        built = "built with an unknown TensorRT (no engine card)"
    else:
        built = f"built with {card.flavour_label} for {card.target_text()}"
    verdict = "it can run here" if not mismatches else "it cannot run here (" + "; ".join(
        m.split(":")[0] for m in mismatches) + ")"
    return f"{built}; {here}: {verdict}."


def _deserialize(plan: bytes, trust_host_code: bool, path: Path) -> Any:
    trt = compat.load_trt()
    bus = LogBus("WARNING")
    runtime = make_runtime(trt, make_logger(trt, bus))
    runtime.engine_host_code_allowed = bool(trust_host_code)
    engine = runtime.deserialize_cuda_engine(plan)
    if engine is None:
        raise EngineLoadError(
            f"TensorRT could not deserialize {path}.",
            expected="a plan built for this TensorRT and GPU",
            found="deserialize_cuda_engine returned None",
            fix="rebuild the engine on this machine's TensorRT version",
            details=bus.lines(),
        )
    return engine
