"""One node evaluated by ONNX Runtime: the CPU evaluator's fallback for a node that
``onnx.reference`` cannot evaluate (an importer of onnxruntime beside ``ort.py``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnx

from workbench.feeds.explain import first_sentence

__all__ = ["run_node"]


def run_node(node: onnx.NodeProto, inputs: Sequence[np.ndarray | None],
             opsets: Sequence[onnx.OperatorSetIdProto]) -> list[np.ndarray | None]:
    """Evaluate one node with ONNX Runtime (CPU, FP32 for float inputs).

    The CPU FP16 evaluator's fallback for a node that ``onnx.reference`` cannot evaluate
    (an op it implements differently from ONNX Runtime, e.g. jax2onnx's ``Squeeze``):
    float16/bfloat16 inputs are widened to float32 here; the caller rounds the outputs
    back to its precision. Nodes with subgraphs are not run this way (their bodies read
    names from the enclosing graph).

    Raises:
        ComparisonError: ONNX Runtime cannot run the node either.
    """
    import onnxruntime as ort  # lazily: see the module docstring

    from workbench.core.errors import ComparisonError

    names = [f"in{i}" if value is not None else "" for i, value in enumerate(inputs)]
    wide = [None if value is None else _widened(np.asarray(value)) for value in inputs]
    graph_inputs = [onnx.helper.make_tensor_value_info(
        name, onnx.helper.np_dtype_to_tensor_dtype(value.dtype), list(value.shape))
        for name, value in zip(names, wide, strict=True) if value is not None]
    outputs = [f"out{i}" if out else "" for i, out in enumerate(node.output)]
    single = onnx.helper.make_node(node.op_type, names, outputs, domain=node.domain,
                                   name=node.name or node.op_type)
    single.attribute.extend(node.attribute)
    graph = onnx.helper.make_graph(
        [single], "one_node", graph_inputs,
        [onnx.ValueInfoProto(name=out) for out in outputs if out])
    model = onnx.helper.make_model(graph, opset_imports=list(opsets))
    model.ir_version = min(model.ir_version, 10)  # readable by every supported ORT
    feeds = {name: value for name, value in zip(names, wide, strict=True) if value is not None}
    try:
        options = ort.SessionOptions()
        options.log_severity_level = 3
        session = ort.InferenceSession(model.SerializeToString(), sess_options=options,
                                       providers=["CPUExecutionProvider"])
        made = iter(session.run([out for out in outputs if out], feeds))
    except Exception as err:  # ORT raises its own Fail/InvalidArgument/... classes
        raise ComparisonError(
            f"Node {node.name or node.op_type} ({node.op_type}) can be evaluated neither by "
            "onnx.reference nor by ONNX Runtime.",
            expected="a node one of the two CPU runtimes implements",
            found=f"{type(err).__name__}: {first_sentence(str(err))}",
            fix="report the model to the workbench",
        ) from err
    return [np.asarray(next(made)) if out else None for out in outputs]


def _widened(value: np.ndarray) -> np.ndarray:
    if value.dtype == np.float16 or value.dtype.name == "bfloat16":
        return value.astype(np.float32)
    return value
