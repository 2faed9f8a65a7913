"""Constant folding with onnx alone: replace what is computable ahead of time by initializers.

TensorRT needs some values (reduction axes, Reshape shapes, Slice bounds) at build time.
Exporters often compute them from the input (``x.mean(dim=-1)`` becomes Shape → Shape →
Sub). When the shapes involved are static, or become static once the input shapes are
frozen, those subgraphs are constants: this module evaluates them one node at a time with
``onnx.reference.ReferenceEvaluator`` and stores the results as initializers.

Re-diagnosing the folded model needs TensorRT, which this layer may not import: use
``workbench.backends.trt.parse.fold_and_diagnose`` for both steps at once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from workbench.core.errors import ModelLoadError
from workbench.graph import graph_values, has_bodies
from workbench.inspection.loading import ModelSource, load_model
from workbench.transforms.control_flow import freeze_input_values, graph_input, inline_if
from workbench.transforms.external import save_staged, without_weights
from workbench.transforms.subgraph import inferred_value_infos

__all__ = ["FoldResult", "fold_constants"]

# Ops whose result differs between runs: never fold them.
_NONDETERMINISTIC = frozenset(
    {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial",
     "Bernoulli"}
)
# Folding a large tensor (ConstantOfShape, Tile, ...) bloats the file for no gain.
_MAX_FOLDED_BYTES = 16 * 1024 * 1024
_MAX_PASSES = 8


@dataclass(frozen=True, eq=False)
class FoldResult:
    """The folded model and what changed.

    Attributes:
        model: The folded ModelProto (the caller's model is never modified).
        folded_nodes: Names (or "#index op") of the nodes replaced by initializers.
        removed_nodes: Nodes dropped because nothing used their outputs any more.
        frozen_inputs: Input name → the static shape it was given.
        out_path: Where the model was saved, when out_path was given.
    """

    model: onnx.ModelProto = field(repr=False)
    folded_nodes: tuple[str, ...]
    removed_nodes: tuple[str, ...]
    frozen_inputs: tuple[tuple[str, tuple[int, ...]], ...] = ()
    out_path: Path | None = None
    frozen_values: tuple[tuple[str, str], ...] = ()  # input name → the value it became

    @property
    def changed(self) -> bool:
        return bool(self.folded_nodes or self.removed_nodes or self.frozen_inputs
                    or self.frozen_values)

    def summary(self) -> str:
        frozen = ", ".join(f"{n}={list(s)}" for n, s in self.frozen_inputs) or "none"
        values = "".join(f"; input {n} frozen to {v}" for n, v in self.frozen_values)
        return (
            f"folded {len(self.folded_nodes)} node(s) into constants, removed "
            f"{len(self.removed_nodes)} dead node(s); frozen input shapes: {frozen}{values}"
        )


def fold_constants(
    source: ModelSource,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
    out_path: str | os.PathLike[str] | None = None,
    *,
    overwrite: bool = False,
    input_values: Mapping[str, object] | None = None,
) -> FoldResult:
    """Fold every constant-computable node of a model into initializers.

    Args:
        source: Path, bytes or ModelProto (never modified).
        input_shapes: Static shapes to freeze graph inputs to, e.g. {"image": [1, 3, 64, 64]};
            makes Shape-based subgraphs of dynamic dims foldable.
        out_path: Save the folded model here: one file (written atomically), or, when its
            weights exceed 64 MiB, the file plus ``<name>.data`` with the large weights.
        overwrite: Allow replacing an existing file at out_path.
        input_values: Values to freeze graph inputs to, e.g. ``{"sr": 16000}``: each becomes
            a constant (and leaves the inputs), so an ``If`` it decides folds into the
            branch it picks (see ``workbench.transforms.control_flow``).

    Raises:
        ModelLoadError: The model cannot be read, or input_shapes do not fit it.
        WorkbenchError: out_path exists and overwrite is False, or cannot be written.
    """
    if isinstance(source, onnx.ModelProto):  # the caller's proto: work on a copy
        model = onnx.ModelProto()
        model.CopyFrom(source)
    else:  # a fresh proto of our own: copying it would double the weights in memory
        model = load_model(source)
    frozen = _freeze_inputs(model, input_shapes or {})
    frozen_values = freeze_input_values(model, input_values) if input_values else ()
    folded: list[str] = []
    for _ in range(_MAX_PASSES):
        step = _fold_pass(model)
        folded.extend(step)
        if not step:
            break
    removed = _drop_dead_nodes(model)
    # one file, or large weights in <name>.data one tensor at a time (may exceed 2 GiB)
    saved = (None if out_path is None
             else save_staged(model, None, Path(out_path), overwrite=overwrite))
    return FoldResult(model, tuple(folded), tuple(removed), frozen, saved, frozen_values)


def _freeze_inputs(
    model: onnx.ModelProto, shapes: Mapping[str, Sequence[int]]
) -> tuple[tuple[str, tuple[int, ...]], ...]:
    inputs = {i.name: i for i in model.graph.input}
    frozen = []
    for name, shape in shapes.items():
        dims = graph_input(inputs, name, "shape").type.tensor_type.shape.dim
        wanted = tuple(int(d) for d in shape)
        if len(dims) != len(wanted) or any(d < 1 for d in wanted):
            raise ModelLoadError(
                f"Cannot freeze the shape of {name!r} to {list(wanted)}.",
                expected=f"{len(dims)} positive dimensions (the input's rank)",
                found=f"{len(wanted)} dimensions {list(wanted)}",
                fix="give one positive size per dimension",
            )
        for dim, size in zip(dims, wanted, strict=True):
            if dim.HasField("dim_value") and dim.dim_value != size:
                raise ModelLoadError(
                    f"Cannot freeze the shape of {name!r} to {list(wanted)}.",
                    expected=f"the model's static sizes kept ({dim.dim_value} stays)",
                    found=f"{size} for a dimension the model fixes at {dim.dim_value}",
                    fix="change only the dynamic dimensions",
                )
            dim.Clear()
            dim.dim_value = size
        frozen.append((name, wanted))
    # Old value_info may hold the symbolic shapes; shape inference recomputes them.
    if frozen:
        del model.graph.value_info[:]
    return tuple(frozen)


def _static_shapes(model: onnx.ModelProto) -> dict[str, tuple[int, ...]]:
    # Custom-domain ops stop inference; what can be known without it is still folded.
    # without the weights: inference copies every value it gets; shapes need the small ones
    shapes = {}
    for name, info in inferred_value_infos(without_weights(model)).items():
        tensor_type = info.type.tensor_type
        if not tensor_type.HasField("shape"):
            continue
        dims = tensor_type.shape.dim
        if all(d.HasField("dim_value") for d in dims):
            shapes[name] = tuple(int(d.dim_value) for d in dims)
    return shapes


def _fold_pass(model: onnx.ModelProto) -> list[str]:
    """One sweep in topological order; returns the names of the nodes it folded."""
    graph = model.graph
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 17)
    shapes = _static_shapes(model)
    graph_inputs = {i.name for i in graph.input}
    values = _LazyArrays({t.name: t for t in graph.initializer if t.name not in graph_inputs})
    folded, kept = [], []
    for index, node in enumerate(graph.node):
        branch = inline_if(node, values)
        if branch is not None:
            inlined, initializers = branch
            kept.extend(inlined)
            graph.initializer.extend(initializers)
            folded.append(node.name or f"#{index} {node.op_type}")
            continue
        result = _evaluate(node, values, shapes, opset)
        if result is None:
            kept.append(node)
            continue
        values.update(result)
        graph.initializer.extend(numpy_helper.from_array(a, n) for n, a in result.items())
        folded.append(node.name or f"#{index} {node.op_type}")
    if folded:
        del graph.node[:]
        graph.node.extend(kept)
    return folded


class _LazyArrays(dict[str, np.ndarray]):
    """Initializer values by name, decoded on first use: a pass over a large model must not
    hold a numpy copy of every weight when only shape tensors get folded."""

    def __init__(self, tensors: dict[str, onnx.TensorProto]) -> None:
        super().__init__()
        self._tensors = tensors

    def __contains__(self, name: object) -> bool:
        return super().__contains__(name) or name in self._tensors

    def __missing__(self, name: str) -> np.ndarray:
        array = numpy_helper.to_array(self._tensors[name])
        self[name] = array
        return array


def _evaluate(
    node: onnx.NodeProto,
    values: dict[str, np.ndarray],
    shapes: dict[str, tuple[int, ...]],
    opset: int,
) -> dict[str, np.ndarray] | None:
    """The node's outputs when they are known ahead of time, else None."""
    if node.domain not in ("", "ai.onnx") or node.op_type in _NONDETERMINISTIC:
        return None
    if has_bodies(node):
        return None  # an If with a known condition is inlined by _fold_pass instead
    if node.op_type in ("Shape", "Size") and node.input[0] in shapes:
        # Only the input's shape matters, not its (run-time) values.
        shape = np.array(shapes[node.input[0]], dtype=np.int64)
        if node.op_type == "Size":
            return {node.output[0]: np.array(int(np.prod(shape)), dtype=np.int64)}
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        return {node.output[0]: shape[attrs.get("start", 0):attrs.get("end")]}
    inputs = [name for name in node.input if name]
    if not all(name in values for name in inputs):
        return None
    try:
        evaluator = ReferenceEvaluator(node, opsets={"": opset})
        outputs = evaluator.run(None, {name: values[name] for name in inputs})
    # The reference runtime lacks some ops and rejects odd attributes: leave such nodes.
    except Exception:
        return None
    result = {name: np.asarray(out) for name, out in zip(node.output, outputs, strict=False)
              if name}
    if sum(a.nbytes for a in result.values()) > _MAX_FOLDED_BYTES:
        return None
    return result


def _drop_dead_nodes(model: onnx.ModelProto) -> list[str]:
    """Remove nodes and initializers that no graph output depends on any more (If/Loop/Scan
    nodes stay: their bodies may matter to TensorRT's triage of the model)."""
    graph = model.graph
    live, needed = graph_values(graph).live(keep_bodies=True)
    removed = [n.name or n.op_type for i, n in enumerate(graph.node) if i not in live]
    if removed:
        kept = [n for i, n in enumerate(graph.node) if i in live]
        del graph.node[:]
        graph.node.extend(kept)
    kept_inits = [t for t in graph.initializer if t.name in needed]
    if len(kept_inits) != len(graph.initializer):
        del graph.initializer[:]
        graph.initializer.extend(kept_inits)
    return removed
