"""Self-contained HTML pages: pure functions from text and tables to strings.

Used by the session report and the model-zoo triage page. Everything a page needs is
inside it (inline CSS, images and attachments as ``data:`` URIs), so a page opens the same
offline, in a mail attachment or in a bug tracker, and the browser makes no outside request.
"""

from __future__ import annotations

import base64
import html as _html
import io
from collections.abc import Callable, Iterable, Sequence
from typing import Any

__all__ = [
    "attachment_link",
    "details",
    "esc",
    "figure_img",
    "page",
    "pre",
    "section",
    "table",
    "verdict",
]

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d1d1f}
header{background:#76b900;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0}nav{padding:6px 24px;background:#f2f2f2;border-bottom:1px solid #ddd}
nav a{margin-right:14px;color:#333}main{padding:8px 24px 40px;max-width:1200px}
section{margin:18px 0;border-top:1px solid #e3e3e3}h2{font-size:17px;margin:14px 0 8px}
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #ddd;padding:3px 8px;
text-align:left;vertical-align:top;font-size:13px}th{background:#f6f6f6}
pre{background:#f7f7f7;border:1px solid #e5e5e5;padding:8px;overflow:auto;max-height:480px;
font-size:12px;white-space:pre-wrap;word-break:break-word}
details{margin:6px 0}summary{cursor:pointer;color:#345}
.ok{color:#1a7f37;font-weight:600}.bad{color:#c0392b;font-weight:600}
.warn{color:#9a6700;font-weight:600}.muted{color:#777}img{max-width:100%}
"""


def esc(value: Any) -> str:
    """Text made safe for HTML (quotes too: values land in attributes)."""
    return _html.escape(str(value), quote=True)


def verdict(text: str, kind: str) -> str:
    """A coloured word: ``kind`` is ok, bad, warn or muted."""
    return f"<span class='{esc(kind)}'>{esc(text)}</span>"


def pre(text: str) -> str:
    return f"<pre>{esc(text)}</pre>"


def details(summary: str, body_html: str, open_: bool = False) -> str:
    return (f"<details{' open' if open_ else ''}><summary>{esc(summary)}</summary>"
            f"{body_html}</details>")


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], raw: bool = False) -> str:
    """An HTML table; cells are escaped unless ``raw`` (cells already HTML)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    cell: Callable[[Any], str] = str if raw else esc
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def section(anchor: str, title: str, body_html: str) -> str:
    return (f"<section id='{esc(anchor)}' data-section='{esc(anchor)}'>"
            f"<h2>{esc(title)}</h2>{body_html}</section>")


def attachment_link(filename: str, text: str, label: str) -> str:
    """A link that downloads ``text`` as ``filename`` (a data URI: no server needed)."""
    payload = base64.b64encode(text.encode("utf-8")).decode("ascii")
    return (f"<a download='{esc(filename)}' href='data:text/plain;charset=utf-8;base64,"
            f"{payload}'>{esc(label)}</a>")


def figure_img(fig: Any, alt: str, dpi: int = 90) -> str:
    """A matplotlib Figure as an embedded PNG (``fig.savefig`` into memory)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    payload = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"<img alt='{esc(alt)}' src='data:image/png;base64,{payload}'>"


def page(title: str, subtitle: str, sections: Sequence[tuple[str, str, str]]) -> str:
    """A whole document: ``sections`` are (anchor, title, body HTML), listed in a nav bar."""
    nav = "".join(f"<a href='#{esc(a)}'>{esc(t)}</a>" for a, t, _ in sections)
    body = "".join(section(a, t, b) for a, t, b in sections)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        # No network at all: the page must never reach out, even if a value smuggles a URL.
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
        "img-src data:; style-src 'unsafe-inline'\">"
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{esc(title)}</h1><p>{esc(subtitle)}</p></header>"
        f"<nav>{nav}</nav><main>{body}</main></body></html>\n"
    )
