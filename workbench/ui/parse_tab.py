"""Parse tab: TensorRT's verdict on the model, one card per error, and the two repairs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from workbench.app.session.session import LoadedModel, WorkbenchSession
from workbench.app.session.tasks import TRIAGE, Event, Task, as_workbench_error
from workbench.ui.common import LINE, ErrorBox, busy_while, esc, note, plural

__all__ = ["ParseTab", "group_card", "islands_html", "issue_card"]

_CARD = ("border:1px solid #e0b4b4;border-left:6px solid #c62828;background:#fff8f8;"
         "padding:6px 10px;margin:6px 0;border-radius:3px;font-size:13px;" + LINE)


_OPEN_ISLANDS = 8  # more runs of nodes than this: the list starts collapsed
_MAX_NODES = 40  # nodes listed in one group card; the rest are counted


def group_card(group: Any) -> str:
    """A group of same-op, same-cause errors: collapsed, the nodes listed inside, cause and
    fixes once. A group of one is a plain card."""
    if group.count == 1:
        return issue_card(group.issues[0])
    first = group.cause.split(". ")[0].rstrip(".") + "."
    nodes = [f"<li><code>{esc(line)}</code></li>" for line in group.node_lines()[:_MAX_NODES]]
    if group.count > _MAX_NODES:
        nodes.append(f"<li>… {group.count - _MAX_NODES} more</li>")
    fixes = "".join(f"<li>{esc(fix)}</li>" for fix in group.fixes)
    said = "".join(f"<pre style='white-space:pre-wrap;font-size:11px;margin:0'>{esc(m)}</pre>"
                   for m in group.messages)
    return (f"<details class='wb-group' style='{_CARD}'><summary><b>{esc(group.title)}</b> — "
            f"{esc(first)}</summary>"
            f"<div><i>nodes:</i><ul style='margin:2px 0;font-size:12px'>{''.join(nodes)}</ul>"
            f"</div><div><i>cause:</i> {esc(group.cause)}</div>"
            f"<div><i>fixes:</i><ol style='margin:2px 0'>{fixes}</ol></div>"
            f"<div><i>TensorRT's message:</i>{said}</div></details>")


def issue_card(issue: Any) -> str:
    """One parse error as an HTML card: node, op, inputs, cause, fixes, TensorRT's words."""
    lines = [f"<b>{esc(issue.title)}</b>"]
    if issue.inputs and not issue.tensor:
        specs = ", ".join(f"{esc(s.name)}: {esc(s.dtype)} {esc(s.shape_text())}"
                          for s in issue.inputs)
        lines.append(f"<div><i>inputs:</i> <code>{specs}</code></div>")
    if issue.attributes:
        attrs = ", ".join(f"{esc(k)}={esc(v)}" for k, v in issue.attributes)
        lines.append(f"<div><i>attributes:</i> <code>{attrs}</code></div>")
    lines.append(f"<div><i>cause:</i> {esc(issue.cause)}</div>")
    if issue.fixes:
        fixes = "".join(f"<li>{esc(fix)}</li>" for fix in issue.fixes)
        lines.append(f"<div><i>fixes:</i><ol style='margin:2px 0'>{fixes}</ol></div>")
    code = f" ({esc(issue.code)})" if issue.code else ""
    lines.append(f"<details><summary>TensorRT's message{code}</summary>"
                 f"<pre style='white-space:pre-wrap;font-size:11px'>{esc(issue.raw)}</pre>"
                 "</details>")
    return f"<div class='wb-issue' style='{_CARD}'>{''.join(lines)}</div>"


def islands_html(report: Any) -> str:
    if not report.islands:
        return ""
    rows = []
    for island in report.islands:
        colour = "#2e7d32" if island.supported else "#c62828"
        mark = "supported" if island.supported else "UNSUPPORTED"
        rows.append(f"<li><span style='color:{colour}'>{mark}</span> {esc(island.text())}</li>")
    listing = f"<ul style='font-size:12px;margin:2px 0;{LINE}'>{''.join(rows)}</ul>"
    if len(rows) <= _OPEN_ISLANDS:
        return f"<b>Node islands</b>{listing}"
    unsupported = sum(1 for island in report.islands if not island.supported)
    return (f"<details><summary><b>Node islands</b> ({len(rows)} runs, {unsupported} "
            f"unsupported)</summary>{listing}</details>")


