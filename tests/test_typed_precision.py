"""Precision and backend choices are enums inside, text or enum at every public entry.

Each public entry (``workbench.compare_precision``, ``find_keep_list``, ``verify_mask_clamp``,
``convert_precision``, the session's precision part, ``trt-workbench compare``, the Q/DQ
settings) normalises once and refuses an unknown value in words (expected / found / what
to do); what comes out (reports, JSON) is the same whichever form went in.
"""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest

import workbench
from workbench.app.precision.compare import CandidateBackend, compare_precision
from workbench.app.quant.compare import compare_quantized
from workbench.app.quant.quantize import quantize_model
from workbench.app.session.session import WorkbenchSession
from workbench.cli import main
from workbench.core.errors import BuildSettingsError, ComparisonError, QuantizationError
from workbench.settings.fields import REDUCED_PRECISIONS, Precision, reduced_precision
from workbench.transforms.precision.convert import convert
from workbench.transforms.quant.settings import Calibrator, QuantPrecision, QuantSettings


def _assert_explained(err: pytest.ExceptionInfo, found: str) -> None:
    assert err.value.expected == "'fp16' or 'bf16'"
    assert err.value.found == found
    assert err.value.fix == "use precision='fp16' or precision='bf16'"


def test_reduced_precision_is_the_one_normaliser() -> None:
    assert REDUCED_PRECISIONS == (Precision.FP16, Precision.BF16)
    assert reduced_precision("bf16") is reduced_precision(Precision.BF16) is Precision.BF16
    with pytest.raises(ComparisonError, match="Precision 'fp32' cannot be compared") as err:
        reduced_precision(Precision.FP32)
    _assert_explained(err, "'fp32'")


@pytest.mark.parametrize("entry", ["compare_precision", "find_keep_list"])
def test_unknown_precision_text_at_the_python_api(sample, entry: str) -> None:
    with pytest.raises(ComparisonError, match="Precision 'fp8' cannot be compared") as err:
        getattr(workbench, entry)(sample("tiny_cnn"), "fp8")
    _assert_explained(err, "'fp8'")


def test_mask_fix_refuses_unknown_precision_and_backend_before_writing(sample,
                                                                      tmp_path: Path) -> None:
    out = tmp_path / "clamped.onnx"
    with pytest.raises(ComparisonError, match="'FP16' cannot be compared") as err:
        workbench.verify_mask_clamp(sample("transformer_block"), "FP16", out_path=out)
    _assert_explained(err, "'FP16'")
    with pytest.raises(ComparisonError, match="Unknown candidate backend 'cuda'") as err:
        workbench.verify_mask_clamp(sample("transformer_block"), backend="cuda", out_path=out)
    assert err.value.fix == "pass backend='auto' or backend='numpy'"
    assert not out.exists()


def test_session_precision_part_refuses_unknown_text(tmp_path: Path, samples_dir: Path,
                                                     sample) -> None:
    session = WorkbenchSession(engines_dir=tmp_path / "engines", samples_dir=samples_dir,
                               work_dir=tmp_path / "out")
    try:
        session.load(sample("tiny_cnn"))
        for call in (session.precision.compare, session.precision.find_keep_list,
                     session.precision.clamp_masks, session.precision.python_compare):
            with pytest.raises(ComparisonError, match="'half' cannot be compared") as err:
                call("half")
            _assert_explained(err, "'half'")
        task = session.start(session.precision.compare, "half")
        with pytest.raises(ComparisonError, match="'half' cannot be compared"):
            task.wait(60)
        assert session.precision.comparison is None
    finally:
        session.close()


def test_cli_compare_refuses_unknown_precision_in_words(sample, capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["compare", str(sample("tiny_cnn")), "--precision", "fp8"])
    assert exited.value.code == 2  # a usage error, before anything runs
    err = capsys.readouterr().err
    assert "argument --precision: Precision 'fp8' cannot be compared here." in err
    assert "expected: 'fp16' or 'bf16'" in err and "found:    'fp8'" in err
    assert "what to do: use precision='fp16' or precision='bf16'" in err


def test_enum_and_text_give_the_same_report_and_json(sample) -> None:
    model = sample("tiny_cnn")
    by_text = compare_precision(model, "bf16", per_layer=False, backend="numpy")
    by_enum = compare_precision(model, Precision.BF16, per_layer=False,
                                backend=CandidateBackend.NUMPY)
    assert by_text.precision is by_enum.precision is Precision.BF16
    texts = []
    for report in (by_text, by_enum):
        data = report.to_dict()
        del data["timings"]  # wall-clock
        texts.append(json.dumps(data, sort_keys=True))
    assert texts[0] == texts[1]
    data = json.loads(texts[0])
    assert data["precision"] == "bf16" and data["conversion"]["precision"] == "bf16"
    assert by_text.summary().startswith("BF16 vs FP32")


def test_cli_compare_bf16_json_says_bf16(sample, capsys) -> None:
    assert main(["compare", str(sample("tiny_cnn")), "--precision", "bf16", "--json",
                 "--no-per-layer"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["precision"] == "bf16" and data["outputs"]["tolerances"]["preset"] == "bf16"


def test_graph_conversion_takes_enum_or_text_and_refuses_the_rest(sample) -> None:
    model = onnx.load(str(sample("tiny_cnn")))
    assert (workbench.convert_precision(model, "bf16").report.precision
            is workbench.convert_precision(model, Precision.BF16).report.precision
            is Precision.BF16)
    with pytest.raises(BuildSettingsError, match="Precision 'fp32' has no graph conversion"):
        workbench.convert_precision(model, "fp32")
    with pytest.raises(BuildSettingsError, match="no FP8 graph conversion") as err:
        convert(model, "fp8")  # was a bare ValueError
    assert err.value.found == "fp8" and "fp16" in (err.value.expected or "")


def test_quant_settings_take_enum_or_text_and_refuse_the_rest() -> None:
    settings = QuantSettings(precision="fp8")
    assert settings.precision is QuantPrecision.FP8
    assert settings.calibrator is Calibrator.DISTRIBUTION
    assert settings.to_dict()["precision"] == "fp8"
    assert settings.describe().startswith("FP8 Q/DQ")
    with pytest.raises(QuantizationError, match="Unknown quantization precision 'int4'") as err:
        QuantSettings(precision="int4")
    assert err.value.expected == "'int8' or 'fp8'"
    assert "precision='int8'" in (err.value.fix or "")
    with pytest.raises(QuantizationError, match="Unknown calibrator 'max'") as err:
        QuantSettings(calibrator="max")
    assert "'minmax'" in (err.value.expected or "")


def test_quant_report_precision_is_the_enum_printed_as_before(sample, tmp_path) -> None:
    result = quantize_model(sample("tiny_cnn"), tmp_path / "tiny.int8.onnx")
    report = compare_quantized(sample("tiny_cnn"), result.path, per_tensor=False)
    assert report.precision is QuantPrecision.INT8
    assert report.to_dict()["precision"] == "INT8"
    assert report.summary().startswith("INT8 Q/DQ vs FP32")
