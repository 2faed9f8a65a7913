"""The build-settings form: one widget per row of the schema (``workbench.settings.fields``),
and the profile editor seeded from the model's symbolic dims, validated as the user types.

The form holds no state of its own: ``SettingsForm.settings`` builds a BuildSettings
from the widgets (raising BuildSettingsError with expected/found/fix), and
``SettingsForm.set_settings`` shows one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as widgets

from workbench.core.errors import BuildSettingsError, WorkbenchError
from workbench.core.records import TensorSpec
from workbench.settings.fields import FIELDS, FieldKind, SettingField
from workbench.settings.settings import BuildSettings, ShapeProfile, default_profiles
from workbench.ui.common import ErrorBox, esc, note

__all__ = ["ProfileEditor", "SettingsForm"]

_ARCHS = {"7.5": "Turing", "8.0": "Ampere", "8.6": "Ampere", "8.9": "Ada",
          "12.0": "Blackwell", "12.1": "Blackwell"}
_WIDE = widgets.Layout(width="95%")
_STYLE = {"description_width": "170px"}


def _field_widget(field: SettingField, default: Any) -> widgets.Widget | None:
    """One widget per setting of the schema, chosen by the field's kind."""
    label, tip = field.label, field.trtexec
    common: dict[str, Any] = {"description": label, "style": _STYLE, "layout": _WIDE,
                              "tooltip": tip}
    if field.kind is FieldKind.PROFILES:
        return None  # the profile editor handles these
    if field.kind is FieldKind.CHOICE:
        return widgets.Dropdown(options=list(field.choices), value=str(default), **common)
    if field.kind is FieldKind.TARGETS:
        options = [(f"SM {cc} ({_ARCHS.get(cc, 'GPU')})", cc) for cc in field.choices]
        return widgets.SelectMultiple(options=options, value=(), rows=3, **common)
    if field.kind is FieldKind.LEVEL:
        return widgets.IntSlider(value=default, min=0, max=5, **common)
    if field.kind is FieldKind.FLAG:
        return widgets.Checkbox(value=default, indent=False, description=label, tooltip=tip)
    return widgets.Text(value=_show(field, default), placeholder=field.placeholder, **common)


def _read(field: SettingField, widget: widgets.Widget) -> Any:
    value = widget.value
    if field.kind is FieldKind.MIB:
        return _workspace(value)
    if field.kind is FieldKind.PATH:
        return value.strip() or None
    if field.kind is FieldKind.NAMES:
        return tuple(part.strip() for part in value.split(",") if part.strip())
    if field.kind is FieldKind.TARGETS:
        return tuple(value)
    return value


def _workspace(text: str) -> int | None:
    text = text.strip().lower().removesuffix("mib").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError as err:
        raise BuildSettingsError(
            "The workspace limit is not a whole number of MiB.",
            expected="an integer number of MiB (e.g. 1024), or empty for TensorRT's default",
            found=repr(text), fix="type a number like 1024, or clear the field") from err


def _show(field: SettingField, value: Any) -> Any:
    if field.kind in (FieldKind.MIB, FieldKind.PATH):
        return "" if value is None else str(value)
    if field.kind is FieldKind.NAMES:
        return ", ".join(value)
    if field.kind is FieldKind.TARGETS:
        return tuple(value)
    if field.kind is FieldKind.CHOICE:
        return str(value)
    return value


