"""Copies the workbench writes with external data (staging, folding, the FP16/BF16
conversion) put every tensor at an offset ONNX Runtime can memory-map (a multiple of 64 KiB:
the mapping granularity of every OS), and ONNX Runtime runs them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from workbench.backends.ort import OrtRunner
from workbench.transforms.external import ALIGNMENT, save_staged


def _offsets(model: onnx.ModelProto) -> dict[str, int]:
    return {t.name: int(next(e.value for e in t.external_data if e.key == "offset"))
            for t in model.graph.initializer if t.data_location == TensorProto.EXTERNAL}


def test_written_weights_start_at_mappable_offsets(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    # odd sizes, so packing them back to back would leave unaligned offsets
    shapes = [(1000, 4099), (4099, 3001), (3001, 1000)]  # 16 + 49 + 12 MB: over 64 MiB
    weights = [numpy_helper.from_array(rng.standard_normal(s).astype(np.float32), f"w{i}")
               for i, s in enumerate(shapes)]
    nodes = [helper.make_node("MatMul", ["x" if i == 0 else f"h{i}", f"w{i}"], [f"h{i + 1}"],
                              name=f"mm{i}") for i in range(3)]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1000])],
        [helper.make_tensor_value_info("h3", TensorProto.FLOAT, [1, 1000])], weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # every supported Python's ONNX Runtime reads it (3.10's: IR <= 11)
    target = save_staged(model, None, tmp_path / "copy.onnx")
    written = onnx.load(target, load_external_data=False)
    offsets = _offsets(written)
    assert len(offsets) == 3 and all(offset % ALIGNMENT == 0 for offset in offsets.values())
    assert sorted(offsets.values())[1] > 0  # several tensors, one file
    x = rng.standard_normal((1, 1000)).astype(np.float32)
    expected = x @ numpy_helper.to_array(weights[0]) @ numpy_helper.to_array(weights[1]) \
        @ numpy_helper.to_array(weights[2])
    with OrtRunner(target) as runner:
        assert np.allclose(runner.infer({"x": x})["h3"], expected, rtol=1e-3, atol=1e-2)
