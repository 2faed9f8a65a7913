"""ONNX's checker and shape inference, run so that their failures become text, not crashes.

A summary is most needed for models that are broken, so nothing here raises: each problem
the checker or shape inference finds is returned as one readable line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import onnx
from onnx import TensorProto
from onnx.onnx_cpp2py_export import checker as c_checker

from workbench.core.records import TensorSpec
from workbench.graph import has_bodies, nested_graphs
from workbench.inspection.protos import model_shell, value_info_spec

__all__ = ["ShapeInferenceResult", "checker_problems", "infer_shapes", "strip_inline_weights"]

_MAX_NODE_PROBLEMS = 20
# Inline tensors above this size are replaced by references before shape inference, which
# would otherwise copy every weight into C++ and back. Shape tensors are far smaller.
_STRIP_ABOVE_BYTES = 64 * 1024


@dataclass(frozen=True)
class ShapeInferenceResult:
    """What ONNX shape inference found for the main graph's intermediate tensors."""

    tensors: tuple[TensorSpec, ...]
    missing: tuple[str, ...]  # intermediate tensors that inference could not type
    error: str | None  # the first failure (strict mode), None when inference succeeded

    @property
    def ok(self) -> bool:
        return self.error is None and not self.missing

    def to_dict(self) -> dict[str, Any]:
        return {
            "tensors": [spec.to_dict() for spec in self.tensors],
            "missing": list(self.missing),
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ShapeInferenceResult:
        return cls(
            tuple(TensorSpec.from_dict(item) for item in data["tensors"]),
            tuple(str(name) for name in data["missing"]),
            data["error"],
        )


def one_line(err: BaseException) -> str:
    """ONNX's C++ messages span several lines (with a '==> Context:' tail); join them."""
    return " ".join(line.strip() for line in str(err).splitlines() if line.strip())


def checker_problems(model: onnx.ModelProto, *, data: bytes | None = None) -> tuple[str, ...]:
    """Problems onnx.checker finds, as lines; empty when the model passes.

    The checker stops at its first problem, so after a failure each node is checked on its
    own to list the others too. ``data``: the model's serialized bytes, when at hand.
    """
    twin = _without_weight_data(model)
    try:
        onnx.checker.check_model(twin if twin is not None else data or model)
    except onnx.checker.ValidationError as err:
        first = one_line(err)
    except (ValueError, RuntimeError, OSError) as err:
        return (f"the ONNX checker could not run: {type(err).__name__}: {one_line(err)}",)
    else:
        return ()
    problems = [first]
    for label, text in _node_problems(model):
        if text not in first:  # the model-level failure already names this node's problem
            problems.append(f"{label}: {text}")
    return tuple(problems)


def _without_weight_data(model: onnx.ModelProto) -> bytes | None:
    """The model's bytes with each external or large inline initializer replaced by an
    empty placeholder; None when it has neither.

    The loader has already checked external data more strictly (inside the model folder,
    present, long enough); the checker would instead stat the data file once per tensor,
    relative to the CWD, which costs seconds on models with thousands of weights. Large
    inline weights would be serialized (their size again) only for the checker to skip
    their values: without ``full_check`` it does not compare initializer shapes with the
    nodes, so the placeholders change nothing else. ``model`` itself is not modified.
    """
    graphs = [model.graph, *nested_graphs(model.graph)]
    if not any(_heavy(t) for g in graphs for t in g.initializer):
        return None
    twin = model_shell(model)
    twin.graph.initializer.extend(_placeholder(t) if _heavy(t) else t
                                  for t in model.graph.initializer)
    for graph in nested_graphs(twin.graph):  # copied with their nodes: small, edited in place
        for index, tensor in enumerate(graph.initializer):
            if _heavy(tensor):
                graph.initializer[index].CopyFrom(_placeholder(tensor))
    return twin.SerializeToString()


def _heavy(tensor: onnx.TensorProto) -> bool:
    return (tensor.data_location == TensorProto.EXTERNAL
            or len(tensor.raw_data) > _STRIP_ABOVE_BYTES)


def _placeholder(tensor: onnx.TensorProto) -> onnx.TensorProto:
    # an empty tensor needs no data field
    return onnx.TensorProto(name=tensor.name, data_type=tensor.data_type, dims=[0])


def _node_problems(model: onnx.ModelProto) -> list[tuple[str, str]]:
    ctx = c_checker.CheckerContext()
    try:
        ctx.ir_version = model.ir_version
        ctx.opset_imports = {op.domain: op.version for op in model.opset_import}
    except (TypeError, OverflowError):
        # Versions beyond int32 cannot even be set; the model-level problem names them.
        return []
    problems: list[tuple[str, str]] = []
    for index, node in enumerate(model.graph.node):
        # Subgraphs see outer-scope names this isolated check cannot know: skip, not guess.
        if has_bodies(node):
            continue
        try:
            onnx.checker.check_node(node, ctx, c_checker.LexicalScopeContext())
        except onnx.checker.ValidationError as err:
            problems.append((f"node {index} {node.name!r} ({node.op_type})", one_line(err)))
            if len(problems) >= _MAX_NODE_PROBLEMS:
                break
    return problems


def strip_inline_weights(model: onnx.ModelProto) -> None:
    """Turn large inline initializers into data-less references, in place.

    Only for a proto the caller owns and will not return. Shape inference needs dims and
    dtypes, not values, except for small shape tensors, which are kept.
    """
    for tensor in model.graph.initializer:
        size = len(tensor.raw_data)
        if size <= _STRIP_ABOVE_BYTES or tensor.data_location == TensorProto.EXTERNAL:
            continue
        tensor.ClearField("raw_data")
        tensor.data_location = TensorProto.EXTERNAL
        for key, value in (("location", "<not loaded>"), ("length", str(size))):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, value


def infer_shapes(model: onnx.ModelProto) -> ShapeInferenceResult:
    """Inferred specs of every intermediate tensor, and the first failure as text."""
    error = None
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    # A C++ extension with open-ended failure modes: any failure becomes text, never a crash.
    except Exception as err:
        error = one_line(err) or type(err).__name__
        try:
            # Non-strict inference skips the failing nodes and still types the rest.
            inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False)
        except Exception:  # the strict error above already says why
            inferred = None
    graph_outputs = {value.name for value in model.graph.output}
    intermediates = [
        name for node in model.graph.node for name in node.output
        if name and name not in graph_outputs
    ]
    wanted = set(intermediates)
    specs = {}
    if inferred is not None:
        specs = {
            value.name: value_info_spec(value)
            for value in inferred.graph.value_info if value.name in wanted
        }
    tensors = [specs[name] for name in intermediates if name in specs]
    missing = [name for name in intermediates if name not in specs]
    return ShapeInferenceResult(tuple(tensors), tuple(missing), error)
