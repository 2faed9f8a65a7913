"""The committed corpus of real exporter output: see ``registry.py`` and ``make_exports.py``."""

from __future__ import annotations

from sample_models.exports.registry import (
    EXPORTS,
    NOT_EXPORTED,
    VOCAB,
    ExportedModel,
    InputSpec,
    export_path,
    exported_model,
    hand_feeds,
)

__all__ = [
    "EXPORTS",
    "NOT_EXPORTED",
    "VOCAB",
    "ExportedModel",
    "InputSpec",
    "export_path",
    "exported_model",
    "hand_feeds",
]
