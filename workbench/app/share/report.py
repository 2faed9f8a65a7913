"""The session report: one self-contained HTML file with everything the session found.

``collect_report(session)`` copies what the session holds into a frozen ``ReportData``;
``render_report(data)`` turns that into HTML (pure: no TensorRT, no files, no network);
``write_report(session, path)`` does both and saves the file atomically. Sections that have
nothing yet (no build, no comparison) say so and how to fill them, so the file always has
the same sections.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.app.session.tasks import TaskKind
from workbench.app.share import reproduce
from workbench.app.share.htmlpage import (
    attachment_link,
    details,
    esc,
    figure_img,
    page,
    pre,
    table,
    verdict,
)
from workbench.app.share.versions import environment_info

if TYPE_CHECKING:
    from collections.abc import Callable

    from workbench.app.precision.compare import PrecisionReport
    from workbench.app.session.session import WorkbenchSession
    from workbench.app.session.state import LoadedModel
    from workbench.engines.card import EngineArtifact
    from workbench.inspection.summary import ModelSummary
    from workbench.settings.settings import BuildSettings
    from workbench.triage.diagnosis import ParseReport
from workbench.core.errors import WorkbenchError
from workbench.core.fileio import write_atomic
from workbench.core.logbus import LogRecord, severity_rank

__all__ = ["SECTIONS", "ReportData", "collect_report", "render_report", "write_report"]

# (anchor, title): the report's sections, always all present, in this order.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("model", "Model"),
    ("diagnosis", "Parse diagnosis"),
    ("build-settings", "Build settings"),
    ("build-log", "Build log"),
    ("engine-layers", "Engine layers"),
    ("fp16", "FP16 accuracy"),
    ("versions", "Versions and machine"),
)
_MAX_LAYER_ROWS = 400  # a 10k-layer engine would make a page no one scrolls
_FILTERED_TAIL = 25  # INFO lines shown when the log has no warnings or errors
_BUILD_STATES = {"done": "built"}  # the job's task state, in the words of a build


@dataclass(frozen=True)
class ReportData:
    """Everything a report shows, copied out of the session."""

    label: str
    summary: ModelSummary
    diagnosis: ParseReport | None
    settings: BuildSettings
    trtexec: str
    python_script: str
    build_state: str  # "not run", "running", "built", "failed", "cancelled"
    build_seconds: float | None
    build_error: str  # why the build failed, or why it was refused before it started
    log: tuple[LogRecord, ...]
    artifact: EngineArtifact | None
    comparison: PrecisionReport | None
    compare_error: str  # why the last comparison failed, when there is no report
    follow_ups: tuple[str, ...]  # summaries of the keep-list search and the mask fix
    environment: dict[str, str]
    created: str
    # the graph around the failing parse node and the first bad node (inline SVG, or "")
    parse_figure: str = ""
    precision_figure: str = ""


def collect_report(session: WorkbenchSession, build_refused: str = "") -> ReportData:
    """A snapshot of ``session`` (a WorkbenchSession with a model loaded); ``build_refused``
    is the message of a build the session refused to start (e.g. profiles that cannot run)."""
    from workbench.app.overlays.graph_overlays import overlay_figure

    model = session.require_model()
    comparison = session.precision.comparison
    job = session.builds.job
    builds = session.builds
    settings = builds.settings if builds.settings is not None else builds.default_settings()
    # Relative names only: the report is made to be shared.
    engine_name = f"{Path(model.label).stem}.engine"
    error = job.error if job is not None else None
    state = ("refused" if build_refused else "not run") if job is None else \
        _BUILD_STATES.get(str(job.state.value), str(job.state.value))
    return ReportData(
        label=model.label,
        summary=model.summary,
        diagnosis=session.triage.diagnosis,
        settings=settings,
        trtexec=_rendering(reproduce.trtexec_command, settings, model, engine_name),
        python_script=_rendering(reproduce.python_script, settings, model, engine_name),
        build_state=state,
        build_seconds=None if job is None else job.elapsed,
        build_error=build_refused or (error.message if isinstance(error, WorkbenchError)
                                      else str(error or "")),
        log=tuple(job.log.records()) if job is not None else (),
        artifact=session.builds.artifact,
        comparison=session.precision.comparison,
        compare_error=_compare_error(session),
        follow_ups=tuple(found.summary() for found in (session.precision.keep_search,
                                                       session.precision.mask_fix)
                         if found is not None),
        environment=environment_info(),
        created=time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        parse_figure=overlay_figure(session, "parse"),
        precision_figure=overlay_figure(session, comparison.precision)
        if comparison is not None and comparison.drift is not None else "",
    )


def _compare_error(session: WorkbenchSession) -> str:
    task = session.tasks.get(TaskKind.COMPARE)
    if session.precision.comparison is None and task is not None and task.error is not None:
        return str(task.error.message)
    return ""


def _rendering(render: Callable[..., str], settings: BuildSettings, model: LoadedModel,
               engine_name: str) -> str:
    try:
        return str(render(settings, model.label, engine_name, inputs=model.summary.inputs))
    except WorkbenchError as err:  # e.g. settings this TensorRT cannot build: say so
        return f"(cannot render: {err.summary})"


def write_report(session: WorkbenchSession, path: str | os.PathLike[str], *,
                 overwrite: bool = False, build_refused: str = "") -> Path:
    """Render the session's report and save it atomically; returns the path.

    Raises:
        WorkbenchError: no model is loaded, or the file exists and ``overwrite`` is False.
    """
    target = Path(path).expanduser()
    text = render_report(collect_report(session, build_refused))
    try:
        write_atomic(target, text.encode("utf-8"), overwrite=overwrite)
    except FileExistsError as err:
        raise WorkbenchError(f"{target} already exists.", expected="a new file name",
                             found=str(target),
                             fix="choose another name, or pass overwrite=True") from err
    except OSError as err:
        raise WorkbenchError(f"Cannot write the report to {target}.", found=str(err),
                             fix="choose a folder you can write to") from err
    return target


def render_report(data: ReportData) -> str:
    """The whole HTML document (pure)."""
    bodies = {
        "model": _model_html(data.summary),
        "diagnosis": _diagnosis_html(data.diagnosis) + data.parse_figure,
        "build-settings": _settings_html(data),
        "build-log": _log_html(data),
        "engine-layers": _layers_html(data.artifact, data),
        "fp16": _fp16_html(data.comparison, data.compare_error, data.follow_ups)
        + data.precision_figure,
        "versions": table(("what", "version"), data.environment.items()),
    }
    subtitle = (f"{data.label} · {data.environment.get('tensorrt', '')} · "
                f"made {data.created} by trt-workbench {data.environment.get('workbench')}")
    titles = dict(SECTIONS)
    if data.comparison is not None:  # the precision compared, not always FP16
        titles["fp16"] = f"{str(data.comparison.precision).upper()} accuracy"
    return page(f"TensorRT Workbench report: {data.label}", subtitle,
                [(anchor, titles[anchor], bodies[anchor]) for anchor, _title in SECTIONS])


# -- sections ------------------------------------------------------------------------------

def _model_html(summary: ModelSummary) -> str:
    from workbench.inspection.report import describe_summary, format_bytes

    facts = [
        ("producer", f"{summary.producer_name} {summary.producer_version}".strip() or "-"),
        ("opsets", ", ".join(f"{o.display_domain} {o.version}" for o in summary.opsets)),
        ("nodes", f"{len(summary.nodes):,}"),
        ("parameters", f"{summary.parameter_count:,} ({format_bytes(summary.parameter_bytes)})"),
    ]
    io_rows = [(kind, s.name, s.dtype, s.shape_text())
               for kind, specs in (("input", summary.inputs), ("output", summary.outputs))
               for s in specs]
    ops = ", ".join(f"{op} ×{n}" for op, n in summary.op_histogram)
    return (table(("", ""), facts) + table(("", "name", "dtype", "shape"), io_rows)
            + f"<p>Operators: {esc(ops)}</p>"
            + details("Full summary", pre(describe_summary(summary))))


def _diagnosis_html(report: ParseReport | None) -> str:
    if report is None:
        return ("<p class='muted'>Not run. Run it with <code>session.diagnose()</code> (the "
                "Parse tab) or <code>trt-workbench report MODEL</code>.</p>")
    head = (verdict("parses", "ok") if report else
            verdict(f"does not parse: {len(report.issues)} issue(s)", "bad"))
    rows = [(i.category, "model" if i.node_index is None else f"{i.node_index} {i.node_name}",
             i.op_type, i.cause, " / ".join(i.fixes)) for i in report.issues]
    issues = table(("category", "node", "op", "cause", "fixes"), rows) if rows else ""
    return (f"<p>{head} ({esc(report.flavour)} {esc(report.version)})</p>{issues}"
            + details("Diagnosis as text", pre(report.text())))


def _setting_text(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) or "-"
    return str(value)


def _settings_html(data: ReportData) -> str:
    rows = [(key, _setting_text(value)) for key, value in data.settings.to_dict().items()
            if key != "profiles"]
    rows += [(f"profile {i}", "; ".join(shape.text() for shape in profile) or "-")
             for i, profile in enumerate(data.settings.profiles)] or [("profiles", "seeded")]
    return (table(("setting", "value"), rows)
            + "<h3>trtexec</h3>" + pre(data.trtexec)
            + details("Python script (bare TensorRT API)", pre(data.python_script)))


def _log_html(data: ReportData) -> str:
    if data.build_state == "not run":
        return ("<p class='muted'>No build in this session. Build in the Build tab, or "
                "<code>trt-workbench report MODEL --build</code>.</p>")
    kind = {"built": "ok", "failed": "bad", "refused": "bad"}.get(data.build_state, "warn")
    seconds = f" in {data.build_seconds:.2f} s" if data.build_seconds is not None else ""
    head = f"<p>Build {verdict(data.build_state, kind)}{esc(seconds)}</p>"
    error = pre(data.build_error) if data.build_error else ""
    important = [r for r in data.log if severity_rank(r.severity) <= severity_rank("WARNING")]
    shown = important or list(data.log[-_FILTERED_TAIL:])
    caption = ("warnings and errors" if important
               else f"no warnings or errors; the last {len(shown)} lines")
    full = "\n".join(r.format() for r in data.log)
    return (head + error + f"<p>Filtered log ({esc(caption)}):</p>"
            + pre("\n".join(r.format() for r in shown) or "(empty)")
            + details(f"Full build log ({len(data.log):,} lines)", pre(full))
            + "<p>" + attachment_link("build.log", full, "Download the full log") + "</p>")


def _layers_html(artifact: EngineArtifact | None, data: ReportData | None = None) -> str:
    if artifact is None:
        return "<p class='muted'>No engine built in this session.</p>"
    from workbench.inspection.report import format_bytes

    older = _older_engine_note(artifact, data)

    layers = artifact.layers
    card = artifact.card
    head = (f"<p>{len(layers)} engine layer(s); plan {format_bytes(len(artifact.plan))}, "
            f"built with {esc(card.flavour_label)} for {esc(card.target_text())}; "
            f"SHA-256 <code>{esc(card.plan_sha256)}</code></p>")
    if not layers:
        return head + "<p class='muted'>TensorRT reported no layer information.</p>"
    rows = [(i, layer.name, layer.layer_type, layer.tactic, ", ".join(layer.onnx_nodes))
            for i, layer in enumerate(layers[:_MAX_LAYER_ROWS])]
    more = (f"<p class='muted'>… and {len(layers) - _MAX_LAYER_ROWS} more layers.</p>"
            if len(layers) > _MAX_LAYER_ROWS else "")
    return older + head + table(("#", "engine layer", "type", "tactic", "ONNX nodes"),
                                rows) + more


def _older_engine_note(artifact: EngineArtifact, data: ReportData | None) -> str:
    """When the last build failed, the layers shown are of an earlier engine, built with
    other settings: say so, with that engine's own settings, so the two are not read as
    one (a failed FP16 build's settings beside the FP32 engine's layers)."""
    if data is None or data.build_state in ("built", "not run"):
        return ""
    own = artifact.card.settings
    rows = [(key, _setting_text(value)) for key, value in own.to_dict().items()
            if key != "profiles" and value != data.settings.to_dict().get(key)]
    return (f"<p class='muted'>The last build {esc(data.build_state)}: these are the layers "
            f"of the engine built before it, with precision "
            f"<b>{esc(str(own.precision).upper())}</b>, not with the settings above."
            + (" Its settings that differ:</p>" + table(("setting", "value"), rows)
               if rows else "</p>"))


def _fp16_html(report: PrecisionReport | None, error: str,
               follow_ups: tuple[str, ...] = ()) -> str:
    if report is None and error:
        return "<p>The comparison " + verdict("failed to run", "bad") + ":</p>" + pre(error)
    if report is None:
        return ("<p class='muted'>No comparison in this session. Compare in the Compare tab, "
                "or <code>trt-workbench report MODEL --compare</code>.</p>")
    head = verdict(report.verdict, _VERDICT_KIND.get(report.verdict, "bad"))
    rows = [(o.name, "pass" if o.passed else "FAIL", _num(o.max_abs), _num(o.max_rel),
             _num(o.cosine), f"{o.failing_elements}/{o.elements}")
            for o in report.outputs.outputs]
    body = (f"<p>{report.precision.upper()} vs FP32: {head}</p>"
            + table(("output", "verdict", "max abs", "max rel", "cosine", "over tolerance"),
                    rows) + pre(report.summary())) + "".join(pre(text) for text in follow_ups)
    return body + _plots_html(report)


_VERDICT_KIND = {"PASSED": "ok", "INCONCLUSIVE": "warn", "FAILED": "bad"}


def _plots_html(report: PrecisionReport) -> str:
    from workbench.compare.plots import drift_curve, error_histograms

    images = []
    if report.reference_outputs and report.candidate_outputs:
        images.append(figure_img(error_histograms(report.reference_outputs,
                                                  report.candidate_outputs),
                                 "error histograms"))
    if report.drift is not None and report.drift.layers:
        images.append(figure_img(drift_curve(report.drift), "per-layer drift"))
    return "".join(f"<div class='plot'>{img}</div>" for img in images)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"
