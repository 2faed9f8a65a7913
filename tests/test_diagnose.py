"""Parse triage with the real TensorRT-RTX parser over every sample model."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

import workbench
from workbench.core.errors import ModelLoadError
from workbench.triage.diagnosis import (
    CATEGORIES,
    ParseReport,
    explain_build_failure,
    explain_parse_error,
)

ROOT = Path(__file__).resolve().parent.parent


def _samples():
    spec = importlib.util.spec_from_file_location(
        "make_samples", ROOT / "sample_models" / "make_samples.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("make_samples", module)
    spec.loader.exec_module(module)
    return module.SAMPLES


SAMPLES = _samples()
# problem in make_samples.SAMPLES -> (category, a fragment one fix must contain, failing node)
EXPECTED = {
    "unsupported_op": ("unsupported_op", "plugin", "fancy_activation"),
    "ml_domain": ("ml_domain", "ONNX Runtime", "classifier"),
    "needs_constant_folding": ("needs_constant_folding", "fold_constants", "mean_over_width"),
    "truncated": ("invalid_model", "again", None),
    "missing_external_data": ("external_data_missing", ".data", None),
    "hostile_external_data": ("external_data_unsafe", "refused for safety", None),
}


def test_every_sample_problem_has_an_expectation() -> None:
    problems = {s.problem for s in SAMPLES} - {"ok"}
    assert problems <= set(EXPECTED), problems - set(EXPECTED)
    assert all(category in CATEGORIES for category, _, _ in EXPECTED.values())


@pytest.mark.parametrize("name", [s.name for s in SAMPLES if s.problem == "ok"])
def test_ok_samples_diagnose_clean(sample, name: str) -> None:
    report = workbench.diagnose(sample(name))
    assert report, report.text()
    assert report.parsed and not report.issues
    assert report.flavour == "tensorrt_rtx" and report.version
    assert report.unsupported_nodes == ()
    assert len(report.supported_nodes) == report.node_count > 0
    assert "parses cleanly" in report.text()


@pytest.mark.parametrize("entry", [s for s in SAMPLES if s.problem != "ok"], ids=lambda s: s.name)
def test_broken_samples_get_the_right_diagnosis(sample, entry) -> None:
    category, fix_fragment, node_name = EXPECTED[entry.problem]
    report = workbench.diagnose(sample(entry.name))
    assert not report
    issue = report.issues[0]
    assert issue.category == category, report.text()
    assert any(fix_fragment.lower() in fix.lower() for fix in issue.fixes), issue.fixes
    assert issue.cause and issue.raw
    if node_name is None:
        assert issue.node_index is None
        assert report.flavour == ""  # refused before TensorRT saw it
    else:
        assert issue.node_name == node_name
        assert report.flavour == "tensorrt_rtx"


def test_unsupported_op_is_mapped_to_its_node_and_islands(sample) -> None:
    report = workbench.diagnose(sample("unsupported_op"))
    issue = report.issues[0]
    assert (issue.node_index, issue.op_type, issue.domain) == (
        2, "FancyActivation", "com.example.custom"
    )
    assert issue.code == "INVALID_NODE"
    assert "Plugin not found" in issue.raw
    assert [(s.name, s.dtype, s.shape) for s in issue.inputs] == [
        ("r", "float32", (1, 8, 16, 16))
    ]
    assert ("alpha", "0.5") in issue.attributes
    assert report.unsupported_nodes == (2,)
    assert report.supported_nodes == (0, 1, 3, 4)
    assert [i.supported for i in report.islands] == [True, False, True]
    text = report.text()
    assert "node 2 'fancy_activation' (com.example.custom::FancyActivation)" in text
    assert "UNSUPPORTED node 2 (fancy_activation)" in text


def test_needs_constant_folding_names_the_axes_input(sample) -> None:
    report = workbench.diagnose(sample("needs_constant_folding"))
    issue = report.issues[0]
    assert (issue.node_index, issue.op_type, issue.code) == (5, "ReduceMean", "UNSUPPORTED_NODE")
    assert "build-time constant" in issue.raw
    assert [s.name for s in issue.inputs] == ["r", "last_axis"]
    assert issue.inputs[1].dtype == "int64"
    assert report.unsupported_nodes == (5,)
    assert any(line.startswith("ERROR") for line in report.log)


def test_garbage_bytes_are_refused_before_the_parser() -> None:
    report = workbench.diagnose(b"garbage")  # TensorRT's parse() would return True
    assert not report and not report.parsed
    assert report.flavour == "" and report.log == ()
    assert report.issues[0].category == "invalid_model"
    assert "not a valid ONNX model" in report.issues[0].cause


def test_a_missing_path_raises_instead_of_reporting(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="Model file not found"):
        workbench.diagnose(tmp_path / "nope.onnx")


def test_model_proto_and_bytes_sources(sample) -> None:
    path = sample("unsupported_op")
    from_bytes = workbench.diagnose(path.read_bytes(), node_islands=False)
    assert from_bytes.model == "<model bytes>" and from_bytes.islands == ()
    assert from_bytes.issues[0].category == "unsupported_op"


def test_json_round_trip(sample) -> None:
    report = workbench.diagnose(sample("needs_constant_folding"))
    again = ParseReport.from_json(report.to_json())
    assert again == report
    assert bool(again) is False
    assert report.to_dict()["issues"][0]["inputs"][1]["dtype"] == "int64"


def test_catalogue_without_tensorrt() -> None:
    category, cause, fixes = explain_parse_error(
        "No importer registered for op: Foo", "EfficientNMS_TRT", "", ("float32",)
    )
    assert category == "missing_plugin" and "plugin library" in fixes[0]
    category, cause, _ = explain_parse_error("Unsupported type", "Cast", "", ("string",))
    assert category == "unsupported_dtype" and "string" in cause
    category, _, _ = explain_parse_error("x", "FusedMatMul", "com.microsoft")
    assert category == "ort_fused"


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("IOptimizationProfile::isValid: Error Code 4: API Usage Error (Invalid optimization "
         "profiles for input tensors features, please ensure that the optimization profiles "
         "satisfy MIN<=OPT<=MAX.", "min <= opt <= max"),
        ("IBuilder::buildSerializedNetwork: Error Code 4: API Usage Error (Dimension mismatch "
         "for tensor features and profile 0. At dimension axis 1, profile has min=32, opt=32, "
         "max=32 but tensor has 64.", "static dimension"),
        ("Error Code 1: Myelin ([tactic.cpp:1676: enumerate_tactics] Tactic Selection: no "
         "tactics to implement the operation within workspace limit.", "workspace"),
        ("Error Code 2: Internal Error (Assertion failed)", "reduce_build_failure"),
        ("Network has dynamic or shape inputs, but no optimization profile has been defined.",
         "profile"),
        ("something new", "VERBOSE"),
    ],
)
def test_explain_build_failure(line: str, fragment: str) -> None:
    cause, fixes = explain_build_failure([line])
    assert cause
    assert any(fragment in fix for fix in fixes), fixes


def test_freeze_shapes_fix_names_the_models_inputs_and_works(sample) -> None:
    import ast

    from workbench.backends.trt.parse import fold_and_diagnose

    report = workbench.diagnose(sample("needs_constant_folding"))
    fix = next(f for f in report.issues[0].fixes if "input_shapes=" in f)
    literal = fix.split("input_shapes=", 1)[1].rstrip(")")
    shapes = ast.literal_eval(literal)
    assert shapes == {"image": [1, 4, 224, 224]}  # the real input; dynamic dims at opt
    _, folded = fold_and_diagnose(sample("needs_constant_folding"), input_shapes=shapes)
    assert folded, folded.text()
