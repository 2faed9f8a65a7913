"""Parse issues grouped by what they have in common: the same op and the same cause.

A quantized model gives dozens of near-identical parser errors ("DynamicQuantizeLinear …
false" once per node). One group per (category, op, domain) says it once, with the nodes
listed inside; the report's headline counts the groups ("DynamicQuantizeLinear ×22,
MatMulInteger ×12").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.triage.diagnosis import ParseIssue

__all__ = ["IssueGroup", "group_issues", "groups_headline"]


@dataclass(frozen=True)
class IssueGroup:
    """Issues with the same category, op type and domain (or the same graph tensor kind)."""

    category: str
    op_type: str
    domain: str
    issues: tuple[ParseIssue, ...]

    @property
    def count(self) -> int:
        return len(self.issues)

    @property
    def cause(self) -> str:
        return self.issues[0].cause

    @property
    def fixes(self) -> tuple[str, ...]:
        return self.issues[0].fixes

    @property
    def what(self) -> str:
        """The op (with its domain), or what the node-less issues concern."""
        if self.op_type:
            return f"{self.domain}::{self.op_type}" if self.domain else self.op_type
        tensors = [i.tensor for i in self.issues if i.tensor]
        if tensors:
            return "graph input " + ", ".join(repr(t) for t in tensors)
        return "the model as a whole"

    @property
    def title(self) -> str:
        count = f" ×{self.count}" if self.count > 1 else ""
        return f"{self.what}{count} [{self.category}]"

    @property
    def messages(self) -> tuple[str, ...]:
        """TensorRT's distinct messages in this group (often just one, like 'false')."""
        return tuple(dict.fromkeys(i.raw.strip() for i in self.issues))

    def node_lines(self) -> list[str]:
        """One line per node: index, name and its inputs' types and shapes."""
        lines = []
        for issue in self.issues:
            if issue.node_index is None:
                continue
            specs = ", ".join(f"{s.name}: {s.dtype} {s.shape_text()}" for s in issue.inputs)
            lines.append(f"node {issue.node_index} {issue.node_name!r}"
                         + (f" ({specs})" if specs else ""))
        return lines

    def text(self) -> str:
        """The group as the CLI prints it: header, nodes, cause, fixes, TensorRT's words."""
        if self.count == 1:
            return self.issues[0].text()
        lines = [self.title]
        lines.extend(f"  {line}" for line in self.node_lines())
        lines.append(f"  cause: {self.cause}")
        lines.extend(f"  fix {i}: {fix}" for i, fix in enumerate(self.fixes, 1))
        codes = ", ".join(dict.fromkeys(i.code for i in self.issues if i.code))
        for message in self.messages:
            raw = message.replace("\n", "\n    | ")
            lines.append(f"  TensorRT{f' ({codes})' if codes else ''}: {raw}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"category": self.category, "op_type": self.op_type, "domain": self.domain,
                "count": self.count, "title": self.title,
                "node_indices": [i.node_index for i in self.issues]}


def group_issues(issues: Sequence[ParseIssue]) -> tuple[IssueGroup, ...]:
    """Group issues by (category, op type, domain), in order of first appearance."""
    order: dict[tuple[str, str, str, bool], list[ParseIssue]] = {}
    for issue in issues:
        key = (issue.category, issue.op_type, issue.domain, issue.node_index is None)
        order.setdefault(key, []).append(issue)
    return tuple(IssueGroup(cat, op, dom, tuple(items))
                 for (cat, op, dom, _), items in order.items())


def groups_headline(groups: Sequence[IssueGroup], limit: int = 6) -> str:
    """``DynamicQuantizeLinear ×22, MatMulInteger ×12, …`` (largest groups first)."""
    ranked = sorted(groups, key=lambda g: -g.count)
    parts = [f"{g.what} ×{g.count}" if g.count > 1 else g.what for g in ranked[:limit]]
    if len(ranked) > limit:
        parts.append(f"… {len(ranked) - limit} more")
    return ", ".join(parts)
