"""Compare tab: FP16 (or BF16) against FP32 — per-output metrics, plots, per-layer drift,
and "keep these in FP32 and re-run"."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from workbench.app.session.session import LoadedModel, WorkbenchSession
from workbench.app.session.tasks import Event, Task, TaskKind, as_workbench_error
from workbench.compare.tolerances import PRESETS, Tolerance, Tolerances
from workbench.settings.fields import REDUCED_PRECISIONS, Precision
from workbench.ui.common import (
    ErrorBox,
    busy_while,
    conversion_html,
    esc,
    figure_png,
    html_table,
    note,
    show_png,
)
from workbench.ui.compare.drift_view import DriftPager, drift_html
from workbench.ui.compare.keep_search_view import KeepSearchView
from workbench.ui.compare.mask_fix_view import MaskFixView
from workbench.ui.compare.quantize_view import QuantizeView
from workbench.ui.feed_controls import FeedControls

__all__ = ["CompareTab", "drift_html", "figure_png"]

_BAD = "background:#ffd6d6;font-weight:bold"


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.3g}"


class CompareTab:
    """Runs ``session.compare`` in the background and shows its PrecisionReport."""

    def __init__(self, session: WorkbenchSession) -> None:
        self.session = session
        # text values: the session part normalises them (reduced_precision), once
        self.precision = widgets.Dropdown(options=[p.value for p in REDUCED_PRECISIONS],
                                          value=Precision.FP16.value, description="precision")
        self.preset = widgets.Dropdown(options=list(PRESETS), value="fp16",
                                       description="tolerances")
        self.atol = widgets.Text(placeholder="preset", description="atol",
                                 layout={"width": "180px"}, style={"description_width": "40px"})
        self.rtol = widgets.Text(placeholder="preset", description="rtol",
                                 layout={"width": "180px"}, style={"description_width": "40px"})
        self.keep = widgets.Text(placeholder="node names kept in FP32, comma-separated",
                                 description="keep FP32", layout={"width": "520px"})
        self.seed = widgets.IntText(value=0, description="seed", layout={"width": "160px"},
                                    style={"description_width": "40px"})
        self.feed_controls = FeedControls(session)
        self.run_button = widgets.Button(description="Compare", icon="balance-scale",
                                         button_style="primary", disabled=True)
        self.keep_button = widgets.Button(description="Keep these in FP32 and re-run",
                                          icon="shield", disabled=True,
                                          layout={"width": "260px"})
        self.status, self.verdict, self.table = widgets.HTML(), widgets.HTML(), widgets.HTML()
        self.plots = widgets.Image(format="png", layout={"display": "none"})
        self.drift_plot = widgets.Image(format="png", layout={"display": "none"})
        self.drift = widgets.HTML()
        self.pager = DriftPager(self.drift)
        self.script = widgets.Textarea(layout={"width": "100%", "height": "90px"})
        self.mask_fix = MaskFixView(session, lambda: {
            "precision": str(self.precision.value), "tolerances": self.tolerances(),
            "keep_fp32": self.keep_list(), "seed": int(self.seed.value)})
        self.results = widgets.VBox([
            self.verdict, self.mask_fix.widget, self.table, self.plots,
            widgets.HTML("<b>Per-layer drift</b>"), self.pager.widget, self.drift,
            self.drift_plot,
            widgets.HTML("<b>The same in Python</b>"), self.script,
        ], layout={"display": "none"})  # headings without content until the first run
        self.error = ErrorBox()
        self.search = KeepSearchView(session, lambda: str(self.precision.value), self.tolerances,
                                     lambda: int(self.seed.value))
        self.quant = QuantizeView(session)
        self.precision.observe(self._on_precision, "value")
        self.run_button.on_click(lambda _b: self.start())
        self.keep_button.on_click(lambda _b: self.keep_and_rerun())
        session.on(Event.TASK, self._on_task)
        self.widget = widgets.VBox([
            widgets.HBox([self.precision, self.preset, self.atol, self.rtol]),
            widgets.HBox([self.keep, self.seed]), self.feed_controls.widget,
            widgets.HBox([self.run_button, self.keep_button]), self.status, self.error,
            self.search.widget, self.results, self.quant.widget,
        ])

    def on_model(self, model: LoadedModel | None) -> None:
        for w in (self.verdict, self.table, self.script, self.status):
            w.value = ""
        self.pager.clear()
        show_png(self.plots, b"")
        show_png(self.drift_plot, b"")
        self.results.layout.display = "none"
        self.error.clear()
        self.keep.value = ""
        self.feed_controls.on_model(model)
        self.run_button.disabled = model is None
        self.keep_button.disabled = True
        self.search.on_model(model)
        self.mask_fix.on_model(model)
        self.quant.on_model(model)

    def _on_precision(self, change: dict[str, Any]) -> None:
        self.preset.value = change["new"]

    def tolerances(self) -> Tolerances:
        preset = Tolerances.preset(self.preset.value)
        atol_text, rtol_text = self.atol.value.strip(), self.rtol.value.strip()
        if not atol_text and not rtol_text:
            return preset
        atol = float(atol_text) if atol_text else preset.default.atol
        rtol = float(rtol_text) if rtol_text else preset.default.rtol
        return Tolerances(Tolerance(atol, rtol))

    def keep_list(self) -> tuple[str, ...]:
        return tuple(p.strip() for p in self.keep.value.split(",") if p.strip())

    def start(self) -> Task | None:
        self.error.clear()
        try:
            keep, seed = self.keep_list(), int(self.seed.value)
            self.feed_controls.apply()
            precision = self.session.precision
            task = self.session.start(precision.compare, self.precision.value,
                                      self.tolerances(), keep, seed)
            self.script.value = precision.python_compare(self.precision.value, keep, seed)
            return task
        except Exception as err:  # bad tolerance text, no model, already running
            self.error.show(as_workbench_error(err, "starting the comparison"))
            return None

    def keep_and_rerun(self) -> Task | None:
        report = self.session.precision.comparison
        if report is None:
            return None
        self.keep.value = ", ".join(report.suggested_keep_fp32)
        return self.start()

    def _on_task(self, _event: str, task: Task[Any]) -> None:
        if task.kind is not TaskKind.COMPARE:
            return
        busy_while(task, [self.run_button, self.keep_button], self.status)
        if task.busy:
            return
        if task.error is not None:
            self.error.show(task.error)
            self.keep_button.disabled = True
            return
        self.show(task.result)

    def show(self, report: Any) -> None:
        outputs = report.outputs
        verdict = report.verdict
        kind = {"PASSED": "ok", "INCONCLUSIVE": "warn"}.get(verdict, "error")
        kept = (f" · kept in FP32: {esc(', '.join(report.keep_fp32))}"
                if report.keep_fp32 else "")
        self.verdict.value = note(
            f"{esc(report.precision.upper())} vs FP32: <b>{verdict}</b> · tolerances "
            f"{esc(outputs.tolerances.describe())}{kept}", kind
        ) + "".join(note(esc(line), "warn") for line in report.findings) + (
            "<details style='font-size:12px;color:#555'><summary>how this was computed"
            f"</summary>candidate from {esc(report.path)}.<br>{esc(outputs.rule)}</details>")
        rows = [(o.name, "pass" if o.passed else "FAIL", _num(o.max_abs), _num(o.max_rel),
                 _num(o.p99_abs), _num(o.cosine), f"{o.failing_elements}/{o.elements}",
                 o.candidate_nan + o.candidate_inf, _num(o.min_atol), _num(o.min_rtol))
                for o in outputs.outputs]
        styles = ["" if o.passed else _BAD for o in outputs.outputs]
        self.table.value = html_table(
            ("output", "result", "max abs", "max rel", "p99 abs", "cosine", "failing elements",
             "NaN/Inf", "atol to pass", "rtol to pass"), rows, row_styles=styles) + "".join(
            note(esc(n), "warn") for n in report.notes) + conversion_html(report.conversion)
        from workbench.compare.plots import drift_curve, error_histograms

        show_png(self.plots, figure_png(error_histograms(report.reference_outputs,
                                                         report.candidate_outputs)))
        if report.drift is not None:
            prefix = note(
                "Per-layer drift measures nothing here: the CPU evaluator's FP32 values "
                f"part from ONNX Runtime's at node <b>{esc(report.reference_check.node or '?')}"
                "</b> (see the verdict above).", "warn") if report.reference_disagrees else ""
            self.pager.show(report.drift, tuple(report.keep_fp32), report.precision,
                            prefix)
            show_png(self.drift_plot, figure_png(drift_curve(report.drift)))
        else:
            self.pager.clear()
            self.drift.value = note("No per-layer drift for this comparison.")
            show_png(self.drift_plot, b"")
        self.results.layout.display = ""
        self._offer_keep(report)
        self.search.on_compare(report)
        self.mask_fix.on_report(report)

    def _offer_keep(self, report: Any) -> None:
        """Name the nodes the keep-FP32 button would add, and enable it only then."""
        suggested = tuple(report.suggested_keep_fp32)
        new = [n for n in suggested if n not in report.keep_fp32]
        self.keep_button.disabled = not new
        self.keep_button.button_style = "warning" if new else ""
        self.keep_button.tooltip = f"keep in FP32: {', '.join(suggested)}" if new else None
        if new:
            self.verdict.value += note(
                f"Suggested fix: keep <b>{esc(', '.join(new))}</b> in FP32 (press "
                "<i>Keep these in FP32 and re-run</i> to check it, or <i>Find a minimal keep "
                "list</i> for a verified, 1-minimal one).", "warn")
