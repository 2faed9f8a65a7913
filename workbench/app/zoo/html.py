"""The model-zoo triage as one self-contained HTML page (pure: report in, text out)."""

from __future__ import annotations

from collections.abc import Sequence

from workbench.app.share.htmlpage import esc, page, table, verdict
from workbench.app.zoo.triage import ZooChange, ZooReport, ZooRow

__all__ = ["render_zoo", "zoo_text"]

_KIND = {"parses": "ok", "built": "ok", "pass": "ok", "ok": "ok",
         "fails": "bad", "failed": "bad", "fail": "bad", "refused": "bad", "error": "bad",
         "crashed": "bad", "timeout": "bad"}


def _cell(value: str, detail: str = "") -> str:
    word = verdict(value, _KIND.get(value, "muted"))
    return word + (f"<br><span class='muted'>{esc(detail)}</span>" if detail else "")


def _row_cells(row: ZooRow, changed: set[str]) -> list[str]:
    mark = " <span class='warn'>changed</span>" if row.model in changed else ""
    size = f"{row.plan_bytes:,}" if row.plan_bytes is not None else "-"
    build_time = f"{row.build_seconds:.2f} s" if row.build_seconds is not None else "-"
    return [esc(row.model) + mark, _cell(row.status, row.error),
            _cell(row.parse, row.parse_detail), esc(", ".join(row.categories) or "-"),
            _cell(row.build, row.build_detail), esc(build_time), esc(size),
            _cell(row.fp16, row.fp16_detail)]


def render_zoo(report: ZooReport, changes: Sequence[ZooChange] | None = None) -> str:
    """The triage page; with ``changes`` (from ``compare_zoos``), a section of them."""
    counts = report.counts()
    changed = {c.model for c in changes or ()}
    headers = ("model", "status", "parse", "categories", "build", "build time", "plan bytes",
               "FP16")
    rows = table(headers, [_row_cells(r, changed) for r in report.rows], raw=True)
    summary = (f"<p>{counts['models']} models: {counts['parse']} parse"
               + (f", {counts['built']} built" if report.build else "")
               + (f", {counts['fp16_pass']} pass FP16" if report.compare else "")
               + f", {counts['crashed_or_timeout']} crashed or timed out; "
               f"{report.wall_seconds:.1f} s wall.</p>")
    sections = [("models", "Models", summary + rows)]
    if changes is not None:
        body = ("<p>No verdict changed.</p>" if not changes else
                table(("model", "what", "before", "after"),
                      [(c.model, c.what, c.before, c.after) for c in changes]))
        sections.insert(0, ("changes", "Changes since the earlier run", body))
    sections.append(("versions", "Versions and machine",
                     table(("what", "version"), report.environment.items())))
    subtitle = f"{report.environment.get('tensorrt', '')} · {report.created}"
    return page(f"Model zoo triage: {report.folder}", subtitle, sections)


def zoo_text(report: ZooReport, changes: Sequence[ZooChange] | None = None) -> str:
    """A terminal summary: counts, then the changes (if any)."""
    counts = report.counts()
    lines = [f"{counts['models']} models: {counts['parse']} parse, {counts['built']} built, "
             f"{counts['fp16_pass']} pass FP16, {counts['crashed_or_timeout']} crashed or "
             f"timed out ({report.wall_seconds:.1f} s)"]
    if changes is not None:
        lines.append(f"{len(changes)} change(s) since the earlier run"
                     + (":" if changes else ""))
        lines += ["  " + change.text() for change in changes]
    return "\n".join(lines)
