"""Parameter limits named with their real cause, and the global-pool rewrite (issue 25).

HF EfficientNet's pooler (AveragePool kernel_shape [1280, 1280], ceil_mode, on 7×7) is
refused by TensorRT's parser ("Parameter check failed … maxKernelDimsProduct"); its window
covers the whole input, so it is a GlobalAveragePool. Real TensorRT-RTX parses.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from reference_models import efficientnet_pooler, ort_averages_oversized_windows, save
from ui_support import make_panel

from workbench.app.session.session import WorkbenchSession
from workbench.backends.ort import OrtRunner
from workbench.core.errors import WorkbenchError
from workbench.transforms.global_pool import global_pools, rewrite_global_pools
from workbench.triage.catalogue import explain_build_failure, explain_parse_error
from workbench.triage.parameter_limits import explain_parameter_limit

CUDA_35 = ("[checkMacros.cpp::catchCudaError::250] Error Code 1: Cuda Runtime (cudaError 35: "
           "CUDA driver version is insufficient for CUDA runtime version)")


def test_diagnosis_names_the_window_limit_and_the_rewrite(tmp_path: Path) -> None:
    from workbench.backends.trt.parse import diagnose

    report = diagnose(save(efficientnet_pooler(), tmp_path))
    assert not report
    issue = report.issues[0]
    assert issue.category == "parameter_limit"
    assert "pooling window (1280×1280) is beyond TensorRT's limit" in issue.cause
    assert "covers the whole 7×7 input" in issue.cause and "GlobalAveragePool" in issue.cause
    assert "not the cause" in issue.cause  # cudaError 35 explained as the no-GPU artefact
    assert "a newer TensorRT or another opset" not in " ".join(issue.fixes)
    assert "session.rewrite_global_pools()" in issue.fixes[0]


def test_rewrite_writes_a_copy_that_parses_and_computes_the_same(tmp_path: Path) -> None:
    from workbench.backends.trt.parse import diagnose

    source = save(efficientnet_pooler(), tmp_path)
    before = source.read_bytes()
    out, pools = rewrite_global_pools(source, tmp_path / "gp.onnx")
    assert source.read_bytes() == before  # the user's file is untouched
    assert [p.node for p in pools] == ["/pooler/AveragePool"]
    assert "GlobalAveragePool" in pools[0].describe()
    model = onnx.load(out)
    assert [n.op_type for n in model.graph.node].count("GlobalAveragePool") == 1
    assert diagnose(out)  # TensorRT parses the copy
    x = np.random.default_rng(0).standard_normal((1, 3, 28, 28)).astype(np.float32)
    if ort_averages_oversized_windows():  # else this ORT computes the original as ~0
        with OrtRunner(source) as a, OrtRunner(out) as b:
            np.testing.assert_allclose(a.infer({"pixel_values": x})["logits"],
                                       b.infer({"pixel_values": x})["logits"], rtol=1e-5)
    with pytest.raises(WorkbenchError, match="already exists"):
        rewrite_global_pools(source, out)


def test_rewrite_only_when_the_window_covers_the_input(tmp_path: Path) -> None:
    def pool(kernel: list[int], **attrs: object) -> onnx.ModelProto:
        node = helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=kernel, **attrs)
        graph = helper.make_graph(
            [node], "p", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 7, 7])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])

    assert global_pools(pool([7, 7]))
    assert global_pools(pool([9, 9], strides=[9, 9], ceil_mode=1))
    assert not global_pools(pool([3, 3]))  # many windows
    assert not global_pools(pool([9, 9], pads=[1, 1, 1, 1], ceil_mode=1))  # padded
    with pytest.raises(WorkbenchError, match="nothing to rewrite"):
        rewrite_global_pools(pool([3, 3]), tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


def test_limit_without_a_global_pool_says_so() -> None:
    text = ("Parameter check failed, condition: volume(windowSize) < maxKernelDimsProduct(2). "
            "In addPoolingNd")
    category, cause, fixes = explain_parameter_limit(
        text, "MaxPool", (("kernel_shape", "[2000, 2000]"),), (1, 3, 4000, 4000))  # type: ignore[misc]
    assert category == "parameter_limit" and "not a global pool" in cause
    assert "rewrite_global_pools" not in " ".join(fixes)
    assert explain_parameter_limit("some other error", "MaxPool", ()) is None


def test_cuda_driver_message_is_explained_everywhere() -> None:
    _category, cause, _fixes = explain_parse_error("No importer registered\n" + CUDA_35,
                                                   "Fancy")
    assert "no usable GPU driver" in cause and "not the cause" in cause
    build_cause, _ = explain_build_failure(["Internal Error (assertion failed)", CUDA_35])
    assert "not the cause" in build_cause
    plain, _ = explain_build_failure(["Internal Error (assertion failed)"])
    assert "GPU driver" not in plain


def test_session_call_and_parse_tab_button(tmp_path: Path) -> None:
    source = save(efficientnet_pooler(), tmp_path)
    panel = make_panel(tmp_path, source)
    parse = panel.parse
    assert "cannot parse" in parse.verdict.value
    assert "covers the whole 7×7 input" in parse.cards.value
    button = parse.global_pool_button
    assert button.layout.display == "" and not button.disabled
    button.click()
    assert panel.session.tasks["fold"].join(60)
    assert "parses all" in parse.verdict.value, parse.error.value
    written = panel.session.derived["global-pool"]
    assert written.parent == tmp_path / "out" and str(written) in parse.saved.value
    assert button.layout.display == "none"  # nothing left to rewrite
    panel.close()
    session = WorkbenchSession(work_dir=tmp_path / "s")
    session.load(source)
    assert session.rewrite_global_pools()
    assert session.derived["global-pool"].name == "efficientnet_pooler.global-pool.onnx"
