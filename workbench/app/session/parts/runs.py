"""The runs part: the inputs (generated per seed at the sizes set, or an ``.npz``), and
inference with ONNX Runtime or the built / reloaded TensorRT engine."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from workbench.app.session import feeding
from workbench.app.session.run import (
    RunBackend,
    RunResult,
    inputs_from_npz,
    run_backend,
    run_model,
    tensorrt_status,
)
from workbench.app.session.tasks import Event, TaskKind, background
from workbench.core.errors import WorkbenchError
from workbench.feeds.generator import FeedOptions, FeedPlanRow, plan_dims
from workbench.feeds.inputs import dim_key

if TYPE_CHECKING:
    from workbench.app.session.parts.builds import BuildPart
    from workbench.app.session.parts.engines import EnginePart
    from workbench.app.session.state import SessionState
    from workbench.backends.trt.runtime.engine import LoadedEngine
    from workbench.core.records import TensorSpec
    from workbench.engines.card import EngineArtifact

__all__ = ["RunPart"]


class RunPart:
    """``inputs`` (with ``input_seed`` / ``input_source``), ``feed_options`` and the last
    run's ``outputs``."""

    def __init__(self, state: SessionState, builds: BuildPart, engines: EnginePart) -> None:
        self.state = state
        self.builds = builds
        self.engines = engines
        state.on_new_model(self._reset)
        self._reset()

    def _reset(self) -> None:
        self.inputs: dict[str, np.ndarray] | None = None
        self.feed_options = FeedOptions()  # sizes and ranges set in the Run/Compare tabs
        self.input_seed: int | None = None
        self.input_source = ""
        self.outputs: RunResult | None = None

    # -- inputs -----------------------------------------------------------------------

    def make_inputs(self, seed: int = 0, options: FeedOptions | None = None
                    ) -> dict[str, np.ndarray]:
        """Seeded feeds the model accepts (``workbench.feeds.generator.model_feeds``):
        sizes you set (``options``, kept as ``feed_options``), else the last build's opt
        shapes (so Build → Run fits by construction), else the default build profile's opt
        raised to what the graph's kernels need; integer inputs within what the graph
        indexes; masks all ones."""
        if options is not None:
            self.set_feed_options(options)
        self.inputs = feeds = feeding.feeds_for(self.state.model_source(), seed,
                                                self.feed_options, self._engine_shapes())
        self.input_seed, self.input_source = seed, f"seed {seed}"
        return feeds

    def _engine_shapes(self) -> dict[str, tuple[int, ...]]:
        """The built engine plan's opt shapes (before a build: those of a default profile
        raised by running it), except for inputs whose dims you set."""
        if self.builds.artifact is None:
            shapes = self.builds.default_opt_shapes()
        else:
            try:
                shapes = self.builds.engine_plan().opt_shapes()
            except WorkbenchError:  # no plan here (e.g. unknown rank): the feeds' seeding
                return {}
        pinned = set(self.feed_options.dims)
        specs = {spec.name: spec for spec in self.state.require_model().summary.inputs}
        return {name: tuple(shape) for name, shape in shapes.items()
                if name in specs and not pinned & _dim_keys(specs[name])}

    def set_feed_options(self, options: FeedOptions) -> None:
        """Sizes per symbolic dim and ranges per integer input for generated feeds (Run and
        Compare); announced with ``Event.FEEDS``."""
        self.feed_options = options
        self.state.events.emit(Event.FEEDS, options)

    def feed_dims(self) -> dict[str, int]:
        """The size of every dynamic dim as ``make_inputs`` uses it (yours, else the
        engine's or the runnable default's): Compare, the keep-list search and the mask fix
        take these too, so every flow runs at the same sizes."""
        planned = plan_dims(self.state.require_model().summary.inputs, self.feed_plan())
        return {**planned, **self.feed_options.dims}

    def feed_plan(self, options: FeedOptions | None = None) -> list[FeedPlanRow]:
        """What ``make_inputs`` makes for each input (shape, values, why)."""
        return feeding.plan_for(self.state.model_source(), options or self.feed_options,
                                self._engine_shapes())

    def use_inputs_file(self, data: bytes | Path, name: str = "inputs.npz"
                        ) -> dict[str, np.ndarray]:
        """Feeds from an ``.npz`` (uploaded bytes or a path); checked when the run starts."""
        self.inputs = inputs_from_npz(data, name)
        self.input_seed, self.input_source = None, f"file {Path(name).name}"
        return self.inputs

    def feeds_given(self) -> dict[str, np.ndarray] | None:
        """Feeds set by hand (an .npz upload or edited values); None: generated per seed by
        whoever uses them, at Run's sizes (``feed_dims``)."""
        return self.inputs if self.input_seed is None and self.inputs is not None else None

    # -- inference --------------------------------------------------------------------

    def tensorrt_status(self) -> tuple[bool, str]:
        """(True, GPU description) when TensorRT engines can run here, else (False, why)."""
        return tensorrt_status()

    @background(TaskKind.RUN, "running inference")
    def run(self, backend: RunBackend | str = RunBackend.ONNXRUNTIME) -> RunResult:
        """Run the current model (ORT) or engine (TensorRT) on ``inputs`` (seed 0 if none)."""
        backend = run_backend(backend)
        if self.inputs is None:
            self.make_inputs(0)
        assert self.inputs is not None
        artifact, loaded = self.builds.artifact, self.engines.loaded
        engine = artifact if artifact is not None else (
            loaded.path if loaded is not None else None)
        if backend is RunBackend.TENSORRT and self.input_seed is not None and tensorrt_status()[0]:
            self._feeds_for_engine(artifact or loaded)
        outputs, seconds, latency = run_model(backend, self.state.model_source(),
                                              self.inputs, engine)
        self.outputs = RunResult(backend, self.input_source, self.input_seed, self.inputs,
                                 dict(outputs), seconds, latency)
        return self.outputs

    def _feeds_for_engine(self, engine: EngineArtifact | LoadedEngine | None) -> None:
        """Generated feeds at the engine's opt shapes, checked once with ONNX Runtime."""
        shapes = feeding.engine_opt_shapes(engine)
        if shapes is None or self.input_seed is None:
            return
        self.inputs = feeding.feeds_for(self.state.model_source(), self.input_seed,
                                        self.feed_options, shapes)
        feeding.check_with_onnxruntime(self.state.model_source(), self.inputs)


def _dim_keys(spec: TensorSpec) -> set[str]:
    """The names sizes of ``spec``'s dynamic dims are set under (``dim_key``)."""
    return {key for axis, dim in enumerate(spec.shape or ())
            if (key := dim_key(spec.name, axis, dim)) is not None}
