"""Turn a runtime failure on generated (or uploaded) feeds into which input broke which node.

ONNX Runtime names the failing node in its message ("… running Gather node.
Name:'token_type_embedding' Status Message: … idx=3 must be within the inclusive range
[-2,1]"). Following the graph back from that node to the model inputs says which input, and
an out-of-range index says which value and where. The runtime's own text is kept whole in
the error's details, never cut mid-sentence.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import onnx

from workbench.core.errors import InferenceInputError
from workbench.graph import graph_values

__all__ = ["explain_run_failure", "first_sentence"]

_NODE = re.compile(r"running (\w+) node\. Name:'([^']*)'")
_RANGE = re.compile(r"idx=(-?\d+) must be within the inclusive range \[(-?\d+),\s*(-?\d+)\]")


def first_sentence(text: str, limit: int = 240) -> str:
    """The first sentence of ``text`` (whole), or its first ``limit`` characters up to a
    word boundary followed by "…" when the sentence is longer."""
    flat = " ".join(text.split())
    match = re.search(r"(?<=[.!?])\s", flat)
    sentence = flat[: match.start()] if match else flat
    if len(sentence) <= limit:
        return sentence
    cut = sentence[:limit].rsplit(" ", 1)[0]
    return cut + " …"


def explain_run_failure(message: str, feeds: Mapping[str, np.ndarray],
                        model: onnx.ModelProto | None, backend: str = "ONNX Runtime"
                        ) -> InferenceInputError:
    """An error naming the failing node, the model input behind it and, for an index out of
    range, the offending value and where it is. Falls back to the runtime's words."""
    details = [line for line in message.splitlines() if line.strip()]
    # ORT nests messages (an If reports the node inside its branch): the innermost node
    # says what failed, the outermost one sits in the main graph, where inputs are traced.
    nodes = [(m.group(1), m.group(2)) for m in _NODE.finditer(message)]
    if not nodes or model is None:
        return InferenceInputError(
            f"{backend} failed to run the model with these inputs.",
            expected="inputs whose sizes and values every node of the graph accepts",
            found=_status_text(message), fix=_SIZE_FIX, details=details)
    op, node_name = nodes[-1]
    status = message.rsplit("Status Message:", 1)[-1]
    inputs = _inputs_reaching(model, nodes[0][1])
    bad_index = _RANGE.search(status)
    if bad_index is not None:
        return _index_error(bad_index, op, node_name, inputs, feeds, details, backend)
    shown = "; ".join(f"{name} {_describe(feeds[name])}" for name in inputs if name in feeds)
    inside = f" (inside {nodes[0][1]!r})" if len(nodes) > 1 else ""
    return InferenceInputError(
        f"{backend} failed in node {node_name!r} ({op}){inside}, which reads input(s) "
        f"{', '.join(inputs) or '(none)'}.",
        expected=f"input sizes and values that node {node_name!r} accepts",
        found=f"{shown or 'no model inputs reach it'}; {backend}: {_status_text(status)}",
        fix=_SIZE_FIX, details=details)


_SOURCE_PREFIX = re.compile(r"^\S+\.(?:h|cc|cpp):\d+\s+(?:[^()]*\([^)]*\)\s+)?")


def _status_text(status: str) -> str:
    """The runtime's words without its source location, whole when short."""
    text = _SOURCE_PREFIX.sub("", " ".join(status.split()))
    return text if len(text) <= 320 else first_sentence(text)


_SIZE_FIX = ("change the sizes of the dynamic dims or the value ranges (the size and range "
             "controls of the Run and Compare tabs, FeedOptions(dims=..., int_ranges=...) or "
             "--dim NAME=SIZE in the CLI); image backbones often need sides that are "
             "multiples of 32. Or pass your own inputs as an .npz file")


def _index_error(match: re.Match[str], op: str, node_name: str, inputs: list[str],
                 feeds: Mapping[str, np.ndarray], details: list[str],
                 backend: str) -> InferenceInputError:
    value, low, high = (int(match.group(i)) for i in (1, 2, 3))
    where = [(name, np.argwhere(np.asarray(feeds[name]) == value)) for name in inputs
             if name in feeds and np.asarray(feeds[name]).dtype.kind in "iu"]
    hits = [(name, found) for name, found in where if found.size]
    name, position = (hits[0][0], [int(i) for i in hits[0][1][0]]) if hits else ("?", [])
    return InferenceInputError(
        f"Input {name!r} holds {value} at {position}, outside what node {node_name!r} "
        f"({op}) accepts: indices {low}…{high}.",
        expected=f"{name} values in [0, {high + 1})",
        found=f"values from {int(np.min(feeds[name]))} to {int(np.max(feeds[name]))}"
        if name in feeds else f"{backend}: {first_sentence(details[0] if details else '')}",
        fix=f"set the range of {name} to 0…{high + 1} (the Run and Compare tabs' range "
        f"controls, or FeedOptions(int_ranges={{{name!r}: (0, {high + 1})}})), or pass "
        "valid inputs as an .npz file",
        details=details)


def _inputs_reaching(model: onnx.ModelProto, node_name: str) -> list[str]:
    """The graph inputs that feed ``node_name``, directly or through other nodes."""
    graph = model.graph
    target = next((k for k, node in enumerate(graph.node) if node.name == node_name), None)
    if target is None:
        return []
    values = graph_values(graph)
    reached = values.live(values.reads(target)).names
    return [value.name for value in graph.input if value.name in reached]


def _describe(array: np.ndarray) -> str:
    values = np.asarray(array)
    shape = "×".join(str(d) for d in values.shape) or "scalar"
    return f"{values.dtype} {shape}"
