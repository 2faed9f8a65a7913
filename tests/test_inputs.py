"""Seeded inputs and .npz files."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.core.errors import InferenceInputError
from workbench.core.records import TensorSpec
from workbench.feeds.inputs import load_inputs, make_inputs, save_inputs
from workbench.settings.settings import seed_profile

SPECS = (
    TensorSpec("image", "float32", ("batch", 3, "height", "width")),
    TensorSpec("token_ids", "int64", ("batch", "sequence")),
    TensorSpec("mask", "bool", ("batch", "sequence")),
    TensorSpec("scale", "float16", (1,)),
)


def test_same_seed_same_feeds_other_seed_other_feeds() -> None:
    one, two = make_inputs(SPECS, seed=3), make_inputs(SPECS, seed=3)
    other = make_inputs(SPECS, seed=4)
    for name in one:
        np.testing.assert_array_equal(one[name], two[name])
    assert not np.array_equal(one["image"], other["image"])


def test_values_respect_dtypes_and_ranges() -> None:
    feeds = make_inputs(SPECS, float_range=(2.0, 3.0), int_range={"token_ids": (5, 9)})
    assert feeds["image"].dtype == np.float32 and feeds["scale"].dtype == np.float16
    assert feeds["image"].min() >= 2.0 and feeds["image"].max() < 3.0
    assert feeds["token_ids"].dtype == np.int64
    assert set(np.unique(feeds["token_ids"])) <= set(range(5, 9))
    assert feeds["mask"].dtype == np.bool_ and feeds["mask"].any() and not feeds["mask"].all()


def test_dynamic_dims_from_user_shapes_or_the_seeded_profile() -> None:
    feeds = make_inputs(SPECS, dims={"batch": 2, "height": 8}, shapes={"mask": (2, 5)})
    assert feeds["image"].shape == (2, 3, 8, 224)
    assert feeds["token_ids"].shape == (2, 128)
    assert feeds["mask"].shape == (2, 5)
    assert make_inputs(SPECS)["image"].shape == (1, 3, 224, 224)
    # The same sizes as the default build profile's opt, for every input.
    for spec in SPECS:
        assert make_inputs([spec])[spec.name].shape == seed_profile(spec).opt


def test_adding_an_input_does_not_change_the_others() -> None:
    alone = make_inputs(SPECS[:1], seed=1)["image"]
    together = make_inputs(SPECS, seed=1)["image"]
    np.testing.assert_array_equal(alone, together)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"int_range": (4, 4)}, "range for input 'token_ids' is empty"),
        ({"shapes": {"image": (1, 3)}}, "wrong rank"),
    ],
)
def test_bad_requests_are_explained(kwargs, fragment) -> None:
    with pytest.raises(InferenceInputError, match=fragment):
        make_inputs(SPECS, **kwargs)


def test_unknown_rank_and_strings_need_user_values() -> None:
    with pytest.raises(InferenceInputError, match="unknown rank"):
        make_inputs([TensorSpec("x", "float32", None)])
    with pytest.raises(InferenceInputError, match="pass this input yourself"):
        make_inputs([TensorSpec("text", "string", (1,))])


def test_npz_round_trip(tmp_path) -> None:
    feeds = make_inputs(SPECS, seed=9)
    path = save_inputs(tmp_path / "inputs", feeds)
    assert path.name == "inputs.npz" and path.exists()
    loaded = load_inputs(path)
    assert list(loaded) == list(feeds)
    for name in feeds:
        np.testing.assert_array_equal(loaded[name], feeds[name])
        assert loaded[name].dtype == feeds[name].dtype


def test_load_errors_are_clear(tmp_path) -> None:
    with pytest.raises(InferenceInputError, match="Input file not found"):
        load_inputs(tmp_path / "missing.npz")
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"definitely not a zip file")
    with pytest.raises(InferenceInputError, match=r"not a readable \.npz") as info:
        load_inputs(garbage)
    assert "np.savez" in info.value.message
    single = tmp_path / "single.npy"
    np.save(single, np.zeros(3))
    with pytest.raises(InferenceInputError, match=r"not an \.npz archive"):
        load_inputs(single)


def test_object_arrays_are_refused(tmp_path) -> None:
    with pytest.raises(InferenceInputError, match="object arrays"):
        save_inputs(tmp_path / "x.npz", {"x": np.array([{"a": 1}], dtype=object)})
