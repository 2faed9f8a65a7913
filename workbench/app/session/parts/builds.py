"""The builds part: default settings and profiles (checked by running them), the build
with live log and cancel, build plans and their renderings."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.app.session.jobs import BuildJob
from workbench.app.session.profile_check import ProfileCheck, check_profiles, refuse
from workbench.app.session.tasks import Event, TaskKind
from workbench.app.share import reproduce
from workbench.core.errors import WorkbenchError
from workbench.settings.render import python_script as render_python
from workbench.settings.render import trtexec_command as render_trtexec
from workbench.settings.settings import BuildSettings

if TYPE_CHECKING:
    from workbench.app.session.state import SessionState
    from workbench.engines.card import EngineArtifact
    from workbench.settings.plan import BuildPlan

__all__ = ["BuildPart"]


class BuildPart:
    """Build settings, profile checks, the build (``job``, ``artifact``) and its plan."""

    def __init__(self, state: SessionState) -> None:
        self.state = state
        state.on_new_model(self._reset)
        self._reset()

    def _reset(self) -> None:
        self.settings: BuildSettings | None = None  # of the last build started
        self.job: BuildJob | None = None
        self.artifact: EngineArtifact | None = None  # of the last successful build
        self.default_profile_note = ""  # set when running raised the default profile
        self._defaults: BuildSettings | None = None
        self._dim_minimums: dict[str, int] | None = None
        self._profile_checks: dict[tuple[Any, ...], ProfileCheck] = {}  # by profiles

    # -- defaults ---------------------------------------------------------------------

    def default_settings(self) -> BuildSettings:
        """BuildSettings with profiles seeded from the model's symbolic dims, checked by
        running them: when ONNX Runtime refuses a seeded bound (a strided Conv stack that
        needs hundreds of samples, a reflect Pad, a height only one size works at), the
        sizes that run become the default (``default_profile_note`` says so)."""
        if self.state.model is None:
            return BuildSettings()
        if self._defaults is None:  # once per model: finding them may run the model
            self._defaults = self._runnable_defaults()
        return self._defaults

    def _runnable_defaults(self) -> BuildSettings:
        model = self.state.require_model()
        try:
            seeded = BuildSettings().resolved(model.summary.inputs, self.dim_minimums())
        except WorkbenchError:
            return BuildSettings()  # e.g. unknown rank: the form explains it
        if not seeded.profiles:
            return seeded
        try:
            check = self.check_profiles(seeded)
        except WorkbenchError:  # the build's own check will say why
            return seeded
        if check or not check.suggestion:
            return seeded
        suggestion = check.suggestion
        self.default_profile_note = (
            "default profile set to sizes that run: "
            + " ".join(shape.text() for shape in suggestion)
            + f" (the seeded one failed: {check.refusals[0].text()})")[:600]
        return replace(seeded, profiles=(suggestion,))

    def default_opt_shapes(self) -> dict[str, tuple[int, ...]]:
        """The opt shapes of a default profile raised by running it (else none: generated
        inputs then take the seeded sizes, which are its opt shapes already)."""
        if self.state.model is None:
            return {}
        profiles = self.default_settings().profiles  # sets the note when it runs the model
        if not self.default_profile_note:
            return {}
        return {shape.input: shape.opt for shape in profiles[0]} if profiles else {}

    def dim_minimums(self) -> dict[str, int]:
        """Smallest size the graph accepts per symbolic dim (Conv/Pool windows), so default
        profiles and generated inputs start where the model can run (cached per model)."""
        from workbench.inspection.input_roles import minimum_sizes
        from workbench.inspection.loading import load_model

        if self._dim_minimums is None:
            model = load_model(self.state.model_source(), load_weights=False)
            self._dim_minimums = minimum_sizes(model)
        return self._dim_minimums

    # -- profiles ---------------------------------------------------------------------

    def check_profiles(self, settings: BuildSettings | None = None) -> ProfileCheck:
        """Run the model with ONNX Runtime at the profiles' min/opt(/max) shapes
        (``workbench.app.session.profile_check.check_profiles``). The result is kept per
        profile, so other settings (workspace, precision) do not run the model again."""
        model = self.state.require_model()
        settings = settings if settings is not None else self.default_settings()
        cached = self.cached_profile_check(settings)
        if cached is None:
            cached = check_profiles(self.state.model_source(), settings, model.summary.inputs)
            self._profile_checks = {settings.profiles: cached}  # one at a time: no growth
        return cached

    def cached_profile_check(self, settings: BuildSettings) -> ProfileCheck | None:
        """The check of these settings' profiles when it needs no run (known, or static)."""
        model = self.state.model
        if model is not None and not any(s.is_dynamic for s in model.summary.inputs):
            return ProfileCheck((), skipped="the model has no dynamic inputs")
        return self._profile_checks.get(settings.profiles)

    def require_runnable_profiles(self, settings: BuildSettings) -> ProfileCheck:
        """``check_profiles``, raising BuildSettingsError for a profile the model cannot
        run (the node, the constraint and sizes that run)."""
        check = self.check_profiles(settings)
        if not check:
            raise refuse(check)
        return check

    # -- the build --------------------------------------------------------------------

    def start(self, settings: BuildSettings | None = None) -> BuildJob:
        """Start a background build; returns the BuildJob (a Task with a log bus, progress
        and cancel; ``job.wait()`` returns the EngineArtifact).

        Emits ``Event.BUILD`` when it starts and when it ends (before ``wait`` returns);
        on success ``artifact`` is set.
        """
        self.state.require_model()
        if self.job is not None and not self.job.done:
            raise WorkbenchError(
                "A build is already running.",
                expected="one build at a time per session",
                found=f"a build running for {self.job.elapsed:.1f} s",
                fix="wait for it, or press Cancel (session.builds.cancel())",
            )
        self.settings = settings if settings is not None else self.default_settings()
        self.require_runnable_profiles(self.settings)
        job = BuildJob(self.state.model_source(), self.settings, on_done=self._done,
                       start=False)
        self.job = job
        self.state.tasks[TaskKind.BUILD] = job
        self.state.events.emit(Event.BUILD, job)  # views attach to job.log first
        job.start()
        return job

    def build(self, settings: BuildSettings | None = None,
              timeout: float | None = None) -> EngineArtifact:
        """``start`` and ``wait``: build on the caller's behalf, return the artifact."""
        self.start(settings)
        return self.wait(timeout)

    def _done(self, job: BuildJob) -> None:
        # Runs before the job's waiters wake, so wait() returns with the panel settled.
        if job is self.job and job.result is not None:
            self.artifact = job.result
        self.state.events.emit(Event.BUILD, job)

    def wait(self, timeout: float | None = None) -> EngineArtifact:
        """Wait for the running build (and the views it updates); returns the artifact."""
        job = self.job
        if job is None:
            raise WorkbenchError("No build has been started.",
                                 fix="call session.builds.start() first")
        return job.wait(timeout)

    def cancel(self) -> None:
        """Stop the running build (it ends CANCELLED at once)."""
        if self.job is not None and not self.job.done:
            self.job.cancel()

    # -- plans and renderings ---------------------------------------------------------

    def engine_path_hint(self) -> Path:
        stem = Path(self.state.require_model().label).stem
        return self.state.engines_dir / f"{stem}.engine"

    def plan(self, settings: BuildSettings | None = None) -> BuildPlan:
        """What a build with ``settings`` (default: ``default_settings``) would do here:
        the plan the builder executes and the renderings print.

        Raises:
            BackendUnavailableError: this TensorRT cannot build these settings.
            BuildSettingsError: the profiles do not fit the model's inputs.
        """
        settings = settings if settings is not None else self.default_settings()
        return reproduce.build_plan(settings, self.state.require_model().summary.inputs)

    def engine_plan(self) -> BuildPlan:
        """The plan of the engine a TensorRT run would use: the last build's, else the
        default one (its profile's opt shapes are the sizes generated inputs take)."""
        if self.artifact is not None:
            return self.plan(self.artifact.card.settings)
        return self.plan()

    def trtexec_command(self, settings: BuildSettings | None = None) -> str:
        """The trtexec command line equivalent to building with ``settings``."""
        return render_trtexec(self.plan(settings), self.state.model_path_text(),
                              str(self.engine_path_hint()))

    def python_script(self, settings: BuildSettings | None = None) -> str:
        """A standalone Python script (bare TensorRT API) for the same build."""
        return render_python(self.plan(settings), self.state.model_path_text(),
                             str(self.engine_path_hint()))
