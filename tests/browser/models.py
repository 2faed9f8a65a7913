"""Models built in code for the browser test and the panel benchmark."""

from __future__ import annotations

from pathlib import Path

__all__ = ["conv_chain"]


def conv_chain(path: Path, layers: int, channels: int, size: int = 16) -> Path:
    """``layers`` × (3×3 Conv + Relu) on a 1×C×size×size input: a slow-enough build.

    On TensorRT-RTX without a GPU, 600 layers × 32 channels (22 MB) build in ~2.5 s with
    ~25,000 VERBOSE log lines; 700 × 64 (103 MB) in ~5 s.
    """
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    nodes, weights, previous = [], [], "input"
    for index in range(layers):
        array = (rng.standard_normal((channels, channels, 3, 3)) * 0.05).astype(np.float32)
        weights.append(numpy_helper.from_array(array, f"w{index}"))
        nodes.append(helper.make_node("Conv", [previous, f"w{index}"], [f"c{index}"],
                                      name=f"conv{index}", pads=[1, 1, 1, 1]))
        nodes.append(helper.make_node("Relu", [f"c{index}"], [f"r{index}"], name=f"relu{index}"))
        previous = f"r{index}"
    shape = [1, channels, size, size]
    graph = helper.make_graph(
        nodes, "conv_chain", [helper.make_tensor_value_info("input", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info(previous, TensorProto.FLOAT, shape)], weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="trt-workbench tests")
    model.ir_version = 8
    path.write_bytes(model.SerializeToString())
    return path
