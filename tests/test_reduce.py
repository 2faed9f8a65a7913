"""Reducing a failing model to the smallest subgraph that fails the same way (real TensorRT)."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest

import workbench
from workbench.core.errors import WorkbenchError


@pytest.mark.parametrize(
    ("name", "node", "category"),
    [
        ("unsupported_op", "fancy_activation", "unsupported_op"),
        ("needs_constant_folding", "mean_over_width", "needs_constant_folding"),
        ("ml_domain_classifier", "classifier", "ml_domain"),
    ],
)
def test_reduces_to_the_failing_node(sample, tmp_path: Path, name, node, category) -> None:
    out = tmp_path / "min.onnx"
    result = workbench.reduce_failure(sample(name), out)
    assert result.path == out.resolve() and out.is_file()
    assert result.node_names == (node,)
    assert result.category == category
    reduced = onnx.load(str(out))
    assert [n.name for n in reduced.graph.node] == [node]
    again = workbench.diagnose(out)
    assert not again and again.issues[0].category == category
    assert again.issues[0].node_name == node
    assert "reduced" in result.summary() and str(out.resolve()) in result.summary()


def test_reduced_model_keeps_intermediate_types(sample, tmp_path: Path) -> None:
    result = workbench.reduce_failure(sample("unsupported_op"), tmp_path / "min.onnx")
    reduced = onnx.load(str(result.path))
    (graph_input,) = reduced.graph.input
    assert graph_input.name == "r"
    dims = [d.dim_value for d in graph_input.type.tensor_type.shape.dim]
    assert dims == [1, 8, 16, 16]


def test_refuses_models_that_parse_or_fail_as_a_whole(sample, tmp_path: Path) -> None:
    with pytest.raises(WorkbenchError, match="no failure to reduce"):
        workbench.reduce_failure(sample("tiny_cnn"), tmp_path / "a.onnx")
    with pytest.raises(WorkbenchError, match="fails as a whole"):
        workbench.reduce_failure(sample("truncated"), tmp_path / "b.onnx")
    assert list(tmp_path.iterdir()) == []


def test_never_overwrites(sample, tmp_path: Path) -> None:
    out = tmp_path / "min.onnx"
    out.write_bytes(b"precious")
    with pytest.raises(WorkbenchError, match="already exists"):
        workbench.reduce_failure(sample("unsupported_op"), out)
    assert out.read_bytes() == b"precious"
    workbench.reduce_failure(sample("unsupported_op"), out, overwrite=True)
    assert onnx.load(str(out)).graph.node[0].op_type == "FancyActivation"
