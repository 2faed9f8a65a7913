"""Sample inputs for the session: the one feed generator, sized for the model or an engine.

The graph is read without its weights (``load_weights=False``): only its structure says
which integer inputs index what, so a 3 GB model costs no more than a small one here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from workbench.feeds.generator import FeedOptions, FeedPlanRow, feed_plan, model_feeds
from workbench.inspection.loading import ModelSource, load_model

__all__ = ["check_with_onnxruntime", "engine_opt_shapes", "feeds_for", "plan_for"]


def feeds_for(source: ModelSource, seed: int, options: FeedOptions,
              shapes: Mapping[str, tuple[int, ...]] | None = None) -> dict[str, np.ndarray]:
    """Seeded feeds for the model at ``source`` (an engine's opt ``shapes`` win)."""
    return model_feeds(load_model(source, load_weights=False), seed, options, shapes=shapes)


def plan_for(source: ModelSource, options: FeedOptions,
             shapes: Mapping[str, tuple[int, ...]] | None = None) -> list[FeedPlanRow]:
    """What ``feeds_for`` will make, input by input, and why."""
    return feed_plan(load_model(source, load_weights=False), options, shapes=shapes)


def engine_opt_shapes(engine: Any) -> dict[str, tuple[int, ...]] | None:
    """The opt shapes of profile 0 of an engine's card (an artifact, a reloaded engine, or
    the card itself)."""
    card = engine if hasattr(engine, "profiles") else getattr(engine, "card", None)
    profiles = getattr(card, "profiles", None) if card is not None else None
    if not profiles:
        return None
    return {shape.input: tuple(shape.opt) for shape in profiles[0]}


def check_with_onnxruntime(source: ModelSource, feeds: Mapping[str, np.ndarray]) -> None:
    """Run the feeds once with ONNX Runtime; a failure names the input and value that broke
    which node (``workbench.feeds.explain.explain_run_failure``)."""
    from workbench.backends.ort import OrtRunner  # ONNX Runtime only when a check runs

    with OrtRunner(source) as runner:
        runner.infer(feeds)
