"""What a precision conversion did: nodes in FP16/BF16, nodes kept in FP32 and why.

Plain records (no onnx objects except the converted model itself), shown by the build
result, the build log, the accuracy report and the Compare tab.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import onnx

__all__ = ["BLOCKED_OPERATOR", "KEPT_BY_USER", "TYPE_RULE", "Conversion", "ConversionReport",
           "KeptNode"]

KEPT_BY_USER = "kept by user"
BLOCKED_OPERATOR = "blocked operator"
TYPE_RULE = "type rule"

@dataclass(frozen=True)
class KeptNode:
    """A node left in FP32, and why."""

    name: str
    op_type: str
    reason: str  # KEPT_BY_USER, BLOCKED_OPERATOR or TYPE_RULE
    detail: str = ""


@dataclass(frozen=True)
class ConversionReport:
    """What the conversion did: nodes in reduced precision, nodes kept in FP32 and why."""

    precision: str
    low_nodes: int
    kept: tuple[KeptNode, ...]
    other_nodes: int
    casts_added: int
    clamped_values: int = 0
    clamped_tensors: tuple[str, ...] = ()

    @property
    def low_label(self) -> str:
        return self.precision.upper()

    def by_reason(self) -> dict[str, tuple[str, ...]]:
        grouped: dict[str, list[str]] = {}
        for node in self.kept:
            grouped.setdefault(node.reason, []).append(node.name)
        return {reason: tuple(names) for reason, names in grouped.items()}

    def describe(self) -> str:
        """One line, e.g. ``41 nodes in FP16, 2 in FP32 (1 kept by user, 1 blocked operator)``."""
        reasons = ", ".join(f"{len(names)} {reason}" for reason, names in self.by_reason().items())
        text = (f"{self.low_nodes} nodes in {self.low_label}, {len(self.kept)} in FP32"
                + (f" ({reasons})" if reasons else ""))
        if self.other_nodes:
            text += f", {self.other_nodes} without float math (shapes, indices, casts)"
        return text + f"; {self.casts_added} casts added"

    def lines(self, limit: int = 8) -> list[str]:
        """The summary and, per reason, the nodes kept in FP32."""
        out = [self.describe()]
        for reason, names in self.by_reason().items():
            shown = ", ".join(names[:limit]) + (f" ... (+{len(names) - limit})"
                                                 if len(names) > limit else "")
            out.append(f"FP32 ({reason}): {shown}")
        if self.clamped_values:
            out.append(f"{self.clamped_values} weight values beyond the {self.low_label} range "
                       f"were clamped (in {', '.join(self.clamped_tensors[:4])}"
                       + (" ..." if len(self.clamped_tensors) > 4 else "") + ")")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "precision": self.precision, "low_nodes": self.low_nodes,
            "fp32_nodes": len(self.kept), "other_nodes": self.other_nodes,
            "kept": [{"name": k.name, "op_type": k.op_type, "reason": k.reason,
                      "detail": k.detail} for k in self.kept],
            "casts_added": self.casts_added, "clamped_values": self.clamped_values,
            "clamped_tensors": list(self.clamped_tensors),
        }


@dataclass(frozen=True)
class Conversion:
    """A converted model and the report of its conversion."""

    model: onnx.ModelProto = field(repr=False)
    report: ConversionReport
    # original tensor name -> the name of its reduced-precision copy, where the conversion
    # made one (a kept node's output cast down, a graph output's FP16 producer): what the
    # reduced-precision readers of that tensor actually see
    views: dict[str, str] = field(default_factory=dict, repr=False)
