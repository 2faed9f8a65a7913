"""Build → Run fits by construction: the feeds are sized by the engine plan's profile.

The session's sample inputs take their shapes from the plan's opt shapes (the default
build's, or the last build's when the user edited the profile), and TrtRunner's input
validation — the path that runs before any GPU work — accepts them against the engine
actually built (real TensorRT-RTX build, checked on CPU).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sample_models.realistic import REALISTIC
from workbench.app.session.session import WorkbenchSession
from workbench.backends.trt.runtime.runner import TrtRunner
from workbench.core.errors import InferenceInputError
from workbench.settings.settings import ShapeProfile


@pytest.fixture
def session(tmp_path: Path, samples_dir: Path) -> WorkbenchSession:
    made = WorkbenchSession(engines_dir=tmp_path / "engines", samples_dir=samples_dir,
                            work_dir=tmp_path / "out")
    yield made
    made.close()


@pytest.mark.parametrize("name", [
    "mlp_dynamic_batch", "resnet_block", "transformer_block",
    *(f"realistic:{m.name}" for m in REALISTIC if m.builds_with_defaults),
])
def test_default_build_then_run_feeds_fit_the_engine(name: str, session: WorkbenchSession,
                                                     sample, realistic) -> None:
    kind, _, model = name.rpartition(":")
    session.load(realistic(model) if kind else sample(model))
    plan = session.build_plan()
    session.start_build()
    artifact = session.wait_build(120)
    feeds = session.make_inputs(seed=3)
    assert {k: v.shape for k, v in feeds.items() if k in plan.opt_shapes()} == \
        plan.opt_shapes()
    runner = TrtRunner(artifact)  # I/O and profile from the engine's card: no GPU needed
    checked = runner.validate(feeds)
    assert set(checked) == {spec.name for spec in artifact.card.inputs}
    for spec in artifact.card.profiles[0]:
        assert spec.opt == feeds[spec.input].shape


def test_an_edited_profile_sizes_the_feeds_of_the_next_run(session: WorkbenchSession,
                                                           sample) -> None:
    session.load(sample("mlp_dynamic_batch"))
    wide = ShapeProfile("features", (2, 64), (6, 64), (12, 64))
    settings = session.default_settings()
    session.start_build(type(settings)(profiles=(wide,)))
    artifact = session.wait_build(120)
    feeds = session.make_inputs()
    assert feeds["features"].shape == (6, 64)
    TrtRunner(artifact).validate(feeds)
    feeds["features"] = feeds["features"][:1]  # batch 1 < the profile's min of 2
    with pytest.raises(InferenceInputError, match="profile"):
        TrtRunner(artifact).validate(feeds)
