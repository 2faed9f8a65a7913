"""What is in the committed corpus of real exporter output (``sample_models/exports/``).

Every ``.onnx`` file here was written by a real exporter (torch's dynamo and TorchScript
exporters, skl2onnx, onnxmltools) from a tiny randomly initialised model, by
``make_exports.py`` beside this file (``make fixtures``; it needs torch, CI does not). This
module needs only numpy: tests read the committed files, never torch.

``EXPORTS`` lists the files with what each one is; ``hand_feeds(name)`` writes valid inputs
for one of them by hand from its entry (token ids inside the vocabulary, attention masks of
ones with trailing padding, token types 0/1, pixels, waveforms and log-mel frames of a size
the model accepts). ``NOT_EXPORTED`` records what an exporter could not export, and why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

Dim = int | str | None
"""One input dim as the file declares it: a fixed size, a symbolic name, or None for a
dynamic dim without a name (skl2onnx writes those)."""

Sizes = tuple[tuple[str, int], ...]
"""Sizes of symbolic dims by name, e.g. (("height", 32), ("width", 32))."""


@dataclass(frozen=True)
class InputSpec:
    """One graph input and how to fill it.

    ``kind``: ``ids`` (integers in ``[0, high)``), ``mask`` (ones, trailing zeros as padding),
    ``token_type`` (0 for the first half of a row, 1 for the rest), ``float`` (standard
    normal times ``scale``).
    """

    name: str
    dtype: str
    dims: tuple[Dim, ...]
    kind: str = "float"
    high: int = 0
    scale: float = 1.0


@dataclass(frozen=True)
class ExportedModel:
    """One committed export.

    ``batch_dim``/``length_dim`` name the dims that ``hand_feeds``' ``batch``/``seq`` set
    (None in ``dims`` is the batch too); ``sizes`` gives every other symbolic dim a size that
    the model accepts; ``seq`` is the default length.
    """

    name: str
    file: str
    architecture: str
    exporter: str  # "dynamo" | "torchscript" | "skl2onnx" | "onnxmltools"
    opset: int
    # "decoder" | "encoder" | "encoder-decoder" | "audio" | "vision" | "cnn" | "classic-ml"
    family: str
    inputs: tuple[InputSpec, ...]
    outputs: tuple[str, ...]
    notes: str = ""
    batch_dim: str = "batch"
    length_dim: str | None = None
    seq: int = 0
    sizes: Sizes = ()

    @property
    def path(self) -> Path:
        return HERE / self.file


VOCAB = 128  # every text model here has a vocabulary of 128 token ids


def _text(*names: str, dim: str = "sequence", vocab: int = VOCAB) -> tuple[InputSpec, ...]:
    kinds = {"input_ids": "ids", "decoder_input_ids": "ids", "attention_mask": "mask",
             "token_type_ids": "token_type"}
    return tuple(
        InputSpec(n, "int64", ("batch", "decoder_sequence" if n == "decoder_input_ids" else dim),
                  kinds[n], high=vocab if kinds[n] == "ids" else 0)
        for n in names
    )


_IDS_MASK = _text("input_ids", "attention_mask")
_BERT = _text("input_ids", "token_type_ids", "attention_mask")
_SEQ2SEQ = _text("input_ids", "attention_mask", "decoder_input_ids")
_PIXELS_32 = (InputSpec("pixel_values", "float32", ("batch", 3, 32, 32)),)
_PIXELS_HW = (InputSpec("pixel_values", "float32", ("batch", 3, "height", "width")),)
_WAVE = (InputSpec("input_values", "float32", ("batch", "samples"), scale=0.1),)
_MELS = (InputSpec("input_features", "float32", ("batch", 80, 100), scale=0.5),)
_TABLE = (InputSpec("float_input", "float32", (None, 4)),)

_EAGER = ("; dynamo export with attn_implementation='eager' (with the default sdpa, torch 2.13's "
          "dynamo exporter fails: see NOT_EXPORTED)")


def _pair(arch: str, family: str, inputs: tuple[InputSpec, ...], outputs: tuple[str, ...],
          dynamo_opset: int, notes: str, *, length_dim: str | None = None, seq: int = 0,
          sizes: Sizes = (), dynamo_notes: str = "", torchscript_notes: str = "",
          dynamo_inputs: tuple[InputSpec, ...] | None = None, dynamo_sizes: Sizes | None = None,
          ) -> tuple[ExportedModel, ExportedModel]:
    """The dynamo (opset ``dynamo_opset``) and TorchScript (opset 17) exports of ``arch``."""
    dynamo = ExportedModel(
        name=f"{arch}_dynamo", file=f"{arch}_dynamo.onnx", architecture=arch,
        exporter="dynamo", opset=dynamo_opset, family=family,
        inputs=inputs if dynamo_inputs is None else dynamo_inputs, outputs=outputs,
        notes=notes + dynamo_notes, length_dim=length_dim, seq=seq,
        sizes=sizes if dynamo_sizes is None else dynamo_sizes)
    torchscript = ExportedModel(
        name=f"{arch}_torchscript", file=f"{arch}_torchscript.onnx", architecture=arch,
        exporter="torchscript", opset=17, family=family, inputs=inputs, outputs=outputs,
        notes=notes + torchscript_notes, length_dim=length_dim, seq=seq, sizes=sizes)
    return dynamo, torchscript


_HW: Sizes = (("height", 32), ("width", 32))

EXPORTS: tuple[ExportedModel, ...] = (
    *_pair("llama", "decoder", _IDS_MASK, ("logits",), 18,
           "LlamaForCausalLM: RoPE, GQA (4 query heads, 2 key/value heads), RMSNorm, SiLU "
           "MLP; causal + padding mask built in the graph from attention_mask",
           length_dim="sequence", seq=8),
    *_pair("qwen2", "decoder", _IDS_MASK, ("logits",), 20,
           "Qwen2ForCausalLM: RoPE, GQA (4/2), q/k/v biases, RMSNorm",
           length_dim="sequence", seq=8),
    *_pair("gpt2", "decoder", _IDS_MASK, ("logits",), 19,
           "GPT2LMHeadModel: learned positions (256), fused c_attn (Conv1D), tanh GELU",
           length_dim="sequence", seq=8),
    *_pair("bert", "encoder", _BERT, ("last_hidden_state", "pooler_output"), 20,
           "BertModel: token_type_ids index a 2-row embedding (only 0-1 valid); 256 learned "
           "positions; Tanh pooler",
           length_dim="sequence", seq=8),
    *_pair("t5", "encoder-decoder", _SEQ2SEQ, ("logits",), 18,
           "T5ForConditionalGeneration (2 encoder layers, 1 decoder layer), full forward with "
           "decoder_input_ids: relative "
           "position buckets, T5 RMS LayerNorm, tied head scaled by d_model**-0.5",
           length_dim="sequence", seq=8, sizes=(("decoder_sequence", 6),),
           dynamo_notes=_EAGER),
    *_pair("bart", "encoder-decoder", _SEQ2SEQ, ("logits",), 19,
           "BartForConditionalGeneration (2 encoder layers, 1 decoder layer), full forward "
           "with decoder_input_ids; 256 learned positions offset by 2",
           length_dim="sequence", seq=8, sizes=(("decoder_sequence", 6),)),
    *_pair("wav2vec2", "audio", _WAVE, ("last_hidden_state",), 18,
           "Wav2Vec2Model on a raw waveform: 7 strided Conv1d (receptive field 400 samples, "
           "stride 320), GroupNorm on the first, weight-normed positional Conv1d",
           length_dim="samples", seq=2000),
    *_pair("whisper_encoder", "audio", _MELS, ("last_hidden_state",), 20,
           "WhisperEncoder: 80 log-mel bins × exactly 100 frames (2 × max_source_positions; "
           "transformers refuses other lengths), 2 Conv1d + sinusoidal positions"),
    *_pair("swin", "vision", _PIXELS_32, ("logits",), 19,
           "SwinForImageClassification: shifted 4×4 windows of 2×2 patches, patch merging, "
           "image size fixed at 32×32", dynamo_notes=_EAGER),
    *_pair("vit", "vision", _PIXELS_32, ("logits",), 20,
           "ViTForImageClassification: 8×8 patches, CLS token, learned positions (image size "
           "fixed at 32×32)"),
    *_pair("resnet", "cnn", _PIXELS_HW, ("logits",), 18,
           "ResNetForImageClassification: basic blocks, BatchNorm folded into Conv, dynamic "
           "height/width", sizes=_HW),
    *_pair("convnext", "cnn", _PIXELS_HW, ("logits",), 20,
           "ConvNextForImageClassification: 7×7 depthwise Conv, channels-last LayerNorm, "
           "layer scale, dynamic height/width", sizes=_HW),
    *_pair("mobilenet_v2", "cnn", _PIXELS_HW, ("logits",), 19,
           "MobileNetV2ForImageClassification (depth 0.1, initializer_range 0.4 so that the "
           "logits are not ~1e-27): depthwise Convs, ReLU6 as Clip, TF-style 'same' padding "
           "computed from the input size", sizes=_HW, dynamo_inputs=_PIXELS_32,
           dynamo_sizes=(),
           dynamo_notes="; the dynamo export is 32×32: asked for dynamic height/width, the "
                        "exporter silently specialised them to 32 (the TF padding reads "
                        "them), so this file asks for a static size",
           torchscript_notes="; the TorchScript export declares height/width dynamic but the "
                             "trace baked the padding of 32×32: ONNX Runtime's outputs match "
                             "torch at multiples of 32 (32, 64, 96) and are silently wrong at "
                             "other sizes (33, 40, 48, 51: off by ~15 on logits of ~40)"),
    ExportedModel(
        name="sklearn_pipeline_skl2onnx", file="sklearn_pipeline_skl2onnx.onnx",
        architecture="sklearn_pipeline", exporter="skl2onnx", opset=17, family="classic-ml",
        inputs=_TABLE, outputs=("label", "probabilities"),
        notes="StandardScaler + MLPClassifier (3 classes) with zipmap disabled: Scaler from "
              "ai.onnx.ml, an int64 label and a float probabilities output; the batch dim "
              "is unnamed"),
    ExportedModel(
        name="lightgbm_onnxmltools", file="lightgbm_onnxmltools.onnx",
        architecture="lightgbm", exporter="onnxmltools", opset=9, family="classic-ml",
        inputs=_TABLE, outputs=("label", "probabilities"),
        notes="LGBMClassifier (3 classes, 8 rounds) with zipmap disabled: one ai.onnx.ml "
              "TreeEnsembleClassifier. Asked for target_opset 15 (the converter's highest), "
              "it writes ai.onnx 9 + ai.onnx.ml 1; the label output is declared [1] although "
              "it has one row per input row (ONNX Runtime warns); TensorRT has no ai.onnx.ml"),
)

NOT_EXPORTED: tuple[tuple[str, str, str], ...] = (
    ("t5", "dynamo",
     "with transformers' default attn_implementation='sdpa', torch 2.13's dynamo exporter "
     "fails while decomposing the FX graph: ValueError: Cannot view a tensor with shape "
     "[s11, s53, 4, 8] and strides (32*s53, 8, 8*s53, 1) as a tensor with shape "
     "(s11, s53, 32) (static shapes too); exported with eager attention instead"),
    ("swin", "dynamo",
     "same sdpa failure: Cannot view a tensor with shape [16*s99, 16, 2, 8] and strides "
     "(256, 8, 128, 1) as a tensor with shape (16*s99, 16, 16); exported with eager "
     "attention instead"),
    ("mobilenet_v2", "dynamo",
     "dynamic height/width: with Dim('height'), Dim('width') the export silently writes "
     "32×32 (the TF-style padding reads the size); the committed file asks static 32×32"),
    ("lightgbm", "onnxmltools",
     "target_opset 17 refused: 'target_opset 17 is higher than the number of the installed "
     "onnx package or the converter support (15)'; exported with 15"),
)
"""(architecture, exporter, what failed): what an exporter could not do as first asked,
and what the committed file does instead."""

_BY_NAME = {m.name: m for m in EXPORTS}


def exported_model(name: str) -> ExportedModel:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"no export named {name!r}; known: {', '.join(_BY_NAME)}") from None


def export_path(name: str) -> Path:
    """The committed file of export ``name``."""
    return exported_model(name).path


def _mask(batch: int, seq: int) -> np.ndarray:
    """Ones with trailing zeros as padding: row r pads its last (r % 3) + 1 positions, and
    always keeps at least half of the row (never a fully masked row)."""
    mask = np.ones((batch, seq), dtype=np.int64)
    for row in range(batch):
        pad = min(row % 3 + 1, seq // 2)
        if pad:
            mask[row, seq - pad:] = 0
    return mask


def hand_feeds(name: str, batch: int = 1, seq: int | None = None, seed: int = 0,
               dims: Mapping[str, int] | None = None) -> dict[str, np.ndarray]:
    """Valid inputs for export ``name``, written from its registry entry.

    ``seq`` sets the model's length dim (tokens, or waveform samples); models without one
    refuse it. ``dims`` sets other symbolic dims by name (``{"height": 48}``). Values are
    deterministic for a given ``seed``.
    """
    model = exported_model(name)
    if seq is not None and model.length_dim is None:
        raise ValueError(f"{name} has no length dim to set (seq={seq})")
    sizes = {model.batch_dim: batch, **dict(model.sizes)}
    if model.length_dim is not None:
        sizes[model.length_dim] = model.seq if seq is None else seq
    for dim, size in (dims or {}).items():
        if dim not in sizes or dim in (model.batch_dim, model.length_dim):
            raise ValueError(f"{name} has no other symbolic dim {dim!r}")
        sizes[dim] = size
    rng = np.random.default_rng(seed)
    feeds: dict[str, np.ndarray] = {}
    for spec in model.inputs:
        shape = tuple(batch if d is None else d if isinstance(d, int) else sizes[d]
                      for d in spec.dims)
        if spec.kind == "ids":
            value = rng.integers(0, spec.high, size=shape, dtype=np.int64)
        elif spec.kind == "mask":
            value = _mask(*shape)
        elif spec.kind == "token_type":
            value = np.zeros(shape, dtype=np.int64)
            value[:, shape[1] // 2:] = 1
        else:
            value = (rng.standard_normal(shape) * spec.scale).astype(spec.dtype)
        feeds[spec.name] = value.astype(spec.dtype, copy=False)
    return feeds
