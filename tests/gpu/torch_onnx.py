"""A small evaluator of ONNX graphs in PyTorch ops, for the FP16 fidelity check.

Each node runs as the PyTorch op of the same meaning, on the tensors' own dtypes: on a GPU a
float16 MatMul is a cuBLAS FP16 GEMM, a float16 Conv a cuDNN FP16 convolution, Softmax and
LayerNormalization PyTorch's CUDA kernels (FP32 internally, FP16 out), element-wise ops
FP16 in and out. That is real GPU FP16 arithmetic on the very graph the workbench measures
on CPU (``onnx2torch`` cannot convert the opset-20 exports, and would re-derive the graph).

Covers the operators of ``sample_models/`` and the realistic corpus (``OPS`` lists them);
any other raises ``NotImplementedError`` naming it. Test tooling only: PyTorch is not a
dependency of the workbench, and nothing in ``workbench/`` imports this.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper

__all__ = ["OPS", "GraphError", "TorchGraph", "torch_dtype"]

Tensor = torch.Tensor
Attrs = dict[str, Any]

_DTYPES = {
    onnx.TensorProto.FLOAT: torch.float32, onnx.TensorProto.FLOAT16: torch.float16,
    onnx.TensorProto.DOUBLE: torch.float64, onnx.TensorProto.INT64: torch.int64,
    onnx.TensorProto.INT32: torch.int32, onnx.TensorProto.INT8: torch.int8,
    onnx.TensorProto.UINT8: torch.uint8, onnx.TensorProto.BOOL: torch.bool,
}


class GraphError(ValueError):
    """A node PyTorch refuses as typed (an ONNX runtime would refuse the graph too)."""


def torch_dtype(onnx_type: int) -> torch.dtype:
    if onnx_type not in _DTYPES:
        raise NotImplementedError(f"ONNX element type {onnx_type} is not covered")
    return _DTYPES[onnx_type]


class TorchGraph:
    """An ONNX model's main graph, evaluated node by node with PyTorch on ``device``."""

    def __init__(self, model: onnx.ModelProto, device: str | torch.device) -> None:
        self.model = model
        self.device = torch.device(device)
        self.opset = {o.domain or "": o.version for o in model.opset_import}
        self.scope: dict[str, Tensor] = {}  # the tensors of the graph being run (for If)

    def tensor(self, proto: onnx.TensorProto) -> Tensor:
        return self.from_numpy(numpy_helper.to_array(proto))

    def from_numpy(self, array: np.ndarray) -> Tensor:
        array = np.array(array, order="C")  # a copy; ascontiguousarray would make 0-d 1-d
        return torch.from_numpy(array).to(self.device)

    def run(self, feeds: Mapping[str, np.ndarray], intermediates: bool = False
            ) -> dict[str, np.ndarray]:
        """Outputs (every tensor when ``intermediates``), as NumPy arrays on the host."""
        values = {name: self.from_numpy(np.asarray(a)) for name, a in feeds.items()}
        values = self.run_graph(self.model.graph, values)
        wanted = values if intermediates else {o.name: values[o.name]
                                               for o in self.model.graph.output}
        return {name: t.detach().cpu().numpy() for name, t in wanted.items()}

    def run_graph(self, graph: onnx.GraphProto, scope: Mapping[str, Tensor]) -> dict[str, Tensor]:
        values = dict(scope)
        for init in graph.initializer:
            values[init.name] = self.tensor(init)
        outer, self.scope = self.scope, values
        try:
            self._run_nodes(graph, values)
        finally:
            self.scope = outer
        return values

    def _run_nodes(self, graph: onnx.GraphProto, values: dict[str, Tensor]) -> None:
        for node in graph.node:
            domain = node.domain if node.domain not in ("", "ai.onnx") else ""
            op = OPS.get((domain, node.op_type))
            if op is None:
                raise NotImplementedError(f"{domain or 'ai.onnx'}:{node.op_type} is not covered")
            inputs = [values[n] if n else None for n in node.input]
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            try:
                outputs = op(self, node, inputs, attrs)
            except RuntimeError as err:  # e.g. float32 meets float16: the graph is ill-typed
                kinds = ", ".join(str(t.dtype).removeprefix("torch.") for t in inputs
                                  if t is not None)
                raise GraphError(f"node {node.name} ({node.op_type}) on {kinds}: "
                                 f"{str(err).splitlines()[0]}") from err
            for name, value in zip(node.output, outputs, strict=False):
                if name:
                    values[name] = value


