"""Fuzzing: hostile ONNX bytes, settings and engines never escape as anything but a
WorkbenchError with a message, never hang, and never kill the process.

Fast by default (CI); ``WORKBENCH_FUZZ=long`` (``make fuzz``) runs many more cases.
"""

from __future__ import annotations

import json
import random
import tempfile
from pathlib import Path

import pytest
from fuzz_cases import (
    Outcome,
    check_outcome,
    long_mode,
    make_model_case,
    random_settings_kwargs,
    random_shape,
    run_native_fuzz,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.backends.trt.build import build_engine
from workbench.backends.trt.parse import diagnose
from workbench.core.records import TensorSpec
from workbench.engines.card import save_engine
from workbench.inspection.loading import load_model
from workbench.inspection.summary import inspect_model
from workbench.settings.settings import BuildSettings, ShapeProfile

pytestmark = pytest.mark.fuzz

LONG = long_mode()
FUZZ = settings(
    max_examples=2000 if LONG else 300, deadline=None, database=None, derandomize=not LONG,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)


def _assert_clean(outcome: Outcome, what: str) -> None:
    assert outcome.kind != "bug", f"{what}: {outcome.error}: {outcome.message}"


@pytest.mark.filterwarnings("ignore:Ignoring unknown external data key")  # onnx's own
@FUZZ
@given(rng=st.randoms(use_true_random=False))
def test_load_model_on_mutated_models(rng: random.Random) -> None:
    case = make_model_case(rng)
    with tempfile.TemporaryDirectory() as tmp:
        path = case.write(Path(tmp))
        _assert_clean(check_outcome(lambda: load_model(path)), case.describe())
        _assert_clean(check_outcome(lambda: load_model(path, load_weights=False)),
                      case.describe())
    _assert_clean(check_outcome(lambda: load_model(case.model_bytes)), case.describe())


@FUZZ
@given(rng=st.randoms(use_true_random=False))
def test_inspect_model_on_mutated_models(rng: random.Random) -> None:
    case = make_model_case(rng)
    with tempfile.TemporaryDirectory() as tmp:
        path = case.write(Path(tmp))
        outcome = check_outcome(lambda: inspect_model(path))
        _assert_clean(outcome, case.describe())
    _assert_clean(check_outcome(lambda: inspect_model(case.model_bytes)), case.describe())


@settings(FUZZ, max_examples=60 if LONG else 8)
@given(rng=st.randoms(use_true_random=False))
def test_diagnose_in_process_on_mutated_models(rng: random.Random) -> None:
    """The product path itself, in this process: the parser runs first in a child."""
    case = make_model_case(rng)
    with tempfile.TemporaryDirectory() as tmp:
        path = case.write(Path(tmp))
        _assert_clean(check_outcome(lambda: diagnose(path), seconds=120), case.describe())


def test_diagnose_native_fuzz_in_worker() -> None:
    """Many more parses, in worker processes: a parser crash kills only the worker, and the
    crashing input is replayed through diagnose's own isolation, which must contain it."""
    count = 3000 if LONG else 600
    run = run_native_fuzz("diagnose", 0, count)
    assert run.cases == count
    assert not run.bugs, run.bugs[:3]
    assert all(crash["contained"] for crash in run.crashes), run.crashes


@pytest.fixture(scope="module")
def plan_dir(tmp_path_factory: pytest.TempPathFactory, sample) -> Path:
    folder = tmp_path_factory.mktemp("plan")
    artifact = build_engine(sample("mlp_dynamic_batch"),
                            BuildSettings(compute_capabilities=("8.9",)))
    save_engine(artifact, folder / "engine.plan")
    return folder


def test_load_engine_fuzz_in_worker(plan_dir: Path) -> None:
    count = 2000 if LONG else 400
    run = run_native_fuzz("load_engine", 0, count, [str(plan_dir)])
    assert run.cases == count
    assert not run.bugs, run.bugs[:3]
    assert not run.crashes, run.crashes
    kinds = {o["kind"] for o in run.outcomes}
    assert "refused" in kinds  # the mutations do reach the checks


def _inputs(rng: random.Random) -> list[TensorSpec]:
    dims = (1, 3, 8, "batch", "seq", None, "height", -1, 0)
    return [TensorSpec(f"in{k}", "float32",
                       None if rng.random() < 0.1 else
                       tuple(rng.choice(dims) for _ in range(rng.randint(0, 4))))
            for k in range(rng.randint(0, 3))]


@settings(FUZZ, max_examples=5000 if LONG else 400)
@given(rng=st.randoms(use_true_random=False))
def test_build_settings_validation(rng: random.Random) -> None:
    inputs = _inputs(rng)
    data = random_settings_kwargs(rng, [spec.name for spec in inputs])

    def validate() -> None:
        resolved = BuildSettings.from_dict(data).resolved(inputs)
        assert BuildSettings.from_dict(json.loads(json.dumps(resolved.to_dict()))) == resolved
        resolved.to_trtexec("model.onnx")
        resolved.to_python("model.onnx")

    _assert_clean(check_outcome(validate), repr(data))


@settings(FUZZ, max_examples=2000 if LONG else 200)
@given(text=st.one_of(st.text(max_size=40), st.builds(
    lambda rng: "x:" + ",".join("x".join(map(str, random_shape(rng))) for _ in range(3)),
    st.randoms(use_true_random=False))))
def test_shape_profile_parse(text: str) -> None:
    _assert_clean(check_outcome(lambda: ShapeProfile.parse(text)), repr(text))
