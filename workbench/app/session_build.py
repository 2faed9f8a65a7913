"""Build, profiles, plans and saved engines of :class:`~workbench.app.session.WorkbenchSession`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from workbench.app import reproduce
from workbench.app.engine_library import EngineLibrary
from workbench.app.jobs import BuildJob
from workbench.app.profile_check import ProfileCheck, check_profiles, refuse
from workbench.app.session_core import SessionCore
from workbench.app.tasks import Event, Task, TaskKind
from workbench.build.plan import BuildPlan
from workbench.build.render import python_script as render_python
from workbench.build.render import trtexec_command as render_trtexec
from workbench.build.settings import BuildSettings
from workbench.core.errors import WorkbenchError

if TYPE_CHECKING:
    from workbench.backends.trt.engine import LoadedEngine
    from workbench.build.engines import EngineArtifact

T = TypeVar("T")

__all__ = ["BuildArea"]


class BuildArea(SessionCore):
    """Build with live log and cancel, profile checks, build plans and their renderings,
    and the saved-engines folder."""

    # -- build ------------------------------------------------------------------------

    def default_settings(self) -> BuildSettings:
        """BuildSettings with profiles seeded from the model's symbolic dims, checked by
        running them: when ONNX Runtime refuses a seeded bound (a strided Conv stack that
        needs hundreds of samples, a reflect Pad, a height only one size works at), the
        sizes that run become the default (``default_profile_note`` says so)."""
        if self.model is None:
            return BuildSettings()
        if self._defaults is None:  # once per model: finding them may run the model
            self._defaults = self._runnable_defaults()
        return self._defaults

    def _runnable_defaults(self) -> BuildSettings:
        assert self.model is not None
        try:
            seeded = BuildSettings().resolved(self.model.summary.inputs, self.dim_minimums())
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
        if self.model is None:
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
            model = load_model(self.model_source(), load_weights=False)
            self._dim_minimums = minimum_sizes(model)
        return self._dim_minimums

    def start_build(self, settings: BuildSettings | None = None) -> BuildJob:
        """Start a background build; returns the BuildJob (log bus, progress, cancel).

        Emits ``Event.BUILD`` when it starts and when it ends (before ``wait`` returns);
        on success ``artifact`` is set.
        """
        self.require_model()
        if self.build_job is not None and not self.build_job.done:
            raise WorkbenchError(
                "A build is already running.",
                expected="one build at a time per session",
                found=f"a build running for {self.build_job.elapsed:.1f} s",
                fix="wait for it, or press Cancel (session.cancel_build())",
            )
        self.settings = settings if settings is not None else self.default_settings()
        self.require_runnable_profiles(self.settings)
        job = BuildJob(self.model_source(), self.settings, on_done=self._build_done,
                       start=False)
        self.build_job = self.tasks[TaskKind.BUILD] = job
        self.events.emit(Event.BUILD, job)  # views attach to job.log before the first line
        job.start()
        return job

    def check_profiles(self, settings: BuildSettings | None = None) -> ProfileCheck:
        """Run the model with ONNX Runtime at the profiles' min/opt(/max) shapes
        (:func:`workbench.app.profile_check.check_profiles`). The result is kept per
        profile, so other settings (workspace, precision) do not run the model again."""
        model = self.require_model()
        settings = settings if settings is not None else self.default_settings()
        cached = self.cached_profile_check(settings)
        if cached is None:
            cached = check_profiles(self.model_source(), settings, model.summary.inputs)
            self._profile_checks = {settings.profiles: cached}  # one at a time: no growth
        return cached

    def cached_profile_check(self, settings: BuildSettings) -> ProfileCheck | None:
        """The check of these settings' profiles when it needs no run (known, or static)."""
        model = self.model
        if model is not None and not any(s.is_dynamic for s in model.summary.inputs):
            return ProfileCheck((), skipped="the model has no dynamic inputs")
        return self._profile_checks.get(settings.profiles)

    def require_runnable_profiles(self, settings: BuildSettings) -> ProfileCheck:
        """:meth:`check_profiles`, raising BuildSettingsError for a profile the model cannot
        run (the node, the constraint and sizes that run)."""
        check = self.check_profiles(settings)
        if not check:
            raise refuse(check)
        return check

    def _build_done(self, job: BuildJob) -> None:
        # Runs before the job's waiters wake, so wait_build() returns with the panel settled.
        if job is self.build_job and job.result is not None:
            self.artifact = job.result
        self.events.emit(Event.BUILD, job)

    def wait_build(self, timeout: float | None = None) -> EngineArtifact:
        """Wait for the running build (and the views it updates); returns the artifact."""
        job = self.build_job
        if job is None:
            raise WorkbenchError("No build has been started.", fix="call start_build() first")
        return job.wait(timeout)

    def cancel_build(self) -> None:
        if self.build_job is not None and not self.build_job.done:
            self.build_job.cancel()

    def engine_path_hint(self) -> Path:
        stem = Path(self.require_model().label).stem
        return self.engines_dir / f"{stem}.engine"

    def build_plan(self, settings: BuildSettings | None = None) -> BuildPlan:
        """What a build with ``settings`` (default: :meth:`default_settings`) would do here:
        the plan the builder executes and the renderings print.

        Raises:
            BackendUnavailableError: this TensorRT cannot build these settings.
            BuildSettingsError: the profiles do not fit the model's inputs.
        """
        settings = settings if settings is not None else self.default_settings()
        return reproduce.build_plan(settings, self.require_model().summary.inputs)

    def engine_plan(self) -> BuildPlan:
        """The plan of the engine a TensorRT run would use: the last build's, else the
        default one (its profile's opt shapes are the sizes :meth:`make_inputs` picks)."""
        if self.artifact is not None:
            return self.build_plan(self.artifact.card.settings)
        return self.build_plan()

    def trtexec_command(self, settings: BuildSettings | None = None) -> str:
        """The trtexec command line equivalent to building with ``settings``."""
        return render_trtexec(self.build_plan(settings), self._model_path_text(),
                              str(self.engine_path_hint()))

    def python_script(self, settings: BuildSettings | None = None) -> str:
        """A standalone Python script (bare TensorRT API) for the same build."""
        return render_python(self.build_plan(settings), self._model_path_text(),
                             str(self.engine_path_hint()))

    def _model_path_text(self) -> str:
        model = self.require_model()
        return str(model.path) if model.path is not None else model.label

    # -- engines ----------------------------------------------------------------------

    @property
    def engines(self) -> EngineLibrary:
        return EngineLibrary(self.engines_dir)

    def save_engine(self, name: str, overwrite: bool = False) -> Path:
        """Save the last built engine (and its card) as ``engines_dir/<name>.engine``."""
        if self.artifact is None:
            raise WorkbenchError("There is no built engine to save.",
                                 expected="a successful build in this session",
                                 found="no engine built yet", fix="build one first")
        path = self.engines.save(self.artifact, name, overwrite=overwrite)
        self.events.emit(Event.ENGINES, self.engines.entries())
        return path

    def reload_engine(self, name: str) -> LoadedEngine:
        """Check a saved engine against its card and this machine (``LoadedEngine``)."""
        from workbench.backends.trt.engine import load_engine

        self.loaded_engine = loaded = load_engine(self.engines.existing(name))
        self.events.emit(Event.ENGINES, self.engines.entries())
        return loaded

    def start_save_engine(self, name: str, overwrite: bool = False) -> Task[Path]:
        """:meth:`save_engine` in the background (writing a multi-GB plan takes seconds)."""
        return self._engines_task("saving the engine",
                                  lambda: self.save_engine(name, overwrite))

    def start_reload_engine(self, name: str) -> Task[LoadedEngine]:
        """:meth:`reload_engine` in the background (hashing a multi-GB plan takes seconds)."""
        return self._engines_task("reloading and checking the engine",
                                  lambda: self.reload_engine(name))

    def _engines_task(self, name: str, work: Callable[[], T]) -> Task[T]:
        task = self.task(TaskKind.ENGINES)  # no model needed: saved engines stand alone
        task.name = name
        return task.start(work)

    def delete_engine(self, name: str, confirm: bool = False) -> list[Path]:
        """Delete a saved engine and its card; refuses without ``confirm=True``."""
        removed = self.engines.delete(name, confirm=confirm)
        if self.loaded_engine is not None and self.loaded_engine.path in removed:
            self.loaded_engine = None
        self.events.emit(Event.ENGINES, self.engines.entries())
        return removed
