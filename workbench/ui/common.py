"""Small shared widgets: the error box, status lines, HTML tables, busy buttons.

Everything here may be updated from worker threads, so updates are trait assignments only.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterable, Sequence
from typing import Any

import ipywidgets as widgets

from workbench.app.session.tasks import Task, TaskState
from workbench.core.errors import WorkbenchError
from workbench.feeds.explain import first_sentence

__all__ = [
    "WRAP",
    "ErrorBox",
    "busy_while",
    "esc",
    "figure_png",
    "html_table",
    "kv_table",
    "note",
    "plural",
    "show_png",
]

# ipywidgets gives HTML content a 28 px line height (one widget row); multi-line text and
# tables need an ordinary one, or every wrapped line and table row is double-spaced.
LINE = "line-height:1.45"

# long tensor and layer names have no spaces: let them break anywhere rather than overflow
WRAP = "overflow-wrap:anywhere;word-break:break-word;white-space:normal"
_WRAP = WRAP

_BOX_STYLE = (
    "border:1px solid #d9534f;border-left:6px solid #d9534f;background:#fdf3f2;"
    "padding:6px 10px;margin:4px 0;border-radius:3px;font-size:13px;" + LINE + ";" + _WRAP
)


_LONG = 400  # characters of one field shown before it folds


def esc(value: object) -> str:
    return html.escape(str(value))


def note(text: str, kind: str = "info") -> str:
    """A one-line coloured note (HTML)."""
    colour = {"info": "#31708f", "ok": "#2e7d32", "warn": "#8a6d3b", "error": "#c62828"}[kind]
    return f'<div style="color:{colour};margin:2px 0;{LINE};{_WRAP}">{text}</div>'


def conversion_html(conversion: Any) -> str:
    """What an FP16/BF16 graph conversion ran where (a ConversionReport), or nothing."""
    if conversion is None:
        return ""
    first, *rest = conversion.lines()
    return note(esc(f"{conversion.low_label} conversion: {first}")) + "".join(
        note(esc(line), "info") for line in rest)


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 problem`` / ``3 problems``."""
    return f"{count:,} {word if count == 1 else (many or word + 's')}"


def error_html(err: WorkbenchError) -> str:
    """The error's summary, expected / found / what to do, and expandable details."""
    rows = [f"<b>{esc(err.summary)}</b>"]
    for label, value in (("expected", err.expected), ("found", err.found),
                         ("what to do", err.fix)):
        if value and len(value) > _LONG:  # whole, but folded: never cut mid-sentence
            rows.append(f"<div><i>{label}:</i> <details style='display:inline'><summary>"
                        f"{esc(first_sentence(value, _LONG))}</summary>{esc(value)}</details>"
                        "</div>")
        elif value:
            rows.append(f"<div><i>{label}:</i> {esc(value)}</div>")
    if err.details:
        body = esc("\n".join(err.details))
        rows.append(
            f"<details><summary>details ({len(err.details)} lines)</summary>"
            f'<pre style="white-space:pre-wrap;font-size:11px;margin:2px 0">{body}</pre>'
            "</details>"
        )
    return f'<div class="wb-error" style="{_BOX_STYLE}">{"".join(rows)}</div>'


class ErrorBox(widgets.HTML):
    """An HTML widget that shows a WorkbenchError (or nothing)."""

    def show(self, err: WorkbenchError | None) -> None:
        self.value = "" if err is None else error_html(err)

    def clear(self) -> None:
        self.value = ""


# Numbers and identifiers never break inside ("0.003/69", "Squeez/e", "sym_size_int/_21" were
# seen in a narrow column): a short cell without spaces never wraps, and a longer one wraps
# only at its spaces and after the separators of a path-like name ("/", "::"); a token still
# too long (a dotted weight name) widens the table, whose box then scrolls sideways
# (nothing is clipped; names stay searchable as they are written).
_UNBROKEN = 32
_SEPARATOR = re.compile(r"(/|::)")
# one rule per table instead of a style per cell: a 50-row page must stay small HTML
_TABLE_CSS = ("<style>.wb-table td{padding:1px 6px}.wb-table td.k{white-space:nowrap}"
              "</style>")
_TABLE_WRAP = "white-space:normal;overflow-wrap:normal;word-break:keep-all"


def _cell(cell: Any, raw: bool) -> str:
    text = str(cell) if raw else esc(cell)
    plain = str(cell)
    if len(plain) <= _UNBROKEN and " " not in plain.strip():
        return f"<td class=k>{text}</td>"
    if not raw:
        text = _SEPARATOR.sub(r"\1<wbr>", text)
    return f"<td>{text}</td>"


