"""A realistic corpus: models shaped like what real exporters write, generated in code.

    python -m sample_models.realistic [OUT_DIR]      # write every small model (KB–1 MB each)

No downloads, no torch: ``onnx.helper`` and ``onnxruntime.quantization`` only, fixed seeds.
Nothing here is committed as a binary; tests generate the models into a temporary folder
(``tests/conftest.py``: the ``realistic`` fixture). ``REALISTIC`` records what each model is,
what it exercises, and what the workbench does with it today (tests check the record holds,
so when a flow changes, its entry changes with it).

Generators (each ``make(folder) -> Path``): see the table in ``sample_models/README.md``.
For scale work: :func:`gpt_like` (any size; random or zero weights; inline or streamed
external data), :data:`GPT_LADDER` (~10M / ~120M / ~770M parameters) and
:func:`make_big_gpt` (over 2 GiB, zeros, external data, written one tensor at a time).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sample_models.onnx_parts import remove_model
from sample_models.realistic_other import (
    if_switch,
    jax_classifier,
    paddle_detector,
    quantized_dynamic,
    sklearn_mlp,
)
from sample_models.realistic_text import (
    GPT_LADDER,
    GptShape,
    bert_like,
    gpt_like,
    gpt_param_bytes,
    make_big_gpt,
)

__all__ = [
    "GPT_LADDER",
    "REALISTIC",
    "GptShape",
    "RealisticModel",
    "bert_like",
    "gpt_like",
    "gpt_param_bytes",
    "if_switch",
    "jax_classifier",
    "make_big_gpt",
    "paddle_detector",
    "quantized_dynamic",
    "realistic_model",
    "remove_model",
    "sklearn_mlp",
    "write_all",
]


@dataclass(frozen=True)
class RealisticModel:
    """One corpus model and what the workbench does with it (TensorRT-RTX 1.7, FP32)."""

    name: str
    make: Callable[[Path], Path] = field(repr=False)
    what: str
    exercises: str
    # TensorRT's ONNX parser accepts every node.
    parses: bool = True
    # A fragment of the parser's message for each node it rejects.
    parse_error: str = ""
    # BuildSettings() defaults (the seeded profile) give an engine today.
    builds_with_defaults: bool = True
    # Why the default build fails today (a fragment of TensorRT's error), and whose it is.
    build_error: str = ""
    # The panel's Compare (FP16 vs FP32 on CPU) gives a report today; else a fragment of
    # the error it shows (FP16 conversion of that pattern is not handled yet).
    compare_error: str = ""
    # Valid values for integer inputs, [low, high): what the feed generator must find.
    index_ranges: tuple[tuple[str, int, int], ...] = ()
    # A size every dynamic spatial dim must be a multiple of, or the graph itself fails.
    spatial_multiple: int = 1


REALISTIC: tuple[RealisticModel, ...] = (
    RealisticModel(
        "bert_like", bert_like,
        "BERT encoder (torch dynamo style): input_ids / token_type_ids / attention_mask "
        "[batch, sequence], embedding Gathers, additive finfo(float32).min mask through "
        "Where → Add → Softmax, 2 layers, Gemm pooler reading the graph output last_hidden_state",
        "integer inputs that index tables (token_type_ids: only 0–1), attention masks that "
        "must not mask whole rows, FP16 saturation of -3.4e38, outputs consumed internally",
        index_ranges=(("input_ids", 0, 1000), ("token_type_ids", 0, 2)),
    ),
    RealisticModel(
        "gpt_like", gpt_like,
        "GPT-2 decoder: input_ids [batch, sequence] → logits [batch, sequence, 1000]; "
        "wte/wpe Gathers, a boolean causal mask sliced from a constant into Where(…, finfo.min), "
        "fused c_attn + Split, tanh GELU",
        "vocabulary-bounded ids, causal masking, dynamic batch × sequence; gpt_like(...) scales "
        "the same graph to any size (GPT_LADDER, make_big_gpt)",
        index_ranges=(("input_ids", 0, 1000),),
    ),
    RealisticModel(
        "paddle_detector", paddle_detector,
        "Paddle2ONNX DB-style text detector, opset 11: x [p2o.DynamicDimension.0, 3, "
        "p2o.DynamicDimension.1, p2o.DynamicDimension.2], 5 stride-2 stages, FPN Adds and a "
        "Concat of upsampled branches; every weight in a Constant node; a BatchNorm variance "
        "of 1.2e8",
        "image-like inputs whose dims are oddly named and must be multiples of 32; weights as "
        "Constant nodes; values beyond FP16's 65504",
        spatial_multiple=32,
    ),
    RealisticModel(
        "quantized_dynamic", quantized_dynamic,
        "onnxruntime.quantization.quantize_dynamic of a small OCR classifier: "
        "DynamicQuantizeLinear, ConvInteger, MatMulInteger",
        "a model TensorRT rejects (with the one-word message 'false') that ONNX Runtime runs",
        parses=False, parse_error="false",
        builds_with_defaults=False, build_error="could not parse",
    ),
    RealisticModel(
        "if_switch", if_switch,
        "Silero-VAD-like: input [batch, samples], state [2, batch, 16], scalar sr; an If on "
        "sr == 16000 picks one of two Conv1d front ends (Convs inside the If branches)",
        "control flow subgraphs, scalar integer inputs, a time axis that must be at least "
        "the Conv kernel (default profiles are raised to it)",
    ),
    RealisticModel(
        "sklearn_mlp", sklearn_mlp,
        "skl2onnx MLPClassifier: float_input [?, 4] feeds a MatMul directly; outputs label "
        "(ArgMax, int64) and probabilities",
        "an unnamed dynamic dim, an FP32 graph input straight into MatMul, an int64 output",
    ),
    RealisticModel(
        "jax_classifier", jax_classifier,
        "jax2onnx-like: label_ids → OneHot(depth 10) → the model's own Cast(to=FLOAT) → Einsum, "
        "plus an Einsum of x [batch, 16]",
        "OneHot depth as an index range, an in-graph Cast(to=FLOAT) that FP16 conversion must "
        "respect, Einsum",
        index_ranges=(("label_ids", 0, 10),),
    ),
)


def realistic_model(name: str) -> RealisticModel:
    """The registry entry called ``name``."""
    for entry in REALISTIC:
        if entry.name == name:
            return entry
    known = ", ".join(entry.name for entry in REALISTIC)
    raise KeyError(f"no realistic model {name!r}; known: {known}")


def write_all(folder: Path) -> list[Path]:
    """Write every small corpus model into ``folder``; return their paths."""
    return [entry.make(folder) for entry in REALISTIC]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    folder = Path(args[0]) if args else Path("realistic_models")
    for path in write_all(folder):
        print(f"{path.stat().st_size:>9,d}  {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
