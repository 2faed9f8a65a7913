"""Engines tab: save the built engine by name, list saved ones with their cards, reload
(validity check and mismatch explanation), delete with confirmation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ipywidgets as widgets

from workbench.app.session.session import LoadedModel, WorkbenchSession
from workbench.app.session.tasks import Event, Task, TaskKind, as_workbench_error
from workbench.engines.card import sha256_hex
from workbench.ui.build.engine_explorer import EngineExplorer
from workbench.ui.build.layers import keep_check_html, layers_html
from workbench.ui.common import ErrorBox, busy_while, esc, kv_table, note, plural

__all__ = ["EnginesTab", "card_html"]

# Plans above this are saved and checked in the background (hashing and writing a
# multi-GB plan takes seconds: the kernel must not block); smaller ones at once.
BACKGROUND_BYTES = 256 << 20


def card_html(entry: Any) -> str:
    """A saved engine's card as a small table (or why it has none)."""
    if entry.card is None:
        return note(f"{esc(entry.name)}: {esc(entry.card_problem)}", "warn")
    card = entry.card
    rows = [("file", f"{entry.path} ({entry.size / 2**20:.2f} MiB)"),
            ("TensorRT", card.flavour_label), ("targets", card.target_text()),
            ("precision", card.settings.precision + (" (strongly typed)"
                                                     if card.strongly_typed else "")
             + (f"; kept in FP32: {', '.join(card.settings.keep_fp32)}"
                if card.settings.keep_fp32 else "")),
            ("built from", card.onnx_path or "model bytes"), ("created", card.created),
            ("plan SHA-256", card.plan_sha256)]
    rows += [("input", f"{s.name}: {s.dtype} {s.shape_text()}") for s in card.inputs]
    rows += [("output", f"{s.name}: {s.dtype} {s.shape_text()}") for s in card.outputs]
    rows += [("profile", shape.text()) for profile in card.profiles for shape in profile]
    return (f"<b>Engine card: {esc(entry.name)}</b>" + kv_table(rows) + keep_check_html(card)
            + layers_html(card))


def reload_html(loaded: Any) -> str:
    """The reload verdict: validity, mismatches in words, what can run here."""
    kind = "ok" if not loaded.mismatches else "warn"
    lines = [note(f"Plan checked against its card: SHA-256 matches "
                  f"({loaded.plan_size / 2**20:.2f} MiB).", "ok"),
             note(_validity_text(loaded), "ok" if loaded.validity == "VALID" else (
                 "info" if loaded.validity == "unchecked" else "warn"))]
    for mismatch in loaded.mismatches:
        lines.append(note(f"mismatch — {esc(mismatch)}", "warn"))
    lines.append(note(esc(loaded.explanation), kind))
    lines.extend(note(esc(w), "warn") for w in loaded.warnings)
    return "".join(lines)


def _validity_text(loaded: Any) -> str:
    if loaded.validity == "unchecked":  # no verdict: say why instead of a word in capitals
        why = "; ".join(loaded.validity_reasons) or "this TensorRT has no validity check"
        return f"TensorRT's validity check: {esc(why)}."
    reasons = f" ({esc(', '.join(loaded.validity_reasons))})" if loaded.validity_reasons else ""
    return (f"TensorRT's validity check on this machine: <b>{esc(loaded.validity)}</b>"
            f"{reasons}")


