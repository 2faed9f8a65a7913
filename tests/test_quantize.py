"""INT8/FP8 Q/DQ for TensorRT: quantize (ORT, TensorRT preset), inspect, compare against FP32
on CPU, minimal exclusion list, and real TensorRT-RTX parses and builds of the result."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import onnx
import pytest

from sample_models.quant_cases import OUTLIER_BAD_NODE, write_outlier_mlp
from workbench.app.quant.compare import compare_quantized
from workbench.app.quant.exclusions import find_exclusions
from workbench.app.quant.quantize import quantize_model
from workbench.core.errors import BuildCancelled, QuantizationError
from workbench.inspection.quantization import quantization_info
from workbench.transforms.quant.settings import QuantPrecision, QuantSettings

SAMPLES = ("tiny_cnn", "resnet_block", "transformer_block", "mlp_dynamic_batch")
# every realistic-corpus model TensorRT parses in FP32
CORPUS = ("bert_like", "gpt_like", "paddle_detector", "if_switch", "sklearn_mlp",
          "jax_classifier")


def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def outlier(tmp_path_factory) -> Path:
    return write_outlier_mlp(tmp_path_factory.mktemp("quant"))


def test_preset_is_what_tensorrt_needs() -> None:
    preset = QuantSettings.tensorrt()
    options = preset.extra_options()
    assert options["QuantizeBias"] is False
    assert options["ActivationSymmetric"] and options["WeightSymmetric"]
    assert preset.per_channel and {"Conv", "MatMul", "Gemm"} <= set(preset.op_types)
    assert QuantSettings.tensorrt(precision="fp8").calibrator == "distribution"
    with pytest.raises(QuantizationError, match="at least one batch"):
        QuantSettings(calibration_batches=0)


@pytest.mark.parametrize("name", SAMPLES)
def test_quantize_writes_a_new_qdq_file_and_leaves_the_source(sample, tmp_path, name) -> None:
    source = sample(name)
    before = _sha(source)
    result = quantize_model(source, tmp_path / f"{name}.int8.onnx")
    assert result.path.exists() and _sha(source) == before
    info = quantization_info(onnx.load(result.path))
    assert info.format == "qdq" and not info.int32_dequantize and not info.bad_scales
    assert {t.dtype for t in info.tensors} == {"int8"}
    assert any(t.kind == "weight" and t.channels > 1 for t in info.tensors)  # per-channel
    assert all(t.zero_point_max_abs in (None, 0.0) for t in info.tensors)  # symmetric
    with pytest.raises(QuantizationError, match="exists") as err:
        quantize_model(source, result.path)
    assert "never overwrite" in err.value.message


def test_result_parses_and_builds_int8_with_tensorrt_rtx(sample, tmp_path) -> None:
    """Real TensorRT-RTX: the preset's model parses, builds strongly typed, and the engine
    explorer's records show INT8 layers holding the quantized ONNX nodes."""
    from workbench.backends.trt.build import build_engine
    from workbench.engines.layer_report import precision_text, quantized_layers
    from workbench.settings.settings import BuildSettings

    result = quantize_model(sample("tiny_cnn"), tmp_path / "tiny.int8.onnx")
    artifact = build_engine(result.path, BuildSettings(profiling_verbosity="detailed"))
    int8 = quantized_layers(artifact.layers)
    assert int8 and "INT8" in precision_text(artifact.layers)
    held = {node for layer in int8 for node in layer.onnx_nodes}
    assert {"conv1", "conv2", "fc"} <= held


def test_ort_default_int32_bias_is_refused_and_explained(sample, tmp_path) -> None:
    from workbench.backends.trt.parse import diagnose

    result = quantize_model(sample("tiny_cnn"), tmp_path / "ortdefault.onnx",
                            QuantSettings.ort_defaults())
    info = quantization_info(onnx.load(result.path))
    assert info.int32_dequantize and "QuantizeBias False" in " ".join(info.lines())
    report = diagnose(result.path)
    issue = next(i for i in report.issues if i.category == "qdq_int32_bias")
    assert "int32" in issue.cause and "QuantizeBias" in issue.cause
    assert "trt-workbench quantize" in issue.fixes[0]
    # ORT's defaults are also asymmetric: with the biases in float, TensorRT refuses the
    # non-zero zero points next (its parser stops at the first problem)
    from workbench.transforms.quant.qdq_bias import float_biases

    assert info.asymmetric and "zero point" in " ".join(info.lines())
    report = diagnose(float_biases(onnx.load(result.path))[0])
    issue = next(i for i in report.issues if i.category == "qdq_asymmetric")
    assert "zero point" in issue.cause and "symmetric" in issue.fixes[0]