def html_table(
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    raw_columns: Iterable[int] = (),
    row_styles: Sequence[str] | None = None,
    widths: Sequence[str] = (),
) -> str:
    """A compact HTML table in a box that scrolls sideways when it must: numbers and
    identifiers never break; long cells wrap at spaces and path separators only (never
    clipped). Cells are escaped except the ``raw_columns``; ``widths`` (e.g. "30%")
    fixes column widths, for tables with long cells."""
    raw = set(raw_columns)
    head = "".join(
        f"<th style='text-align:left;padding:2px 6px;vertical-align:bottom;white-space:nowrap"
        f"{';width:' + widths[i] if i < len(widths) else ''}'>{esc(h)}</th>"
        for i, h in enumerate(header))
    body = []
    for index, row in enumerate(rows):
        cells = "".join(_cell(cell, col in raw) for col, cell in enumerate(row))
        style = row_styles[index] if row_styles and index < len(row_styles) else ""
        body.append(f"<tr style='{style}'>{cells}</tr>")
    # fixed columns get a floor, so a narrow panel scrolls instead of squeezing them
    layout = "table-layout:fixed;width:100%;min-width:880px;" if widths else ""
    # wrapping is inherited by the cells; vertical-align by the cells from the tbody
    return (
        _TABLE_CSS + "<div class='wb-table-box' style='overflow-x:auto;max-width:100%'>"
        f"<table class='wb-table' style='border-collapse:collapse;font-size:12px;"
        f"font-family:monospace;{layout}{LINE};{_TABLE_WRAP}'>"
        + (f"<thead style='border-bottom:1px solid #999'><tr>{head}</tr></thead>"
           if any(header) else "")
        + f"<tbody style='vertical-align:top'>{''.join(body)}</tbody></table></div>"
    )


def kv_table(rows: Iterable[Sequence[Any]]) -> str:
    """A two-column key/value table without a header row; keys in grey."""
    return html_table(("", ""), ((f"<span style='color:#666'>{esc(k)}</span>", esc(v))
                                 for k, v in rows), raw_columns=(0, 1))


def png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of PNG bytes, read from the IHDR chunk (None if not a PNG)."""
    if len(data) < 24 or data[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def figure_png(figure: Any, dpi: int = 80) -> bytes:
    """A matplotlib Figure as PNG bytes (for a widgets.Image)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def show_png(image: widgets.Image, data: bytes) -> None:
    """Show ``data`` at its own size (no stretching, no upscaling); hide the widget if empty.

    An Image in a VBox is stretched to the box's width (flex ``align-items: stretch``),
    which blurs small plots; an empty one shows the browser's broken-image icon.
    """
    size = png_size(data)
    image.value = data
    image.layout.display = "" if size else "none"
    image.layout.width = f"{size[0]}px" if size else None
    image.layout.max_width = "100%"
    image.layout.align_self = "flex-start"



def busy_while(task: Task[Any], buttons: Sequence[widgets.Button], status: widgets.HTML) -> None:
    """Reflect a task's state: disable ``buttons`` while it runs, say what happens."""
    for button in buttons:
        button.disabled = task.busy
    if task.busy:
        status.value = note(f"⏳ {esc(task.name)}…{_phase_text(task)}")
    elif task.state is TaskState.DONE:
        status.value = note(f"✔ {esc(task.name)}: done in {task.elapsed:.2f} s", "ok")
    elif task.state in (TaskState.FAILED, TaskState.CANCELLED):
        status.value = note(f"✘ {esc(task.name)} failed (see below)", "error")


def ended_result(task: Task[Any], buttons: Sequence[widgets.Button], status: widgets.HTML,
                 error: ErrorBox) -> Any:
    """``busy_while``, then the task's result once it has ended well; None while it
    runs, when it failed (the error box shows why) or when it left no result (cancelled)."""
    busy_while(task, buttons, status)
    if task.busy:
        return None
    if task.error is not None:
        error.show(task.error)
        return None
    return task.result


def _phase_text(task: Task[Any]) -> str:
    """" · per-layer drift 120/780 · 12 s" with a bar, once the work takes a while."""
    phase, progress = task.activity, task.steps
    if task.elapsed < 1.0 and not phase:
        return ""
    text = f" {esc(phase)}" if phase else ""
    bar = ""
    if progress:
        done, total = progress
        text += f" {done}/{total}"
        bar = (f" <progress class='wb-task-progress' value='{done}' max='{total}' "
               "style='width:160px;vertical-align:middle'></progress>")
    return f" ·{text} · {task.elapsed:.0f} s{bar}"
