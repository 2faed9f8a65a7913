"""``inspect_model``: what is in an ONNX model, as frozen records (never a proto).

The summary is built from the weight-less proto: parameter counts and sizes come from
initializer dims, dtypes and external-data lengths, so inspecting a model with gigabytes of
external weights reads only its graph.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import onnx

from workbench.core.gcpause import gc_paused
from workbench.core.records import TensorSpec
from workbench.graph import bodies, nested_graphs
from workbench.inspection.checks import (
    ShapeInferenceResult,
    checker_problems,
    infer_shapes,
    strip_inline_weights,
)
from workbench.inspection.loading import (
    ModelSource,
    load_model_file,
    read_model_file,
)
from workbench.inspection.parameters import parameter_stats
from workbench.inspection.protos import (
    graph_io_specs,
    node_attributes,
    tensor_spec_from_tensor,
)

__all__ = ["ModelSummary", "NodeInfo", "OpsetInfo", "ShapeInferenceResult", "SubgraphInfo",
           "inspect_model"]




@dataclass(frozen=True)
class OpsetInfo:
    """One imported operator set; ``domain`` "" is the default ONNX domain (ai.onnx)."""

    domain: str
    version: int

    @property
    def display_domain(self) -> str:
        return self.domain or "ai.onnx"


@dataclass(frozen=True)
class NodeInfo:
    """One node of the main graph, with its attributes summarised as short strings."""

    index: int
    name: str
    op_type: str
    domain: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attributes: tuple[tuple[str, str], ...] = ()

    @property
    def qualified_op(self) -> str:
        """The op type, prefixed by its domain unless it is the default ONNX domain."""
        return _qualified(self.domain, self.op_type)

    @property
    def label(self) -> str:
        """A name to show users: the node name, or ``#index op`` for anonymous nodes."""
        return self.name or f"#{self.index} {self.op_type}"

    def attribute(self, name: str) -> str | None:
        return dict(self.attributes).get(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index, "name": self.name, "op_type": self.op_type,
            "domain": self.domain, "inputs": list(self.inputs), "outputs": list(self.outputs),
            "attributes": dict(self.attributes),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NodeInfo:
        return cls(
            int(data["index"]), str(data["name"]), str(data["op_type"]), str(data["domain"]),
            tuple(data["inputs"]), tuple(data["outputs"]),
            tuple((str(k), str(v)) for k, v in data["attributes"].items()),
        )


@dataclass(frozen=True)
class SubgraphInfo:
    """The body of an If / Loop / Scan node: its owner and its own nodes."""

    owner: str  # the owning node's label; nested bodies: "outer › inner"
    owner_op: str
    attribute: str  # then_branch, else_branch, body
    nodes: tuple[NodeInfo, ...]

    @property
    def label(self) -> str:
        return f"{self.owner_op} {self.owner!r} › {self.attribute} ({len(self.nodes)} nodes)"

    def to_dict(self) -> dict[str, Any]:
        return {"owner": self.owner, "owner_op": self.owner_op, "attribute": self.attribute,
                "nodes": [node.to_dict() for node in self.nodes]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SubgraphInfo:
        return cls(str(data["owner"]), str(data["owner_op"]), str(data["attribute"]),
                   tuple(NodeInfo.from_dict(n) for n in data["nodes"]))


def _qualified(domain: str, op_type: str) -> str:
    return op_type if domain in ("", "ai.onnx") else f"{domain}::{op_type}"


@dataclass(frozen=True)
class ModelSummary:
    """Everything the workbench shows about a model before TensorRT sees it."""

    source: str
    graph_name: str
    producer_name: str
    producer_version: str
    ir_version: int
    opsets: tuple[OpsetInfo, ...]
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    initializers: tuple[TensorSpec, ...]
    parameter_count: int
    parameter_bytes: int
    external_data_bytes: int
    external_data_files: tuple[str, ...]
    nodes: tuple[NodeInfo, ...]
    op_histogram: tuple[tuple[str, int], ...]
    subgraph_count: int
    shape_inference: ShapeInferenceResult
    checker_problems: tuple[str, ...]
    metadata: tuple[tuple[str, str], ...] = field(default=())
    # Weights held in Constant nodes (floating point), also counted in parameter_count/bytes.
    constant_parameter_count: int = 0
    constant_parameter_bytes: int = 0
    subgraphs: tuple[SubgraphInfo, ...] = ()

    @property
    def input_specs(self) -> tuple[TensorSpec, ...]:
        return self.inputs

    @property
    def output_specs(self) -> tuple[TensorSpec, ...]:
        return self.outputs

    @property
    def is_valid(self) -> bool:
        """True when onnx.checker found no problem."""
        return not self.checker_problems

    @property
    def producer(self) -> str:
        return " ".join(part for part in (self.producer_name, self.producer_version) if part)

    def opset_version(self, domain: str = "") -> int | None:
        for opset in self.opsets:
            if opset.domain == domain or (domain in ("", "ai.onnx") and opset.domain in
                                          ("", "ai.onnx")):
                return opset.version
        return None

    def find_node(self, name: str) -> NodeInfo | None:
        """The node called ``name``, or None."""
        return self._nodes_by_name.get(name)

    def tensor_spec(self, name: str) -> TensorSpec | None:
        """Declared or inferred spec of any tensor (inputs, outputs, intermediates, weights)."""
        return self._specs_by_name.get(name)

    def producer_of(self, tensor: str) -> NodeInfo | None:
        """The node whose output is ``tensor`` (None for inputs and initializers)."""
        return self._producers.get(tensor)

    def symbolic_dims(self) -> dict[str, list[tuple[str, int]]]:
        """Each symbolic dimension name -> the (input name, axis) pairs that use it."""
        dims: dict[str, list[tuple[str, int]]] = {}
        for spec in self.inputs:
            for axis, dim in enumerate(spec.shape or ()):
                if isinstance(dim, str):
                    dims.setdefault(dim, []).append((spec.name, axis))
        return dims

    @cached_property
    def _nodes_by_name(self) -> dict[str, NodeInfo]:
        return {node.name: node for node in self.nodes if node.name}

    @cached_property
    def _producers(self) -> dict[str, NodeInfo]:
        return {out: node for node in self.nodes for out in node.outputs if out}

    @cached_property
    def _specs_by_name(self) -> dict[str, TensorSpec]:
        specs: dict[str, TensorSpec] = {}
        # Later groups win: declared I/O over inferred, so users see what the model says.
        for group in (self.initializers, self.shape_inference.tensors, self.outputs,
                      self.inputs):
            specs.update((spec.name, spec) for spec in group)
        return specs

    def describe(self, *, layers: bool = False, shapes: bool = False) -> str:
        """The readable text the CLI prints (and the notebook shows)."""
        from workbench.inspection.report import describe_summary

        return describe_summary(self, layers=layers, shapes=shapes)

    def __str__(self) -> str:
        return self.describe()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; ``from_dict`` rebuilds an equal summary."""
        return {
            "source": self.source, "graph_name": self.graph_name,
            "producer_name": self.producer_name, "producer_version": self.producer_version,
            "ir_version": self.ir_version,
            "opsets": {opset.domain: opset.version for opset in self.opsets},
            "inputs": [spec.to_dict() for spec in self.inputs],
            "outputs": [spec.to_dict() for spec in self.outputs],
            "initializers": [spec.to_dict() for spec in self.initializers],
            "parameter_count": self.parameter_count, "parameter_bytes": self.parameter_bytes,
            "external_data_bytes": self.external_data_bytes,
            "external_data_files": list(self.external_data_files),
            "nodes": [node.to_dict() for node in self.nodes],
            "op_histogram": dict(self.op_histogram),
            "subgraph_count": self.subgraph_count,
            "shape_inference": self.shape_inference.to_dict(),
            "checker_problems": list(self.checker_problems),
            "metadata": dict(self.metadata),
            "constant_parameter_count": self.constant_parameter_count,
            "constant_parameter_bytes": self.constant_parameter_bytes,
            "subgraphs": [sub.to_dict() for sub in self.subgraphs],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSummary:
        specs = TensorSpec.from_dict
        return cls(
            source=str(data["source"]), graph_name=str(data["graph_name"]),
            producer_name=str(data["producer_name"]),
            producer_version=str(data["producer_version"]), ir_version=int(data["ir_version"]),
            opsets=tuple(OpsetInfo(d, int(v)) for d, v in data["opsets"].items()),
            inputs=tuple(specs(item) for item in data["inputs"]),
            outputs=tuple(specs(item) for item in data["outputs"]),
            initializers=tuple(specs(item) for item in data["initializers"]),
            parameter_count=int(data["parameter_count"]),
            parameter_bytes=int(data["parameter_bytes"]),
            external_data_bytes=int(data["external_data_bytes"]),
            external_data_files=tuple(data["external_data_files"]),
            nodes=tuple(NodeInfo.from_dict(item) for item in data["nodes"]),
            op_histogram=tuple((str(k), int(v)) for k, v in data["op_histogram"].items()),
            subgraph_count=int(data["subgraph_count"]),
            shape_inference=ShapeInferenceResult.from_dict(data["shape_inference"]),
            checker_problems=tuple(data["checker_problems"]),
            metadata=tuple((str(k), str(v)) for k, v in data.get("metadata", {}).items()),
            constant_parameter_count=int(data.get("constant_parameter_count", 0)),
            constant_parameter_bytes=int(data.get("constant_parameter_bytes", 0)),
            subgraphs=tuple(SubgraphInfo.from_dict(d) for d in data.get("subgraphs", ())),
        )

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> ModelSummary:
        return cls.from_dict(json.loads(text))


def inspect_model(source: ModelSource) -> ModelSummary:
    """Summarise an ONNX model without loading its weights.

    Args:
        source: Path to an .onnx file (external data is looked for beside it; models over
            2 GiB work by path), its bytes, or an onnx.ModelProto.

    Returns:
        A frozen ``ModelSummary``. Checker problems and shape-inference failures are
        reported inside it, not raised.

    Raises:
        ModelLoadError: The file is missing, empty, not ONNX, truncated, or its external
            data is missing or points outside the model's folder.
    """
    model, label, data = _load(source)
    problems = checker_problems(model, data=data)
    data = None  # a large inline model: do not hold its bytes during shape inference
    # ~10^5 acyclic records: a GC pass every few hundred allocations would rescan them all
    # for cycles they cannot have (10-15 % of the time on a 30,000-node model)
    with gc_paused():
        summary_parts = _graph_parts(model)
    if not isinstance(source, onnx.ModelProto):
        strip_inline_weights(model)  # our own copy: spare shape inference the weights
    with gc_paused():
        shapes = infer_shapes(model)
    return ModelSummary(
        source=label,
        graph_name=model.graph.name,
        producer_name=model.producer_name,
        producer_version=model.producer_version,
        ir_version=int(model.ir_version),
        opsets=tuple(OpsetInfo(op.domain, int(op.version)) for op in model.opset_import),
        shape_inference=shapes,
        checker_problems=problems,
        metadata=tuple((prop.key, prop.value) for prop in model.metadata_props),
        **summary_parts,
    )


def _load(source: ModelSource) -> tuple[onnx.ModelProto, str, bytes | None]:
    if isinstance(source, onnx.ModelProto):
        return source, "<onnx.ModelProto>", None
    model_file = read_model_file(source)
    return load_model_file(model_file, load_weights=False), model_file.label, model_file.data


def _graph_parts(model: onnx.ModelProto) -> dict[str, Any]:
    graph = model.graph
    inputs, outputs = graph_io_specs(graph)
    histogram = Counter((node.domain, node.op_type) for node in graph.node)
    subgraphs = list(nested_graphs(graph))
    return {
        "inputs": inputs,
        "outputs": outputs,
        "initializers": tuple(tensor_spec_from_tensor(t) for t in graph.initializer),
        "nodes": tuple(_node_info(index, node) for index, node in enumerate(graph.node)),
        "op_histogram": tuple(sorted(
            ((_qualified(domain, op), count) for (domain, op), count in histogram.items()),
            key=lambda item: (-item[1], item[0]),
        )),
        "subgraph_count": len(subgraphs),
        "subgraphs": tuple(_bodies(graph)),
        **parameter_stats([graph, *subgraphs]),
    }


def _bodies(graph: onnx.GraphProto, outer: str = "") -> Iterator[SubgraphInfo]:
    """Every If/Loop/Scan body, depth first, with its own nodes."""
    for index, node in enumerate(graph.node):
        label = (f"{outer} › " if outer else "") + (node.name or f"#{index} {node.op_type}")
        for body in bodies(node):
            yield SubgraphInfo(label, node.op_type, body.label, tuple(
                _node_info(k, inner) for k, inner in enumerate(body.graph.node)))
            yield from _bodies(body.graph, label)


def _node_info(index: int, node: onnx.NodeProto) -> NodeInfo:
    return NodeInfo(
        index, node.name, node.op_type, node.domain, tuple(node.input), tuple(node.output),
        node_attributes(node),
    )