class ParseTab:
    """Runs the diagnosis in the background and shows its report."""

    def __init__(self, session: WorkbenchSession) -> None:
        self.session = session
        self.diagnose_button = widgets.Button(description="Diagnose", icon="stethoscope",
                                              button_style="primary")
        self.fold_button = widgets.Button(description="Fold constants and retry",
                                          icon="compress", layout={"width": "220px"})
        self.reduce_button = widgets.Button(description="Reduce to minimal failing model",
                                            icon="cut", layout={"width": "260px"})
        self.bias_button = widgets.Button(description="Int32 biases to float and retry",
                                          icon="wrench", layout={"width": "250px",
                                                                 "display": "none"})
        # shown only when the diagnosis names a pooling window that is a global pool
        self.global_pool_button = widgets.Button(
            description="Rewrite as global pool and retry", icon="compress",
            button_style="warning", layout={"width": "280px", "display": "none"})
        self.status = widgets.HTML()
        self.verdict = widgets.HTML("<i>Load a model; it is diagnosed automatically.</i>")
        self.cards = widgets.HTML()
        self.islands = widgets.HTML()
        self.saved = widgets.HTML()
        self.error = ErrorBox()
        self.diagnose_button.on_click(lambda _b: self.run_diagnosis())
        self._nodes_before_fold: int | None = None
        self.fold_button.on_click(lambda _b: self.fold_and_retry())
        self.reduce_button.on_click(lambda _b: self._start(self.session.triage.reduce))
        self.bias_button.on_click(lambda _b: self._start(self.session.triage.float_biases))
        self.global_pool_button.on_click(
            lambda _b: self._start(self.session.triage.rewrite_global_pools))
        session.on(Event.TASK, self._on_task)
        self.widget = widgets.VBox([
            widgets.HBox([self.diagnose_button, self.fold_button, self.reduce_button,
                          self.bias_button, self.global_pool_button]),
            self.saved, self.status, self.error, self.verdict, self.cards, self.islands,
        ])

    @property
    def buttons(self) -> list[widgets.Button]:
        return [self.diagnose_button, self.fold_button, self.reduce_button, self.bias_button,
                self.global_pool_button]

    def on_model(self, model: LoadedModel | None) -> None:
        self.cards.value = self.islands.value = self.saved.value = ""
        self.error.clear()
        for button in self.buttons:
            button.disabled = model is None
        if model is None:
            err = self.session.state.load_error
            self.verdict.value = note(
                "The model could not be loaded, so TensorRT never saw it: "
                + esc(err.summary if err else "no model"), "error")
        else:
            self.verdict.value = "<i>diagnosing…</i>"

    def fold_and_retry(self) -> Task[Any] | None:
        model = self.session.model
        self._nodes_before_fold = len(model.summary.nodes) if model else None
        return self._start(self.session.triage.fold_and_retry)

    def run_diagnosis(self) -> Task[Any] | None:
        return self._start(self.session.triage.diagnose)

    def _start(self, work: Callable[[], Any]) -> Task[Any] | None:
        self.error.clear()
        try:
            return self.session.start(work)
        except Exception as err:  # a busy task or no model: shown, never raised
            self.error.show(as_workbench_error(err, "starting the diagnosis"))
            return None

    def _on_task(self, _event: str, task: Task[Any]) -> None:
        if task.kind not in TRIAGE:  # diagnose, fold and reduce all end here
            return
        busy_while(task, self.buttons, self.status)
        if task.busy:
            return
        if task.error is not None:
            self.error.show(task.error)
        self.show_report()

    def show_report(self) -> None:
        report = self.session.triage.diagnosis
        derived = self.session.state.derived
        self.saved.value = "".join(
            note(f"{esc(kind)} model saved to <code>{esc(path)}</code>{self._fold_delta(kind)}",
                 "ok") for kind, path in derived.items())
        if self.session.triage.reduction is not None:
            self.saved.value += note(esc(self.session.triage.reduction.summary()))
        if report is None:
            return
        engine = f"{esc(report.flavour)} {esc(report.version)}" if report.flavour else "not run"
        if report:
            self.verdict.value = note(
                f"✔ TensorRT ({engine}) parses all {plural(report.node_count, 'node')}.", "ok")
        else:
            self.verdict.value = note(
                f"✘ TensorRT ({engine}) cannot parse this model: "
                f"{plural(len(report.issues), 'problem')} "
                f"({esc(', '.join(report.categories))})" + self._grouped(report), "error")
        self.cards.value = "".join(group_card(group) for group in report.groups)
        self.islands.value = islands_html(report)
        self._offer_repairs(report)

    @staticmethod
    def _grouped(report: Any) -> str:
        groups = report.groups
        where = f" in {plural(len(groups), 'group')}" if len(groups) < len(report.issues) else ""
        return f"{where}: {esc(report.headline)}"

    def _offer_repairs(self, report: Any) -> None:
        """Enable the repairs only for a failing model; colour the one its diagnosis suggests."""
        failing = not report
        self.fold_button.disabled = not failing
        self.reduce_button.disabled = not failing
        folding = failing and "needs_constant_folding" in report.categories
        self.fold_button.button_style = "warning" if folding else ""
        # Reducing helps to experiment on an op TensorRT rejects for an unclear reason; for a
        # known family (quantization, strings, …) the cards already name the fix.
        unclear = failing and bool({"parse_error", "unsupported_op"} & set(report.categories))
        self.reduce_button.button_style = "warning" if unclear and not folding else ""
        self.diagnose_button.button_style = "" if failing else "primary"
        biases = failing and "qdq_int32_bias" in report.categories
        self.bias_button.layout.display = "" if biases else "none"
        self.bias_button.disabled = not biases
        self.bias_button.button_style = "warning" if biases else ""
        rewrite = failing and any("rewrite_global_pools" in fix for issue in report.issues
                                  for fix in issue.fixes)
        self.global_pool_button.layout.display = "" if rewrite else "none"
        self.global_pool_button.disabled = not rewrite

    def _fold_delta(self, kind: str) -> str:
        model = self.session.model
        before = self._nodes_before_fold
        if kind != "folded" or before is None or model is None:
            return ""
        return f" ({before:,} → {plural(len(model.summary.nodes), 'node')})"