def test_qoperator_model_is_recognised_with_an_honest_fix(realistic) -> None:
    from workbench.triage.catalogue import explain_parse_error

    info = quantization_info(onnx.load(realistic("quantized_dynamic")))
    assert info.format == "qoperator"
    assert {"DynamicQuantizeLinear", "MatMulInteger"} <= {op for _, op in info.qoperator_nodes}
    _, _, fixes = explain_parse_error("false", "MatMulInteger")
    assert any("trt-workbench quantize" in f and "does not convert" in f for f in fixes)


def test_unknown_exclusion_and_cancel_are_explained(sample, tmp_path) -> None:
    with pytest.raises(QuantizationError, match="not in the model") as err:
        quantize_model(sample("tiny_cnn"), tmp_path / "a.onnx",
                       QuantSettings.tensorrt(exclude=("nope",)))
    assert "conv1" in err.value.expected
    with pytest.raises(BuildCancelled, match="cancelled"):
        quantize_model(sample("tiny_cnn"), tmp_path / "b.onnx", cancel=lambda: True)
    assert not (tmp_path / "b.onnx").exists()


def test_calibration_from_npz_batches(sample, tmp_path) -> None:
    from workbench.feeds.generator import model_feeds
    from workbench.feeds.inputs import save_inputs

    model = onnx.load(sample("tiny_cnn"))
    files = [save_inputs(tmp_path / f"b{k}.npz", model_feeds(model, seed=k)) for k in range(2)]
    result = quantize_model(sample("tiny_cnn"), tmp_path / "npz.onnx", calibration=files)
    assert result.calibration == "2 .npz file(s)"


def test_fp8_is_valid_or_refused_with_the_reason(sample, tmp_path) -> None:
    settings = QuantSettings.tensorrt(precision="fp8")
    try:
        result = quantize_model(sample("tiny_cnn"), tmp_path / "fp8.onnx", settings)
    except QuantizationError as err:  # ORT's FP8 path can give NaN scales
        assert "FP8" in err.message and "int8" in (err.fix or "")
        return
    info = quantization_info(onnx.load(result.path))
    assert {t.dtype for t in info.tensors} == {"float8_e4m3fn"} and not info.bad_scales


@pytest.mark.parametrize("name", SAMPLES)
def test_int8_compare_on_samples(sample, tmp_path, name) -> None:
    result = quantize_model(sample(name), tmp_path / f"{name}.int8.onnx")
    report = compare_quantized(sample(name), result.path)
    assert report.verdict == "PASSED", report.summary()
    cosines = [o.cosine for o in report.outputs.outputs]
    assert all(c is not None and c > 0.99 for c in cosines)
    # every quantized activation has its SQNR; INT8 gives 25-50 dB on these models
    assert report.tensors and all(20 < t.sqnr_db < 60 for t in report.tensors)
    assert report.nodes and report.first_bad_node is None
    assert "SQNR in dB" in report.summary() and "fake quantization" in report.summary()


def test_outlier_breaks_int8_where_it_enters_and_search_finds_it(outlier) -> None:
    found = find_exclusions(outlier)
    base = found.base
    assert base is not None and base.verdict == "FAILED"
    assert base.first_bad_node == OUTLIER_BAD_NODE  # where the error enters
    assert base.worst_nodes()[0].node == OUTLIER_BAD_NODE
    assert found.exclude == (OUTLIER_BAD_NODE,) and found.verified and found.minimal
    assert found.trials >= 1 and found.report is not None and found.report.passed
    assert "verified, 1-minimal" in found.summary()


def test_exclusion_search_when_nothing_fails_runs_no_trial(sample) -> None:
    found = find_exclusions(sample("mlp_dynamic_batch"))
    assert found.exclude == () and found.verified and found.trials == 0


def test_sqnr_definition() -> None:
    from workbench.compare.quant_error import sqnr_db

    ref = np.ones(100, np.float32)
    assert sqnr_db(ref, ref) == 200.0
    assert sqnr_db(ref, ref * 1.1) == pytest.approx(20.0)
    assert sqnr_db(ref, np.full(100, np.nan, np.float32)) == -math.inf


@pytest.mark.parametrize("name", CORPUS)
def test_realistic_corpus_quantizes_compares_and_builds(realistic, tmp_path, name) -> None:
    from workbench.backends.trt.build import build_engine
    from workbench.engines.layer_report import quantized_layers

    source = realistic(name)
    result = quantize_model(source, tmp_path / f"{name}.int8.onnx")
    report = compare_quantized(source, result.path)
    assert report.outputs.passed, report.summary()
    assert quantized_layers(build_engine(result.path).layers)


