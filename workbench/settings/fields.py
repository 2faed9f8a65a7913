"""The build-settings schema, stated once: choices as enums, and one row per setting.

``BuildSettings`` checks its values against ``FIELDS``,
the panel's form (``workbench.ui.build.settings_form``) makes one widget per row, and the CLI
(``workbench.cli.trt_cmds``) one option per row. A new setting is a BuildSettings
attribute plus a row here (and its mapping in ``workbench.settings.plan``);
``tests/test_build_plan.py`` checks the table and the dataclass agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.core.errors import ComparisonError, WorkbenchError
from workbench.core.records import Choice

__all__ = [
    "COMPUTE_CAPABILITIES",
    "FIELDS",
    "LOG_SEVERITIES",
    "REDUCED_PRECISIONS",
    "FieldKind",
    "HardwareCompatibility",
    "Precision",
    "PrecisionArg",
    "ProfilingVerbosity",
    "SettingField",
    "field_named",
    "reduced_precision",
]


class Precision(Choice):
    """The precision of a build, and (FP16, BF16) of a comparison or graph conversion."""

    FP32 = "fp32"
    FP16 = "fp16"
    BF16 = "bf16"

    @property
    def reduced(self) -> bool:
        return self is not Precision.FP32


# Comparisons and graph conversions take the reduced members of Precision rather than an
# enum of their own: what they find (a keep list, a precision to build) goes straight into
# BuildSettings, which holds a Precision.
REDUCED_PRECISIONS: tuple[Precision, ...] = tuple(p for p in Precision if p.reduced)

# A precision as public entry points take it (the enum, or its text "fp16"); each normalises
# it once, on entry, and passes the enum on.
PrecisionArg = Precision | str


def reduced_precision(precision: PrecisionArg, *,
                      error: type[WorkbenchError] = ComparisonError,
                      summary: str = "Precision {found} cannot be compared here.",
                      ) -> Precision:
    """``precision`` (enum or text) as FP16 or BF16, or ``error`` saying what it takes.

    ``summary`` is the error's first line, ``{found}`` in it the value given, quoted."""
    try:
        wanted = Precision(precision)
    except ValueError as err:
        raise _not_reduced(precision, error, summary) from err
    if not wanted.reduced:
        raise _not_reduced(precision, error, summary)
    return wanted


def _not_reduced(precision: object, error: type[WorkbenchError],
                 summary: str) -> WorkbenchError:
    found = repr(str(precision))  # 'fp32', also for Precision.FP32
    allowed = [repr(p.value) for p in REDUCED_PRECISIONS]
    return error(summary.format(found=found), expected=" or ".join(allowed), found=found,
                 fix="use " + " or ".join(f"precision={p}" for p in allowed))


class HardwareCompatibility(Choice):
    NONE = "none"
    AMPERE_PLUS = "ampere_plus"
    SAME_COMPUTE_CAPABILITY = "same_compute_capability"


class ProfilingVerbosity(Choice):
    NONE = "none"
    LAYER_NAMES_ONLY = "layer_names_only"
    DETAILED = "detailed"


LOG_SEVERITIES: tuple[str, ...] = ("INTERNAL_ERROR", "ERROR", "WARNING", "INFO", "VERBOSE")
COMPUTE_CAPABILITIES: tuple[str, ...] = ("7.5", "8.0", "8.6", "8.9", "12.0", "12.1")


class FieldKind(Choice):
    """How a setting is entered: decides the widget and the CLI option's form."""

    CHOICE = "choice"  # one of ``choices`` (dropdown; --opt VALUE)
    NAMES = "names"  # a tuple of names (comma-separated text; --opt A B C)
    MIB = "mib"  # a positive size in MiB or None (text; --opt N)
    LEVEL = "level"  # an integer 0..5 (slider; --opt N)
    FLAG = "flag"  # a boolean (checkbox; --opt)
    PATH = "path"  # a file path or None (text; --opt FILE)
    TARGETS = "targets"  # compute capabilities (multi-select; --opt CC ...)
    PROFILES = "profiles"  # optimization profiles (the profile editor; --shapes)