Op = Callable[[TorchGraph, onnx.NodeProto, list[Any], Attrs], list[Tensor]]
OPS: dict[tuple[str, str], Op] = {}


def op(*names: str, domain: str = "") -> Callable[[Op], Op]:
    def register(func: Op) -> Op:
        for name in names:
            OPS[(domain, name)] = func
        return func
    return register


def ints(t: Tensor | None) -> list[int]:
    return [] if t is None else [int(v) for v in t.reshape(-1).tolist()]


def version(g: TorchGraph, node: onnx.NodeProto) -> int:
    return g.opset.get(node.domain or "", 0)


# ---- element-wise -------------------------------------------------------------------------

_UNARY: dict[str, Callable[[Tensor], Tensor]] = {
    "Relu": torch.relu, "Sigmoid": torch.sigmoid, "Tanh": torch.tanh, "Erf": torch.erf,
    "Sqrt": torch.sqrt, "Exp": torch.exp, "Log": torch.log, "Neg": torch.neg,
    "Abs": torch.abs, "Reciprocal": torch.reciprocal, "Identity": lambda x: x,
    "Not": torch.logical_not,
}


@op(*_UNARY)
def _unary(g: TorchGraph, node: onnx.NodeProto, x: list[Any], a: Attrs) -> list[Tensor]:
    return [_UNARY[node.op_type](x[0])]


@op("Add", "Sub", "Mul", "Div", "Pow", "Equal", "Less", "Greater", "And", "Or")
def _binary(g: TorchGraph, node: onnx.NodeProto, x: list[Any], a: Attrs) -> list[Tensor]:
    left, right = x
    kind = node.op_type
    if kind == "Pow":  # ONNX: the result has the base's type, whatever the exponent's
        return [torch.pow(left, right.to(left.dtype)).to(left.dtype)]
    if kind == "Div" and not left.dtype.is_floating_point:
        return [torch.div(left, right, rounding_mode="trunc")]
    funcs = {"Add": torch.add, "Sub": torch.sub, "Mul": torch.mul, "Div": torch.div,
             "Equal": torch.eq, "Less": torch.lt, "Greater": torch.gt,
             "And": torch.logical_and, "Or": torch.logical_or}
    return [funcs[kind](left, right)]


@op("Where")
def _where(g: TorchGraph, node: onnx.NodeProto, x: list[Any], a: Attrs) -> list[Tensor]:
    return [torch.where(x[0].bool(), x[1], x[2])]


@op("Cast")
def _cast(g: TorchGraph, node: onnx.NodeProto, x: list[Any], a: Attrs) -> list[Tensor]:
    return [x[0].to(torch_dtype(a["to"]))]


@op("Constant")
def _constant(g: TorchGraph, node: onnx.NodeProto, x: list[Any], a: Attrs) -> list[Tensor]:
    if "value" in a:
        return [g.tensor(a["value"])]
    for key, dtype in (("value_float", np.float32), ("value_floats", np.float32),
                       ("value_int", np.int64), ("value_ints", np.int64)):
        if key in a:
            return [g.from_numpy(np.asarray(a[key], dtype=dtype))]
    raise NotImplementedError(f"Constant with {sorted(a)}")


# ---- shapes and indexing ------------------------------------------------------------------

@op("Shape")
def _shape(g: TorchGraph, node: onnx.NodeProto, x: list[Any], a: Attrs) -> list[Tensor]:
    dims = list(x[0].shape)[a.get("start", 0):a.get("end", None)]
    return [torch.tensor(dims, dtype=torch.int64, device=g.device)]


