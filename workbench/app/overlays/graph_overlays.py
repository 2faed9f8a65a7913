"""Overlays from what a session holds: which kinds exist now, and each one built.

``session.graph_overlay(kind)`` and the panel's Graph view call ``session_overlay``;
the report and the CLI call it too, so the three show the same marks. A kind whose data
is missing (no diagnosis, no comparison, no engine) is refused with what to do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.app.overlays.overlay import (
    ERROR_KINDS,
    GraphOverlay,
    OverlayKind,
    drift_overlay,
    engine_overlay,
    keep_overlay,
    parse_overlay,
    quant_overlay,
)
from workbench.app.overlays.overlay_graph import OverlayGraph
from workbench.core.errors import WorkbenchError

if TYPE_CHECKING:
    from workbench.app.session.session import WorkbenchSession

__all__ = ["available_kinds", "explorer_node_data", "overlay_graph", "session_overlay"]

_HOW = {
    OverlayKind.PARSE: "run the parse diagnosis (Parse tab, or session.diagnose())",
    OverlayKind.FP16: "run an FP16 comparison (Compare tab, or session.compare('fp16'))",
    OverlayKind.BF16: "run a BF16 comparison (Compare tab, or session.compare('bf16'))",
    OverlayKind.INT8: "quantize and compare (INT8 tab, or session.quantize() then "
                      "session.compare_quantized())",
    OverlayKind.KEEP: "run a comparison or the keep-list search, or set a keep list",
    OverlayKind.ENGINE: "build an engine (Build tab, or session.build())",
}


def overlay_graph(session: WorkbenchSession) -> OverlayGraph:
    """The current model's graph index, built once per loaded model."""
    summary = session.state.require_model().summary
    cached = session.graph.index
    if cached is not None and cached[0] is summary:  # identity: ids are reused after GC
        return cached[1]
    from workbench.inspection.loading import load_model
    from workbench.inspection.scopes import node_scopes

    try:  # module scopes (dynamo exports) for the overview; weights are not read
        scopes = node_scopes(load_model(session.state.model_source(), load_weights=False))
    except WorkbenchError:
        scopes = ()
    graph = OverlayGraph.from_summary(summary, scopes)
    session.graph.index = (summary, graph)
    return graph


def available_kinds(session: WorkbenchSession) -> tuple[OverlayKind, ...]:
    """The kinds with data in this session now, in the order a user meets them."""
    if session.state.model is None:
        return ()
    kinds = []
    if session.triage.diagnosis is not None:
        kinds.append(OverlayKind.PARSE)
    comparison = session.precision.comparison
    if comparison is not None and comparison.drift is not None:
        kinds.append(OverlayKind(comparison.precision))
    quant = session.quant.report
    if quant is not None and quant.nodes:
        kinds.append(OverlayKind.INT8)
    if (comparison is not None or session.precision.keep_search is not None
            or _user_keep(session) or _excluded(session)):
        kinds.append(OverlayKind.KEEP)
    if session.builds.artifact is not None:
        kinds.append(OverlayKind.ENGINE)
    return tuple(kinds)


def _user_keep(session: WorkbenchSession) -> tuple[str, ...]:
    settings = session.builds.settings
    return tuple(settings.keep_fp32) if settings is not None else ()


def _excluded(session: WorkbenchSession) -> tuple[str, ...]:
    """Nodes left in float by INT8 quantization: the settings' list and a verified search's."""
    quantized, found = session.quant.quantized, session.quant.exclusions
    names = tuple(quantized.settings.exclude) if quantized is not None else ()
    if found is not None and found.verified:
        names += tuple(found.exclude)
    return tuple(dict.fromkeys(names))


def session_overlay(session: WorkbenchSession, kind: OverlayKind | str) -> GraphOverlay:
    """The overlay of ``kind`` from the session's current findings.

    Raises:
        WorkbenchError: no model, an unknown kind, or no data for that kind yet.
    """
    try:
        kind = OverlayKind(kind)
    except ValueError as err:
        raise WorkbenchError(f"No overlay called {kind!r}.",
                             expected=", ".join(k.value for k in OverlayKind),
                             found=repr(kind), fix="pick one of the expected kinds") from err
    graph = overlay_graph(session)
    if kind not in available_kinds(session):
        raise WorkbenchError(f"Nothing to draw for the {kind.value} overlay yet.",
                             expected=f"data for the {kind.value} overlay",
                             found="kinds with data now: "
                             + (", ".join(k.value for k in available_kinds(session))
                                or "none"),
                             fix=_HOW[kind])
    return _overlay_of(session, kind, graph.names)


def _overlay_of(session: WorkbenchSession, kind: OverlayKind,
                names: tuple[str, ...]) -> GraphOverlay:
    """The overlay of ``kind``, which ``available_kinds`` says has data."""
    diagnosis, quant = session.triage.diagnosis, session.quant.report
    comparison, artifact = session.precision.comparison, session.builds.artifact
    if kind is OverlayKind.PARSE and diagnosis is not None:
        return parse_overlay(diagnosis, names)
    if kind is OverlayKind.INT8 and quant is not None:
        return quant_overlay(quant)
    if kind in ERROR_KINDS and comparison is not None and comparison.drift is not None:
        return drift_overlay(kind, comparison.drift, comparison.not_evaluated)
    if kind is OverlayKind.KEEP:
        search = session.precision.keep_search
        conversion = comparison.conversion if comparison is not None else None
        drift = comparison.drift if comparison is not None else None
        return keep_overlay(
            verified=search.keep_fp32 if search is not None and search.verified else (),
            by_user=_user_keep(session) + (comparison.keep_fp32 if comparison else ()),
            suggested=drift.suggested_keep_fp32 if drift is not None else (),
            conversion=conversion, excluded=_excluded(session),
            search_text=search.summary() if search is not None else "")
    if kind is OverlayKind.ENGINE and artifact is not None:
        return engine_overlay(artifact.layers,
                              f"the {artifact.card.settings.precision} engine")
    raise WorkbenchError(f"Nothing to draw for the {kind.value} overlay yet.",
                         fix=_HOW[kind])  # available_kinds said otherwise: a race


def explorer_node_data(session: WorkbenchSession, overlay: GraphOverlay) -> dict[str, Any]:
    """The overlay as Model Explorer node data for the session's model (graph id = the
    graph's name; unnamed nodes keyed by their first output, which Model Explorer matches)."""
    graph = overlay_graph(session)
    graph_id = session.state.require_model().summary.graph_name or "main_graph"
    return overlay.to_node_data(graph_id, graph.unnamed_keys)


def overlay_figure(session: WorkbenchSession, kind: OverlayKind | str, hops: int = 2,
                   limit: int = 40) -> str:
    """A static picture for the report: the neighbourhood of the overlay's focus (the
    failing node, the first bad node) as inline SVG with a legend, or '' when the overlay
    has no focus or no data (the report is then the same as before)."""
    import html

    from workbench.app.overlays.overlay_graph import legend_html, neighbourhood_svg

    if kind not in available_kinds(session):
        return ""
    overlay = session_overlay(session, kind)
    if overlay.focus is None:
        return ""
    svg = neighbourhood_svg(overlay_graph(session), overlay, overlay.focus, hops, limit)
    legend = legend_html(overlay)
    return (f"<figure class='wb-overlay'><figcaption>{html.escape(overlay.title)} around "
            f"<b>{html.escape(overlay.focus)}</b> ({hops} hops; hover a node for its facts)"
            f"<br>{legend}</figcaption><div style='overflow:auto;max-height:700px'>{svg}"
            "</div></figure>")
