"""What TensorRT does not implement at all, by family, with the fixes that exist for each.

TensorRT's ONNX parser rejects these operators with a failed check and a one-word message
(``false``) or "Plugin not found": the message says nothing. The family says why (they are
another runtime's operators, training operators, or work on types TensorRT has no tensor
for) and what a user can do instead. Pure Python: the catalogue is a table of op names.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FAMILIES", "OpFamily", "explain_graph_tensor", "family_of"]


@dataclass(frozen=True)
class OpFamily:
    """A family of operators TensorRT does not implement."""

    category: str  # the ParseIssue category its nodes get
    label: str  # one line, for the catalogue and group headers
    cause: str  # {node} is the op (and domain)
    fixes: tuple[str, ...]
    ops: frozenset[str]
    domains: frozenset[str] = frozenset()


_SPLIT = ("split the model: run this part with ONNX Runtime and build the rest with TensorRT "
          "(onnx.utils.extract_model(path, out, input_names, output_names) cuts it out)")

FAMILIES: tuple[OpFamily, ...] = (
    OpFamily(
        "ort_quantization",
        "ONNX Runtime integer / dynamic quantization (quantize_dynamic, QOperator format)",
        "{node} is an operator of ONNX Runtime's integer quantization (what "
        "onnxruntime.quantization.quantize_dynamic writes). TensorRT does not implement "
        "integer-arithmetic operators; it builds quantized models only in the Q/DQ form "
        "(QuantizeLinear → DequantizeLinear pairs around float operators).",
        (
            "build the FP32 model this one was quantized from (the input of quantize_dynamic); "
            "for speed, build it with precision 'fp16' (Build tab, or "
            "workbench.build_engine(path, BuildSettings(precision='fp16')))",
            "or quantize the FP32 model statically in the Q/DQ form, which TensorRT builds "
            "(INT8, strongly typed): trt-workbench quantize FP32_MODEL -o OUT.onnx, or "
            "session.quantize() with the FP32 model loaded (TensorRT preset: QDQ, symmetric, "
            "float biases). The workbench does not convert an integer-operator model back "
            "to float: ConvInteger/MatMulInteger/QLinear* carry no float graph to recover "
            "without re-deriving every scale, so start from the FP32 model",
            "or keep running the quantized model with ONNX Runtime (Run tab, backend "
            "'onnxruntime'); it implements these operators",
        ),
        frozenset({
            "DynamicQuantizeLinear", "MatMulInteger", "ConvInteger", "QLinearConv",
            "QLinearMatMul", "DynamicQuantizeMatMul", "MatMulIntegerToFloat", "QGemm",
            "QAttention", "DynamicQuantizeLSTM", "QLinearAdd", "QLinearMul", "QLinearConcat",
            "QLinearSigmoid", "QLinearLeakyRelu", "QLinearGlobalAveragePool",
            "QLinearAveragePool", "QLinearSoftmax", "QLinearWhere", "QEmbedLayerNormalization",
        }),
    ),
    OpFamily(
        "ort_fused",
        "ONNX Runtime fused (contrib) operators written by its graph optimizer",
        "{node} is an ONNX Runtime contrib operator: ONNX Runtime's graph optimizer (or its "
        "transformers optimizer) fused standard operators into it. Only ONNX Runtime "
        "implements it.",
        (
            "use the model as it was exported, before ONNX Runtime optimized it (do not save "
            "SessionOptions.optimized_model_filepath output, or run onnxruntime.transformers "
            "optimizer, for TensorRT; TensorRT fuses the standard operators itself)",
            _SPLIT,
        ),
        frozenset({
            "FusedConv", "FusedMatMul", "FusedGemm", "Attention", "MultiHeadAttention",
            "SkipLayerNormalization", "EmbedLayerNormalization", "BiasGelu", "FastGelu",
            "QuickGelu", "BiasSoftmax", "GroupQueryAttention", "RotaryEmbedding",
            "SkipSimplifiedLayerNormalization", "SimplifiedLayerNormalization", "NhwcConv",
        }),
        frozenset({"com.microsoft", "com.microsoft.nchwc", "com.ms.internal.nhwc"}),
    ),
    OpFamily(
        "training_op",
        "training operators (gradients, optimizers)",
        "{node} is a training operator (ai.onnx.preview.training: gradients and optimizer "
        "updates). TensorRT builds inference engines only.",
        (
            "export the inference graph instead (model.eval(); torch.onnx.export(..., "
            "training=torch.onnx.TrainingMode.EVAL)), without the loss and optimizer",
            "or cut the inference part out: onnx.utils.extract_model(path, out, input_names, "
            "output_names) with the model's prediction outputs as output_names",
        ),
        frozenset({"Gradient", "Momentum", "Adagrad", "Adam"}),
        frozenset({"ai.onnx.preview.training", "ai.onnx.training"}),
    ),
    OpFamily(
        "sequence_type",
        "sequence, map and optional types",
        "{node} works on ONNX sequences (or optionals / maps), which TensorRT has no type "
        "for: an engine's tensors are plain dense arrays.",
        (
            "export with tensors instead of lists (e.g. torch.stack / torch.cat of the list "
            "in the model code, so the exporter writes Concat/Split, not sequences)",
            _SPLIT,
        ),
        frozenset({
            "SequenceConstruct", "SequenceAt", "SequenceInsert", "SequenceErase",
            "SequenceLength", "SequenceEmpty", "SplitToSequence", "ConcatFromSequence",
            "SequenceMap", "Optional", "OptionalGetElement", "OptionalHasElement",
            "ZipMap", "DictVectorizer", "CastMap",
        }),
    ),
    OpFamily(
        "string_type",
        "string operators",
        "{node} processes strings; TensorRT has no string tensors (an engine computes on "
        "numbers only).",
        (
            "do the string processing (tokenizing, normalizing, lookups) in Python or with "
            "ONNX Runtime before the engine, and feed the engine the numeric ids",
            _SPLIT,
        ),
        frozenset({
            "StringNormalizer", "TfIdfVectorizer", "RegexFullMatch", "StringConcat",
            "StringSplit", "LabelEncoder", "CategoryMapper", "Tokenizer",
        }),
    ),
)

_BY_OP: dict[str, OpFamily] = {op: family for family in FAMILIES for op in family.ops}
_BY_DOMAIN: dict[str, OpFamily] = {d: f for f in FAMILIES for d in f.domains
                                   if f.category == "training_op"}


def family_of(op_type: str, domain: str = "") -> OpFamily | None:
    """The family of an operator TensorRT does not implement, None when it is not listed.

    ``ai.onnx.ml`` operators are a separate category (``ml_domain``) except the string and
    map ones listed here; other custom domains are left to the plugin rules.
    """
    family = _BY_OP.get(op_type)
    if family is not None:
        if family.category == "ort_fused" and domain not in family.domains:
            return None  # e.g. the standard Attention of opset 23 is not ONNX Runtime's
        return family
    return _BY_DOMAIN.get(domain)


def explain_graph_tensor(name: str, kind: str, dtype: str, consumers: tuple[str, ...] = (),
                         initializer: bool = False) -> tuple[str, str, tuple[str, ...]]:
    """Category, cause and fixes for a graph input or initializer TensorRT cannot import.

    Args:
        name: The input's (or initializer's) name.
        kind: ``tensor``, ``sequence``, ``map`` or ``optional`` (the ONNX type's kind).
        dtype: Its element type as a NumPy-style name ("string", "float32", "unknown").
        consumers: Names (or ops) of the nodes that read it, for the split advice.
        initializer: It is an initializer (a weight), not an input the user feeds.
    """
    what = "initializer" if initializer else "graph input"
    readers = ", ".join(repr(c) for c in consumers[:4]) or "the nodes that read it"
    split = (f"split the model after {readers}: run that part with ONNX Runtime and build the "
             "rest, whose inputs are numeric tensors (onnx.utils.extract_model(path, out, "
             "input_names, output_names))")
    if kind in ("sequence", "map", "optional"):
        element = f" of {dtype}" if dtype not in ("", "unknown") else ""
        return ("sequence_type",
                f"The {what} {name!r} is an ONNX {kind}{element}, not a tensor: TensorRT "
                "engine inputs and weights are dense tensors only.",
                (f"export {name!r} as one tensor instead of a list (torch.stack the list in "
                 "the model code), so the engine takes a [N, …] array", split))
    if dtype == "string":
        return ("string_type",
                f"The {what} {name!r} holds strings; TensorRT has no string tensors.",
                ("turn the strings into numbers (ids) in Python or with ONNX Runtime before "
                 "the engine, and make the model take those ids", split))
    return ("unsupported_dtype",
            f"The {what} {name!r} has element type {dtype or 'unknown'}, which TensorRT "
            "cannot hold.",
            (f"cast {name!r} to a type TensorRT supports (float32, float16, int32, int64, "
             "bool, uint8) before export, or feed it already converted", split))
