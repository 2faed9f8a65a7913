"""Triage on real-model failures: grouped errors, the catalogue of what TensorRT does not
implement, and errors without a node attached to the graph input they concern."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import triage_models

import workbench
from workbench.triage.diagnosis import ParseReport
from workbench.triage.unimplemented import family_of

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def quantized(tmp_path_factory) -> Path:
    return triage_models.quantized(tmp_path_factory.mktemp("quantized"))


def test_quantized_model_errors_become_one_group_per_op(quantized: Path) -> None:
    report = workbench.diagnose(quantized)
    groups = {g.op_type: g for g in report.groups}
    assert {g.count for g in groups.values()} and groups["DynamicQuantizeLinear"].count >= 2
    assert set(groups) >= {"DynamicQuantizeLinear", "ConvInteger", "MatMulInteger"}
    assert len(report.groups) < len(report.issues)
    assert report.headline.startswith("DynamicQuantizeLinear ×")
    for group in report.groups:
        assert group.category == "ort_quantization"
        # the real cause, although TensorRT's text is only 'false'
        assert group.messages == ("false",)
        assert "quantize_dynamic" in group.cause and "Q/DQ" in group.cause
        assert any("FP32 model" in fix for fix in group.fixes)
        assert any("trt-workbench quantize" in fix for fix in group.fixes)  # the Q/DQ path
    text = report.text()
    assert "DynamicQuantizeLinear ×" in text and text.count("cause:") == len(report.groups)
    assert ParseReport.from_json(report.to_json()) == report


def test_the_fp32_fix_applies(quantized: Path) -> None:
    """The first fix names the FP32 model quantize_dynamic started from: it parses."""
    assert workbench.diagnose(quantized.parent / "fp32.onnx")


@pytest.mark.parametrize(("make", "name", "category", "fragment"), [
    (triage_models.string_input, "text", "string_type", "strings"),
    (triage_models.sequence_input, "frames", "sequence_type", "sequence of float32"),
])
def test_errors_without_a_node_are_attached_to_the_graph_input(
        tmp_path: Path, make, name: str, category: str, fragment: str) -> None:
    report = workbench.diagnose(make(tmp_path))
    attached = [i for i in report.issues if i.node_index is None]
    assert len(attached) == 1, report.text()  # once
    issue = attached[0]
    assert issue.tensor == name and issue.category == category
    assert issue.title.startswith(f"[{category}] graph input {name!r}")
    assert fragment in issue.cause and "''" not in " ".join(issue.fixes)
    assert any("split the model after" in fix for fix in issue.fixes)


def test_catalogue_families() -> None:
    assert family_of("MatMulInteger").category == "ort_quantization"
    assert family_of("Gradient", "ai.onnx.preview.training").category == "training_op"
    assert family_of("Adam", "ai.onnx.preview.training").category == "training_op"
    assert family_of("SequenceAt").category == "sequence_type"
    assert family_of("StringNormalizer").category == "string_type"
    assert family_of("Attention", "com.microsoft").category == "ort_fused"
    assert family_of("Attention", "") is None  # the standard op is not ONNX Runtime's
    assert family_of("Conv") is None


def test_cli_diagnose_prints_the_groups(quantized: Path) -> None:
    env_cmd = [sys.executable, "-m", "workbench.cli", "diagnose", str(quantized)]
    text = subprocess.run(env_cmd, capture_output=True, text=True, check=False)
    assert text.returncode == 1
    assert "group(s): DynamicQuantizeLinear ×" in text.stdout
    data = json.loads(subprocess.run([*env_cmd, "--json"], capture_output=True, text=True,
                                     check=False).stdout)
    assert data["groups"][0]["title"].startswith("DynamicQuantizeLinear ×")


def test_parse_tab_shows_collapsed_groups(quantized: Path) -> None:
    from workbench.app.session.session import WorkbenchSession
    from workbench.ui.parse_tab import ParseTab

    session = WorkbenchSession()
    tab = ParseTab(session)
    session.load(quantized)
    session.diagnose()
    tab.show_report()
    cards = tab.cards.value
    assert cards.count("wb-group") == len(session.diagnosis.groups)
    assert "<details class='wb-group'" in cards and "<details open" not in cards
    assert "DynamicQuantizeLinear ×" in tab.verdict.value
    # Reduce is not recommended: the cards already name the fix for a known family
    assert tab.reduce_button.button_style == ""
    session.close()
