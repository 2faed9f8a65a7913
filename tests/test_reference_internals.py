"""The onnx.reference internals the CPU evaluator relies on (workbench/backends/reference.py),
pinned: each CI leg runs this with the onnx its Python resolves, so an onnx release that
renames or changes one fails here, by name, instead of deep inside a comparison.

Used: ``ReferenceEvaluator.rt_nodes_`` (one runtime per node, in graph order) and
``rt_inits_`` (initializers as arrays), ``OpRun.need_context()`` / ``run(..., context=)``
(If/Loop read outer names), ``OpRun.input``, ``op_batch_normalization._batchnorm_test_mode``
and ``BatchNormalization_14``, the kernel classes ``MatMul``/``Gemm_7``/``Conv`` that
``new_ops`` subclasses, ``onnx.reference.ops.load_op`` and ``onnx.reference.op_run.OpRun``."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator


def _model() -> onnx.ModelProto:
    then = helper.make_graph([helper.make_node("Identity", ["a"], ["t"])], "then", [],
                             [helper.make_tensor_value_info("t", TensorProto.FLOAT, [2])])
    other = helper.make_graph([helper.make_node("Neg", ["a"], ["e"])], "else", [],
                              [helper.make_tensor_value_info("e", TensorProto.FLOAT, [2])])
    nodes = [helper.make_node("MatMul", ["x", "w"], ["a"], name="mm"),
             helper.make_node("If", ["flag"], ["y"], name="if", then_branch=then,
                              else_branch=other)]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2]),
                     helper.make_tensor_value_info("flag", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
        [helper.make_tensor("w", TensorProto.FLOAT, [2, 2], [1, 0, 0, 1])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_runtimes_per_node_initializers_and_context() -> None:
    evaluator = ReferenceEvaluator(_model())
    assert [type(r).__name__ for r in evaluator.rt_nodes_] == ["MatMul", "If"]
    assert set(evaluator.rt_inits_) == {"w"}
    matmul, branch = evaluator.rt_nodes_
    assert list(matmul.input) == ["x", "w"] and not matmul.need_context()
    assert branch.need_context()
    results = {"x": np.array([1.0, 2.0], np.float32), "flag": np.array(False),
               **evaluator.rt_inits_}
    (a,) = matmul.run(results["x"], results["w"])
    results["a"] = a
    (y,) = branch.run(results["flag"], context=results)
    assert y.tolist() == [-1.0, -2.0]


def test_kernels_the_evaluator_subclasses_and_helpers_exist() -> None:
    from onnx.reference.op_run import OpRun
    from onnx.reference.ops import load_op
    from onnx.reference.ops.op_batch_normalization import (
        BatchNormalization_14,
        _batchnorm_test_mode,
    )
    from onnx.reference.ops.op_conv import Conv
    from onnx.reference.ops.op_gemm import Gemm_7
    from onnx.reference.ops.op_matmul import MatMul

    for kernel in (Conv, Gemm_7, MatMul, BatchNormalization_14):
        assert issubclass(kernel, OpRun) and callable(kernel._run)
    x = np.ones((1, 2, 1, 1), np.float32)
    ones, zeros = np.ones(2, np.float32), np.zeros(2, np.float32)
    out = _batchnorm_test_mode(x, ones * 2, zeros, zeros, ones, epsilon=0.0)
    assert np.allclose(out, 2.0)
    assert load_op("", "Relu", 17) is not None


def test_direct_calls_stand_in_only_for_the_wrappers_they_know() -> None:
    """workbench/backends/reference_calls.py calls ``_run`` with ``attributes_names_`` bound
    where ``run`` is one of these wrappers; a release changing them fails here."""
    from onnx.reference.op_run import OpRun
    from onnx.reference.ops._op import OpRunBinary, OpRunBinaryNum, OpRunUnary, OpRunUnaryNum

    evaluator = ReferenceEvaluator(_model())
    matmul, branch = evaluator.rt_nodes_
    assert type(matmul).run is OpRunBinaryNum.run and branch.need_context()
    for wrapper in (OpRun, OpRunUnary, OpRunUnaryNum, OpRunBinary, OpRunBinaryNum):
        assert callable(wrapper.run)
    assert isinstance(matmul.attributes_names_, set)
    assert not matmul.has_linked_attribute and not matmul.has_subgraph
    assert branch.has_subgraph
    assert callable(matmul._check_and_fix_outputs)


def _one_node(op_type: str, inputs: dict[str, np.ndarray], **attributes: object
              ) -> onnx.ModelProto:
    node = helper.make_node(op_type, list(inputs), ["y"], **attributes)
    graph = helper.make_graph(
        [node], "g",
        [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
         for k, v in inputs.items()],
        [helper.make_tensor_value_info("y", TensorProto.UNDEFINED, None)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_direct_calls_give_what_run_gives_and_refuse_what_it_refuses() -> None:
    import pytest

    from workbench.backends.reference_calls import direct_call

    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4)).astype(np.float16)
    cases = [("Softmax", {"x": x}, {"axis": 1}), ("Relu", {"x": x}, {}),
             ("Add", {"x": x, "z": x}, {}), ("Transpose", {"x": x}, {"perm": [2, 0, 1]}),
             ("Shape", {"x": x}, {}), ("Max", {"x": x, "z": x, "w": x}, {}),
             ("Constant", {}, {"value_ints": [1, 2]})]
    for op_type, inputs, attributes in cases:
        (runtime,) = ReferenceEvaluator(_one_node(op_type, inputs, **attributes)).rt_nodes_
        (got,), (want,) = (direct_call(runtime)(*inputs.values()),
                           runtime.run(*inputs.values()))
        assert got.dtype == want.dtype and np.array_equal(got, want), op_type
    # a binary kernel's dtype check stays: the node is refused (then ONNX Runtime runs it)
    (add,) = ReferenceEvaluator(_one_node("Add", {"x": x, "z": x})).rt_nodes_
    with pytest.raises(TypeError, match="input types differ"):
        direct_call(add)(x, x.astype(np.float32))


def test_kernel_classes_are_looked_up_once_per_graph() -> None:
    """stream_values's evaluator overrides ``_load_impl(node, input_types=None)`` to look
    a kernel class up once per operator type; the graph still gets one instance per node."""
    import inspect

    from workbench.backends.reference import _evaluator_class

    assert list(inspect.signature(ReferenceEvaluator._load_impl).parameters)[:3] == [
        "self", "node", "input_types"]
    x = np.ones(2, np.float32)
    nodes = [helper.make_node("Neg", ["x"], ["a"]), helper.make_node("Neg", ["a"], ["b"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                         [2])],
                              [helper.make_tensor_value_info("b", TensorProto.FLOAT, [2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    evaluator = _evaluator_class()(model)
    first, second = evaluator.rt_nodes_
    assert type(first) is type(second) and first is not second
    assert first.onnx_node is nodes[0] or first.onnx_node == nodes[0]
    assert evaluator.run(None, {"x": x})[0].tolist() == [1.0, 1.0]