class ProfileEditor:
    """One row per dynamic input: min / opt / max shapes as text, validated live."""

    def __init__(self, on_change: Callable[[], None]) -> None:
        self._on_change = on_change
        self.inputs: tuple[TensorSpec, ...] = ()
        self.rows: dict[str, tuple[widgets.Text, widgets.Text, widgets.Text]] = {}
        self.status = widgets.HTML()
        self.box = widgets.VBox()
        self.reset_button = widgets.Button(description="Reset profile", icon="undo",
                                           tooltip="seed again from the symbolic dims")
        # Reset goes back to the profile the session seeded (it knows the graph's minimums)
        self._seeded: tuple[ShapeProfile, ...] = ()
        self.reset_button.on_click(lambda _b: self.seed(self.inputs, self._seeded))
        self.widget = widgets.VBox([widgets.HTML(
            "<b>Optimization profile</b> <small style='color:#666'>min / opt / max shapes "
            "of each dynamic input, as 1x3x224x224 (trtexec --minShapes/--optShapes/"
            "--maxShapes)</small>"), self.box,
                                    widgets.HBox([self.reset_button]), self.status])

    def seed(self, inputs: Sequence[TensorSpec], profile: Sequence[ShapeProfile] = ()) -> None:
        """Rows for the dynamic inputs, filled from ``profile`` or the symbolic dims."""
        if tuple(inputs) != self.inputs or profile:
            self._seeded = tuple(profile)
        self.inputs = tuple(inputs)
        try:
            shapes = tuple(profile) or default_profiles(self.inputs)
        except WorkbenchError as err:
            shapes = ()
            self.status.value = note(esc(err.summary), "error")
        self.rows = {}
        children = []
        for shape in shapes:
            spec = next((s for s in self.inputs if s.name == shape.input), None)
            texts: tuple[widgets.Text, widgets.Text, widgets.Text] = tuple(
                widgets.Text(value="x".join(map(str, dims)), description=label,
                             layout=widgets.Layout(width="190px"),
                             style={"description_width": "32px"})
                for label, dims in (("min", shape.min), ("opt", shape.opt), ("max", shape.max))
            )
            for text in texts:
                text.observe(lambda _c: self._on_change(), "value")
            self.rows[shape.input] = texts
            dims = spec.shape_text() if spec else "?"
            children.append(widgets.HBox([
                widgets.HTML(f"<code>{esc(shape.input)}</code> {esc(dims)}",
                             layout=widgets.Layout(width="230px")), *texts]))
        if not children:
            children = [widgets.HTML("<i>all inputs are static: no profile needed</i>")]
        self.box.children = children
        self._on_change()

    def profile(self) -> tuple[ShapeProfile, ...]:
        """The edited profile (raises BuildSettingsError on unreadable text)."""
        result = []
        for name, (low, mid, high) in self.rows.items():
            result.append(ShapeProfile.parse(f"{name}:{low.value},{mid.value},{high.value}"))
        return tuple(result)


class SettingsForm:
    """Widgets for every BuildSettings field + the profile editor + live validation."""

    def __init__(self, on_valid: Callable[[BuildSettings | None], None]) -> None:
        self._on_valid = on_valid
        defaults = BuildSettings()
        self.fields: dict[str, widgets.Widget] = {}
        self._schema: dict[str, SettingField] = {}
        for field in FIELDS:
            widget = _field_widget(field, getattr(defaults, field.name))
            if widget is not None:
                widget.observe(lambda _c: self.validate(), "value")
                self.fields[field.name] = widget
                self._schema[field.name] = field
        self.profile_editor = ProfileEditor(self._revalidate)
        self.errors = ErrorBox()
        self.valid = widgets.HTML()
        self.last_valid: BuildSettings | None = None
        self.widget = widgets.VBox([
            widgets.HTML("<b>Build settings</b>"),
            widgets.GridBox(list(self.fields.values()), layout=widgets.Layout(
                grid_template_columns="repeat(2, minmax(0, 1fr))")),
            self.profile_editor.widget, self.valid, self.errors,
        ])

    def _revalidate(self) -> None:
        self.validate()

    def settings(self) -> BuildSettings:
        values = {name: _read(self._schema[name], w) for name, w in self.fields.items()}
        profile = self.profile_editor.profile()
        return BuildSettings(**values, profiles=(profile,) if profile else ())

    def set_settings(self, settings: BuildSettings, inputs: Sequence[TensorSpec]) -> None:
        for name, widget in self.fields.items():
            widget.value = _show(self._schema[name], getattr(settings, name))
        profile = settings.profiles[0] if settings.profiles else ()
        self.profile_editor.seed(inputs, profile)

    def validate(self) -> BuildSettings | None:
        """Build and validate settings from the widgets; show the problem if any."""
        try:
            settings = self.settings()
            settings.validate(self.profile_editor.inputs)
        except (BuildSettingsError, TypeError, ValueError) as err:
            if isinstance(err, WorkbenchError):
                self.errors.show(err)
            else:
                self.errors.show(BuildSettingsError(
                    "These settings cannot be used.", found=str(err),
                    fix="correct the highlighted field"))
            self.valid.value = note("✘ settings not valid yet", "error")
            self.last_valid = None
        else:
            self.errors.clear()
            self.valid.value = note("✔ settings valid for this model", "ok")
            self.last_valid = settings
        self._on_valid(self.last_valid)
        return self.last_valid
