"""Every piece of advice names a button or call that exists and applies to that model
(issue 25: the frozen copy's build failure advised "Freeze and open the copy", which that
copy does not have; its Ifs are decided by the shape of a tensor, not an input value).

Advice is collected as users meet it, on the sample models, the realistic corpus and an
EfficientNet-like pooler: parse diagnoses (causes and fixes), build-failure explanations
of each model's own facts (control flow, profiles) for the failures TensorRT reports
(inside an If, a shape constraint), and FP16 comparison findings. Each button it names
must be in the panel, shown and enabled for that model; each call must exist.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import onnx
import pytest
from onnx import TensorProto, helper
from reference_models import efficientnet_pooler, save
from ui_support import make_panel

import workbench
from sample_models.exports.registry import export_path
from sample_models.make_samples import SAMPLES
from sample_models.realistic import REALISTIC
from workbench.app.session import WorkbenchSession
from workbench.backends.trt.build import build_facts
from workbench.build.settings import BuildSettings
from workbench.triage.build_failures import BuildFacts
from workbench.triage.catalogue import explain_build_failure

# what TensorRT reports for the two build failures the catalogue explains by the model
FAILURES = (["[graphScope.cpp::getScope::87] Error Code 2: kUNDEFINED scope"],
            ["kOPT values for profile 0 violate shape constraints: node: Broadcast has "
             "incompatible dimensions"])
# button text in advice -> (the panel's tab attribute, the button, the box that shows it)
BUTTONS = {
    "Freeze and open the copy": ("model_tab", "freeze.button", "freeze.box"),
    "Rewrite as global pool and retry": ("parse", "global_pool_button"),
    "Fold constants and retry": ("parse", "fold_button"),
    "Reduce to minimal failing model": ("parse", "reduce_button"),
    "Keep these in FP32 and re-run": ("compare", "keep_button"),
    "Clamp mask constants and re-run": ("compare", "mask_fix.button"),
    "Find a minimal keep list": ("compare", "search.search_button"),
}
CALL = re.compile(r"\b(workbench|session)\.(\w+)\(")


def _attr(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def check_advice(text: str, panel: Any, where: str) -> None:
    for phrase, (tab, button, *box) in BUTTONS.items():
        if phrase not in text:
            continue
        widget = _attr(getattr(panel, tab), button)
        shown = _attr(getattr(panel, tab), box[0]) if box else widget
        assert isinstance(widget, widgets.Button), f"{where}: {phrase!r} is no button"
        assert shown.layout.display != "none" and not widget.disabled, (
            f"{where}: advice names {phrase!r}, which this model does not offer:\n{text}")
    for owner, name in CALL.findall(text):
        target = workbench if owner == "workbench" else WorkbenchSession
        assert hasattr(target, name), f"{where}: advice names {owner}.{name}(): no such call"


def _advice_of_parse(panel: Any) -> list[str]:
    report = panel.session.diagnosis
    return [text for issue in (report.issues if report else ())
            for text in (issue.cause, *issue.fixes)]


def _advice_of_build(panel: Any) -> list[str]:
    model = onnx.load(panel.session.model.path, load_external_data=False)
    facts = build_facts(model, panel.session.settings or BuildSettings(), "model.onnx")
    found = []
    for lines in FAILURES:
        cause, fixes = explain_build_failure(lines, facts)
        found += [cause, *fixes]
    return found


MODELS: list[tuple[str, Callable[[Any, Any, Path], Path]]] = [
    *((f"sample:{s.name}", lambda sample, _r, _t, n=s.name: sample(n)) for s in SAMPLES
      if s.name not in ("truncated", "missing_external_data", "hostile_external_data")),
    *((f"realistic:{e.name}", lambda _s, realistic, _t, n=e.name: realistic(n))
      for e in REALISTIC),
    ("efficientnet_pooler", lambda _s, _r, tmp: save(efficientnet_pooler(), tmp)),
    # the real exports of the issue's families: decoder, audio encoders, Swin, a CNN
    *((f"export:{name}", lambda _s, _r, _t, n=name: export_path(n))
      for name in ("llama_dynamo", "whisper_encoder_dynamo", "wav2vec2_torchscript",
                   "swin_dynamo", "mobilenet_v2_dynamo")),
]


@pytest.mark.parametrize(("label", "make"), MODELS, ids=[m[0] for m in MODELS])
def test_parse_and_build_advice_names_what_exists(label: str, make: Any, sample, realistic,
                                                  tmp_path: Path) -> None:
    panel = make_panel(tmp_path, make(sample, realistic, tmp_path))
    try:
        for text in _advice_of_parse(panel) + _advice_of_build(panel):
            check_advice(text, panel, label)
    finally:
        panel.close()


def _shape_decided_if(path: Path) -> Path:
    """What a frozen Silero-VAD copy still has: an If decided by Shape(input)[1] == 512."""
    then = helper.make_graph([helper.make_node("Relu", ["input"], ["t"])], "then", [],
                             [helper.make_tensor_value_info("t", TensorProto.FLOAT, None)])
    other = helper.make_graph([helper.make_node("Neg", ["input"], ["e"])], "else", [],
                              [helper.make_tensor_value_info("e", TensorProto.FLOAT, None)])
    nodes = [helper.make_node("Shape", ["input"], ["shape"], start=1, end=2),
             helper.make_node("Equal", ["shape", "n512"], ["is_512"]),
             helper.make_node("Squeeze", ["is_512"], ["cond"]),
             helper.make_node("If", ["cond"], ["y"], name="chunk_switch", then_branch=then,
                              else_branch=other)]
    graph = helper.make_graph(
        nodes, "shape_if", [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                                          [1, "samples"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [helper.make_tensor("n512", TensorProto.INT64, [1], [512])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_shape_decided_if_is_not_advised_a_value_freeze(tmp_path: Path) -> None:
    panel = make_panel(tmp_path, _shape_decided_if(tmp_path / "shape_if.onnx"))
    assert panel.session.freeze_choices() == ()
    advice = _advice_of_build(panel)
    joined = "\n".join(advice)
    assert "Freeze and open the copy" not in joined
    assert "decided by the shape of input" in joined and "input_shapes=" in joined
    for text in advice:
        check_advice(text, panel, "shape_if")
    panel.close()


def test_value_decided_if_is_advised_the_freeze_button(realistic, tmp_path: Path) -> None:
    panel = make_panel(tmp_path, realistic("if_switch"))
    joined = "\n".join(_advice_of_build(panel))
    assert "Freeze and open the copy" in joined and "input_values={'sr': 16000}" in joined
    panel.close()


def test_no_freeze_advice_without_deciders() -> None:
    facts = BuildFacts(deciders=(("if", ("x",), ()),), control_nodes=(("if", "If"),))
    _cause, fixes = explain_build_failure(FAILURES[0], facts)
    assert not any("Freeze and open the copy" in fix for fix in fixes)


@pytest.mark.parametrize("name", ["fp16_overflow", "transformer_block", "tiny_cnn"])
def test_comparison_advice_names_what_exists(name: str, sample, tmp_path: Path) -> None:
    panel = make_panel(tmp_path, sample(name))
    panel.compare.run_button.click()
    assert panel.session.tasks["compare"].join(180)
    report = panel.session.comparison
    texts = [*report.findings, report.mask_fix_offer, panel.compare.verdict.value]
    for text in texts:
        check_advice(re.sub(r"<[^>]+>", "", text), panel, name)
    panel.close()
