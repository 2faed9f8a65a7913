"""The FP16 candidate of a precision comparison: NumPy float16 on CPU, or TensorRT on a GPU.

Without a GPU the FP16 graph is evaluated with ``onnx.reference`` on NumPy float16 arrays:
every activation is rounded to float16 and overflows to inf as on a GPU (ONNX Runtime's
CPU kernels would compute FP16 in FP32 and hide exactly the overflow this is meant to
find). MatMul, Gemm and Conv accumulate in FP32 and round their result to FP16, as
tensor-core kernels do. TensorRT is reached only through ``workbench.backends.trt``,
imported inside a function once pycuda is known to be installed.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import ml_dtypes
import numpy as np
import onnx

from workbench.backends.ort import cast_array
from workbench.backends.reference_calls import direct_call
from workbench.backends.reference_ops import average_pool_op, inference_batch_norm_op
from workbench.core.errors import ComparisonError, WorkbenchError
from workbench.feeds.explain import first_sentence
from workbench.graph import has_bodies, outer_reads
from workbench.settings.fields import Precision

__all__ = [
    "BF16_PATH", "NUMPY_PATH", "TENSORRT_PATH", "candidate_names", "evaluate_fp16",
    "map_candidate", "stream_values", "tensorrt_outputs",
]

NUMPY_PATH = (
    "numpy float16 via onnx.reference on CPU (every activation rounded to FP16 and "
    "overflowing like FP16; MatMul/Gemm/Conv accumulate in FP32 like tensor cores, "
    "BatchNormalization is one FP32 scale like TensorRT's folded one)"
)
BF16_PATH = (
    "numpy bfloat16 (ml_dtypes) via onnx.reference on CPU (every activation rounded to "
    "BF16; MatMul/Gemm/Conv, reductions and normalisations accumulate in FP32 as GPU "
    "kernels do)"
)
TENSORRT_PATH = "TensorRT engine on GPU"


def map_candidate(
    fp32: onnx.ModelProto, fp16: onnx.ModelProto, values: Mapping[str, np.ndarray],
    views: Mapping[str, str] | None = None,
) -> dict[str, np.ndarray]:
    """Candidate values keyed by FP32 tensor names.

    ``views`` (from ``Conversion``) names the reduced-
    precision copy of a tensor where the conversion made one: for a kept node that is the
    Cast back to FP16, so an overflow at the region's edge shows; for a graph output, its
    FP16 producer. Other tensors are taken under their own name, or found through their
    node's name and output position.
    """
    by_name = {node.name: node for node in fp16.graph.node}
    views = views or {}
    mapped = {}
    for node in fp32.graph.node:
        twin = by_name.get(node.name)
        for position, tensor in enumerate(node.output):
            if views.get(tensor) in values:
                mapped[tensor] = values[views[tensor]]
            elif tensor in values:
                mapped[tensor] = values[tensor]
            elif twin is not None and position < len(twin.output):
                renamed = twin.output[position]
                if renamed in values:
                    mapped[tensor] = values[renamed]
    return mapped


def evaluate_fp16(
    model: onnx.ModelProto, feeds: Mapping[str, np.ndarray], intermediates: bool
) -> dict[str, np.ndarray]:
    """Run the FP16 graph with NumPy float16 arithmetic; all tensors when asked."""
    from onnx.reference import ReferenceEvaluator

    try:
        evaluator = ReferenceEvaluator(model, new_ops=_fp32_accumulating_ops())
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            if intermediates:
                results = cast(dict[str, Any], evaluator.run(None, dict(feeds), intermediate=True))
            else:
                names = [o.name for o in model.graph.output]
                results = dict(zip(names, evaluator.run(None, dict(feeds)), strict=True))
    except Exception as err:  # the reference runtime raises plain Python errors per op
        raise _evaluation_error(err, model, None) from err
    return {name: np.asarray(v) for name, v in results.items()}


def candidate_names(fp32: onnx.ModelProto, fp16: onnx.ModelProto,
                    views: Mapping[str, str] | None = None) -> dict[str, str]:
    """Reduced-precision graph tensor -> the FP32 tensor it stands for (the names
    ``map_candidate`` would pick, known before anything runs)."""
    by_name = {node.name: node for node in fp16.graph.node}
    produced = {name for node in fp16.graph.node for name in node.output if name}
    views = views or {}
    names: dict[str, str] = {}
    for node in fp32.graph.node:
        twin = by_name.get(node.name)
        for position, tensor in enumerate(node.output):
            if views.get(tensor) in produced:
                names[views[tensor]] = tensor
            elif tensor in produced:
                names[tensor] = tensor
            elif twin is not None and position < len(twin.output):
                renamed = twin.output[position]
                if renamed in produced:
                    names[renamed] = tensor
    return names


def stream_values(
    model: onnx.ModelProto,
    weights: dict[str, np.ndarray],
    feeds: Mapping[str, np.ndarray],
    on_node: Callable[[int, int], None] | None = None,
    fell_back: list[str] | None = None,
) -> Iterator[tuple[onnx.NodeProto, dict[str, np.ndarray]]]:
    """Evaluate ``model`` node by node, yielding each node's outputs as they are made.

    Only live tensors are held: each is dropped after the last node that reads it (and
    ``weights``, a dict this call consumes, loses each weight after its last use), so the
    memory of an evaluation is the weights plus the activations in flight, not every
    intermediate of the graph. ``weights`` supplies initializers kept out of ``model`` to
    save memory. The consumer keeps what it needs of each yielded dict.
    ``on_node(done, total)`` reports progress. A node ``onnx.reference`` cannot evaluate
    is evaluated by ONNX Runtime instead (``_evaluate_elsewhere``), and its name is
    appended to ``fell_back``.
    """
    try:
        evaluator = _evaluator_class()(model, new_ops=list(_kernels(*_standard_ops(model))))
    except Exception as err:  # unknown operators fail while the evaluator is set up
        raise _evaluation_error(err, model, None) from err
    nodes = list(model.graph.node)
    # the names each node reads and makes, read once from the protos (~1 µs a field read)
    names = [(tuple(node.input), tuple(node.output)) for node in nodes]
    dying = _last_uses(nodes, names, {o.name for o in model.graph.output})
    results: dict[str, Any] = {"": None, **evaluator.rt_inits_, **feeds}
    results.update(weights)
    weights.clear()  # ownership moves to ``results``, which frees each after its last use
    # each kernel called directly, its attributes bound once (reference_calls)
    steps = [(node, reads, makes, direct_call(runtime)) for node, (reads, makes), runtime
             in zip(nodes, names, evaluator.rt_nodes_, strict=True)]
    for index, (node, reads, makes, call) in enumerate(steps):
        try:
            inputs = [results[name] for name in reads]
            with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
                outputs: Sequence[Any] = call(*inputs, context=results)
        except Exception as err:  # the reference runtime raises plain Python errors per op
            outputs = _evaluate_elsewhere(node, inputs, model, err)
            if fell_back is not None:
                fell_back.append(node.name or node.op_type)
        del inputs
        produced = {name: np.asarray(value)
                    for name, value in zip(makes, outputs, strict=False) if name}
        del outputs
        results.update(produced)
        yield node, produced
        del produced
        for name in dying[index]:
            results.pop(name, None)
        if on_node is not None:
            on_node(index + 1, len(nodes))


@functools.cache
def _evaluator_class() -> type:
    """``ReferenceEvaluator`` looking each operator's kernel class up once per graph, not
    once per node (``_load_impl``: a third of setting up a graph of a real export, whose
    hundreds of Constant/Unsqueeze/Concat nodes share a few classes). What is not a class
    (a function body's evaluator, made per node) and context-dependent lookups are left
    as they are."""
    from onnx.reference import ReferenceEvaluator

    class Evaluator(ReferenceEvaluator):
        def _load_impl(self, node: onnx.NodeProto, input_types: Any = None) -> Any:
            if input_types is not None:
                return super()._load_impl(node, input_types)
            known = self.__dict__.setdefault("_workbench_kernels", {})
            key = (node.domain, node.op_type)
            if key not in known:
                found = super()._load_impl(node)
                if not isinstance(found, type):
                    return found
                known[key] = found
            return known[key]

    return Evaluator


@functools.lru_cache(maxsize=32)
def _kernels(version: int, used: frozenset[str]) -> tuple[type, ...]:
    """The evaluator's own kernels for a graph of this opset using these operators: made
    once per such pair (building the classes took ~3 ms an evaluation), then shared (the
    classes hold no state; each evaluation makes its own instances)."""
    return (*_fp32_accumulating_ops(), *_bf16_widened_ops(version, used),
            *_unimplemented_ops(version, used))


def _unimplemented_ops(version: int, used: frozenset[str]) -> list[type]:
    """Stand-ins for standard operators onnx.reference has no kernel for (GlobalLpPool…):
    they raise when run, so ``_evaluate_elsewhere`` evaluates those nodes with ONNX
    Runtime instead of the whole evaluator refusing the graph."""
    from onnx.reference.op_run import OpRun
    from onnx.reference.ops import load_op

    missing = set()
    for op_type in used:  # once per operator type, not per node
        try:
            load_op("", op_type, version)
        except Exception:  # any refusal means "no kernel here"
            if not _has_function(op_type, version):
                missing.add(op_type)

    def _run(self: Any, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
        raise NotImplementedError(f"onnx.reference has no kernel for {self.op_type}")

    return [type(op, (OpRun,), {"_run": _run, "op_domain": ""}) for op in sorted(missing)]


def _standard_ops(model: onnx.ModelProto) -> tuple[int, frozenset[str]]:
    """The model's standard-domain opset and the operator types of its main graph."""
    version = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    return version, frozenset(node.op_type for node in model.graph.node
                              if node.domain in ("", "ai.onnx"))


def _has_function(op_type: str, version: int) -> bool:
    try:
        schema = onnx.defs.get_schema(op_type, version, "")
    except onnx.defs.SchemaError:
        return False
    # the stubs' attribute names differ between onnx releases
    return bool(getattr(schema, "has_function", False)
                or getattr(schema, "has_context_dependent_function", False))


def _evaluate_elsewhere(node: onnx.NodeProto, inputs: list[Any], model: onnx.ModelProto,
                        err: Exception) -> list[Any]:
    """The node's outputs from ONNX Runtime (FP32 on the rounded inputs), rounded back to
    the inputs' reduced precision: onnx.reference and ONNX Runtime disagree on a few ops
    (jax2onnx's ``Squeeze`` gave "AxisError: axis 2 is out of bounds"), and one node must
    not stop a whole comparison. Nodes with subgraphs, and custom operators, still fail."""
    from workbench.backends.ort_node import run_node

    if has_bodies(node) or node.domain not in ("", "ai.onnx"):
        raise _evaluation_error(err, model, node) from err
    low = next((a.dtype for a in inputs if getattr(a, "dtype", None) in _LOW_DTYPES), None)
    try:
        values = run_node(node, inputs, model.opset_import)
    except WorkbenchError as second:
        raise _evaluation_error(err, model, node) from second
    if low is None:
        return values
    return [v.astype(low) if v is not None and v.dtype == np.float32 else v for v in values]


def _last_uses(nodes: Sequence[onnx.NodeProto],
               names: Sequence[tuple[tuple[str, ...], tuple[str, ...]]],
               outputs: set[str]) -> list[list[str]]:
    """Per node index, the tensors no later node reads (subgraphs' outer names count);
    ``names``: each node's (inputs, outputs)."""
    last: dict[str, int] = {}
    for index, (node, (reads, makes)) in enumerate(zip(nodes, names, strict=True)):
        if has_bodies(node):
            reads = (*reads, *outer_reads(node))
        for name in (*reads, *makes):
            last[name] = index
    dying: list[list[str]] = [[] for _ in nodes]
    for name, index in last.items():
        if name and name not in outputs:
            dying[index].append(name)
    return dying


def _evaluation_error(err: Exception, model: onnx.ModelProto,
                      node: onnx.NodeProto | None) -> ComparisonError:
    custom = sorted({f"{n.domain}::{n.op_type}" for n in model.graph.node
                     if n.domain not in ("", "ai.onnx", "ai.onnx.ml")})
    where = "" if node is None else f" (at node {node.name or node.op_type}, {node.op_type})"
    return ComparisonError(
        f"The graph cannot be evaluated on CPU (onnx.reference){where}.",
        expected="operators that onnx.reference implements (standard ONNX domains)",
        found=f"{type(err).__name__}: {first_sentence(str(err))}",
        fix=(f"none on this machine: {', '.join(custom)} run only in ONNX Runtime, and "
             "TensorRT's parser rejects them too, so no FP16 engine of this model exists to "
             "compare; replace them with standard ONNX operators to compare FP16")
        if custom else "report the operator named above to the workbench",
        details=[line for line in str(err).splitlines() if line.strip()],
    )


_LOW_DTYPES = (np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16))


