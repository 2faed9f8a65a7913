"""Build tab: settings form, Build / Cancel, progress, live log, equivalent commands."""

from __future__ import annotations

import threading
from typing import Any

import ipywidgets as widgets

from workbench.app.session.jobs import BuildJob
from workbench.app.session.session import LoadedModel, WorkbenchSession
from workbench.app.session.tasks import Event, Task, TaskKind, TaskState, as_workbench_error
from workbench.core.errors import WorkbenchError
from workbench.settings.settings import BuildSettings
from workbench.ui.build.layers import keep_check_html, layers_html
from workbench.ui.build.logpane import LogPane
from workbench.ui.build.settings_form import SettingsForm
from workbench.ui.common import ErrorBox, conversion_html, esc, note

__all__ = ["BuildTab"]

_TEXT = widgets.Layout(width="100%", height="130px")


class BuildTab:
    """Start and watch builds. The build itself is ``session.builds.start``'s BuildJob."""

    def __init__(self, session: WorkbenchSession, tick_s: float = 0.2) -> None:
        self.session = session
        self.tick_s = tick_s
        self.form = SettingsForm(self._on_settings)
        self.build_button = widgets.Button(description="Build", icon="cogs",
                                           button_style="success", disabled=True)
        self.cancel_button = widgets.Button(description="Cancel", icon="times",
                                            button_style="danger", disabled=True)
        self.progress = widgets.FloatProgress(value=0.0, min=0.0, max=1.0,
                                              description="idle", bar_style="info",
                                              layout={"width": "420px"})
        self.phase = widgets.HTML()
        for widget, name in ((self.build_button, "wb-build-button"),
                             (self.cancel_button, "wb-cancel-button"),
                             (self.progress, "wb-build-progress"), (self.phase, "wb-phase")):
            widget.add_class(name)  # stable hooks for the browser test
        self.result = widgets.HTML()
        self.error = ErrorBox()
        self.log = LogPane()
        self.trtexec = widgets.Textarea(layout=_TEXT, description="")
        self.trtexec.add_class("wb-trtexec")  # follows the form: the browser test waits on it
        self.python = widgets.Textarea(layout=widgets.Layout(width="100%", height="260px"))
        commands = widgets.Accordion(children=[self.trtexec, self.python],
                                     titles=("Equivalent trtexec command",
                                             "Equivalent Python script (bare TensorRT API)"))
        self.parse_warning = widgets.HTML()
        self.profile_note = widgets.HTML()  # the default profile, when running it moved it
        self.suggest_button = widgets.Button(description="Use suggested profile", icon="magic",
                                             button_style="warning",
                                             layout={"display": "none", "width": "220px"})
        self.suggest_button.on_click(lambda _b: self.use_suggestion())
        self._suggestion: tuple[Any, ...] = ()
        self._check_generation = 0
        self.check_thread: threading.Thread | None = None  # the last profile run started
        self.build_button.on_click(lambda _b: self.start())
        self.cancel_button.on_click(lambda _b: self.session.builds.cancel())
        session.on(Event.BUILD, self._on_build)
        session.on(Event.TASK, self._on_task)
        session.on(Event.USE_KEEP_FP32, self._use_keep)
        self._ticker: threading.Thread | None = None
        self.widget = widgets.VBox([
            self.form.widget, self.suggest_button, self.profile_note,
            self.parse_warning,
            widgets.HBox([self.build_button, self.cancel_button, self.progress]),
            self.phase, self.error, self.result, widgets.HTML("<b>TensorRT log</b>"),
            self.log.widget, commands,
        ])

    def on_model(self, model: LoadedModel | None) -> None:
        self.result.value = self.parse_warning.value = self.phase.value = ""
        self.profile_note.value = ""
        self.error.clear()
        self.progress.value, self.progress.description = 0.0, "idle"
        self.progress.bar_style = "info"
        if model is None:
            self.form.profile_editor.seed(())
            self.build_button.disabled = True
            self.form.valid.value = note("Load a model to build an engine.")
            self.trtexec.value = self.python.value = ""
            return
        self.form.set_settings(self.session.builds.default_settings(), model.summary.inputs)
        note_text = self.session.builds.default_profile_note
        self.profile_note.value = note(esc(note_text), "info") if note_text else ""

    def _use_keep(self, _event: str, payload: tuple[tuple[str, ...], str]) -> None:
        """A verified keep list from the Compare tab: precision and keep FP32 set here."""
        keep, precision = payload
        self.form.fields["precision"].value = precision
        self.form.fields["keep_fp32"].value = ", ".join(keep)

    def _on_task(self, _event: str, task: Task[Any]) -> None:
        """Say before the build what the Parse tab found: a build of such a model fails."""
        if task.kind not in (TaskKind.DIAGNOSE, TaskKind.FOLD) or task.busy:
            return
        report = self.session.triage.diagnosis
        if report is None or report:
            self.parse_warning.value = ""
            return
        self.parse_warning.value = note(
            f"⚠ TensorRT's parser rejects this model ({esc(', '.join(report.categories))}), "
            "so a build will fail: see the Parse tab for the cause and the fixes.", "warn")

    def _on_settings(self, settings: BuildSettings | None) -> None:
        """Live: the commands follow the form; Build is enabled only for valid settings."""
        running = self._running()
        self.build_button.disabled = settings is None or self.session.model is None or running
        self.suggest_button.layout.display = "none"
        if settings is None or self.session.model is None:
            return
        self.check_shapes(settings)
        try:
            self.trtexec.value = self.session.builds.trtexec_command(settings)
            self.python.value = self.session.builds.python_script(settings)
        except WorkbenchError as err:  # the plan refuses: the build would, with this error
            self.trtexec.value = self.python.value = f"# cannot build: {err.summary}"

    def check_shapes(self, settings: Any) -> threading.Thread | None:
        """Run the profile with ONNX Runtime in the background; "✔ settings valid" only when
        it runs. A newer edit makes an older check's result stale (ignored)."""
        self._check_generation += 1
        generation = self._check_generation
        known = self.session.builds.cached_profile_check(settings)
        if known is not None:  # no run needed: say so at once
            self._show_check(known)
            return None
        self.form.valid.value = note("settings well-formed; running the profile's shapes with "
                                     "ONNX Runtime…")
        self.build_button.disabled = True
        thread = threading.Thread(target=self._check, args=(generation, settings),
                                  name="workbench-profile-check", daemon=True)
        thread.start()
        self.check_thread = thread
        return thread

    def _check(self, generation: int, settings: Any) -> None:
        try:
            check = self.session.builds.check_profiles(settings)
        except Exception as err:  # shown, never raised from a thread
            check, error = None, as_workbench_error(err, "running the profile")
        if generation != self._check_generation:
            return
        if check is None:
            self.form.valid.value = note("✘ the profile could not be run: "
                                         + esc(error.summary), "error")
            self.build_button.disabled = True
            return
        self._show_check(check)

    def _show_check(self, check: Any) -> None:
        if check:
            self.form.valid.value = note("✔ settings valid for this model (" + esc(
                check.text()) + ")", "ok")
        else:
            self.form.valid.value = note("✘ the model cannot run this profile: " + esc(
                check.text()).replace("\n", "<br>"), "error")
        self._suggestion = tuple(check.suggestion or ())
        self.suggest_button.layout.display = "" if self._suggestion and not check else "none"
        self.build_button.disabled = not check or self._running()

    def use_suggestion(self) -> None:
        """Put the sizes that ran into the profile editor (which checks them again)."""
        if self._suggestion:
            self.form.profile_editor.seed(self.form.profile_editor.inputs, self._suggestion)

    def _running(self) -> bool:
        job = self.session.builds.job
        return job is not None and not job.done

    # -- build ------------------------------------------------------------------------

    def start(self) -> BuildJob | None:
        """What the Build button does; returns the job (None when refused)."""
        self.error.clear()
        settings = self.form.validate()
        if settings is None:
            return None  # the form already shows why
        try:
            return self.session.builds.start(settings)
        except WorkbenchError as err:
            self.error.show(err)
        except Exception as err:  # never a traceback in the notebook
            self.error.show(as_workbench_error(err, "starting the build"))
        return None

    def _on_build(self, _event: str, job: BuildJob) -> None:
        if not job.done:  # started: follow its log and progress
            self.log.attach(job.log)
            self.result.value = ""
            self.build_button.disabled, self.cancel_button.disabled = True, False
            self.progress.bar_style, self.progress.value = "info", 0.0
            self._ticker = threading.Thread(target=self._tick, args=(job,), daemon=True,
                                            name="workbench: build progress")
            self._ticker.start()
        else:
            self._finished(job)

    def _tick(self, job: BuildJob) -> None:
        while not job.join(self.tick_s):
            self._show_progress(job)
        self._show_progress(job)

    def _show_progress(self, job: BuildJob) -> None:
        self.progress.value = job.fraction
        # a cancelled bar stays where it stopped, and says so instead of a percentage
        self.progress.description = (str(job.state) if job.done
                                     and job.state is not TaskState.DONE
                                     else f"{job.fraction:.0%}")
        phase = esc(job.phase or "starting")
        lines = f"{job.log.total:,} log lines"
        if job.done:  # the last phase is history now: say how it ended, and where
            built = job.state is TaskState.DONE
            where = "" if built or not job.phase else f" (during: {phase})"
            ended = "built" if built else str(job.state)
            winding = (" · TensorRT stops at its next step, in the background"
                       if job.state is TaskState.CANCELLED and job.worker_alive else "")
            self.phase.value = (f"<small><b>{ended}</b> after {job.elapsed:.1f} s"
                                f"{where} · {lines}{winding}</small>")
            return
        state = "cancelling…" if job.cancel_requested else job.state
        self.phase.value = (f"<small>{esc(state)} · phase: <b>{phase}</b> · "
                            f"{job.elapsed:.1f} s · {lines}</small>")

    def _finished(self, job: BuildJob) -> None:
        self.log.render()
        self._show_progress(job)
        self.cancel_button.disabled = True
        self.build_button.disabled = self.form.last_valid is None
        if job.state is TaskState.DONE and job.result is not None:
            self.progress.bar_style = "success"
            self.result.value = self._artifact_html(job.result, job.elapsed)
        elif job.error is not None:
            cancelled = job.state is TaskState.CANCELLED
            self.progress.bar_style = "warning" if cancelled else "danger"
            self.error.show(job.error)

    @staticmethod
    def _artifact_html(artifact: Any, elapsed: float) -> str:
        card = artifact.card
        facts = [f"{len(artifact.plan) / 2**20:.2f} MiB in {elapsed:.1f} s", card.flavour_label,
                 card.target_text(), card.settings.precision,
                 f"plan SHA-256 {card.plan_sha256[:12]}…"]
        return (note("✔ Engine built: " + esc(" · ".join(facts))
                     + " — save it in the Engines tab.", "ok")
                + conversion_html(getattr(artifact, "conversion", None))
                + keep_check_html(card) + layers_html(card))