def test_session_quantize_compare_exclusions_and_cancel(sample, tmp_path) -> None:
    from workbench.app.session.session import WorkbenchSession
    from workbench.app.session.tasks import TaskKind, TaskState

    session = WorkbenchSession(work_dir=tmp_path)
    session.load(sample("tiny_cnn"))
    first = session.start_quantize().wait(120)
    second = session.quantize()
    assert first.path == tmp_path / "tiny_cnn.int8.onnx"
    assert second.path == tmp_path / "tiny_cnn.int8-2.onnx"  # never over the first
    assert session.derived["int8"] == second.path
    report = session.start_compare_quantized().wait(120)
    assert report.passed and session.quant_report is report
    assert session.start_find_exclusions().wait(120).exclude == ()
    # Cancel pressed as calibration starts: the task ends CANCELLED, no file is written
    session.on("task", lambda _e, task: session.cancel_quantize()
               if task.activity.startswith("calibrating") else None)
    task = session.start_quantize()
    task.join(120)
    assert task.state is TaskState.CANCELLED and "cancelled" in str(task.error)
    assert not (tmp_path / "tiny_cnn.int8-3.onnx").exists()
    assert session.task(TaskKind.QUANTIZE) is task


def test_cli_quantize(outlier, tmp_path, capsys) -> None:
    from workbench.cli import main

    out = tmp_path / "cli.onnx"
    code = main(["quantize", str(outlier), "-o", str(out), "--find-exclusions"])
    text = capsys.readouterr().out
    assert code == 0 and out.exists()
    assert f"leave in float: {OUTLIER_BAD_NODE}" in text and "PASSED" in text
    code = main(["quantize", str(outlier), "-o", str(tmp_path / "plain.onnx")])
    assert code == 3 and "FAILED" in capsys.readouterr().out


def test_float_biases_fix_is_exact_and_parses(sample, tmp_path) -> None:
    """The int32-bias repair without the FP32 model: same numbers, and TensorRT parses it."""
    from workbench.backends.ort import OrtRunner
    from workbench.backends.trt.parse import diagnose
    from workbench.feeds.generator import model_feeds
    from workbench.transforms.quant.qdq_bias import float_biases

    # the issue's case: symmetric, per-channel, but ORT's default int32 biases
    bad = quantize_model(sample("tiny_cnn"), tmp_path / "bad.onnx",
                         QuantSettings.tensorrt(quantize_bias=True))
    model = onnx.load(bad.path)
    fixed, folded = float_biases(model)
    assert len(folded) == 3 and not quantization_info(fixed).int32_dequantize
    assert len(model.graph.node) == len(fixed.graph.node) + 3  # the input is not modified
    feeds = model_feeds(model, seed=1)
    with OrtRunner(model, graph_optimizations=False) as a, OrtRunner(
            fixed, graph_optimizations=False) as b:
        np.testing.assert_array_equal(a.infer(feeds)["logits"], b.infer(feeds)["logits"])
    assert diagnose(fixed) and not diagnose(bad.path)


def test_parse_tab_offers_the_float_bias_repair(sample, tmp_path) -> None:
    from ui_support import make_panel

    from workbench.app.session.tasks import TaskKind

    bad = quantize_model(sample("tiny_cnn"), tmp_path / "bad.onnx",
                         QuantSettings.tensorrt(quantize_bias=True))
    panel = make_panel(tmp_path, bad.path)
    parse = panel.parse
    assert parse.bias_button.layout.display == "" and not parse.bias_button.disabled
    parse.bias_button.click()
    assert panel.session.tasks[TaskKind.FLOAT_BIASES].join(120)
    assert panel.session.diagnosis is not None and bool(panel.session.diagnosis)
    assert panel.session.derived["float-biases"].exists() and bad.path.exists()
    assert "parses all" in parse.verdict.value and parse.bias_button.layout.display == "none"
    # the repaired Q/DQ model's build renders as a trtexec line and a Python script
    assert "--onnx=" in panel.session.trtexec_command()
    assert "build_serialized_network" in panel.session.python_script()
    panel.close()


def test_per_tensor_sessions_expose_only_their_group(sample) -> None:
    """Memory stays flat in depth because each group's session exposes only that group
    (ONNX Runtime keeps every graph output of a run alive, fetched or not)."""
    from workbench.backends.ort import OrtRunner

    runner = OrtRunner(sample("tiny_cnn"), expose_intermediates=True, expose=["c1", "r2"])
    assert runner.output_names() == ("logits", "c1", "r2")
    everything = OrtRunner(sample("tiny_cnn"), expose_intermediates=True).output_names()
    assert len(everything) > 5


