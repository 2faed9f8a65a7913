"""Tables never break numbers or identifiers, long tables page, and texts name the precision
compared (issue 25)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import ipywidgets as widgets
from ui_support import make_panel

from workbench.app.report import collect_report, render_report
from workbench.app.session import WorkbenchSession
from workbench.compare.drift import GraphNode, compute_drift
from workbench.ui.common import html_table
from workbench.ui.drift_view import DRIFT_ROWS, DriftPager


def test_short_cells_never_break_and_long_names_break_at_slashes() -> None:
    html = html_table(("output", "cosine", "failing elements"),
                      [("Squeeze", "0.00369", "1/10"),
                       ("/model/layers.0/self_attn/q_proj/MatMul_output_0", "int64", "x")])
    assert "<td class=k>0.00369</td>" in html and "<td class=k>Squeeze</td>" in html
    assert "<td class=k>1/10</td>" in html and "<td class=k>int64</td>" in html
    assert ".wb-table td.k{white-space:nowrap" in html and "word-break:keep-all" in html
    assert "overflow-wrap:anywhere" not in html
    # long names break only after a separator; "layers.0" (a dot before a digit) stays
    assert "/<wbr>model/<wbr>layers.0/<wbr>self_attn/<wbr>q_proj" in html
    assert "overflow-x:auto" in html  # the box scrolls instead of squeezing
    assert "white-space:nowrap'>cosine</th>" in html  # headers whole too


def _deep_drift(count: int) -> object:
    import numpy as np

    nodes, pairs = [], []
    rng = np.random.default_rng(0)
    for index in range(count):
        nodes.append(GraphNode(f"n{index}", "Relu", (f"t{index - 1}",), (f"t{index}",)))
        ref = rng.standard_normal(8).astype(np.float32)
        pairs.append((f"t{index}", ref, ref.astype(np.float16)))
    return compute_drift(nodes, {t: r for t, r, _ in pairs}, {t: c for t, _, c in pairs})


def test_drift_table_pages() -> None:
    drift = _deep_drift(251)
    html = widgets.HTML()
    pager = DriftPager(html)
    pager.show(drift)
    assert pager.widget.layout.display == "" and pager.prev.disabled and not pager.next.disabled
    assert pager.label.value == "<small>rows 1–60 of 251</small>"
    assert ">n0<" in html.value and ">n60<" not in html.value.split("In graph order")[-1]
    pager.next.click()
    assert pager.label.value == "<small>rows 61–120 of 251</small>"
    assert ">n60<" in html.value.split("In graph order")[-1]
    for _ in range(5):
        pager.next.click()
    assert pager.label.value == "<small>rows 241–251 of 251</small>" and pager.next.disabled
    pager.prev.click()
    assert pager.start == 180
    short = DriftPager(widgets.HTML())
    short.show(_deep_drift(DRIFT_ROWS - 1))
    assert short.widget.layout.display == "none"


def test_bf16_texts_name_bf16(sample, tmp_path: Path) -> None:
    panel = make_panel(tmp_path, sample("fp16_overflow"))
    compare = panel.compare
    compare.precision.value = "bf16"
    compare.run_button.click()
    assert panel.session.tasks["compare"].join(180)
    report = panel.session.comparison
    assert report.precision == "bf16"
    assert "BF16 vs FP32" in compare.verdict.value
    assert "FP16 range" not in compare.drift.value and "FP16 range" not in report.summary()
    page = render_report(collect_report(panel.session))
    assert "BF16 accuracy" in page and "FP16 accuracy" not in page
    panel.close()


def test_report_says_the_layers_are_of_the_earlier_engine(sample, tmp_path: Path) -> None:
    session = WorkbenchSession(work_dir=tmp_path, engines_dir=tmp_path)
    session.load(sample("tiny_cnn"))
    session.start_build().wait(120)  # FP32
    fp32 = session.artifact
    data = collect_report(session)
    failed = SimpleNamespace(**{**data.__dict__, "build_state": "failed",
                                "settings": data.settings.__class__(precision="fp16")})
    from workbench.app.report import _layers_html

    html = _layers_html(fp32, failed)  # type: ignore[arg-type]
    assert "The last build failed: these are the layers of the engine built before it" in html
    assert "precision <b>FP32</b>" in html
    assert "The last build" not in _layers_html(fp32, data)
