"""The committed corpus of real exporter output (sample_models/exports/): every file is there,
small, valid ONNX that ONNX Runtime runs on the registry's hand-written inputs, and the corpus
really carries what exporters write and onnx.helper graphs lack.

The files come from sample_models/exports/make_exports.py (``make fixtures``, needs torch);
these tests need only onnx, onnxruntime and numpy.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from functools import cache
from pathlib import Path

import numpy as np
import onnx
import pytest

from sample_models.exports import EXPORTS, NOT_EXPORTED, ExportedModel, export_path, hand_feeds
from sample_models.exports.registry import HERE

ROOT = Path(__file__).resolve().parent.parent
NAMES = [entry.name for entry in EXPORTS]
BY_NAME = {entry.name: entry for entry in EXPORTS}
MAX_BYTES = 1_000_000
TORCH = ("dynamo", "torchscript")


@cache
def _model(name: str) -> onnx.ModelProto:
    return onnx.load(str(export_path(name)))


def _dims(value: onnx.ValueInfoProto) -> tuple[int | str | None, ...]:
    return tuple(d.dim_param if d.dim_param else d.dim_value if d.HasField("dim_value") else None
                 for d in value.type.tensor_type.shape.dim)


def _default_opset(model: onnx.ModelProto) -> int:
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


@pytest.mark.parametrize("name", NAMES)
def test_file_is_small_valid_onnx_as_registered(name: str) -> None:
    entry = BY_NAME[name]
    path = export_path(name)
    assert path == HERE / entry.file and path.is_file(), (
        f"missing {path}: run `make fixtures`")
    assert path.stat().st_size <= MAX_BYTES
    onnx.checker.check_model(str(path))
    assert not list(path.parent.glob(path.name + "*.data")), "weights must be inline"
    model = _model(name)
    assert all(t.data_location != onnx.TensorProto.EXTERNAL for t in model.graph.initializer)
    assert _default_opset(model) == entry.opset
    assert model.producer_name == {"dynamo": "pytorch", "torchscript": "pytorch",
                                   "skl2onnx": "skl2onnx",
                                   "onnxmltools": "OnnxMLTools"}[entry.exporter]
    graph_inputs = [(v.name, _dims(v)) for v in model.graph.input]
    assert graph_inputs == [(spec.name, spec.dims) for spec in entry.inputs]
    assert [v.name for v in model.graph.output] == list(entry.outputs)


@pytest.mark.parametrize("name", NAMES)
def test_onnxruntime_runs_hand_feeds(name: str) -> None:
    import onnxruntime as ort

    entry = BY_NAME[name]
    session = ort.InferenceSession(str(export_path(name)), providers=["CPUExecutionProvider"])
    runs = [hand_feeds(name)]
    if entry.length_dim is not None:  # another batch and length through the dynamic dims
        runs.append(hand_feeds(name, batch=3, seq=entry.seq + 5, seed=1))
    for feeds in runs:
        outputs = session.run(None, feeds)
        assert len(outputs) == len(entry.outputs)
        batch = len(next(iter(feeds.values())))
        for out in outputs:
            assert out.shape[0] == batch
            if out.dtype.kind == "f":
                assert np.isfinite(out).all()
                assert np.abs(out).max() > 1e-6  # not a degenerate random init


@pytest.mark.parametrize("name", NAMES)
def test_hand_feeds_are_valid_for_the_registry(name: str) -> None:
    entry = BY_NAME[name]
    feeds = hand_feeds(name, batch=4)
    assert list(feeds) == [spec.name for spec in entry.inputs]
    for spec in entry.inputs:
        value = feeds[spec.name]
        assert value.dtype == np.dtype(spec.dtype)
        assert value.shape[0] == 4
        for size, dim in zip(value.shape, spec.dims, strict=True):
            if isinstance(dim, int):
                assert size == dim
        if spec.kind == "ids":
            assert value.min() >= 0 and value.max() < spec.high
        elif spec.kind == "token_type":
            assert set(np.unique(value)) <= {0, 1}
        elif spec.kind == "mask":
            assert value[:, 0].all(), "no row is fully masked"
            assert not value.all(), "some padding at the end"
            # padding is trailing: once a row turns 0 it stays 0
            assert (np.diff(value, axis=1) <= 0).all()
    for key, value in hand_feeds(name, batch=4).items():  # deterministic
        np.testing.assert_array_equal(value, feeds[key])


def test_hand_feeds_refuse_what_the_model_has_not() -> None:
    with pytest.raises(ValueError, match="no length dim"):
        hand_feeds("vit_dynamo", seq=8)
    with pytest.raises(ValueError, match="no other symbolic dim"):
        hand_feeds("resnet_dynamo", dims={"depth": 4})
    with pytest.raises(KeyError, match="no export named"):
        export_path("nope")
    feeds = hand_feeds("resnet_torchscript", batch=2, dims={"height": 64, "width": 48})
    assert feeds["pixel_values"].shape == (2, 3, 64, 48)


def _ops(name: str) -> Counter[str]:
    return Counter(node.op_type for node in _model(name).graph.node)


def test_corpus_carries_what_exporters_write() -> None:
    dynamo = [e.name for e in EXPORTS if e.exporter == "dynamo"]
    torchscript = [e.name for e in EXPORTS if e.exporter == "torchscript"]
    with_value_info = [n for n in dynamo if len(_model(n).graph.value_info) > 0]
    with_metadata = [n for n in dynamo
                     if any(node.metadata_props for node in _model(n).graph.node)]
    assert with_value_info and with_metadata
    # the dynamo exporter fills value_info and puts stack traces in node metadata
    for name in dynamo:
        graph = _model(name).graph
        assert len(graph.value_info) >= len(graph.node) // 2, name
        keys = {p.key for node in graph.node for p in node.metadata_props}
        assert "pkg.torch.onnx.stack_trace" in keys, name
    # TorchScript exports carry long Constant chains and /module/path names
    assert sum(1 for n in torchscript if _ops(n)["Constant"] >= 10) >= len(torchscript) - 2
    assert _ops("llama_torchscript")["Constant"] >= 100
    assert any(node.name.startswith("/model/") for node in _model("llama_torchscript").graph.node)
    # what the notes in DESIGN.md's "Real models" say the exporters do
    assert _ops("convnext_dynamo")["Gelu"] > 0  # opset 20: native Gelu
    rms = _ops("llama_dynamo")
    assert rms["Pow"] and rms["ReduceMean"] and rms["Sqrt"] and rms["Reciprocal"]
    assert _ops("wav2vec2_torchscript")["InstanceNormalization"] > 0  # GroupNorm
    swin = _ops("swin_torchscript")
    assert swin["Reshape"] + swin["Transpose"] + swin["Pad"] >= 100
    assert any(o.domain == "ai.onnx.ml" for o in _model("lightgbm_onnxmltools").opset_import)


def test_corpus_covers_architectures_exporters_and_opsets() -> None:
    by_exporter: dict[str, set[str]] = {}
    for entry in EXPORTS:
        by_exporter.setdefault(entry.exporter, set()).add(entry.architecture)
    both = by_exporter["dynamo"] & by_exporter["torchscript"]
    assert len(both) >= 10, sorted(both)
    assert len({e.architecture for e in EXPORTS}) >= 12
    assert {"skl2onnx", "onnxmltools"} <= set(by_exporter)
    assert {17, 18, 19, 20} <= {e.opset for e in EXPORTS}
    assert {e.family for e in EXPORTS} == {"decoder", "encoder", "encoder-decoder", "audio",
                                           "vision", "cnn", "classic-ml"}
    assert len(NAMES) == len(set(NAMES)) and len({e.file for e in EXPORTS}) == len(EXPORTS)
    # a GQA decoder (fewer key/value heads than query heads) with a padding mask
    assert {"llama", "qwen2"} <= both
    for arch, exporter, why in NOT_EXPORTED:
        assert arch and exporter and why


def test_every_committed_onnx_is_registered() -> None:
    on_disk = {p.name for p in HERE.glob("*.onnx")}
    assert on_disk == {e.file for e in EXPORTS}


def test_registry_imports_without_torch() -> None:
    code = ("import sys; sys.modules['torch'] = None; sys.modules['transformers'] = None\n"
            "from sample_models.exports import EXPORTS, hand_feeds\n"
            "assert all(hand_feeds(e.name) for e in EXPORTS)\n"
            "assert 'torch' not in [m for m in sys.modules if sys.modules[m] is not None]")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def _entries(exporter: str) -> list[ExportedModel]:
    return [e for e in EXPORTS if e.exporter == exporter]


def test_registry_notes_say_what_each_export_is() -> None:
    for entry in EXPORTS:
        assert entry.notes, entry.name
    assert all(e.family != "classic-ml" for e in _entries("dynamo") + _entries("torchscript"))