def test_small_groups_give_the_same_figures(sample, tmp_path) -> None:
    result = quantize_model(sample("transformer_block"), tmp_path / "t.onnx")
    whole = compare_quantized(sample("transformer_block"), result.path, chunk=1000)
    grouped = compare_quantized(sample("transformer_block"), result.path, chunk=3)
    assert [n.output.sqnr_db for n in whole.nodes] == [n.output.sqnr_db for n in grouped.nodes]
    assert len(whole.tensors) == len(grouped.tensors) > 0


def _exports_that_parse() -> list[str]:
    from sample_models.exports import EXPORTS

    return [e.name for e in EXPORTS if e.family != "classic-ml"]  # classic ML: no FP32 parse


@pytest.mark.slow
@pytest.mark.parametrize("name", _exports_that_parse())
def test_real_exports_quantize_and_compare(tmp_path, name) -> None:
    """Every committed real export TensorRT parses in FP32: the preset quantizes it on its
    valid inputs, the Q/DQ model parses, and the comparison reports every node."""
    from sample_models.exports import export_path, hand_feeds
    from workbench.backends.trt.parse import diagnose

    calibration = [hand_feeds(name, seed=k) for k in range(2)]
    result = quantize_model(export_path(name), tmp_path / "q.onnx", calibration=calibration)
    assert diagnose(result.path), f"TensorRT-RTX does not parse the Q/DQ {name}"
    report = compare_quantized(export_path(name), result.path, hand_feeds(name, seed=100))
    assert report.nodes and report.tensors
    assert all(o.cosine is not None and o.cosine > 0.9 for o in report.outputs.outputs)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["bert_dynamo", "llama_torchscript", "whisper_encoder_dynamo",
                                  "convnext_dynamo", "wav2vec2_torchscript"])
def test_real_exports_build_int8_engines(tmp_path, name) -> None:
    """Real TensorRT-RTX INT8 builds of real exports, at the shape of their valid inputs."""
    from sample_models.exports import export_path, hand_feeds
    from workbench.backends.trt.build import build_engine
    from workbench.engines.layer_report import quantized_layers
    from workbench.settings.settings import BuildSettings, ShapeProfile

    feeds = hand_feeds(name, seed=100)
    result = quantize_model(export_path(name), tmp_path / "q.onnx", calibration=[feeds])
    profile = tuple(ShapeProfile(n, v.shape, v.shape, v.shape) for n, v in feeds.items())
    artifact = build_engine(result.path, BuildSettings(profiles=(profile,)))
    assert quantized_layers(artifact.layers)


@pytest.mark.slow
def test_real_export_exclusion_search_is_verified(tmp_path) -> None:
    """MobileNetV2 (depthwise convolutions) fails the INT8 preset; the search returns a
    list with which the re-quantized model passes."""
    from sample_models.exports import export_path, hand_feeds

    name = "mobilenet_v2_dynamo"
    calibration = [hand_feeds(name, seed=k) for k in range(2)]
    found = find_exclusions(export_path(name), calibration=calibration,
                            inputs=hand_feeds(name, seed=100), max_trials=8)
    assert found.base is not None and not found.base.passed
    assert found.verified and found.report is not None and found.report.passed
    assert 0 < len(found.exclude) <= len(found.candidates)


def test_fp8_where_ort_cannot_says_why(tmp_path) -> None:
    """ORT's FP8 path turns a BART weight into NaN: refused, with the reason and the way out;
    where it works (BERT) the model parses and the report says FP8."""
    from sample_models.exports import export_path, hand_feeds
    from workbench.backends.trt.parse import diagnose

    fp8 = QuantSettings.tensorrt(precision="fp8")
    with pytest.raises(QuantizationError) as err:
        quantize_model(export_path("bart_dynamo"), tmp_path / "bart.onnx", fp8,
                       [hand_feeds("bart_dynamo", seed=0)])
    if "float8e4m3_to_float32" in err.value.message:
        # Python 3.10's ONNX Runtime (1.23) cannot import its FP8 helper from this onnx: no
        # FP8 at all there, refused in words with the way out
        assert "'int8'" in (err.value.fix or "")
        return
    assert "NaN" in err.value.message
    assert "scale of 0" in (err.value.fix or "") and "'int8'" in (err.value.fix or "")
    assert not (tmp_path / "bart.onnx").exists()
    result = quantize_model(export_path("bert_dynamo"), tmp_path / "bert.onnx", fp8,
                            [hand_feeds("bert_dynamo", seed=0)])
    assert diagnose(result.path)
    report = compare_quantized(export_path("bert_dynamo"), result.path,
                               hand_feeds("bert_dynamo", seed=100), per_tensor=False)
    assert report.precision is QuantPrecision.FP8 and report.to_dict()["precision"] == "FP8"
    assert report.summary().startswith("FP8 Q/DQ vs FP32")
