"""The one feed generator over the realistic corpus: ranges found by following the graph,
sizes from the seeded profile (raised to what kernels need), the same feeds from the panel,
the CLI and compare_precision, and failures that name the input, the value and the node."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from sample_models.realistic import REALISTIC, realistic_model
from workbench.backends.ort import OrtRunner
from workbench.build.settings import default_profiles
from workbench.core.errors import InferenceInputError, WorkbenchError
from workbench.feeds.explain import explain_run_failure, first_sentence
from workbench.feeds.generator import FeedOptions, feed_plan, model_feeds
from workbench.inspection.input_roles import input_roles, minimum_dim_sizes
from workbench.inspection.protos import graph_io_specs


@pytest.mark.parametrize("name", [entry.name for entry in REALISTIC])
def test_generated_feeds_run_on_every_corpus_model(realistic, name: str) -> None:
    entry, path = realistic_model(name), realistic(name)
    model = onnx.load(path, load_external_data=False)
    feeds = model_feeds(model, seed=3)
    for input_name, low, high in entry.index_ranges:
        assert low <= feeds[input_name].min() and feeds[input_name].max() < high
    with OrtRunner(path) as runner:
        outputs = runner.infer(feeds)
    assert all(np.isfinite(v).all() for v in outputs.values())


def test_sizes_are_the_default_profile_opt(realistic) -> None:
    model = onnx.load(realistic("paddle_detector"))
    (profile,) = default_profiles(graph_io_specs(model.graph)[0])
    assert model_feeds(model)["x"].shape == profile.opt == (1, 3, 224, 224)


def test_roles_follow_the_graph(realistic) -> None:
    bert = input_roles(onnx.load(realistic("bert_like")))
    assert bert["token_type_ids"].range == (0, 2) and bert["input_ids"].range == (0, 1000)
    assert bert["attention_mask"].kind == "mask"
    assert "token_type_embedding" in bert["token_type_ids"].why
    jax = input_roles(onnx.load(realistic("jax_classifier")))
    assert jax["label_ids"].range == (0, 10) and "OneHot" in jax["label_ids"].why
    sr = input_roles(onnx.load(realistic("if_switch")))["sr"]
    assert sr.kind == "value" and sr.range == (16000, 16001)  # what the If compares it with


def test_kernels_inside_if_branches_raise_the_size(realistic) -> None:
    model = onnx.load(realistic("if_switch"))
    assert minimum_dim_sizes(model)["samples"][0] == 64
    (row,) = [r for r in feed_plan(model) if r.name == "input"]
    assert row.shape == (1, 64) and "kernel of 64" in row.why
    assert model_feeds(model, options=FeedOptions(dims={"samples": 512}))["input"].shape == (1, 512)


def test_user_ranges_win_and_bad_ones_are_named(realistic) -> None:
    model = onnx.load(realistic("bert_like"))
    feeds = model_feeds(model, options=FeedOptions({"sequence": 8}, {"token_type_ids": (5, 7)}))
    assert feeds["token_type_ids"].shape == (1, 8) and feeds["token_type_ids"].min() == 5
    with OrtRunner(realistic("bert_like")) as runner, pytest.raises(InferenceInputError) as err:
        runner.infer(feeds)
    message = err.value.message
    assert "Input 'token_type_ids' holds 5 at [0, 0]" in message
    assert "'token_type_embedding' (Gather)" in message and "0…2" in message


def test_explain_keeps_the_runtime_text_whole() -> None:
    message = ("[ONNXRuntimeError] : 1 : FAIL : Non-zero status code returned while running Add "
               "node. Name:'add' Status Message: /src/element_wise_ops.h:563 void f(long) "
               "axis == 1 was false. Attempting to broadcast an axis by a dimension other than "
               "1. 3 by 4")
    err = explain_run_failure(message, {}, None)
    assert err.details == (message,)
    assert first_sentence("One. Two.") == "One."
    assert first_sentence("word " * 100, 20).endswith("…")


def test_cli_run_and_compare_take_dims_and_ranges(realistic, tmp_path: Path, capsys) -> None:
    from workbench.cli import main
    from workbench.feeds.inputs import load_inputs

    path, saved = realistic("bert_like"), tmp_path / "x.npz"
    assert main(["run", str(path), "--dim", "sequence=12", "--range", "input_ids=3:4",
                 "--save-inputs", str(saved)]) == 0
    feeds = load_inputs(saved)
    assert feeds["input_ids"].shape == (1, 12) and (feeds["input_ids"] == 3).all()
    assert feeds["token_type_ids"].max() <= 1 and (feeds["attention_mask"] == 1).all()
    assert main(["run", str(path), "--range", "input_ids=4:2"]) != 0
    assert "Bad --range value" in capsys.readouterr().err


def test_compare_precision_uses_the_same_feeds(realistic) -> None:
    from workbench.app.precision import compare_precision

    path = realistic("bert_like")
    report = compare_precision(path, per_layer=False, dims={"sequence": 16})
    assert [s.shape for s in report.inputs] == [(1, 16)] * 3
    with pytest.raises(WorkbenchError, match="token_type_ids"):
        compare_precision(path, per_layer=False, dims={"sequence": 16},
                          int_ranges={"token_type_ids": (0, 10)})


def test_engine_feeds_take_the_profile_opt_shapes(artifact, tmp_path: Path) -> None:
    from workbench.app.feeding import engine_opt_shapes
    from workbench.build.engines import save_engine
    from workbench.cli.compare_cmds import _card_opt_shapes

    assert engine_opt_shapes(artifact) == {"features": (1, 64)}
    saved = save_engine(artifact, tmp_path / "mlp.engine")
    assert _card_opt_shapes(saved) == {"features": (1, 64)}
    assert _card_opt_shapes(tmp_path / "none.engine") is None
