"""Plots of a comparison, as matplotlib Figures.

Figures are made with ``matplotlib.figure.Figure`` directly, never ``pyplot``: no global
state, no backend switching, nothing shown as a side effect. A notebook displays the
returned Figure; a script calls ``fig.savefig(path)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from workbench.compare.drift import DriftReport
from workbench.compare.metrics import error_arrays
from workbench.compare.quant_error import NodeError

__all__ = ["drift_curve", "error_histograms", "reference_scatter", "sqnr_curve"]

_MAX_SCATTER_POINTS = 20_000  # more points only slow the figure down without showing more


def error_histograms(
    reference: Mapping[str, np.ndarray],
    candidate: Mapping[str, np.ndarray],
    outputs: Sequence[str] | None = None,
    bins: int = 50,
) -> Figure:
    """One histogram of absolute errors (log-spaced bins) per output."""
    names = [n for n in (outputs or list(reference)) if n in candidate]
    fig = Figure(figsize=(5 * max(1, len(names)), 3.6), layout="constrained")
    axes = fig.subplots(1, max(1, len(names)), squeeze=False)[0]
    for ax, name in zip(axes, names, strict=False):
        absdiff, _ = error_arrays(np.asarray(reference[name]), np.asarray(candidate[name]))
        finite = absdiff[np.isfinite(absdiff)].ravel()
        positive = finite[finite > 0]
        zeros, bad = int((finite == 0).sum()), int(absdiff.size - finite.size)
        if positive.size:
            low, high = np.log10(positive.min()), np.log10(positive.max())
            edges = np.logspace(low, high if high > low else low + 1, bins)
            ax.hist(positive, bins=edges, color="tab:blue")
            ax.set_xscale("log")
        ax.set_title(f"{name}: |candidate - reference|")
        ax.set_xlabel("absolute error")
        ax.set_ylabel("elements")
        ax.text(0.98, 0.95, f"exact: {zeros}\nnon-finite: {bad}", transform=ax.transAxes,
                ha="right", va="top", fontsize=8)
    if not names:
        axes[0].set_title("no common outputs to plot")
    return fig


def reference_scatter(
    reference: np.ndarray, candidate: np.ndarray, name: str = "output", seed: int = 0
) -> Figure:
    """Candidate against reference values, with the y = x line a perfect match lies on."""
    # Annotated as plain arrays: numpy 2.2's stubs type ravel() as 1-D and fancy indexing
    # as N-D, so the sampled reassignment below would not type-check against them.
    r: np.ndarray = np.asarray(reference, dtype=np.float64).ravel()
    c: np.ndarray = np.asarray(candidate, dtype=np.float64).ravel()
    fig = Figure(figsize=(4.5, 4.5), layout="constrained")
    ax = fig.subplots()
    if r.shape != c.shape:
        ax.set_title(f"{name}: shapes differ, nothing to plot")
        return fig
    if r.size > _MAX_SCATTER_POINTS:  # a fixed sample keeps the picture reproducible
        pick = np.random.default_rng(seed).choice(r.size, _MAX_SCATTER_POINTS, replace=False)
        r, c = r[pick], c[pick]
    finite = np.isfinite(r) & np.isfinite(c)
    ax.scatter(r[finite], c[finite], s=4, alpha=0.5, color="tab:blue", label="elements")
    if finite.any():
        low = float(min(r[finite].min(), c[finite].min()))
        high = float(max(r[finite].max(), c[finite].max()))
        ax.plot([low, high], [low, high], color="tab:red", linewidth=1, label="y = x")
    ax.set_xlabel("reference (FP32)")
    ax.set_ylabel("candidate")
    ax.set_title(f"{name}: {int((~finite).sum())} non-finite pairs omitted")
    ax.legend(loc="upper left", fontsize=8)
    return fig


_LABELLED_NODES = 60  # up to this many tensors every node is named on the x axis
_ANNOTATED_WORST = 8  # beyond that, only the worst few are named


def drift_curve(drift: DriftReport, log_scale: bool = True) -> Figure:
    """Per-layer error in topological order, the threshold, and the first bad node marked.

    Readable at any depth: up to 60 tensors every node is named on the axis; beyond that
    the figure keeps a fixed width and names only the worst tensors, and benign
    saturations (attention masks) are drawn apart in green.
    """
    count = len(drift.layers)
    fig = Figure(figsize=(min(14.0, max(6.0, 0.25 * count)), 4), layout="constrained")
    ax = fig.subplots()
    errors = np.array([layer.error for layer in drift.layers], dtype=np.float64)
    finite_max = float(errors[np.isfinite(errors)].max()) if np.isfinite(errors).any() else 1.0
    ceiling = max(finite_max, drift.threshold) * 10  # where infinite errors are drawn
    shown = np.where(np.isfinite(errors), errors, ceiling)
    floor = 1e-8 if log_scale else 0.0
    shown = np.maximum(shown, floor)
    x = np.arange(count)
    dense = count > _LABELLED_NODES
    ax.plot(x, shown, marker="" if dense else "o", markersize=3, linewidth=0.8 if dense else 1.5,
            color="tab:blue", label="error / tensor scale")
    benign_tensors = {b.tensor for b in getattr(drift, "benign", ())}
    benign = np.array([layer.tensor in benign_tensors for layer in drift.layers], dtype=bool)
    if benign.any():
        ax.scatter(x[benign], shown[benign], marker="s", s=12, color="tab:green", zorder=3,
                   label="benign saturation (mask)")
    infinite = ~np.isfinite(errors)
    if infinite.any():
        ax.scatter(x[infinite], shown[infinite], marker="^", color="tab:red", zorder=3,
                   label="inf / NaN in candidate")
    ax.axhline(drift.threshold, color="tab:orange", linestyle="--",
               label=f"threshold {drift.threshold:g}")
    first = next((layer for layer in drift.layers if layer.over_threshold), None)
    if first is not None:
        ax.axvline(first.index, color="tab:red", linestyle=":",
                   label=f"first bad: {first.node}")
    if log_scale:
        ax.set_yscale("log")
    if dense:
        # name only what matters: the worst tensors over the threshold (none when healthy)
        ranked = [i for i in np.argsort(-shown, kind="stable")
                  if not benign[i] and drift.layers[i].over_threshold]
        for i in ranked[:_ANNOTATED_WORST]:
            ax.annotate(drift.layers[i].node, (x[i], shown[i]), fontsize=7, rotation=30,
                        xytext=(3, 3), textcoords="offset points")
        ax.set_xlabel(f"tensor # in topological order ({count} tensors; the worst over the "
                      f"threshold named, at most {_ANNOTATED_WORST})")
    else:
        ax.set_xticks(x, [layer.node for layer in drift.layers], rotation=90, fontsize=7)
    ax.set_ylabel("max|candidate - reference| / max|reference|")
    ax.set_title("Per-layer drift (topological order)")
    ax.legend(fontsize=8)
    return fig


def sqnr_curve(nodes: Sequence[NodeError], threshold_db: float) -> Figure:
    """The INT8 drift view: each node's output SQNR (dB, higher is better) in topological
    order, the noise each quantized node adds, the threshold and the first node under it."""
    count = len(nodes)
    fig = Figure(figsize=(min(14.0, max(6.0, 0.25 * count)), 4), layout="constrained")
    ax = fig.subplots()
    x = np.arange(count)
    out = np.array([n.output.sqnr_db for n in nodes], dtype=np.float64)
    out = np.where(np.isfinite(out), out, -10.0)  # non-finite candidates drawn at the bottom
    ax.plot(x, out, marker="o" if count <= _LABELLED_NODES else "", markersize=3,
            color="tab:blue", label="output SQNR (dB)")
    quantized = np.array([n.quantized for n in nodes], dtype=bool)
    added = np.array([min(n.added_sqnr_db, 200.0) for n in nodes], dtype=np.float64)
    if quantized.any():
        ax.scatter(x[quantized], added[quantized], marker="v", s=18, color="tab:purple",
                   zorder=3, label="noise the quantized node adds (dB)")
    ax.axhline(threshold_db, color="tab:orange", linestyle="--",
               label=f"threshold {threshold_db:g} dB")
    first = next((i for i, n in enumerate(nodes) if not n.output.sqnr_db >= threshold_db),
                 None)
    if first is not None:
        ax.axvline(first, color="tab:red", linestyle=":", label=f"first bad: {nodes[first].node}")
    ax.set_ylim(min(-10.0, float(out.min()) - 5) if count else -10.0, 80.0)
    if count <= _LABELLED_NODES:
        ax.set_xticks(x, [n.node for n in nodes], rotation=70, fontsize=7)
    ax.set_xlabel("node (topological order)")
    ax.set_ylabel("SQNR vs FP32 (dB)")
    ax.set_title("INT8 Q/DQ vs FP32, per node (CPU fake quantization)")
    ax.legend(fontsize=7, loc="lower left")
    return fig