@op("Reshape")
def _reshape(g: TorchGraph, node: onnx.NodeProto, x: list[Any], a: Attrs) -> list[Tensor]:
    shape = ints(x[1])
    if not a.get("allowzero", 0):  # 0 copies the input's dim
        shape = [x[0].shape[i] if d == 0 else d for i, d in enumerate(shape)]
    return [x[0].reshape(shape)]


@op("Flatten")
def _flatten(g: TorchGraph, node: onnx.NodeProto, x: list[Any], a: Attrs) -> list[Tensor]:
    axis = a.get("axis", 1) % (x[0].dim() or 1) if a.get("axis", 1) < 0 else a.get("axis", 1)
    lead = math.prod(x[0].shape[:axis])
    return [x[0].reshape(lead, -1)]


def _axes(g: TorchGraph, node: onnx.NodeProto, x: list[Any], a: Attrs) -> list[int] | None:
    """Axes from the attribute (older opsets) or the second input (newer ones)."""
    if "axes" in a:
        return list(a["axes"])
    return ints(x[1]) if len(x) > 1 and x[1] is not None else None


@op("Unsqueeze")
def _unsqueeze(g: TorchGraph, node: onnx.NodeProto, x: list[Any], a: Attrs) -> list[Tensor]:
    axes = _axes(g, node, x, a) or []
    rank = x[0].dim() + len(axes)
    out = x[0]
    for axis in sorted(ax % rank for ax in axes):
        out = out.unsqueeze(axis)
    return [out]


@op("Squeeze")
def _squeeze(g: TorchGraph, node: onnx.NodeProto, x: list[Any], a: Attrs) -> list[Tensor]:
    axes = _axes(g, node, x, a)
    if axes is None:
        return [x[0].squeeze()]
    return [x[0].squeeze(tuple(ax % x[0].dim() for ax in axes))]


@op("Transpose")
def _transpose(g: TorchGraph, node: onnx.NodeProto, x: list[Any], a: Attrs) -> list[Tensor]:
    perm = a.get("perm") or list(reversed(range(x[0].dim())))
    return [x[0].permute(*perm)]


@op("Concat")
def _concat(g: TorchGraph, node: onnx.NodeProto, x: list[Any], a: Attrs) -> list[Tensor]:
    return [torch.cat([t for t in x if t is not None], dim=a["axis"])]


