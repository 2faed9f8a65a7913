"""One error hierarchy for the whole workbench.

Every error a user can meet says three things: what was expected, what was found, and
what to do next. Code raises these with ``raise ... from err`` so the original cause
stays attached for whoever wants the details.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "BackendUnavailableError",
    "BuildCancelled",
    "BuildError",
    "BuildSettingsError",
    "ComparisonError",
    "ConversionError",
    "EngineLoadError",
    "EngineSaveError",
    "InferenceInputError",
    "ModelLoadError",
    "QuantizationError",
    "WorkbenchBug",
    "WorkbenchError",
]


class WorkbenchError(Exception):
    """Base class of every error the workbench raises on purpose.

    Args:
        summary: One line saying what went wrong.
        expected: What the workbench expected to find.
        found: What it found instead.
        fix: What the user can do about it.
        details: Extra lines (for example TensorRT's own error text), shown after the rest.
    """

    def __init__(
        self,
        summary: str,
        *,
        expected: str | None = None,
        found: str | None = None,
        fix: str | None = None,
        details: Sequence[str] = (),
    ) -> None:
        self.summary = summary
        self.expected = expected
        self.found = found
        self.fix = fix
        self.details = tuple(details)
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """The full, multi-line message shown to users."""
        lines = [self.summary]
        if self.expected:
            lines.append(f"  expected: {self.expected}")
        if self.found:
            lines.append(f"  found:    {self.found}")
        if self.fix:
            lines.append(f"  what to do: {self.fix}")
        lines.extend(f"  | {line}" for line in self.details)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready form (used by the CLI's --json and the panel)."""
        return {
            "error": type(self).__name__,
            "summary": self.summary,
            "expected": self.expected,
            "found": self.found,
            "fix": self.fix,
            "details": list(self.details),
        }


class ModelLoadError(WorkbenchError):
    """The ONNX model could not be read: missing, empty, corrupt, or unsafe external data."""


class BackendUnavailableError(WorkbenchError):
    """A TensorRT (or GPU) feature is not available with what is installed here."""


class BuildSettingsError(WorkbenchError):
    """Build settings or optimization profiles are inconsistent."""


class BuildError(WorkbenchError):
    """TensorRT failed to build an engine. ``details`` holds TensorRT's own error lines."""


class BuildCancelled(WorkbenchError):
    """The build was cancelled by the user before it finished."""


class EngineSaveError(WorkbenchError):
    """An engine or its card could not be saved (or would have overwritten a file)."""


class EngineLoadError(WorkbenchError):
    """A serialized engine is truncated, corrupt, foreign, or does not match its card."""


class InferenceInputError(WorkbenchError):
    """Inputs given to a runner do not match the model's names, dtypes or shapes."""


class ComparisonError(WorkbenchError):
    """Outputs could not be compared (for example a report file is malformed)."""


class ConversionError(WorkbenchError):
    """A precision conversion (FP16/BF16) could not produce a type-consistent graph."""


class QuantizationError(WorkbenchError):
    """Quantizing a model (Q/DQ, INT8 or FP8) failed or gave a model TensorRT cannot use."""


class WorkbenchBug(WorkbenchError):
    """An unexpected exception inside the workbench (or a library it calls): a bug to
    report, with its traceback as ``details``; the panel's Bug bundle button zips it."""