def _fp32_accumulating_ops() -> list[type]:
    """MatMul/Gemm/Conv that accumulate in FP32 and round once to FP16 (tensor-core style).

    Also much faster: NumPy has no float16 BLAS, so a float16 matmul is a slow loop.
    """
    from onnx.reference.ops.op_conv import Conv
    from onnx.reference.ops.op_gemm import Gemm_7
    from onnx.reference.ops.op_matmul import MatMul

    return [_widening(MatMul, "MatMul", _LOW_DTYPES), _widening(Gemm_7, "Gemm", _LOW_DTYPES),
            _widening(Conv, "Conv", _LOW_DTYPES), inference_batch_norm_op(), average_pool_op()]


def _widening(base: type, name: str, dtypes: tuple[np.dtype, ...],
              schema: onnx.defs.OpSchema | None = None) -> type:
    """``base`` computed in FP32 when an input has one of ``dtypes``, rounded back once.

    ``schema``: the operator's schema at the model's opset. onnx.reference reads a kernel's
    attributes from the schema of its class *name*, which here has no version suffix (the
    name is what replaces the built-in kernel): without it, an opset-17 ReduceMean was given
    opset 18's ``noop_with_empty_axes`` and refused."""

    def _run(self: Any, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
        low = next((a.dtype for a in args if getattr(a, "dtype", None) in dtypes), None)
        if low is None:
            return base._run(self, *args, **kwargs)  # type: ignore[attr-defined]
        # cast_array: astype's bits at F16C speed (the weights are widened on every run)
        wide = [cast_array(a, np.float32) if getattr(a, "dtype", None) in dtypes else a
                for a in args]
        result = base._run(self, *wide, **kwargs)  # type: ignore[attr-defined]
        return tuple(cast_array(r, low) if getattr(r, "dtype", None) == np.float32 else r
                     for r in result)

    members: dict[str, Any] = {"_run": _run, "op_domain": ""}
    if schema is not None:
        members["op_schema"] = schema
    return type(name, (base,), members)


# Reductions and normalisations, which GPUs accumulate in FP32. NumPy does too for float16
# (np.mean/np.add.reduce use float32 intermediates), but not for ml_dtypes' bfloat16, whose
# sums then round at every step: ResNet's GlobalAveragePool over 1,024 values was off by
# 25% in BF16.
_BF16_WIDENED = ("ReduceMean", "ReduceSum", "ReduceSumSquare", "ReduceL1", "ReduceL2",
                 "ReduceLogSumExp", "GlobalAveragePool", "LpPool",
                 "GlobalLpPool", "LayerNormalization", "InstanceNormalization", "Softmax",
                 "LogSoftmax")


def _bf16_widened_ops(version: int, used: frozenset[str]) -> list[type]:
    from onnx.reference.ops import load_op

    made = []
    for op_type in sorted(used & set(_BF16_WIDENED)):
        try:
            base = load_op("", op_type, version)
        except Exception:  # no kernel here: _unimplemented_ops stands in for it
            continue
        schema = onnx.defs.get_schema(op_type, version, "")
        made.append(_widening(base, op_type, (np.dtype(ml_dtypes.bfloat16),), schema))
    return made


def tensorrt_outputs(
    model: onnx.ModelProto | Path, keep: tuple[str, ...], feeds: Mapping[str, np.ndarray],
    precision: Precision = Precision.FP16,
) -> tuple[dict[str, np.ndarray] | None, list[str]]:
    """The GPU hook: outputs of an FP16 TensorRT engine, or None where that cannot run.

    Tried only when pycuda is installed (no engine runs without it) and
    ``TrtRunner.can_run()`` says a GPU is usable. The engine is built by the workbench's
    own builder with ``precision="fp16"`` and the same keep list, so its graph is the one
    measured on CPU. A failure falls back to the NumPy path, with the reason as a note.
    """
    if importlib.util.find_spec("pycuda") is None:
        return None, []
    try:
        from workbench.backends.trt.runtime.runner import TrtRunner

        ready, why = TrtRunner.can_run()
    except Exception as err:  # any TensorRT/pycuda import problem means "no GPU path here"
        return None, [f"TensorRT path not usable ({type(err).__name__}: {err})"]
    if not ready:
        return None, [f"TensorRT path not usable: {why}"]
    try:
        from workbench.backends.trt.build import build_engine
        from workbench.settings.fields import Precision
        from workbench.settings.settings import BuildSettings

        settings = BuildSettings(precision=Precision(precision), keep_fp32=keep)
        artifact = build_engine(model, settings)
        with TrtRunner(artifact.plan) as runner:
            outputs = runner.infer(dict(feeds))
    except WorkbenchError as err:
        return None, [f"TensorRT path failed, the NumPy {precision.upper()} evaluation is used "
                      f"instead: {err.summary}"]
    return {name: np.asarray(value) for name, value in outputs.items()}, []