@op("Split")
def _split(g: TorchGraph, node: onnx.NodeProto, x: list[Any], a: Attrs) -> list[Tensor]:
    axis = a.get("axis", 0)
    sizes = list(a["split"]) if "split" in a else ints(x[1]) if len(x) > 1 else []
    if not sizes:  # equal parts, one per output (num_outputs in opset 18)
        count = a.get("num_outputs", len(node.output))
        sizes = [-(-x[0].shape[axis] // count)] * count
        sizes[-1] = x[0].shape[axis] - sum(sizes[:-1])
    return list(torch.split(x[0], sizes, dim=axis))


@op("Slice")
def _slice(g: TorchGraph, node: onnx.NodeProto, x: list[Any], a: Attrs) -> list[Tensor]:
    data, starts, ends = x[0], ints(x[1]), ints(x[2])
    axes = ints(x[3]) if len(x) > 3 and x[3] is not None else list(range(len(starts)))
    steps = ints(x[4]) if len(x) > 4 and x[4] is not None else [1] * len(starts)
    for start, end, axis, step in zip(starts, ends, axes, steps, strict=True):
        # Python's slice.indices clamps out-of-range bounds as ONNX specifies
        picked = range(*slice(start, end, step).indices(data.shape[axis]))
        index = torch.tensor(list(picked), dtype=torch.int64, device=data.device)
        data = data.index_select(axis % data.dim(), index)
    return [data]


@op("Gather")
def _gather(g: TorchGraph, node: onnx.NodeProto, x: list[Any], a: Attrs) -> list[Tensor]:
    data, index = x[0], x[1].long()
    axis = a.get("axis", 0) % data.dim()
    index = torch.where(index < 0, index + data.shape[axis], index)
    picked = data.index_select(axis, index.reshape(-1))
    shape = (*data.shape[:axis], *index.shape, *data.shape[axis + 1:])
    return [picked.reshape(shape)]


@op("OneHot")
def _one_hot(g: TorchGraph, node: onnx.NodeProto, x: list[Any], a: Attrs) -> list[Tensor]:
    index, depth, values = x[0].long(), int(x[1].reshape(-1)[0]), x[2]
    index = torch.where(index < 0, index + depth, index)
    hot = F.one_hot(index.clamp(0, depth - 1), depth).bool() & (index < depth).unsqueeze(-1)
    out = torch.where(hot, values[1], values[0])
    axis = a.get("axis", -1)
    return [out if axis == -1 else out.movedim(-1, axis % out.dim())]


# ---- reductions, normalisation, activations -----------------------------------------------

@op("ReduceMean", "ReduceMax", "ReduceSum")
def _reduce(g: TorchGraph, node: onnx.NodeProto, x: list[Any], a: Attrs) -> list[Tensor]:
    axes = _axes(g, node, x, a)
    keep = bool(a.get("keepdims", 1))
    if not axes:
        if a.get("noop_with_empty_axes", 0):
            return [x[0]]
        axes = list(range(x[0].dim()))
    dims = tuple(ax % x[0].dim() for ax in axes)
    if node.op_type == "ReduceMax":
        return [torch.amax(x[0], dim=dims, keepdim=keep)]
    func = torch.mean if node.op_type == "ReduceMean" else torch.sum
    return [func(x[0], dim=dims, keepdim=keep)]


@op("ArgMax")
def _argmax(g: TorchGraph, node: onnx.NodeProto, x: list[Any], a: Attrs) -> list[Tensor]:
    data, axis = x[0], a.get("axis", 0)
    if a.get("select_last_index", 0):
        flipped = torch.argmax(data.flip(axis), dim=axis, keepdim=True)
        out = data.shape[axis] - 1 - flipped
    else:
        out = torch.argmax(data, dim=axis, keepdim=True)
    return [out if a.get("keepdims", 1) else out.squeeze(axis)]


@op("Softmax")
def _softmax(g: TorchGraph, node: onnx.NodeProto, x: list[Any], a: Attrs) -> list[Tensor]:
    if version(g, node) >= 13:
        return [torch.softmax(x[0], dim=a.get("axis", -1))]
    axis = a.get("axis", 1) % x[0].dim()  # opset < 13: softmax over the flattened tail
    flat = x[0].reshape(math.prod(x[0].shape[:axis]), -1)
    return [torch.softmax(flat, dim=1).reshape(x[0].shape)]


@op("LayerNormalization")
def _layer_norm(g: TorchGraph, node: onnx.NodeProto, x: list[Any], a: Attrs) -> list[Tensor]:
    data, scale = x[0], x[1]
    bias = x[2] if len(x) > 2 else None
    axis = a.get("axis", -1) % data.dim()
    shape = tuple(data.shape[axis:])
    return [F.layer_norm(data, shape, scale.expand(shape), None if bias is None
                         else bias.expand(shape), a.get("epsilon", 1e-5))]


@op("BatchNormalization")
def _batch_norm(g: TorchGraph, node: onnx.NodeProto, x: list[Any], a: Attrs) -> list[Tensor]:
    data, scale, bias, mean, var = x[:5]
    return [F.batch_norm(data, mean, var, scale, bias, training=False,
                         eps=a.get("epsilon", 1e-5))]


@op("GlobalAveragePool")
def _global_pool(g: TorchGraph, node: onnx.NodeProto, x: list[Any], a: Attrs) -> list[Tensor]:
    return [x[0].mean(dim=tuple(range(2, x[0].dim())), keepdim=True)]


import torch_onnx_nn  # noqa: E402,F401  (registers the remaining operators into OPS)