class EnginesTab:
    """The session's engines folder, as a list with actions."""

    def __init__(self, session: WorkbenchSession) -> None:
        self.session = session
        self.name = widgets.Text(description="name", placeholder="engine name",
                                 layout={"width": "320px"})
        self.overwrite = widgets.Checkbox(value=False, description="overwrite", indent=False,
                                          layout={"width": "auto"})
        self.save_button = widgets.Button(description="Save engine", icon="save",
                                          button_style="success", disabled=True)
        self.save_hint = widgets.HTML()
        self.listing = widgets.Select(options=[], rows=6, layout={"width": "320px"})
        self.all_models = widgets.Checkbox(
            value=False, description="engines of every model", indent=False,
            layout={"width": "auto"},
            tooltip="off: only engines built from the loaded model are listed")
        self.listing_note = widgets.HTML()
        self._model_digest: str | None = None
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh")
        self.reload_button = widgets.Button(description="Reload & check", icon="check")
        self.confirm = widgets.Checkbox(value=False, description="yes, delete", indent=False,
                                        layout={"width": "auto"})
        self.delete_button = widgets.Button(description="Delete", icon="trash",
                                            button_style="danger", disabled=True,
                                            tooltip="tick 'yes, delete' first")
        self.card = widgets.HTML()
        self.verdict = widgets.HTML()
        self.status = widgets.HTML()
        self.error = ErrorBox()
        self._entries: dict[str, Any] = {}
        self.explorer = EngineExplorer(lambda: self._entries, lambda: self.listing.value)
        self.save_button.on_click(lambda _b: self._act(self._save))
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.reload_button.on_click(lambda _b: self._act(self._reload))
        self.delete_button.on_click(lambda _b: self._act(self._delete))
        self.listing.observe(lambda _c: self._on_select(), "value")
        self.confirm.observe(lambda _c: self._enable_actions(), "value")
        self.all_models.observe(lambda _c: self.refresh(), "value")
        session.on(Event.BUILD, lambda _e, job: self._on_build(job))
        session.on(Event.ENGINES, lambda _e, _entries: self.refresh())
        session.on(Event.TASK, self._on_task)
        self.widget = widgets.VBox([
            widgets.HTML(f"<small>folder: <code>{esc(session.state.engines_dir.resolve())}</code>"
                         "</small>"),
            widgets.HBox([self.name, self.overwrite, self.save_button]), self.save_hint,
            widgets.HBox([widgets.HTML("<b>Saved engines</b>"), self.all_models]),
            self.listing_note,
            widgets.HBox([self.listing, widgets.VBox([
                self.refresh_button, self.reload_button,
                widgets.HBox([self.delete_button, self.confirm])])]),
            self.status, self.error, self.verdict, self.explorer.widget, self.card,
        ])
        self.refresh()

    def on_model(self, model: LoadedModel | None) -> None:
        self.verdict.value = ""
        self._model_digest = None  # hashed when first needed, once per model
        if model is not None:
            self.name.value = model.label.rsplit(".", 1)[0]
        self._enable_save()
        self.refresh()

    def _of_this_model(self, entry: Any) -> bool:
        """Whether a saved engine was built from the loaded model (path, else SHA-256)."""
        model = self.session.model
        if model is None or self.all_models.value:
            return True
        card = entry.card
        if card is None:
            return True  # no card, no known model: listed, its card slot says so
        if model.path is not None and card.onnx_path == str(model.path):
            return True
        if self._model_digest is None:
            self._model_digest = sha256_hex(model.data)
        return card.onnx_sha256 == self._model_digest

    def _enable_save(self) -> None:
        """Save needs a built engine; say so instead of showing a dead button."""
        built = self.session.builds.artifact is not None
        self.save_button.disabled = not built
        self.save_hint.value = "" if built else note(
            "Nothing to save yet: build an engine in the Build tab first; saved engines "
            "from earlier sessions are listed below.")

    def _on_build(self, job: Any) -> None:
        if job.done:
            self._enable_save()
            settings = self.session.builds.settings
            if settings is not None and self.session.model is not None:
                stem = self.session.model.label.rsplit(".", 1)[0]
                self.name.value = f"{stem}-{settings.precision}"

    def refresh(self) -> None:
        every = self.session.engines.entries()
        entries = [e for e in every if self._of_this_model(e)]
        hidden = len(every) - len(entries)
        self.listing_note.value = "" if not hidden else note(
            f"{plural(hidden, 'engine')} of other models not listed: tick "
            "'engines of every model' to see them.")
        self._entries = {e.name: e for e in entries}
        keep = self.listing.value
        self.listing.options = list(self._entries)
        self.listing.value = keep if keep in self._entries else (
            entries[0].name if entries else None)
        self._show_card()

    def _on_select(self) -> None:
        loaded = self.session.engines.loaded  # the verdict belongs to one engine only
        if loaded is None or loaded.path.name.rsplit(".", 1)[0] != self.listing.value:
            self.verdict.value = ""
        self.confirm.value = False
        self._show_card()

    def _enable_actions(self) -> None:
        chosen = bool(self.listing.value)
        self.reload_button.disabled = not chosen
        self.delete_button.disabled = not (chosen and self.confirm.value)

    def _show_card(self) -> None:
        entry = self._entries.get(self.listing.value or "")
        self.card.value = card_html(entry) if entry is not None else (
            "<i>no saved engines of this model yet</i>" if self.session.model is not None
            else "<i>no saved engines yet</i>")
        self.explorer.update(list(self._entries))
        self._enable_actions()

    def _act(self, action: Any) -> None:
        self.error.clear()
        self.status.value = ""
        try:
            action()
        except Exception as err:  # shown with expected / found / what to do
            self.error.show(as_workbench_error(err, "managing engines"))

    def _save(self) -> None:
        name, overwrite = self.name.value.strip(), self.overwrite.value
        artifact = self.session.builds.artifact
        if artifact is not None and len(artifact.plan) > BACKGROUND_BYTES:
            self.session.start(self.session.engines.save, name, overwrite)
            return
        self._saved(self.session.engines.save(name, overwrite=overwrite))

    def _saved(self, path: Path) -> None:
        self.status.value = note(f"Saved <code>{esc(path)}</code> and its card "
                                 f"<code>{esc(path)}.json</code>.", "ok")
        self.listing.value = path.name.rsplit(".", 1)[0]

    def _reload(self) -> None:
        name = self.listing.value
        if not name:
            self.status.value = note("Pick a saved engine first.", "warn")
            return
        entry = self._entries.get(name)
        if entry is not None and entry.size > BACKGROUND_BYTES:
            self.session.start(self.session.engines.reload, name)
            return
        self.verdict.value = reload_html(self.session.engines.reload(name))

    def _on_task(self, _event: str, task: Task[Any]) -> None:
        if task is not self.session.tasks.get(TaskKind.ENGINES):
            return
        busy_while(task, [self.save_button, self.reload_button], self.status)
        if task.busy:
            return
        self._enable_save()
        self._enable_actions()
        if task.error is not None:
            self.error.show(task.error)
        elif isinstance(task.result, Path):
            self._saved(task.result)
        elif task.result is not None:
            self.verdict.value = reload_html(task.result)

    def _delete(self) -> None:
        name = self.listing.value
        if not name:
            self.status.value = note("Pick a saved engine first.", "warn")
            return
        removed = self.session.engines.delete(name, confirm=self.confirm.value)
        self.confirm.value = False
        self.verdict.value = ""
        self.status.value = note("Deleted " + ", ".join(f"<code>{esc(p.name)}</code>"
                                                        for p in removed), "ok")
