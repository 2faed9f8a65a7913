"""Read a trtexec command line made by ``workbench.settings.render.trtexec_command`` back.

The round trip settings → plan → command line → settings is how the tests prove the line
says everything the settings say (``tests/test_build_plan.py``).
"""

from __future__ import annotations

import shlex

from workbench.core.errors import BuildSettingsError
from workbench.settings.fields import ProfilingVerbosity
from workbench.settings.render import HW_FLAG
from workbench.settings.settings import BuildSettings, ShapeProfile

__all__ = ["settings_from_trtexec"]


def settings_from_trtexec(command: str) -> BuildSettings:
    """Read a line made by ``trtexec_command`` back into settings.

    trtexec has no flag for a log level other than ``--verbose``: anything else reads
    back as INFO.
    """
    values: dict[str, object] = {}
    build = command
    if " && " in command:
        convert, build = command.split(" && ", 1)
        words = shlex.split(convert)
        values["precision"] = words[words.index("--precision") + 1]
        if "--keep-fp32" in words:
            start = words.index("--keep-fp32") + 1
            values["keep_fp32"] = tuple(words[start:words.index("-o")])
    shapes: dict[str, list[str]] = {"min": [], "opt": [], "max": []}
    for word in shlex.split(build)[1:]:
        flag, _, value = word.partition("=")
        _read_flag(flag.lstrip("-"), value, values, shapes)
    profiles = []
    for low, mid, high in zip(shapes["min"], shapes["opt"], shapes["max"], strict=True):
        triples = zip(low.split(","), mid.split(","), high.split(","), strict=True)
        profiles.append(tuple(ShapeProfile.parse(f"{a},{b.split(':', 1)[1]},{c.split(':', 1)[1]}")
                              for a, b, c in triples))
    values["profiles"] = tuple(profiles)
    return BuildSettings(**values)  # type: ignore[arg-type]


def _read_flag(flag: str, value: str, values: dict[str, object],
               shapes: dict[str, list[str]]) -> None:
    simple = {"fp16": ("precision", "fp16"), "bf16": ("precision", "bf16"),
              "versionCompatible": ("version_compatible", True), "refit": ("refit", True),
              "stripWeights": ("strip_plan", True), "verbose": ("log_severity", "VERBOSE")}
    if flag in simple:
        name, setting = simple[flag]
        values[name] = setting
    elif flag in ("minShapes", "optShapes", "maxShapes"):
        shapes[flag[:3]].append(value)
    elif flag == "memPoolSize":
        values["workspace_mib"] = int(value.removeprefix("workspace:").removesuffix("M"))
    elif flag == "builderOptimizationLevel":
        values["optimization_level"] = int(value)
    elif flag == "layerPrecisions":
        values["keep_fp32"] = tuple(item.rsplit(":", 1)[0] for item in value.split(","))
    elif flag == "hardwareCompatibilityLevel":
        values["hardware_compatibility"] = next(k for k, v in HW_FLAG.items() if v == value)
    elif flag == "timingCacheFile":
        values["timing_cache"] = value
    elif flag == "computeCapabilities":
        values["compute_capabilities"] = tuple(value.split(","))
    elif flag == "profilingVerbosity":
        values["profiling_verbosity"] = ProfilingVerbosity(value)
    elif flag not in ("onnx", "saveEngine", "stronglyTyped", "precisionConstraints"):
        raise BuildSettingsError(f"Unknown trtexec flag --{flag}.",
                                 expected="a flag the workbench renders", found=f"--{flag}",
                                 fix="read back only lines made by trtexec_command")
