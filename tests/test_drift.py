"""Per-layer drift on hand-made tensors: first bad node, range findings, keep list."""

from __future__ import annotations

import numpy as np

from workbench.compare.drift import (
    FP16_MAX,
    GraphNode,
    compute_drift,
    range_issues,
)

# x -> square -> mean -> add_eps -> sqrt -> normalize(x, rms): the RMS norm of the sample
NODES = [
    GraphNode("square", "Mul", ("h", "h"), ("h2",)),
    GraphNode("mean", "ReduceMean", ("h2",), ("ms",)),
    GraphNode("add_eps", "Add", ("ms", "eps"), ("mse",)),
    GraphNode("sqrt", "Sqrt", ("mse",), ("rms",)),
    GraphNode("normalize", "Div", ("h", "rms"), ("y",)),
]


def _reference(h: np.ndarray) -> dict[str, np.ndarray]:
    h2 = h * h
    ms = h2.mean(-1, keepdims=True)
    rms = np.sqrt(ms + 1e-6)
    return {"h": h, "h2": h2, "ms": ms, "mse": ms + 1e-6, "rms": rms, "y": h / rms}


def _fp16(h: np.ndarray) -> dict[str, np.ndarray]:
    with np.errstate(over="ignore", invalid="ignore"):
        half = {k: v.astype(np.float16) for k, v in _reference(h.astype(np.float16)).items()}
        h16 = h.astype(np.float16)
        h2 = h16 * h16
        ms = h2.mean(-1, keepdims=True, dtype=np.float16)
        rms = np.sqrt(ms + np.float16(1e-6))
        half.update({"h2": h2, "ms": ms, "mse": ms, "rms": rms, "y": h16 / rms})
    return half


def test_overflow_is_found_first_and_the_keep_list_reaches_back_into_range() -> None:
    h = np.random.default_rng(0).standard_normal((2, 64)).astype(np.float32) * 1000
    report = compute_drift(NODES, _reference(h), _fp16(h))
    assert report.first_bad_node == "square" and report.first_bad_tensor == "h2"
    overflow = [i for i in report.out_of_range if i.kind == "overflow"]
    assert [i.tensor for i in overflow] == ["h2", "ms", "mse"]
    assert overflow[0].extreme > FP16_MAX
    # sqrt brings values back into range, so it is kept; normalize is not needed
    assert report.suggested_keep_fp32 == ("square", "mean", "add_eps", "sqrt")
    assert "back in range" in report.reason
    errors = {layer.tensor: layer.error for layer in report.layers}
    assert errors["h2"] == float("inf") and report.layers[0].candidate_nonfinite > 0


def test_healthy_values_stay_under_threshold() -> None:
    h = np.random.default_rng(1).standard_normal((2, 64)).astype(np.float32)
    report = compute_drift(NODES, _reference(h), _fp16(h))
    assert report.first_bad_node is None
    assert report.suggested_keep_fp32 == () and report.out_of_range == ()
    assert all(layer.error < 5e-3 for layer in report.layers)


def test_drift_without_overflow_suggests_the_first_bad_node() -> None:
    ref = {"a": np.ones(4, np.float32), "b": np.full(4, 2.0, np.float32)}
    cand = {"a": np.ones(4, np.float32), "b": np.array([2.0, 2.0, 2.0, 2.5], np.float32)}
    nodes = [GraphNode("n1", "Relu", ("x",), ("a",)), GraphNode("n2", "Add", ("a",), ("b",))]
    report = compute_drift(nodes, ref, cand, threshold=0.1)
    assert report.layers[1].error == 0.25 and report.layers[1].over_threshold
    assert report.first_bad_node == "n2" and report.suggested_keep_fp32 == ("n2",)


def test_underflow_and_subnormal_findings() -> None:
    values = np.array([1e-9, 2e-9, 1e-5, 3e-5, 1.0, 0.0], np.float32)
    kinds = {issue.kind: issue for issue in range_issues("n", "t", values)}
    assert kinds["underflow"].count == 2 and kinds["underflow"].extreme == np.float32(1e-9)
    assert kinds["subnormal"].count == 2
    assert "< 5.96e-08" in kinds["underflow"].describe()
    assert range_issues("n", "ids", np.array([70000], np.int64)) == []


def test_tensors_missing_on_one_side_are_skipped() -> None:
    nodes = [GraphNode("n1", "Relu", ("x",), ("a",))]
    report = compute_drift(nodes, {"a": np.ones(2)}, {})
    assert report.layers == () and report.first_bad_node is None
