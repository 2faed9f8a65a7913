"""GPT-2-shaped ONNX decoders of any size, written tensor by tensor (no torch, no downloads).

What ``torch.onnx.export`` makes of GPT-2: token and position embeddings, ``n_layer`` blocks
of LayerNorm → fused QKV MatMul → causal attention (a sliced ``bias`` mask through
``Where`` with ``finfo(float32).min``) → projection, residual, LayerNorm → MLP with GELU
(Erf form) → residual, a final LayerNorm and logits tied to the token embedding (Gemm with
``transB``). Inputs ``input_ids`` [batch, sequence] (int64), dynamic batch × sequence.

Weights go straight to one external data file while the graph is assembled, so a model of
3 GB is written with the memory of its largest tensor, never holding the whole model (and
``weights="zeros"`` writes sparse holes: a 2.4 GB model in well under a second).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

__all__ = ["LADDER", "GptShape", "big_zeros_gpt", "make_gpt"]


@dataclass(frozen=True)
class GptShape:
    """Sizes of a GPT-2-style decoder."""

    n_layer: int
    d_model: int
    vocab: int = 50257
    n_positions: int = 1024
    n_head: int = 0  # 0: d_model // 64

    @property
    def heads(self) -> int:
        return self.n_head or max(1, self.d_model // 64)

    @property
    def params(self) -> int:
        d = self.d_model
        per_layer = 12 * d * d + 13 * d
        return self.vocab * d + self.n_positions * d + self.n_layer * per_layer + 2 * d

    @property
    def weight_bytes(self) -> int:
        return 4 * self.params


# ~10M, ~120M (GPT-2 small) and ~770M (GPT-2 large, 3.1 GB: over protobuf's 2 GiB)
LADDER: dict[str, GptShape] = {
    "gpt-10m": GptShape(n_layer=8, d_model=256, vocab=16384, n_positions=512),
    "gpt-120m": GptShape(n_layer=12, d_model=768),
    "gpt-770m": GptShape(n_layer=36, d_model=1280),
}


class _Writer:
    """Initializers appended to one external data file as they are made."""

    def __init__(self, path: Path, location: str, weights: str, seed: int) -> None:
        self.handle = path.open("wb")
        self.location = location
        self.weights = weights
        self.rng = np.random.default_rng(seed)
        self.offset = 0
        self.initializers: list[TensorProto] = []

    def add(self, name: str, shape: tuple[int, ...], scale: float = 0.02,
            value: np.ndarray | None = None) -> str:
        if value is not None:
            self.initializers.append(onnx.numpy_helper.from_array(value, name))
            return name
        count = int(np.prod(shape))
        length = 4 * count
        if self.weights == "zeros":
            self.handle.seek(self.offset + length)  # a hole: zeros without writing them
        else:
            data = self.rng.standard_normal(count, dtype=np.float32)
            data *= np.float32(scale)
            self.handle.write(data.tobytes())
            del data
        tensor = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=shape)
        tensor.data_location = TensorProto.EXTERNAL
        for key, val in (("location", self.location), ("offset", str(self.offset)),
                         ("length", str(length))):
            tensor.external_data.add(key=key, value=val)
        self.offset += length
        self.initializers.append(tensor)
        return name

    def close(self) -> None:
        self.handle.truncate(self.offset)
        self.handle.close()


def make_gpt(path: str | os.PathLike[str], shape: GptShape, *, weights: str = "random",
             seed: int = 0) -> Path:
    """Write a GPT-2-shaped model to ``path`` with its weights in ``<name>.data`` beside it.

    Args:
        path: Where the .onnx goes.
        shape: Sizes (see :data:`LADDER`).
        weights: ``"random"`` (normal, std 0.02; LayerNorm scales 1) or ``"zeros"``.
        seed: Seed of the random weights.
    """
    target = Path(path)
    location = target.name + ".data"
    writer = _Writer(target.parent / location, location, weights, seed)
    nodes: list[onnx.NodeProto] = []
    try:
        _build_graph(shape, writer, nodes)
    finally:
        writer.close()
    graph = helper.make_graph(
        nodes, "gpt",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT,
                                       ["batch", "sequence", shape.vocab])],
        writer.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="gpt_ladder")
    model.ir_version = 8
    target.write_bytes(model.SerializeToString())  # weights are external: this is small
    return target


def big_zeros_gpt(folder: str | os.PathLike[str]) -> Path:
    """A 2.4 GB (over 2 GiB) GPT of zeros: 3 wide layers, small vocabulary; sparse on disk."""
    return make_gpt(Path(folder) / "big_gpt.onnx",
                    GptShape(n_layer=3, d_model=4096, vocab=1024, n_positions=256),
                    weights="zeros")


def _const(writer: _Writer, name: str, value: object, dtype: type = np.int64) -> str:
    return writer.add(name, (), value=np.asarray(value, dtype=dtype))


def _build_graph(shape: GptShape, w: _Writer, nodes: list[onnx.NodeProto]) -> None:
    d, heads = shape.d_model, shape.heads
    n = nodes.append
    ones = np.ones(d, np.float32)
    wte = w.add("wte", (shape.vocab, d))
    wpe = w.add("wpe", (shape.n_positions, d))
    mask = np.tril(np.ones((shape.n_positions, shape.n_positions), bool))[None, None]
    w.add("attn_bias", mask.shape, value=mask)
    _const(w, "zero", 0)
    _const(w, "one", 1)
    _const(w, "zero1", [0])
    _const(w, "zeros2", [0, 0])
    _const(w, "axes23", [2, 3])
    _const(w, "mask_min", np.finfo(np.float32).min, np.float32)
    _const(w, "scale", 1.0 / np.sqrt(d // heads), np.float32)
    _const(w, "half", 0.5, np.float32)
    _const(w, "sqrt2", np.sqrt(2.0), np.float32)
    _const(w, "heads_shape", [0, 0, heads, d // heads])
    _const(w, "merge_shape", [0, 0, d])
    _const(w, "flat_shape", [-1, d])
    n(helper.make_node("Shape", ["input_ids"], ["ids_shape"], name="ids_shape"))
    n(helper.make_node("Gather", ["ids_shape", "one"], ["seq_len"], name="seq_len", axis=0))
    n(helper.make_node("Unsqueeze", ["seq_len", "zero1"], ["seq_len1"], name="seq_len1"))
    n(helper.make_node("Range", ["zero", "seq_len", "one"], ["positions"], name="positions"))
    n(helper.make_node("Gather", [wte, "input_ids"], ["tok_emb"], name="wte_gather"))
    n(helper.make_node("Gather", [wpe, "positions"], ["pos_emb"], name="wpe_gather"))
    n(helper.make_node("Add", ["tok_emb", "pos_emb"], ["h0"], name="embed_add"))
    n(helper.make_node("Concat", ["seq_len1", "seq_len1"], ["mask_end"], name="mask_end", axis=0))
    n(helper.make_node("Slice", ["attn_bias", "zeros2", "mask_end", "axes23"], ["causal"],
                       name="causal_slice"))
    hidden = "h0"
    for layer in range(shape.n_layer):
        hidden = _block(shape, w, n, layer, hidden, ones)
    w.add("ln_f.g", (d,), value=ones)
    w.add("ln_f.b", (d,), value=np.zeros(d, np.float32))
    n(helper.make_node("LayerNormalization", [hidden, "ln_f.g", "ln_f.b"], ["hf"], name="ln_f",
                       axis=-1, epsilon=1e-5))
    n(helper.make_node("Shape", ["hf"], ["hf_shape"], name="hf_shape"))
    n(helper.make_node("Reshape", ["hf", "flat_shape"], ["hf_flat"], name="hf_flat"))
    n(helper.make_node("Gemm", ["hf_flat", wte], ["logits_flat"], name="lm_head", transB=1))
    _const(w, "vocab1", [shape.vocab])
    n(helper.make_node("Slice", ["hf_shape", "zero1", "mask_end_2"], ["bs"], name="bs"))
    _const(w, "mask_end_2", [2])
    n(helper.make_node("Concat", ["bs", "vocab1"], ["logits_shape"], name="logits_shape", axis=0))
    n(helper.make_node("Reshape", ["logits_flat", "logits_shape"], ["logits"], name="logits"))


def _block(shape: GptShape, w: _Writer, add: Callable[[onnx.NodeProto], None], i: int,
           x: str, ones: np.ndarray) -> str:
    d = shape.d_model
    p = f"h{i}."

    def node(op: str, inputs: list[str], output: str, **attrs: object) -> str:
        add(helper.make_node(op, inputs, [p + output], name=p + output, **attrs))
        return p + output

    def linear(src: str, name: str, fan_in: int, fan_out: int) -> str:
        weight = w.add(p + name + ".w", (fan_in, fan_out))
        bias = w.add(p + name + ".b", (fan_out,), value=np.zeros(fan_out, np.float32))
        return node("Add", [node("MatMul", [src, weight], name + "_mm"), bias], name)

    w.add(p + "ln_1.g", (d,), value=ones)
    w.add(p + "ln_1.b", (d,), value=np.zeros(d, np.float32))
    ln1 = node("LayerNormalization", [x, p + "ln_1.g", p + "ln_1.b"], "ln_1", axis=-1,
               epsilon=1e-5)
    qkv = linear(ln1, "c_attn", d, 3 * d)
    add(helper.make_node("Split", [qkv], [p + "q", p + "k", p + "v"], name=p + "split", axis=-1))
    heads = {}
    for part, perm in (("q", [0, 2, 1, 3]), ("k", [0, 2, 3, 1]), ("v", [0, 2, 1, 3])):
        split = node("Reshape", [p + part, "heads_shape"], part + "_heads")
        heads[part] = node("Transpose", [split], part + "_t", perm=perm)
    scores = node("Mul", [node("MatMul", [heads["q"], heads["k"]], "qk"), "scale"], "scores")
    masked = node("Where", ["causal", scores, "mask_min"], "masked")
    probs = node("Softmax", [masked], "probs", axis=-1)
    context = node("Transpose", [node("MatMul", [probs, heads["v"]], "ctx")], "ctx_t",
                   perm=[0, 2, 1, 3])
    merged = node("Reshape", [context, "merge_shape"], "merged")
    h = node("Add", [x, linear(merged, "attn_proj", d, d)], "res_1")
    w.add(p + "ln_2.g", (d,), value=ones)
    w.add(p + "ln_2.b", (d,), value=np.zeros(d, np.float32))
    ln2 = node("LayerNormalization", [h, p + "ln_2.g", p + "ln_2.b"], "ln_2", axis=-1,
               epsilon=1e-5)
    fc = linear(ln2, "c_fc", d, 4 * d)
    erf = node("Erf", [node("Div", [fc, "sqrt2"], "gelu_div")], "gelu_erf")
    gelu = node("Mul", [node("Mul", [fc, "half"], "gelu_half"),
                        node("Add", [erf, "one_f"], "gelu_add")], "gelu")
    if i == 0:
        _const(w, "one_f", 1.0, np.float32)
    return node("Add", [h, linear(gelu, "mlp_proj", 4 * d, d)], "res_2")
