"""Direct calls of ``onnx.reference`` kernels: the same ``_run``, without ``run()``'s wrapper.

``OpRun.run`` re-checks, per call, what cannot change between calls of one node (context,
linked attributes), logs twice through a closure, rebuilds the attribute dict from the
instance and re-checks every result's type: about 20 µs a node, more than most kernels of a
real export take (its Shape/Gather/Unsqueeze/Concat chains run in a few µs). Here that is
done once per node when the evaluation starts; each call is then the kernel's own
``_run(*inputs, **attributes)``, so the arithmetic is the kernel's, unchanged.

Only the wrappers whose behaviour is known are bypassed: ``OpRun.run`` and the unary and
binary ones (their dtype checks are kept: a refused node is evaluated by ONNX Runtime
instead, and must still be refused). Nodes with a context (If/Loop/Scan), linked
attributes or subgraphs, and any kernel with a ``run`` of its own (Min/Max with many
inputs…), keep their ``run``. ``tests/test_reference_internals.py`` pins these internals.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["direct_call"]

Call = Callable[..., tuple[Any, ...]]


def direct_call(runtime: Any) -> Call:
    """A callable evaluating ``runtime`` (one of ``ReferenceEvaluator.rt_nodes_``) on its
    inputs, as ``runtime.run(*inputs)`` does; ``context`` is passed where it needs one."""
    if runtime.need_context():
        return lambda *inputs, context: runtime.run(*inputs, context=context)
    wrapper = type(runtime).run
    plain, unary, unary_num, binary_run, binary_num = _wrappers()
    if (runtime.has_linked_attribute or runtime.has_subgraph
            or wrapper not in (plain, unary, unary_num, binary_run, binary_num)):
        return lambda *inputs, context=None: runtime.run(*inputs)
    kernel = runtime._run
    fix = runtime._check_and_fix_outputs
    if wrapper is plain:
        attributes = {name: getattr(runtime, name) for name in runtime.attributes_names_}
        return lambda *inputs, context=None: _checked(kernel(*inputs, **attributes), fix)
    binary = wrapper in (binary_run, binary_num)
    same_type = wrapper in (unary_num, binary_num)
    name = type(runtime).__name__

    def call(*inputs: Any, context: Any = None) -> tuple[Any, ...]:
        if binary:
            x, y = inputs  # the wrapper's signature: exactly two
            if x is None or y is None or x.dtype != y.dtype:
                raise TypeError(f"{name}: input types differ ({_dtype(x)} != {_dtype(y)})")
        else:
            (x,) = inputs
        result = _checked(kernel(*inputs), fix)
        if same_type and result and result[0] is not None \
                and not isinstance(result[0], list) and result[0].dtype != x.dtype:
            raise TypeError(f"{name}: output type {result[0].dtype} != input type {x.dtype}")
        return result

    return call


@functools.cache
def _wrappers() -> tuple[Any, ...]:
    """The ``run`` methods a direct call may stand in for (onnx imported on first use)."""
    from onnx.reference.op_run import OpRun
    from onnx.reference.ops._op import OpRunBinary, OpRunBinaryNum, OpRunUnary, OpRunUnaryNum

    return (OpRun.run, OpRunUnary.run, OpRunUnaryNum.run, OpRunBinary.run, OpRunBinaryNum.run)


def _checked(result: Any, fix: Callable[[Any], tuple[Any, ...]]) -> tuple[Any, ...]:
    """``result`` when it is a non-empty tuple of arrays (nearly always); else the
    kernel's own check, which converts scalars and refuses what ``run()`` refuses."""
    if type(result) is tuple and result and (
            type(result[0]) is np.ndarray if len(result) == 1
            else all(type(v) is np.ndarray for v in result)):
        return result
    return fix(result)


def _dtype(value: Any) -> Any:
    return getattr(value, "dtype", type(value))
