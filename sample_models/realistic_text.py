"""Transformer models shaped like ``torch.onnx.export(..., dynamo=True)`` of BERT and GPT-2.

What real exports have and these keep: ``input_ids`` / ``token_type_ids`` (an embedding of 2
rows: only 0 and 1 are valid) / ``attention_mask``; additive masks of ``finfo(float32).min``
through ``Where`` / ``Add`` into ``Softmax``; dynamic ``batch`` × ``sequence``; position
embeddings sliced to the sequence length; a GPT causal mask sliced from a constant; a BERT
pooler reading a graph output that is also consumed inside the graph.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import NodeProto, TensorProto, helper

from sample_models.onnx_parts import F32_MIN, Weights, make_model, save_inline

__all__ = ["GPT_LADDER", "GptShape", "bert_like", "gpt_like", "gpt_param_bytes", "make_big_gpt"]

INT64 = TensorProto.INT64
FLOAT = TensorProto.FLOAT
n = helper.make_node


@dataclass(frozen=True)
class GptShape:
    """The size of a GPT-2-like decoder (GPT-2 small is 12 layers, 768, 12 heads)."""

    layers: int
    d_model: int
    heads: int
    vocab: int
    seq: int  # the longest sequence (the position table and the causal mask)

    def param_count(self) -> int:
        d = self.d_model
        per_layer = 12 * d * d + 13 * d  # c_attn, c_proj, c_fc, mlp c_proj, two LayerNorms
        return 2 * self.vocab * d + self.seq * d + self.layers * per_layer + 2 * d


# A ladder for scale tests and benches: ~10M, ~120M and ~770M parameters (the last is
# GPT-2 large wide with an untied lm_head, 3.0 GB of FP32 weights: over protobuf's 2 GiB,
# so it needs external data).
GPT_LADDER: dict[str, GptShape] = {
    "gpt_10m": GptShape(layers=4, d_model=256, heads=4, vocab=16000, seq=512),
    "gpt_120m": GptShape(layers=12, d_model=768, heads=12, vocab=24000, seq=1024),
    "gpt_770m": GptShape(layers=32, d_model=1280, heads=20, vocab=50257, seq=1024),
}


def gpt_param_bytes(shape: GptShape) -> int:
    """FP32 weight bytes of a :func:`gpt_like` model of this shape."""
    return 4 * shape.param_count()


def _attention(w: Weights, p: str, x: str, d: int, heads: int, mask: str, *,
               fused_qkv: bool, additive: bool) -> tuple[list[NodeProto], str]:
    """Multi-head self-attention; ``mask`` is additive (BERT) or a boolean keep-mask (GPT)."""
    dh = d // heads
    split = w.const(f"{p}.heads_shape", np.array([0, 0, heads, dh], np.int64))
    merge = w.const(f"{p}.merge_shape", np.array([0, 0, d], np.int64))
    nodes: list[NodeProto] = []
    if fused_qkv:
        nodes += [
            n("MatMul", [x, w.param(f"{p}.c_attn.weight", (d, 3 * d))], [f"{p}.qkv0"], name=f"{p}.c_attn"),
            n("Add", [f"{p}.qkv0", w.param(f"{p}.c_attn.bias", (3 * d,))], [f"{p}.qkv"], name=f"{p}.c_attn_bias"),
            n("Split", [f"{p}.qkv", w.const(f"{p}.split", np.array([d, d, d], np.int64))],
              [f"{p}.q", f"{p}.k", f"{p}.v"], name=f"{p}.split_qkv", axis=-1),
        ]
    else:
        for proj in "qkv":
            nodes += [
                n("MatMul", [x, w.param(f"{p}.{proj}.weight", (d, d))], [f"{p}.{proj}0"], name=f"{p}.{proj}_proj"),
                n("Add", [f"{p}.{proj}0", w.param(f"{p}.{proj}.bias", (d,))], [f"{p}.{proj}"], name=f"{p}.{proj}_bias"),
            ]
    for proj, perm in (("q", [0, 2, 1, 3]), ("k", [0, 2, 3, 1]), ("v", [0, 2, 1, 3])):
        nodes += [
            n("Reshape", [f"{p}.{proj}", split], [f"{p}.{proj}r"], name=f"{p}.{proj}_split_heads"),
            n("Transpose", [f"{p}.{proj}r"], [f"{p}.{proj}h"], name=f"{p}.{proj}_transpose", perm=perm),
        ]
    scale = w.const(f"{p}.scale", np.array(1 / math.sqrt(dh), np.float32))
    nodes += [
        n("MatMul", [f"{p}.qh", f"{p}.kh"], [f"{p}.scores0"], name=f"{p}.scores"),
        n("Mul", [f"{p}.scores0", scale], [f"{p}.scores"], name=f"{p}.scale_scores"),
    ]
    if additive:
        nodes.append(n("Add", [f"{p}.scores", mask], [f"{p}.masked"], name=f"{p}.add_mask"))
    else:
        lowest = w.const(f"{p}.mask_value", np.array(F32_MIN, np.float32))
        nodes.append(n("Where", [mask, f"{p}.scores", lowest], [f"{p}.masked"], name=f"{p}.causal_where"))
    nodes += [
        n("Softmax", [f"{p}.masked"], [f"{p}.probs"], name=f"{p}.softmax", axis=-1),
        n("MatMul", [f"{p}.probs", f"{p}.vh"], [f"{p}.ctx0"], name=f"{p}.context"),
        n("Transpose", [f"{p}.ctx0"], [f"{p}.ctx1"], name=f"{p}.merge_transpose", perm=[0, 2, 1, 3]),
        n("Reshape", [f"{p}.ctx1", merge], [f"{p}.ctx"], name=f"{p}.merge_heads"),
        n("MatMul", [f"{p}.ctx", w.param(f"{p}.c_proj.weight", (d, d))], [f"{p}.o0"], name=f"{p}.c_proj"),
        n("Add", [f"{p}.o0", w.param(f"{p}.c_proj.bias", (d,))], [f"{p}.out"], name=f"{p}.c_proj_bias"),
    ]
    return nodes, f"{p}.out"


def _layer_norm(w: Weights, p: str, x: str, d: int) -> tuple[list[NodeProto], str]:
    gamma = w.param(f"{p}.weight", (d,), scale=0.02, base=1.0)
    beta = w.param(f"{p}.bias", (d,))
    return [n("LayerNormalization", [x, gamma, beta], [f"{p}.out"], name=p, axis=-1,
              epsilon=1e-5)], f"{p}.out"


def _mlp(w: Weights, p: str, x: str, d: int, tanh_gelu: bool) -> tuple[list[NodeProto], str]:
    """Linear → GELU → Linear. GPT-2 uses the tanh approximation, BERT the exact Erf form."""
    nodes = [
        n("MatMul", [x, w.param(f"{p}.c_fc.weight", (d, 4 * d))], [f"{p}.fc0"], name=f"{p}.c_fc"),
        n("Add", [f"{p}.fc0", w.param(f"{p}.c_fc.bias", (4 * d,))], [f"{p}.fc"], name=f"{p}.c_fc_bias"),
    ]
    h, c = f"{p}.fc", f"{p}.gelu"
    half = w.const(f"{c}.half", np.array(0.5, np.float32))
    one = w.const(f"{c}.one", np.array(1.0, np.float32))
    if tanh_gelu:
        nodes += [
            n("Pow", [h, w.const(f"{c}.three", np.array(3.0, np.float32))], [f"{c}.cube"], name=f"{c}.pow"),
            n("Mul", [f"{c}.cube", w.const(f"{c}.k", np.array(0.044715, np.float32))], [f"{c}.t0"], name=f"{c}.mul_k"),
            n("Add", [h, f"{c}.t0"], [f"{c}.t1"], name=f"{c}.add_cube"),
            n("Mul", [f"{c}.t1", w.const(f"{c}.s", np.array(math.sqrt(2 / math.pi), np.float32))],
              [f"{c}.t2"], name=f"{c}.mul_s"),
            n("Tanh", [f"{c}.t2"], [f"{c}.t3"], name=f"{c}.tanh"),
        ]
    else:
        nodes += [
            n("Div", [h, w.const(f"{c}.sqrt2", np.array(math.sqrt(2), np.float32))], [f"{c}.t2"], name=f"{c}.div"),
            n("Erf", [f"{c}.t2"], [f"{c}.t3"], name=f"{c}.erf"),
        ]
    nodes += [
        n("Add", [f"{c}.t3", one], [f"{c}.t4"], name=f"{c}.add_one"),
        n("Mul", [h, f"{c}.t4"], [f"{c}.t5"], name=f"{c}.mul_x"),
        n("Mul", [f"{c}.t5", half], [f"{c}.out"], name=f"{c}.mul_half"),
        n("MatMul", [f"{c}.out", w.param(f"{p}.c_proj.weight", (4 * d, d))], [f"{p}.o0"], name=f"{p}.c_proj"),
        n("Add", [f"{p}.o0", w.param(f"{p}.c_proj.bias", (d,))], [f"{p}.out"], name=f"{p}.c_proj_bias"),
    ]
    return nodes, f"{p}.out"


def _sequence_slice(w: Weights, source: str) -> list[NodeProto]:
    """``seq_len`` ([1], int64): the sequence length of ``source``, as dynamo writes it."""
    return [
        n("Shape", [source], ["input_shape"], name="shape_of_input_ids"),
        n("Slice", ["input_shape", w.const("axis1_start", np.array([1], np.int64)),
                    w.const("axis1_end", np.array([2], np.int64))], ["seq_len"], name="sequence_length"),
    ]


def _positions(w: Weights, table: str, max_len: int, d: int) -> tuple[list[NodeProto], str]:
    ids = w.const("position_ids", np.arange(max_len, dtype=np.int64)[None, :])
    nodes = [
        n("Slice", [ids, w.const("zero_1d", np.array([0], np.int64)), "seq_len",
                    w.const("axis_1", np.array([1], np.int64))], ["positions"], name="slice_position_ids"),
        n("Gather", [w.param(table, (max_len, d)), "positions"], ["position_embeds"],
          name="position_embedding", axis=0),
    ]
    return nodes, "position_embeds"


def bert_like(folder: Path, name: str = "bert_like", *, layers: int = 2, d_model: int = 64,
              heads: int = 4, vocab: int = 1000, max_len: int = 512, seed: int = 20) -> Path:
    """A BERT encoder: three integer inputs, an additive finfo.min mask, a Gemm pooler."""
    w, d = Weights(seed), d_model
    nodes = [n("Gather", [w.param("embeddings.word_embeddings.weight", (vocab, d)), "input_ids"],
               ["word_embeds"], name="word_embedding", axis=0)]
    nodes += _sequence_slice(w, "input_ids")
    pos_nodes, pos = _positions(w, "embeddings.position_embeddings.weight", max_len, d)
    nodes += pos_nodes
    nodes += [
        n("Gather", [w.param("embeddings.token_type_embeddings.weight", (2, d)), "token_type_ids"],
          ["type_embeds"], name="token_type_embedding", axis=0),
        n("Add", ["word_embeds", pos], ["emb0"], name="add_position"),
        n("Add", ["emb0", "type_embeds"], ["emb1"], name="add_token_type"),
        # The extended mask: [batch, 1, 1, sequence], 0 where attended, finfo.min elsewhere.
        n("Unsqueeze", ["attention_mask", w.const("mask_axes", np.array([1, 2], np.int64))],
          ["mask4d"], name="extend_mask"),
        n("Cast", ["mask4d"], ["mask_bool"], name="mask_to_bool", to=TensorProto.BOOL),
        n("Where", ["mask_bool", w.const("mask_keep", np.array(0.0, np.float32)),
                    w.const("mask_min", np.array(F32_MIN, np.float32))], ["additive_mask"],
          name="additive_mask"),
    ]
    ln_nodes, h = _layer_norm(w, "embeddings.LayerNorm", "emb1", d)
    nodes += ln_nodes
    for i in range(layers):
        p = f"encoder.layer.{i}"
        att, a = _attention(w, f"{p}.attention", h, d, heads, "additive_mask", fused_qkv=False,
                            additive=True)
        nodes += [*att, n("Add", [h, a], [f"{p}.res1"], name=f"{p}.attention_residual")]
        ln1, h1 = _layer_norm(w, f"{p}.attention.LayerNorm", f"{p}.res1", d)
        mlp, m = _mlp(w, f"{p}.intermediate", h1, d, tanh_gelu=False)
        nodes += ln1 + mlp + [n("Add", [h1, m], [f"{p}.res2"], name=f"{p}.output_residual")]
        ln2, h = _layer_norm(w, f"{p}.output.LayerNorm", f"{p}.res2", d)
        nodes += ln2
    nodes += [
        n("Identity", [h], ["last_hidden_state"], name="last_hidden_state"),
        # The pooler reads the graph output last_hidden_state: first token → Gemm → Tanh.
        n("Gather", ["last_hidden_state", w.const("cls_index", np.array(0, np.int64))], ["cls"],
          name="pooler.first_token", axis=1),
        n("Gemm", ["cls", w.param("pooler.dense.weight", (d, d)), w.param("pooler.dense.bias", (d,))],
          ["pooled"], name="pooler.dense", transB=1),
        n("Tanh", ["pooled"], ["pooler_output"], name="pooler.activation"),
    ]
    dims = ["batch", "sequence"]
    graph = helper.make_graph(
        nodes, "bert_like",
        [helper.make_tensor_value_info(i, INT64, dims) for i in ("input_ids", "token_type_ids", "attention_mask")],
        [helper.make_tensor_value_info("last_hidden_state", FLOAT, [*dims, d]),
         helper.make_tensor_value_info("pooler_output", FLOAT, ["batch", d])],
        w.tensors,
    )
    return save_inline(make_model(graph, "pytorch"), folder / f"{name}.onnx")


def _gpt_graph(w: Weights, shape: GptShape) -> onnx.GraphProto:
    d, s = shape.d_model, shape.seq
    causal = np.tril(np.ones((s, s), dtype=bool))[None, None]
    nodes = [n("Gather", [w.param("transformer.wte.weight", (shape.vocab, d)), "input_ids"],
               ["token_embeds"], name="transformer.wte", axis=0)]
    nodes += _sequence_slice(w, "input_ids")
    pos_nodes, pos = _positions(w, "transformer.wpe.weight", s, d)
    nodes += pos_nodes
    nodes += [
        n("Add", ["token_embeds", pos], ["h0"], name="transformer.add_positions"),
        n("Concat", ["seq_len", "seq_len"], ["mask_ends"], name="causal_mask_ends", axis=0),
        n("Slice", [w.const("transformer.causal_bias", causal), w.const("zeros_2", np.array([0, 0], np.int64)),
                    "mask_ends", w.const("axes_23", np.array([2, 3], np.int64))], ["causal_mask"],
          name="slice_causal_mask"),
    ]
    h = "h0"
    for i in range(shape.layers):
        p = f"transformer.h.{i}"
        ln1, x = _layer_norm(w, f"{p}.ln_1", h, d)
        att, a = _attention(w, f"{p}.attn", x, d, shape.heads, "causal_mask", fused_qkv=True,
                            additive=False)
        nodes += ln1 + att + [n("Add", [h, a], [f"{p}.res1"], name=f"{p}.attn_residual")]
        ln2, x2 = _layer_norm(w, f"{p}.ln_2", f"{p}.res1", d)
        mlp, m = _mlp(w, f"{p}.mlp", x2, d, tanh_gelu=True)
        nodes += ln2 + mlp + [n("Add", [f"{p}.res1", m], [f"{p}.out"], name=f"{p}.mlp_residual")]
        h = f"{p}.out"
    lnf, hf = _layer_norm(w, "transformer.ln_f", h, d)
    nodes += [*lnf, n("MatMul", [hf, w.param("lm_head.weight", (d, shape.vocab))], ["logits"],
                      name="lm_head")]
    dims = ["batch", "sequence"]
    return helper.make_graph(
        nodes, "gpt_like", [helper.make_tensor_value_info("input_ids", INT64, dims)],
        [helper.make_tensor_value_info("logits", FLOAT, [*dims, shape.vocab])], w.tensors)


def gpt_like(folder: Path, layers: int = 2, d_model: int = 64, heads: int = 4, vocab: int = 1000,
             seq: int = 512, *, name: str = "gpt_like", fill: str = "random",
             external: bool | None = None, seed: int = 21) -> Path:
    """A GPT-2-like decoder: ``input_ids`` [batch, sequence] → ``logits`` [batch, sequence, vocab].

    Weights are written tensor by tensor: inline for small models, streamed into
    ``<name>.onnx.data`` when ``external`` (default: over 1 GiB of weights). ``fill="zeros"``
    writes a sparse data file at disk speed (nothing random to draw).
    """
    shape = GptShape(layers, d_model, heads, vocab, seq)
    if d_model % heads:
        raise ValueError(f"d_model {d_model} is not a multiple of heads {heads}")
    if external is None:
        external = gpt_param_bytes(shape) > 1 << 30
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.onnx"
    w = Weights(seed, path.with_name(path.name + ".data") if external else None, fill)
    try:
        graph = _gpt_graph(w, shape)
    finally:
        w.close()
    return save_inline(make_model(graph, "pytorch"), path)


def make_big_gpt(folder: Path, target_bytes: int = int(2.2 * 2**30), *, fill: str = "zeros",
                 name: str = "big_gpt") -> Path:
    """A GPT-2-large-wide decoder with at least ``target_bytes`` of FP32 weights, external data.

    d_model 1280, 20 heads, vocab 50257, 1024 positions; as many layers as the target needs
    (2.2 GiB → 24 layers, 2.4 GB). Peak memory while writing is one tensor chunk (64 MiB).
    Delete it with ``sample_models.onnx_parts.remove_model(path)``.
    """
    base = GptShape(layers=0, d_model=1280, heads=20, vocab=50257, seq=1024)
    per_layer = gpt_param_bytes(GptShape(1, 1280, 20, 50257, 1024)) - gpt_param_bytes(base)
    layers = max(1, math.ceil((target_bytes - gpt_param_bytes(base)) / per_layer))
    return gpt_like(folder, layers, base.d_model, base.heads, base.vocab, base.seq, name=name,
                    fill=fill, external=True)
