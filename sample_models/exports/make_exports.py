"""Write the corpus of real exporter output listed in ``registry.py`` (``make fixtures``).

    python sample_models/exports/make_exports.py [OUT_DIR] [NAME|ARCHITECTURE ...]
    python sample_models/exports/make_exports.py --table [DIR]   # README table, no torch

Needs torch's CPU build and the exporters, which CI does not have (CI and the tests only read
the committed ``.onnx`` files)::

    pip install torch==2.13.0 transformers==5.25.0 onnxscript==0.7.2 onnx==1.23.2 \
        onnxruntime==1.32.0 scikit-learn==1.9.1 skl2onnx==1.20.0 lightgbm==4.7.0 \
        onnxmltools==1.16.0

(tested with exactly those: torch 2.13.0+cpu, transformers 5.25.0, onnxscript 0.7.2,
Python 3.11). Every model is built from a ``transformers`` config with tiny sizes and random
weights under ``torch.manual_seed(0)``: nothing is downloaded (``HF_HUB_OFFLINE=1``, no
``from_pretrained``). Each torch architecture is exported twice, by the dynamo exporter
(``torch.onnx.export(..., dynamo=True)``, opset 18-20, ``dynamic_shapes``) and by the
TorchScript one (``dynamo=False``, opset 17, ``dynamic_axes``); then skl2onnx writes a
scikit-learn pipeline and onnxmltools a LightGBM classifier.

The files are saved as the exporters wrote them, weights inline (``external_data=False``):
``value_info``, ``metadata_props`` (stack traces included) and Constant chains are kept, on
purpose. Each export is checked on the spot: ``onnx.checker``, ≤ 1 MB, and ONNX Runtime's
outputs against torch's at the export's shape and at another batch/length (the figures are
printed, with what each file carries, for the table in ``sample_models/README.md``).
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # never reach the hub, whatever is asked
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import collections
import contextlib
import io
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort

if __package__ in (None, ""):  # run as a script: import the registry beside this file
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from sample_models.exports.registry import (
    EXPORTS,
    VOCAB,
    ExportedModel,
    hand_feeds,
)

MAX_BYTES = 1_000_000
SEED = 0

# --------------------------------------------------------------------------- torch models


def _torch_models() -> dict[str, Callable[[], Any]]:
    """architecture -> builder of an eval-mode torch module whose forward takes the registry's
    inputs in order and returns its outputs (a tensor, or a tuple in the registry's order)."""
    import torch
    import transformers as tf
    from torch import nn

    class CausalLM(nn.Module):
        def __init__(self, model: nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            out = self.model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False)
            return out.logits

    class Encoder(nn.Module):
        def __init__(self, model: nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor,
                    attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            out = self.model(input_ids=input_ids, token_type_ids=token_type_ids,
                             attention_mask=attention_mask)
            return out.last_hidden_state, out.pooler_output

    class Seq2SeqLM(nn.Module):
        def __init__(self, model: nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                    decoder_input_ids: torch.Tensor) -> torch.Tensor:
            out = self.model(input_ids=input_ids, attention_mask=attention_mask,
                             decoder_input_ids=decoder_input_ids, use_cache=False)
            return out.logits

    class AudioEncoder(nn.Module):
        def __init__(self, model: nn.Module, input_name: str) -> None:
            super().__init__()
            self.model = model
            self.input_name = input_name

        def forward(self, audio: torch.Tensor) -> torch.Tensor:
            return self.model(**{self.input_name: audio}).last_hidden_state

    class ImageClassifier(nn.Module):
        def __init__(self, model: nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
            return self.model(pixel_values=pixel_values).logits

    # ``extra`` is passed on to every config: attn_implementation="eager" (EAGER_FOR_DYNAMO)
    def llama(**extra: Any) -> nn.Module:
        cfg = tf.LlamaConfig(
            **extra, vocab_size=VOCAB, hidden_size=32, intermediate_size=64,
            num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
            max_position_embeddings=256, use_cache=False)
        return CausalLM(tf.LlamaForCausalLM(cfg))

    def qwen2(**extra: Any) -> nn.Module:
        cfg = tf.Qwen2Config(
            **extra, vocab_size=VOCAB, hidden_size=32, intermediate_size=64,
            num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
            max_position_embeddings=256, use_cache=False)
        return CausalLM(tf.Qwen2ForCausalLM(cfg))

    def gpt2(**extra: Any) -> nn.Module:
        cfg = tf.GPT2Config(
            **extra, vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=4, n_positions=256,
            bos_token_id=0, eos_token_id=0, use_cache=False)
        return CausalLM(tf.GPT2LMHeadModel(cfg))

    def bert(**extra: Any) -> nn.Module:
        cfg = tf.BertConfig(
            **extra, vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2,
            num_attention_heads=4, intermediate_size=64, max_position_embeddings=256,
            type_vocab_size=2)
        return Encoder(tf.BertModel(cfg))

    def t5(**extra: Any) -> nn.Module:
        cfg = tf.T5Config(
            **extra, vocab_size=VOCAB, d_model=32, d_kv=8, d_ff=64, num_layers=2,
            num_decoder_layers=1, num_heads=4, relative_attention_num_buckets=8,
            decoder_start_token_id=0, pad_token_id=0, use_cache=False)
        return Seq2SeqLM(tf.T5ForConditionalGeneration(cfg))

    def bart(**extra: Any) -> nn.Module:
        cfg = tf.BartConfig(
            **extra, vocab_size=VOCAB, d_model=32, encoder_layers=2, decoder_layers=1,
            encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=64,
            decoder_ffn_dim=64, max_position_embeddings=256, pad_token_id=1, bos_token_id=0,
            eos_token_id=2, decoder_start_token_id=2, use_cache=False)
        return Seq2SeqLM(tf.BartForConditionalGeneration(cfg))

    def wav2vec2(**extra: Any) -> nn.Module:
        cfg = tf.Wav2Vec2Config(
            **extra, vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2,
            num_attention_heads=4, intermediate_size=64, conv_dim=(16,) * 7,
            num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4)
        return AudioEncoder(tf.Wav2Vec2Model(cfg), "input_values")

    def whisper_encoder(**extra: Any) -> nn.Module:
        cfg = tf.WhisperConfig(
            **extra, vocab_size=VOCAB, num_mel_bins=80, d_model=32, encoder_layers=2,
            decoder_layers=2, encoder_attention_heads=4, decoder_attention_heads=4,
            encoder_ffn_dim=64, decoder_ffn_dim=64, max_source_positions=50,
            max_target_positions=64, pad_token_id=0, bos_token_id=1, eos_token_id=2,
            decoder_start_token_id=1, use_cache=False)
        return AudioEncoder(tf.WhisperModel(cfg).get_encoder(), "input_features")

    def swin(**extra: Any) -> nn.Module:
        cfg = tf.SwinConfig(
            **extra, image_size=32, patch_size=2, embed_dim=16, depths=[2, 2],
            num_heads=[2, 4], window_size=4, mlp_ratio=2.0, num_labels=10)
        return ImageClassifier(tf.SwinForImageClassification(cfg))

    def vit(**extra: Any) -> nn.Module:
        cfg = tf.ViTConfig(
            **extra, image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2,
            num_attention_heads=4, intermediate_size=64, num_labels=10)
        return ImageClassifier(tf.ViTForImageClassification(cfg))

    def resnet(**extra: Any) -> nn.Module:
        cfg = tf.ResNetConfig(
            **extra, embedding_size=16, hidden_sizes=[16, 32], depths=[1, 1],
            layer_type="basic", num_labels=10)
        return ImageClassifier(tf.ResNetForImageClassification(cfg))

    def convnext(**extra: Any) -> nn.Module:
        cfg = tf.ConvNextConfig(
            **extra, num_stages=2, hidden_sizes=[16, 32], depths=[1, 1], num_labels=10)
        return ImageClassifier(tf.ConvNextForImageClassification(cfg))

    def mobilenet_v2(**extra: Any) -> nn.Module:
        # with the default initializer_range (0.02) its logits are ~1e-27: useless to compare
        cfg = tf.MobileNetV2Config(
            **extra, image_size=32, depth_multiplier=0.1, finegrained_output=False,
            initializer_range=0.4, num_labels=10)
        return ImageClassifier(tf.MobileNetV2ForImageClassification(cfg))

    return {f.__name__: f for f in (llama, qwen2, gpt2, bert, t5, bart, wav2vec2,
                                    whisper_encoder, swin, vit, resnet, convnext, mobilenet_v2)}


# torch 2.13's dynamo exporter fails on these with transformers' default "sdpa" attention
# ("Cannot view a tensor with shape [.., 8, 4, 8] and strides .. as a tensor with shape
# [.., 8, 32]" while decomposing the FX graph): their dynamo exports use eager attention,
# as a user would after that error. The TorchScript exports keep sdpa.
EAGER_FOR_DYNAMO = frozenset({"t5", "swin"})


def _build(entry: ExportedModel) -> Any:
    import torch

    extra = {}
    if entry.exporter == "dynamo" and entry.architecture in EAGER_FOR_DYNAMO:
        extra["attn_implementation"] = "eager"
    torch.manual_seed(SEED)
    model = _torch_models()[entry.architecture](**extra)
    model.eval()
    return model


def _other_shape(entry: ExportedModel) -> dict[str, np.ndarray]:
    """Feeds at another batch (and length) than the export's, to check dynamic dims work."""
    others = {dim: size + size // 2 + 3 for dim, size in entry.sizes}
    if entry.length_dim is None:
        return hand_feeds(entry.name, batch=3, seed=1, dims=others)
    return hand_feeds(entry.name, batch=3, seq=entry.seq + entry.seq // 2 + 3, seed=1,
                      dims=others)


def _export_torch(entry: ExportedModel, out: Path) -> None:
    import torch

    model = _build(entry)
    example = hand_feeds(entry.name, batch=2)
    args = tuple(torch.from_numpy(example[spec.name]) for spec in entry.inputs)
    names = [spec.name for spec in entry.inputs]
    symbolic = {spec.name: {axis: dim for axis, dim in enumerate(spec.dims)
                            if isinstance(dim, str)} for spec in entry.inputs}
    if entry.exporter == "dynamo":
        dims: dict[str, Any] = {}
        for axes in symbolic.values():
            for dim in axes.values():
                dims.setdefault(dim, torch.export.Dim(dim, min=1, max=4096))
        shapes = {n: {axis: dims[d] for axis, d in symbolic[n].items()} or None for n in names}
        # forward's parameter names need not be the ONNX input names: key by position
        torch.onnx.export(model, args, str(out), dynamo=True, opset_version=entry.opset,
                          input_names=names, output_names=list(entry.outputs),
                          dynamic_shapes=tuple(shapes[n] for n in names),
                          external_data=False)
    else:
        torch.onnx.export(model, args, str(out), dynamo=False, opset_version=entry.opset,
                          input_names=names, output_names=list(entry.outputs),
                          dynamic_axes={n: axes for n, axes in symbolic.items() if axes})
    for extra in out.parent.glob(out.name + "*.data"):
        raise RuntimeError(f"the exporter wrote external data {extra.name}")


def _check_torch(entry: ExportedModel, path: Path) -> list[str]:
    """ONNX Runtime against torch at the export's shape and at another: 'shape: max|diff|'."""
    import torch

    model = _build(entry)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    report = []
    for label, feeds in (("export shape", hand_feeds(entry.name, batch=2)),
                         ("other shape", _other_shape(entry))):
        shape = "×".join(str(s) for s in next(iter(feeds.values())).shape)
        with torch.no_grad():
            want = model(*(torch.from_numpy(feeds[s.name]) for s in entry.inputs))
        want = [w.numpy() for w in (want if isinstance(want, tuple) else (want,))]
        try:
            got = session.run(None, feeds)
        except Exception as exc:  # a traced shape that does not generalise
            report.append(f"{label} {shape}: ORT raises {type(exc).__name__}: "
                          f"{str(exc).splitlines()[0][:120]}")
            continue
        diffs = []
        for w, g in zip(want, got, strict=True):
            if w.shape != g.shape:
                diffs.append(f"shape {g.shape} != torch {w.shape}")
            else:
                diff, top = float(np.max(np.abs(w - g))), float(np.max(np.abs(w)))
                wrong = " WRONG" if diff > 1e-3 * (1 + top) else ""
                diffs.append(f"{diff:.1e} (max|out| {top:.1e}){wrong}")
        report.append(f"{label} {shape}: max|ORT-torch| {', '.join(diffs)}")
    return report


# ------------------------------------------------------------------------ classic ML


def _table_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(SEED)
    x = rng.standard_normal((90, 4)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 0.8).astype(np.int64)
    return x, y


def _export_skl2onnx(entry: ExportedModel, out: Path) -> None:
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = _table_data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: 300 iterations are plenty here
        pipe = make_pipeline(StandardScaler(),
                             MLPClassifier(hidden_layer_sizes=(16,), max_iter=300,
                                           random_state=SEED)).fit(x, y)
    model = to_onnx(pipe, initial_types=[("float_input", FloatTensorType([None, 4]))],
                    target_opset={"": entry.opset, "ai.onnx.ml": 3},
                    options={MLPClassifier: {"zipmap": False}})
    onnx.save_model(model, str(out))


def _export_onnxmltools(entry: ExportedModel, out: Path) -> None:
    import lightgbm
    import onnxmltools
    from onnxmltools.convert.common.data_types import FloatTensorType

    x, y = _table_data()
    clf = lightgbm.LGBMClassifier(n_estimators=8, num_leaves=4, min_child_samples=5,
                                  random_state=SEED, verbose=-1, n_jobs=1).fit(x, y)
    model = onnxmltools.convert_lightgbm(
        clf, initial_types=[("float_input", FloatTensorType([None, 4]))],
        target_opset=15, zipmap=False)  # its highest; it writes the lowest its ops need
    onnx.save_model(model, str(out))


# --------------------------------------------------------------------------- reporting


def _dims(value: onnx.ValueInfoProto) -> str:
    dims = [d.dim_param or (str(d.dim_value) if d.HasField("dim_value") else "?")
            for d in value.type.tensor_type.shape.dim]
    return f"{value.name} [{', '.join(dims)}]"


def describe(path: Path) -> dict[str, Any]:
    """What a file carries that ``onnx.helper``-built graphs usually lack."""
    model = onnx.load(str(path))
    graph = model.graph
    ops = collections.Counter(node.op_type for node in graph.node)
    return {
        "size": path.stat().st_size,
        "nodes": len(graph.node),
        "value_info": len(graph.value_info),
        "node_metadata": sum(1 for node in graph.node if node.metadata_props),
        "model_metadata": len(model.metadata_props),
        "constant": ops["Constant"],
        "identity": ops["Identity"],
        "initializers": len(graph.initializer),
        "inputs": "; ".join(_dims(v) for v in graph.input),
        "outputs": "; ".join(_dims(v) for v in graph.output),
        "opsets": ", ".join(f"{o.domain or 'ai.onnx'} {o.version}" for o in model.opset_import),
        "top_ops": ", ".join(f"{op} {n}" for op, n in ops.most_common(6)),
    }


def write(entry: ExportedModel, folder: Path) -> dict[str, Any]:
    out = folder / entry.file
    out.unlink(missing_ok=True)
    started = time.perf_counter()
    logs = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(logs):
        warnings.simplefilter("ignore")  # TracerWarnings etc.: the corpus notes say what matters
        if entry.exporter in ("dynamo", "torchscript"):
            _export_torch(entry, out)
        elif entry.exporter == "skl2onnx":
            _export_skl2onnx(entry, out)
        elif entry.exporter == "onnxmltools":
            _export_onnxmltools(entry, out)
        else:
            raise ValueError(f"unknown exporter {entry.exporter}")
    seconds = time.perf_counter() - started
    onnx.checker.check_model(str(out))
    facts = describe(out)
    if facts["size"] > MAX_BYTES:
        raise RuntimeError(f"{entry.file} is {facts['size']} bytes, over {MAX_BYTES}")
    if entry.exporter in ("dynamo", "torchscript"):
        facts["check"] = _check_torch(entry, out)
    else:
        session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
        got = session.run(None, hand_feeds(entry.name, batch=5))
        facts["check"] = [f"ORT outputs {', '.join(str(g.shape) for g in got)}"]
    facts["seconds"] = round(seconds, 1)
    return facts


def print_table(rows: list[tuple[ExportedModel, dict[str, Any]]]) -> None:
    """The table of sample_models/README.md's "Real exports" section."""
    print("\n| file | architecture | exporter | opset | inputs | size | nodes | value_info | "
          "node metadata_props | model metadata_props | Constant | Identity |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for entry, f in rows:
        print(f"| `{entry.file}` | {entry.architecture} | {entry.exporter} | {entry.opset} | "
              f"{f['inputs']} | {f['size'] / 1e3:.0f} kB | {f['nodes']} | {f['value_info']} | "
              f"{f['node_metadata']} | {f['model_metadata']} | {f['constant']} | "
              f"{f['identity']} |")


def main(argv: list[str]) -> int:
    """``[OUT_DIR] [NAME|ARCHITECTURE ...]``: write those (all by default); ``--table
    [DIR]``: only print the README table of the files already there (no torch needed)."""
    if argv[:1] == ["--table"]:
        folder = Path(argv[1]) if argv[1:] else Path(__file__).resolve().parent
        print_table([(entry, describe(folder / entry.file)) for entry in EXPORTS])
        return 0
    folder = Path(argv[0]) if argv else Path(__file__).resolve().parent
    wanted = set(argv[1:])
    folder.mkdir(parents=True, exist_ok=True)
    failed = []
    rows = []
    for entry in EXPORTS:
        if wanted and entry.name not in wanted and entry.architecture not in wanted:
            continue
        try:
            facts = write(entry, folder)
        except Exception as exc:
            (folder / entry.file).unlink(missing_ok=True)
            failed.append(entry.name)
            print(f"FAILED {entry.name}: {type(exc).__name__}: {str(exc)[:400]}", flush=True)
            traceback.print_exc(limit=-3)
            continue
        rows.append((entry, facts))
        print(f"{entry.name}: {facts['size'] / 1e3:.0f} kB in {facts['seconds']} s, "
              f"{facts['nodes']} nodes ({facts['top_ops']}); value_info {facts['value_info']}, "
              f"node metadata {facts['node_metadata']}, model metadata "
              f"{facts['model_metadata']}, Constant {facts['constant']}, Identity "
              f"{facts['identity']}, initializers {facts['initializers']}; {facts['opsets']}",
              flush=True)
        print(f"    in: {facts['inputs']}\n    out: {facts['outputs']}", flush=True)
        for line in facts["check"]:
            print(f"    {line}", flush=True)
    print_table(rows)
    total = sum(f["size"] for _, f in rows)
    print(f"\n{len(rows)} written ({total / 1e6:.2f} MB), {len(failed)} failed: "
          f"{', '.join(failed) or '-'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
