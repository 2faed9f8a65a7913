"""The text files of a bug bundle: repro.sh, repro.py, verbose.log, diagnosis.json,
versions.json and its README, from where the model fails (``Failure``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from workbench.app.share import reproduce
from workbench.app.share.versions import FIELDS, environment_info
from workbench.core.errors import WorkbenchBug, WorkbenchError

if TYPE_CHECKING:
    from collections.abc import Callable

    from workbench.core.logbus import LogBus
    from workbench.settings.settings import BuildSettings

__all__ = ["Diagnosis", "Failure", "bundle_texts"]

# diagnosis.json's content: JSON values (str, numbers, lists, dicts), by key
Diagnosis = dict[str, object]


@dataclass(frozen=True)
class Failure:
    """Where the model fails, as the bundle's files tell it."""

    stage: str  # "parse", "build" or "workbench"
    category: str
    diagnosis: Diagnosis
    reduced: bool = False
    notes: tuple[str, ...] = ()


def bundle_texts(failure: Failure, settings: BuildSettings, bus: LogBus,
                  error: WorkbenchError | None, scrub: Callable[[str], str],
                  extras: list[str]) -> dict[str, str]:
    command = reproduce.trtexec_command(settings, "model.onnx", "model.engine")
    if "--verbose" not in command:
        command += " --verbose"
    diagnosis = dict(failure.diagnosis, stage=failure.stage,
                     reproduced_by_bundle=error is not None,
                     bundle_error=error.message if error is not None else None)
    files = {
        "repro.sh": f"#!/bin/sh\n# Reproduces the {failure.stage} failure.\n{command}\n",
        "repro.py": reproduce.python_script(settings, "model.onnx", "model.engine"),
        "verbose.log": _log_text(bus, error),
        "diagnosis.json": json.dumps(diagnosis, indent=2) + "\n",
        "versions.json": json.dumps(environment_info(), indent=2) + "\n",
    }
    files["README.md"] = _readme(failure, command, error, extras)
    return {name: scrub(text) for name, text in files.items()}


def _log_text(bus: LogBus, error: WorkbenchError | None) -> str:
    """The VERBOSE log; when TensorRT logged nothing (refused before it ran), say so and
    give the error instead of an empty file."""
    lines = [r.format() for r in bus.records()]
    if not lines:
        lines = ["(TensorRT logged nothing: the build stopped before TensorRT ran)"]
        if error is not None:
            lines.append(error.message)
    return "\n".join(lines) + "\n"


def _readme(failure: Failure, command: str, error: WorkbenchError | None,
            extras: list[str]) -> str:
    model = ("the smallest subgraph that fails the same way" if failure.reduced
             else "the whole model")
    check = ("This bundle reports a bug of the workbench itself (not of TensorRT): attach it "
             "to a workbench issue. The traceback is in `diagnosis.json`."
             f"\n\n```\n{error.summary}\n```" if isinstance(error, WorkbenchBug) else
             "Rebuilding `model.onnx` with a VERBOSE log failed again: the bundle reproduces "
             f"the failure.\n\n```\n{error.summary}\n```" if error is not None else
             "Warning: rebuilding `model.onnx` did NOT fail; the failure may depend on the "
             "parts of the model that were left out.")
    notes = "".join(f"- {n}\n" for n in failure.notes)
    data = (" Its external data: " + ", ".join(f"`{name}`" for name in extras) + "."
            if extras else "")
    return f"""# TensorRT {failure.stage} failure: {failure.category}

Made by trt-workbench. {check}

## Files
- `model.onnx`: {model}.{data}
- `repro.sh`: `{command}`
- `repro.py`: the same build with the bare TensorRT Python API (`python repro.py`).
- `verbose.log`: TensorRT's VERBOSE log of that build.
- `diagnosis.json`: where and why it fails, with the suggested fixes.
- `versions.json`: {", ".join(FIELDS)}.

## What to attach to a TensorRT issue
Attach this zip (or `model.onnx`, `verbose.log` and `versions.json`), paste the
`repro.sh` line and the error above into the issue text, and say what you expected.
NVIDIA's bug template asks for exactly these: the model, the command, the verbose log, the
versions and the GPU.

## What this bundle contains about your machine
Only `versions.json` ({", ".join(FIELDS)}). Paths of your machine were replaced by
placeholders (`<model folder>`, `<working folder>`, `<tmp>`, `~`). No host name, user
name or environment variables. Check `model.onnx` is something you may share.
{notes and chr(10) + "## Notes" + chr(10) + notes}"""