@dataclass(frozen=True)
class SettingField:
    """One build setting: what it is called where, and how it is entered."""

    name: str  # the BuildSettings attribute
    kind: FieldKind
    label: str  # the form's label (trtexec words a user recognises)
    trtexec: str  # the trtexec flag(s), the form's tooltip
    help: str  # the CLI help
    cli: str  # the CLI option
    choices: tuple[str, ...] = ()
    placeholder: str = ""


def _values(choice: type[Choice]) -> tuple[str, ...]:
    return tuple(member.value for member in choice)


FIELDS: tuple[SettingField, ...] = (
    SettingField("precision", FieldKind.CHOICE, "precision",
                 "--fp16 / --bf16 (TensorRT 10); strongly typed FP16 model (TensorRT 11 / RTX)",
                 "reduced precision: a builder flag (TensorRT 10) or a converted graph",
                 "--precision", _values(Precision)),
    SettingField("keep_fp32", FieldKind.NAMES, "keep in FP32",
                 "--layerPrecisions=NODE:fp32 --precisionConstraints=obey",
                 "node names kept in FP32 with --precision fp16", "--keep-fp32",
                 placeholder="node names, comma-separated"),
    SettingField("workspace_mib", FieldKind.MIB, "workspace (MiB)",
                 "--memPoolSize=workspace:N (MiB); empty = no limit",
                 "workspace limit in MiB", "--workspace",
                 placeholder="TensorRT's default (no limit)"),
    SettingField("optimization_level", FieldKind.LEVEL, "optimization level",
                 "--builderOptimizationLevel (0 fastest build … 5 most tactics)",
                 "builder optimization level, 0-5", "--opt-level"),
    SettingField("profiles", FieldKind.PROFILES, "optimization profile",
                 "--minShapes / --optShapes / --maxShapes",
                 "one optimization profile, e.g. image:1x3x32x32,1x3x224x224,8x3x512x512 "
                 "(default: seeded from the symbolic dims)", "--shapes"),
    SettingField("hardware_compatibility", FieldKind.CHOICE, "hardware compat.",
                 "--hardwareCompatibilityLevel", "hardware compatibility level",
                 "--hardware-compatibility", _values(HardwareCompatibility)),
    SettingField("version_compatible", FieldKind.FLAG, "version compatible",
                 "--versionCompatible (needs a GPU)", "version-compatible engine",
                 "--version-compatible"),
    SettingField("refit", FieldKind.FLAG, "refittable", "--refit (needs a GPU on TensorRT-RTX)",
                 "refittable engine", "--refit"),
    SettingField("strip_plan", FieldKind.FLAG, "strip weights from plan",
                 "--stripWeights (needs a GPU on TensorRT-RTX)", "weight-stripped plan",
                 "--strip-plan"),
    SettingField("timing_cache", FieldKind.PATH, "timing cache", "--timingCacheFile",
                 "timing cache file (read, then written)", "--timing-cache",
                 placeholder="file path; empty = none"),
    SettingField("compute_capabilities", FieldKind.TARGETS, "GPU targets",
                 "--computeCapabilities (TensorRT-RTX); none selected = TensorRT's default "
                 "targets; ctrl/shift-click for more",
                 "TensorRT-RTX targets, e.g. 8.9 12.0", "--compute-capability",
                 COMPUTE_CAPABILITIES),
    SettingField("profiling_verbosity", FieldKind.CHOICE, "profiling verbosity",
                 "--profilingVerbosity", "how much the engine records about its layers",
                 "--profiling-verbosity", _values(ProfilingVerbosity)),
    SettingField("log_severity", FieldKind.CHOICE, "build log level",
                 "--verbose shows VERBOSE; what TensorRT sends to the log below",
                 "least severe TensorRT log level shown", "--log-level", LOG_SEVERITIES),
)


def field_named(name: str) -> SettingField:
    """The row of the setting ``name`` (KeyError for an unknown name)."""
    for field in FIELDS:
        if field.name == name:
            return field
    raise KeyError(name)
