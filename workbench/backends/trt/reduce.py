"""Reduce a model that TensorRT cannot parse (or parses and cannot build) to the smallest
subgraph that fails the same way.

Like ``polygraphy debug reduce``, but driven by the diagnosis: the first node-level parse
issue gives the failing node, so the search only has to find how much of the graph before
that node is needed to reproduce it. Candidates, cheapest first: the failing node alone,
its ancestors alone, then the shortest run of nodes ending at it (binary search on where
the run starts). "The same way" means the same issue category on the same op type.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import onnx

from workbench.backends.trt.parse import diagnose
from workbench.core.errors import WorkbenchError
from workbench.graph import graph_values
from workbench.inspection.control_flow import control_flow
from workbench.inspection.loading import ModelSource, load_model
from workbench.settings.settings import BuildSettings
from workbench.transforms.saving import refuse_existing, save_model_atomic
from workbench.transforms.subgraph import extract_nodes, inferred_value_infos
from workbench.triage.diagnosis import ParseIssue, ParseReport

__all__ = ["BuildReduceResult", "ReduceResult", "reduce_build_failure", "reduce_failure"]


@dataclass(frozen=True)
class ReduceResult:
    """The saved minimal failing model and how it relates to the original.

    Attributes:
        path: Where the reduced model was saved.
        original_node_count: Top-level nodes in the original model.
        node_indices: Indices (in the original model) of the nodes kept.
        node_names: Their names.
        category: The failure reproduced (a ParseIssue category).
        op_type: The op type of the failing node.
        report: The diagnosis of the reduced model.
    """

    path: Path
    original_node_count: int
    node_indices: tuple[int, ...]
    node_names: tuple[str, ...]
    category: str
    op_type: str
    report: ParseReport

    def summary(self) -> str:
        return (
            f"reduced {self.original_node_count} node(s) to {len(self.node_indices)} "
            f"({', '.join(self.node_names)}) still failing with [{self.category}] on "
            f"{self.op_type}; saved to {self.path}"
        )


def reduce_failure(
    source: ModelSource, out_path: str | os.PathLike[str], *, overwrite: bool = False
) -> ReduceResult:
    """Find and save the smallest subgraph that TensorRT rejects like the original model.

    Args:
        source: A model that fails to parse (path, bytes or ModelProto).
        out_path: Where to save the reduced model (atomically).
        overwrite: Allow replacing an existing file at out_path.

    Raises:
        WorkbenchError: The model parses (nothing to reduce), fails as a whole (corrupt
            file, external data: no node to reduce to), or out_path exists.
    """
    target_path = Path(out_path).expanduser()
    if not overwrite:  # fail before the parses, not after
        refuse_existing(target_path)
    original = diagnose(source, node_islands=False)
    target = _target_issue(original)
    model = load_model(source)
    infos = inferred_value_infos(model)
    assert target.node_index is not None  # _target_issue guarantees it

    def fails_same(indices: Sequence[int]) -> ParseReport | None:
        # subgraphs of a model whose parse already survived in a child: no probe each
        report = diagnose(extract_nodes(model, indices, infos), node_islands=False,
                          isolate=False)
        same = any(
            i.category == target.category and i.op_type == target.op_type for i in report.issues
        )
        return report if same else None

    indices, report = _search(model, target.node_index, fails_same)
    saved = save_model_atomic(extract_nodes(model, indices, infos), target_path,
                              overwrite=overwrite)
    names = tuple(model.graph.node[i].name or f"#{i}" for i in indices)
    return ReduceResult(saved, len(model.graph.node), tuple(indices), names,
                        target.category, target.op_type, report)


def _target_issue(report: ParseReport) -> ParseIssue:
    if report:
        raise WorkbenchError(
            f"{report.model} parses cleanly: there is no failure to reduce.",
            expected="a model that TensorRT's parser rejects",
            found=f"a model whose {report.node_count} nodes all parse",
            fix="for a model that parses and then fails to build, use "
            "workbench.reduce_build_failure(model, out_path, settings)",
        )
    for issue in report.issues:
        if issue.node_index is not None:
            return issue
    first = report.issues[0]
    raise WorkbenchError(
        f"{report.model} fails as a whole ({first.category}), not at a node: there is no "
        "subgraph to reduce it to.",
        expected="a parse error at a node",
        found=first.cause,
        fix=first.fixes[0] if first.fixes else "fix the model file first",
    )


def _search(model: onnx.ModelProto, failing: int, fails_same) -> tuple[list[int], ParseReport]:
    """Cheapest candidates first; every candidate contains the failing node."""
    candidates = [[failing], sorted(_ancestors(model, failing) | {failing})]
    for indices in candidates:
        report = fails_same(indices)
        if report is not None:
            return indices, report
    # Shortest run [start .. failing] that still fails; assume failure is monotonic in start.
    last = len(model.graph.node) - 1
    whole = list(range(failing + 1))
    best_report = fails_same(whole)
    if best_report is None:  # the nodes after the failing one matter too: keep them all
        whole = list(range(last + 1))
        best_report = fails_same(whole)
        if best_report is None:
            raise WorkbenchError(
                "Could not reproduce the failure on any subgraph.",
                expected="a subgraph that fails like the whole model",
                found="every extracted subgraph parses or fails differently",
                fix="share the whole model; the failure depends on the full graph",
            )
        return whole, best_report
    low, high = 0, failing  # fails for start=low; find the largest start that still fails
    while low < high:
        mid = (low + high + 1) // 2
        report = fails_same(list(range(mid, failing + 1)))
        if report is not None:
            low, best_report = mid, report
        else:
            high = mid - 1
    return list(range(low, failing + 1)), best_report


def _ancestors(model: onnx.ModelProto, index: int) -> set[int]:
    """The nodes ``index`` depends on through its inputs (not what a body reads)."""
    values = graph_values(model.graph)
    found: set[int] = set()
    stack = [index]
    while stack:
        for name in model.graph.node[stack.pop()].input:
            value = values.get(name)
            k = value.producer_index if value is not None else -1
            if k >= 0 and k not in found:
                found.add(k)
                stack.append(k)
    return found


@dataclass(frozen=True)
class BuildReduceResult:
    """The smallest subgraph found that still fails to build the same way."""

    path: Path
    original_node_count: int
    node_indices: tuple[int, ...]
    node_names: tuple[str, ...]
    failing_node: str
    error: str  # the reduced model's first TensorRT error line

    def summary(self) -> str:
        return (f"reduced {self.original_node_count} node(s) to {len(self.node_indices)} "
                f"({', '.join(self.node_names[:8])}{', …' if len(self.node_names) > 8 else ''})"
                f" still failing to build at {self.failing_node or 'the same place'}; saved "
                f"to {self.path}")


def reduce_build_failure(source: ModelSource, out_path: str | os.PathLike[str],
                         settings: BuildSettings | None = None, *, overwrite: bool = False
                         ) -> BuildReduceResult:
    """Find and save the smallest subgraph that parses but still fails to BUILD the same way.

    The subgraphs keep the model's own inputs (the nodes a failing node depends on, or the
    first nodes up to it), so the same profiles apply. "The same way" means TensorRT's error
    names the same node, or, when it names none, has the same error code.

    Raises:
        WorkbenchError: The model builds (nothing to reduce), or out_path exists.
    """
    target_path = Path(out_path).expanduser()
    if not overwrite:
        refuse_existing(target_path)
    model = load_model(source)
    settings = settings or BuildSettings()
    first = _build_error(model, settings)
    if first is None:
        raise WorkbenchError(
            "This model builds: there is no build failure to reduce.",
            expected="a model that parses and then fails build_serialized_network",
            found="an engine was built with these settings",
            fix="reduce_failure is for parse failures; this model needs neither",
        )
    infos = inferred_value_infos(model)
    failing = _failing_index(model, first)
    signature = _signature(first, model, failing)

    def fails_same(indices: Sequence[int]) -> str | None:
        error = _build_error(extract_nodes(model, indices, infos), settings)
        return error if error is not None and _signature(error, model, failing) == signature \
            else None

    nodes = len(model.graph.node)
    candidates = ([sorted(_cone(model, failing))] if failing is not None else [])
    candidates += [list(range((failing if failing is not None else nodes - 1) + 1))]
    for indices in candidates:
        error = fails_same(indices)
        if error is not None:
            break
    else:
        indices, error = list(range(nodes)), first
    saved = save_model_atomic(extract_nodes(model, indices, infos), target_path,
                              overwrite=overwrite)
    names = tuple(model.graph.node[i].name or f"#{i}" for i in indices)
    where = model.graph.node[failing].name if failing is not None else ""
    return BuildReduceResult(saved, nodes, tuple(indices), names, where, error)


def _build_error(model: onnx.ModelProto, settings: BuildSettings) -> str | None:
    """TensorRT's first error line when the model parses and fails to build, else None."""
    from workbench.backends.trt.build import build_engine
    from workbench.core.errors import BuildError

    inputs = {i.name for i in model.graph.input}
    profiles = tuple(tuple(s for s in p if s.input in inputs) for p in settings.profiles)
    try:
        build_engine(model, replace(settings, profiles=profiles))
    except BuildError as err:
        if err.summary.startswith("TensorRT could not parse"):
            return None  # a cut that no longer parses fails another way
        return (err.details or [err.summary])[0]
    except WorkbenchError:
        return None
    return None


def _failing_index(model: onnx.ModelProto, error: str) -> int | None:
    """The top-level node the error names, or the If/Loop holding the inner node it names."""
    owners = control_flow(model).owners
    for index, node in enumerate(model.graph.node):
        if node.name and re.search(rf"\b{re.escape(node.name)}\b", error):
            return index
    for inner, (_op, owner, _attr) in owners.items():
        if inner and inner in error:
            return next((k for k, n in enumerate(model.graph.node) if n.name == owner), None)
    return None


def _signature(error: str, model: onnx.ModelProto, failing: int | None) -> str:
    if failing is not None:
        return str(_failing_index(model, error))
    code = re.search(r"Error Code \d+", error)
    return code.group(0) if code else error[:40]


def _cone(model: onnx.ModelProto, index: int) -> set[int]:
    """The node and every node it depends on (through inputs and If/Loop body reads)."""
    values = graph_values(model.graph)
    return {index} | values.live(values.reads(index)).nodes
