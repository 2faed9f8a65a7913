"""Compare tab: FP16 (or BF16) against FP32 — per-output metrics, plots, per-layer drift,
and "keep these in FP32 and re-run"."""

from __future__ import annotations

import io
from typing import Any

import ipywidgets as widgets

from workbench.background import Task, as_workbench_error
from workbench.compare.tolerances import PRESETS, Tolerance, Tolerances
from workbench.session import LoadedModel, WorkbenchSession
from workbench.ui.common import ErrorBox, busy_while, esc, html_table, note

__all__ = ["CompareTab", "drift_html", "figure_png"]

_BAD = "background:#ffd6d6;font-weight:bold"
_DRIFT_ROWS = 60


def figure_png(figure: Any, dpi: int = 70) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.3g}"


def drift_html(drift: Any) -> str:
    """Per-layer drift in topological order; the first node over threshold highlighted."""
    layers = list(drift.layers)
    first = next((i for i, t in enumerate(layers) if t.node == drift.first_bad_node), None)
    start = 0 if first is None else max(0, first - 10)
    shown = layers[start:start + _DRIFT_ROWS]
    rows = [(t.index, t.node, t.op_type, t.tensor, _num(t.error), _num(t.reference_max_abs),
             _num(t.cosine), t.candidate_nonfinite) for t in shown]
    styles = [_BAD if t.node == drift.first_bad_node else (
        "color:#c62828" if t.over_threshold else "") for t in shown]
    head = (note(f"First node over the threshold ({drift.threshold:g}): "
                 f"<b>{esc(drift.first_bad_node)}</b> — {esc(drift.reason)}", "error")
            if drift.first_bad_node else note(f"No layer drifts over {drift.threshold:g}.",
                                              "ok"))
    more = (f"<small>rows {start + 1}–{start + len(shown)} of {len(layers)}</small>"
            if len(layers) > len(shown) else "")
    ranges = "".join(
        f"<li>{esc(r.node)} / {esc(r.tensor)}: {esc(r.kind)} in {r.count}/{r.total} values "
        f"(extreme {r.extreme:.3g})</li>" for r in drift.out_of_range[:10])
    return (head + more + html_table(("#", "node", "op", "tensor", "error", "max |ref|",
                                      "cosine", "non-finite"), rows, row_styles=styles)
            + (f"<b>Values outside the FP16 range</b><ul>{ranges}</ul>" if ranges else ""))


class CompareTab:
    """Runs ``session.compare`` in the background and shows its PrecisionReport."""

    def __init__(self, session: WorkbenchSession) -> None:
        self.session = session
        self.precision = widgets.Dropdown(options=["fp16", "bf16"], value="fp16",
                                          description="precision")
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
        self.run_button = widgets.Button(description="Compare", icon="balance-scale",
                                         button_style="primary", disabled=True)
        self.keep_button = widgets.Button(description="Keep these in FP32 and re-run",
                                          icon="shield", disabled=True,
                                          layout={"width": "260px"})
        self.status, self.verdict, self.table = widgets.HTML(), widgets.HTML(), widgets.HTML()
        self.plots = widgets.Image(format="png", layout={"max_width": "100%"})
        self.drift_plot = widgets.Image(format="png", layout={"max_width": "100%"})
        self.drift = widgets.HTML()
        self.script = widgets.Textarea(layout={"width": "100%", "height": "90px"})
        self.error = ErrorBox()
        self.precision.observe(self._on_precision, "value")
        self.run_button.on_click(lambda _b: self.start())
        self.keep_button.on_click(lambda _b: self.keep_and_rerun())
        session.on("task", self._on_task)
        self.widget = widgets.VBox([
            widgets.HBox([self.precision, self.preset, self.atol, self.rtol]),
            widgets.HBox([self.keep, self.seed]),
            widgets.HBox([self.run_button, self.keep_button]), self.status, self.error,
            self.verdict, self.table, self.plots, widgets.HTML("<b>Per-layer drift</b>"),
            self.drift, self.drift_plot, widgets.HTML("<b>The same in Python</b>"), self.script,
        ])

    def on_model(self, model: LoadedModel | None) -> None:
        for w in (self.verdict, self.table, self.drift):
            w.value = ""
        self.plots.value = self.drift_plot.value = b""
        self.error.clear()
        self.keep.value = ""
        self.run_button.disabled = model is None
        self.keep_button.disabled = True

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
            task = self.session.start_compare(self.precision.value, self.tolerances(), keep,
                                              seed)
            self.script.value = self.session.python_compare(self.precision.value, keep, seed)
            return task
        except Exception as err:  # bad tolerance text, no model, already running
            self.error.show(as_workbench_error(err, "starting the comparison"))
            return None

    def keep_and_rerun(self) -> Task | None:
        report = self.session.comparison
        if report is None:
            return None
        self.keep.value = ", ".join(report.suggested_keep_fp32)
        return self.start()

    def _on_task(self, _event: str, task: Task) -> None:
        if task is not self.session.tasks.get("compare"):
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
        verdict = "PASSED" if report.passed else "FAILED"
        self.verdict.value = note(
            f"{esc(report.precision.upper())} vs FP32: <b>{verdict}</b> · candidate from "
            f"{esc(report.path)} · tolerances {esc(outputs.tolerances.describe())}"
            f"<br><small>{esc(outputs.rule)}</small>", "ok" if report.passed else "error")
        rows = [(o.name, "pass" if o.passed else "FAIL", _num(o.max_abs), _num(o.max_rel),
                 _num(o.p99_abs), _num(o.cosine), f"{o.failing_elements}/{o.elements}",
                 o.candidate_nan + o.candidate_inf, _num(o.min_atol), _num(o.min_rtol))
                for o in outputs.outputs]
        styles = ["" if o.passed else _BAD for o in outputs.outputs]
        self.table.value = html_table(
            ("output", "", "max abs", "max rel", "p99 abs", "cosine", "failing", "NaN/Inf",
             "min atol", "min rtol"), rows, row_styles=styles) + "".join(
            note(esc(n), "warn") for n in report.notes)
        from workbench.compare.plots import drift_curve, error_histograms

        self.plots.value = figure_png(error_histograms(report.reference_outputs,
                                                       report.candidate_outputs))
        if report.drift is not None:
            self.drift.value = drift_html(report.drift)
            self.drift_plot.value = figure_png(drift_curve(report.drift))
        suggested = report.suggested_keep_fp32
        self.keep_button.disabled = not suggested or suggested == report.keep_fp32
