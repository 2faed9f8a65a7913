"""Plots return Figures and leave pyplot's global state alone."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from matplotlib.figure import Figure

from workbench.app.precision.compare import compare_precision
from workbench.compare.plots import drift_curve, error_histograms, reference_scatter


@pytest.fixture(scope="module")
def report(sample):
    return compare_precision(sample("fp16_overflow"), backend="numpy")


def test_error_histograms_one_axis_per_output(tmp_path) -> None:
    ref = {"a": np.linspace(-1, 1, 100), "b": np.ones(10)}
    cand = {"a": ref["a"] + 1e-3, "b": np.array([1.0] * 9 + [np.nan])}
    fig = error_histograms(ref, cand)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert "non-finite: 1" in fig.axes[1].texts[0].get_text()
    fig.savefig(tmp_path / "hist.png")
    assert (tmp_path / "hist.png").stat().st_size > 1000


def test_scatter_has_identity_line_and_samples_large_outputs() -> None:
    ref = np.random.default_rng(0).standard_normal(50_000)
    fig = reference_scatter(ref, ref * 1.01, "y")
    ax = fig.axes[0]
    assert len(ax.collections[0].get_offsets()) == 20_000
    assert ax.lines[0].get_label() == "y = x"
    assert "shapes differ" in reference_scatter(ref, ref[:5]).axes[0].get_title()


def test_drift_curve_marks_threshold_and_first_bad_node(report, tmp_path) -> None:
    fig = drift_curve(report.drift)
    labels = [line.get_label() for line in fig.axes[0].lines]
    assert f"threshold {report.drift.threshold:g}" in labels
    assert "first bad: rms.square" in labels
    fig.savefig(tmp_path / "drift.png")


def test_no_pyplot_state(report) -> None:
    drift_curve(report.drift)
    error_histograms(report.reference_outputs, report.candidate_outputs)
    if "matplotlib.pyplot" in sys.modules:
        import matplotlib.pyplot as plt

        assert plt.get_fignums() == []
