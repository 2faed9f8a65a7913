"""The CPU FP16 candidate normalises with a BatchNormalization's running statistics.

onnx.reference's opset 9–13 kernel fills ``momentum`` with its default and then uses the
batch's own statistics (a training branch); an opset-11 export (Paddle) then compared as
FAILED on CPU while a real FP16 GPU run of the same graph passed (issue 16's fidelity check).
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from workbench.app.precision.compare import compare_precision


def _bn_model(opset: int) -> onnx.ModelProto:
    channels = 4
    rng = np.random.default_rng(3)
    inits = [
        numpy_helper.from_array(rng.uniform(0.5, 2, channels).astype(np.float32), "scale"),
        numpy_helper.from_array(rng.uniform(-1, 1, channels).astype(np.float32), "bias"),
        # running statistics far from any random batch's own: the two branches differ a lot
        numpy_helper.from_array(np.full(channels, 3.0, np.float32), "mean"),
        numpy_helper.from_array(np.full(channels, 0.25, np.float32), "var"),
    ]
    node = helper.make_node("BatchNormalization", ["x", "scale", "bias", "mean", "var"], ["y"],
                            name="bn", epsilon=1e-5)
    graph = helper.make_graph(
        [node], "bn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, channels, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, channels, 8, 8])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 7
    return model


@pytest.mark.parametrize("opset", [11, 13, 17])
def test_fp16_candidate_uses_running_statistics(opset: int) -> None:
    report = compare_precision(_bn_model(opset), backend="numpy")
    assert report.passed, report.summary()
    out = report.outputs["y"]
    assert out.max_abs is not None and out.max_abs < 0.02  # FP16 rounding, not other statistics
