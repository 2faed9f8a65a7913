"""The precision comparison checks its own FP32 evaluation against ONNX Runtime.

``workbench.compare.reference_check`` decides whether two sets of FP32 outputs agree;
this module gets the CPU evaluator's FP32 outputs (when the per-layer run did not already
make them) and, when they disagree with ONNX Runtime, finds the first node where the two
part: the FP32 graph is evaluated node by node with ``onnx.reference`` and each node is
evaluated again by ONNX Runtime on the very same input values, so the node found is the
one whose kernel differs, not one downstream of it. Only live tensors are held.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import onnx

from workbench.app.precision.layerwise import fp32_weights, without_external
from workbench.backends.reference import stream_values
from workbench.compare.reference_check import ReferenceCheck, disagreement, reference_mismatches
from workbench.core.errors import WorkbenchError
from workbench.graph import has_bodies
from workbench.transforms.external import StagedModel

__all__ = ["check_reference", "cpu_fp32_outputs"]


def cpu_fp32_outputs(staged: StagedModel, model: onnx.ModelProto,
                     feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The FP32 graph's outputs, evaluated as the candidate is (onnx.reference on CPU)."""
    wanted = {o.name for o in model.graph.output}
    outputs: dict[str, np.ndarray] = {}
    for _node, produced in stream_values(without_external(model), fp32_weights(staged, model),
                                         feeds):
        outputs.update((k, v) for k, v in produced.items() if k in wanted)
    return outputs


def check_reference(staged: StagedModel, model: onnx.ModelProto,
                    feeds: Mapping[str, np.ndarray], ort_outputs: Mapping[str, np.ndarray],
                    cpu_outputs: Mapping[str, np.ndarray] | None = None) -> ReferenceCheck:
    """Check the CPU evaluator's FP32 outputs against ONNX Runtime's on the same feeds;
    when they part, name the first node whose kernels disagree."""
    if cpu_outputs is None:
        try:
            cpu_outputs = cpu_fp32_outputs(staged, model, feeds)
        except WorkbenchError:  # the candidate's evaluation fails the same way, and says so
            return ReferenceCheck(())
    check = reference_mismatches(ort_outputs, cpu_outputs)
    if check.agrees:
        return check
    node, op_type, detail = first_parting_node(staged, model, feeds)
    return ReferenceCheck(check.checked, check.mismatches, node, op_type, detail)


def first_parting_node(staged: StagedModel, model: onnx.ModelProto,
                       feeds: Mapping[str, np.ndarray]) -> tuple[str, str, str]:
    """(node, op type, what differs) of the first node whose onnx.reference outputs differ
    from ONNX Runtime's on the same inputs; empty strings when none is found."""
    from workbench.backends.ort_node import run_node

    nodes = list(model.graph.node)
    last = _last_reads(nodes)
    values: dict[str, Any] = {**_inline_weights(model), **fp32_weights(staged, model), **feeds}
    for index, (node, produced) in enumerate(
            stream_values(without_external(model), fp32_weights(staged, model), feeds)):
        values.update(produced)
        inputs = [values.get(name) if name else None for name in node.input]
        if _checkable(node) and all(v is not None for n, v in zip(node.input, inputs,
                                                                   strict=True) if n):
            try:
                expected = run_node(node, inputs, model.opset_import)
            except WorkbenchError:
                expected = []
            for name, value in zip(node.output, expected, strict=False):
                if name and value is not None and name in produced:
                    found = disagreement(name, value, produced[name])
                    if found is not None:
                        return node.name, node.op_type, found.describe()
        for name in last.get(index, ()):
            values.pop(name, None)
    return "", "", ""


def _checkable(node: onnx.NodeProto) -> bool:
    """Nodes ONNX Runtime can evaluate alone: standard domain, no subgraph."""
    return node.domain in ("", "ai.onnx") and not has_bodies(node)


def _inline_weights(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    from onnx import numpy_helper

    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer
            if t.data_location != onnx.TensorProto.EXTERNAL}


def _last_reads(nodes: list[onnx.NodeProto]) -> dict[int, list[str]]:
    """Per node index, the tensors read for the last time there (then dropped)."""
    last: dict[str, int] = {}
    for index, node in enumerate(nodes):
        for name in (*node.input, *node.output):
            last[name] = index
    dying: dict[int, list[str]] = {}
    for name, index in last.items():
        dying.setdefault(index, []).append(name)
    return dying
