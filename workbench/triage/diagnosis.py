"""Parse reports: why TensorRT cannot parse a model, node by node (pure Python).

``ParseReport`` is what ``workbench.diagnose`` returns: truthy when the whole model parses,
otherwise one ``ParseIssue`` per TensorRT parser error (mapped to its ONNX node, with a
category, a plain-words cause and fixes from the catalogue in ``diagnosis_catalogue``) and
the supported / unsupported ``NodeIsland``s. No onnx and no TensorRT here: reports can be
saved as JSON, reloaded and shown anywhere.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from workbench.core.records import TensorSpec
from workbench.triage.catalogue import (
    CATEGORIES,
    explain_build_failure,
    explain_load_failure,
    explain_parse_error,
)
from workbench.triage.groups import IssueGroup, group_issues, groups_headline

__all__ = [
    "CATEGORIES",
    "REFUSED",
    "IssueGroup",
    "NodeIsland",
    "ParseIssue",
    "ParseReport",
    "explain_build_failure",
    "explain_load_failure",
    "explain_parse_error",
]


# The code of issues found by the workbench's own validation, before TensorRT ran.
REFUSED = "REFUSED_BEFORE_PARSING"


@dataclass(frozen=True)
class NodeIsland:
    """A run of consecutive top-level nodes that TensorRT can (or cannot) import together."""

    supported: bool
    node_indices: tuple[int, ...]
    node_names: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "supported": self.supported,
            "node_indices": list(self.node_indices),
            "node_names": list(self.node_names),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NodeIsland:
        return cls(
            bool(data["supported"]),
            tuple(int(i) for i in data["node_indices"]),
            tuple(str(n) for n in data["node_names"]),
        )

    def text(self) -> str:
        first, last = self.node_indices[0], self.node_indices[-1]
        span = f"node {first}" if first == last else f"nodes {first}-{last}"
        names = ", ".join(self.node_names[:4]) + (", ..." if len(self.node_names) > 4 else "")
        return f"{span} ({names})"


@dataclass(frozen=True)
class ParseIssue:
    """One TensorRT parser error (or a refusal before parsing), explained.

    ``node_index`` is the position in the main graph's node list, None when the error is
    about the model as a whole (corrupt file, external data) or about a graph input or
    initializer, which ``tensor`` then names (TensorRT reports those at node -1).
    """

    category: str
    cause: str
    fixes: tuple[str, ...]
    raw: str
    code: str = ""
    node_index: int | None = None
    node_name: str = ""
    op_type: str = ""
    domain: str = ""
    inputs: tuple[TensorSpec, ...] = ()
    outputs: tuple[TensorSpec, ...] = ()
    attributes: tuple[tuple[str, str], ...] = ()
    local_function_stack: tuple[str, ...] = ()
    origin: str = ""  # TensorRT source location (file:line function), for bug reports
    tensor: str = ""  # the graph input / initializer a node-less issue concerns

    @property
    def title(self) -> str:
        if self.node_index is None and self.tensor:
            spec = next((s for s in self.inputs if s.name == self.tensor), None)
            kind = f" ({spec.dtype} {spec.shape_text()})" if spec else ""
            return f"[{self.category}] graph input {self.tensor!r}{kind}"
        if self.node_index is None:
            return f"[{self.category}] the model as a whole"
        domain = f"{self.domain}::" if self.domain else ""
        return (
            f"[{self.category}] node {self.node_index} {self.node_name!r} "
            f"({domain}{self.op_type})"
        )

    def text(self) -> str:
        """A readable block: node, inputs, cause, fixes, TensorRT's own words."""
        lines = [self.title]
        if self.local_function_stack:
            lines.append("  inside local function(s): " + " > ".join(self.local_function_stack))
        for spec in () if self.tensor else self.inputs:  # a tensor issue's title shows it
            lines.append(f"  input  {spec.name}: {spec.dtype} {spec.shape_text()}")
        if self.attributes:
            attrs = ", ".join(f"{k}={v}" for k, v in self.attributes)
            lines.append(f"  attributes: {attrs}")
        lines.append(f"  cause: {self.cause}")
        lines.extend(f"  fix {i}: {fix}" for i, fix in enumerate(self.fixes, 1))
        raw = self.raw.strip().replace("\n", "\n    | ")
        who = "workbench" if self.code == REFUSED else "TensorRT"
        lines.append(f"  {who}{f' ({self.code})' if self.code else ''}: {raw}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "cause": self.cause,
            "fixes": list(self.fixes),
            "raw": self.raw,
            "code": self.code,
            "node_index": self.node_index,
            "node_name": self.node_name,
            "op_type": self.op_type,
            "domain": self.domain,
            "inputs": [s.to_dict() for s in self.inputs],
            "outputs": [s.to_dict() for s in self.outputs],
            "attributes": [list(pair) for pair in self.attributes],
            "local_function_stack": list(self.local_function_stack),
            "origin": self.origin,
            "tensor": self.tensor,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ParseIssue:
        index = data.get("node_index")
        return cls(
            category=str(data["category"]),
            cause=str(data["cause"]),
            fixes=tuple(str(f) for f in data.get("fixes", ())),
            raw=str(data.get("raw", "")),
            code=str(data.get("code", "")),
            node_index=None if index is None else int(index),
            node_name=str(data.get("node_name", "")),
            op_type=str(data.get("op_type", "")),
            domain=str(data.get("domain", "")),
            inputs=tuple(TensorSpec.from_dict(s) for s in data.get("inputs", ())),
            outputs=tuple(TensorSpec.from_dict(s) for s in data.get("outputs", ())),
            attributes=tuple((str(k), str(v)) for k, v in data.get("attributes", ())),
            local_function_stack=tuple(str(f) for f in data.get("local_function_stack", ())),
            origin=str(data.get("origin", "")),
            tensor=str(data.get("tensor", "")),
        )


@dataclass(frozen=True)
class ParseReport:
    """What TensorRT's ONNX parser made of a model. Truthy when the whole model parses.

    Attributes:
        model: Where the model came from (its path, or "<model bytes>").
        flavour: The TensorRT module used ("tensorrt" or "tensorrt_rtx"); "" when the
            model was refused before TensorRT saw it.
        version: That module's version.
        parsed: What the parser itself returned (False when it never ran).
        issues: One entry per parser error, in the parser's order.
        islands: Supported and unsupported runs of top-level nodes, in node order.
        node_count: Top-level nodes in the model (0 when it could not be read).
        log: TensorRT's warning and error log lines from the parse.
    """

    model: str
    flavour: str
    version: str
    parsed: bool
    issues: tuple[ParseIssue, ...] = ()
    islands: tuple[NodeIsland, ...] = ()
    node_count: int = 0
    log: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return self.parsed and not self.issues

    @property
    def categories(self) -> tuple[str, ...]:
        """The distinct issue categories, in order of first appearance."""
        return tuple(dict.fromkeys(issue.category for issue in self.issues))

    @property
    def groups(self) -> tuple[IssueGroup, ...]:
        """Issues with the same category, op and domain together, in order of appearance."""
        return group_issues(self.issues)

    @property
    def headline(self) -> str:
        """``DynamicQuantizeLinear ×22, MatMulInteger ×12, …``: what fails, largest first."""
        return groups_headline(self.groups)

    @property
    def unsupported_nodes(self) -> tuple[int, ...]:
        return tuple(i for isl in self.islands if not isl.supported for i in isl.node_indices)

    @property
    def supported_nodes(self) -> tuple[int, ...]:
        return tuple(i for isl in self.islands if isl.supported for i in isl.node_indices)

    def text(self) -> str:
        """The readable report the CLI prints."""
        engine = f"{self.flavour} {self.version}" if self.flavour else "not run"
        if self:
            head = f"{self.model}: parses cleanly ({self.node_count} nodes; TensorRT: {engine})"
        else:
            groups = self.groups
            head = (
                f"{self.model}: does NOT parse - {len(self.issues)} problem(s) in "
                f"{len(groups)} group(s): {self.headline} (TensorRT: {engine})"
            )
        blocks = [head, *(group.text() for group in (() if self else groups))]
        if self.islands and not self:
            lines = ["node islands (from supports_model_v2):"]
            for island in self.islands:
                mark = "supported  " if island.supported else "UNSUPPORTED"
                lines.append(f"  {mark} {island.text()}")
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "ok": bool(self),
            "flavour": self.flavour,
            "version": self.version,
            "parsed": self.parsed,
            "node_count": self.node_count,
            "issues": [issue.to_dict() for issue in self.issues],
            "groups": [group.to_dict() for group in self.groups],
            "islands": [island.to_dict() for island in self.islands],
            "log": list(self.log),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ParseReport:
        return cls(
            model=str(data["model"]),
            flavour=str(data.get("flavour", "")),
            version=str(data.get("version", "")),
            parsed=bool(data["parsed"]),
            issues=tuple(ParseIssue.from_dict(i) for i in data.get("issues", ())),
            islands=tuple(NodeIsland.from_dict(i) for i in data.get("islands", ())),
            node_count=int(data.get("node_count", 0)),
            log=tuple(str(line) for line in data.get("log", ())),
        )

    @classmethod
    def from_json(cls, text: str) -> ParseReport:
        return cls.from_dict(json.loads(text))
