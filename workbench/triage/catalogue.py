"""The cause/fix catalogue for parse and build failures (pure Python: no onnx, no TensorRT).

It turns TensorRT's terse parser and builder messages, plus facts about the
failing ONNX node (op type, domain, input dtypes), into a category, a plain-words cause and
concrete fixes. ``workbench.backends.trt.parse.diagnose`` gathers the facts; this module
only explains them, so it is testable without TensorRT. ``workbench.triage.diagnosis`` re-exports
the public functions next to the report records.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from workbench.triage.build_failures import BuildFacts, explain_build_with_facts
from workbench.triage.parameter_limits import with_no_gpu_note
from workbench.triage.unimplemented import FAMILIES, family_of

__all__ = [
    "CATEGORIES",
    "explain_build_failure",
    "explain_load_failure",
    "explain_parse_error",
]

# (pattern over the joined error lines, cause, fixes); first match wins, so the more
# specific patterns come first.
_BUILD_RULES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        r"BuildCancel",
        "The build was cancelled before it finished.",
        ("start the build again and let it run to the end",),
    ),
    (
        r"MIN\s*<=\s*OPT\s*<=\s*MAX|profile->isValid|min.{0,40}(greater|larger|>).{0,40}max",
        "An optimization profile contradicts itself: its min, opt and max shapes must satisfy "
        "min <= opt <= max in every dimension.",
        (
            "fix the profile so that min <= opt <= max for every dimension of every input",
            "set a static dimension to the same value in min, opt and max",
        ),
    ),
    (
        r"no optimization profile has been defined",
        "The model has dynamic inputs but the build had no optimization profile for them.",
        (
            "give every dynamic input a profile (min, opt, max shapes), or freeze the input "
            "shapes with workbench.fold_constants(model, input_shapes={...})",
        ),
    ),
    (
        r"Dimension mismatch for tensor|profile has min=|outside .{0,30}profile|"
        r"not within .{0,30}profile",
        "A shape in an optimization profile does not fit the model: a dimension the model "
        "fixes was given another value, or the shape lies outside the profile's range.",
        (
            "keep every static dimension of the model at its value in min, opt and max",
            "check that the shapes you run with lie between the profile's min and max",
        ),
    ),
    (
        r"workspace|memory pool|insufficient memory|out of memory",
        "TensorRT ran out of workspace or memory while choosing kernels: some layers had no "
        "implementation that fits the memory limit.",
        (
            "raise the workspace limit (BuildSettings workspace / trtexec --memPoolSize)",
            "lower the maximum shapes of the optimization profiles",
            "lower the optimization level to try fewer, smaller tactics",
        ),
    ),
    (
        r"compute capability|not supported on|unsupported (sm|gpu|architecture|platform)|"
        r"could not find any implementation|no (implementation|kernel|tactic)s? ",
        "No kernel exists for some layer on the chosen target (GPU architecture, compute "
        "capability, precision or TensorRT flavour).",
        (
            "choose a compute-capability target the installed TensorRT supports "
            "(TensorRT-RTX: 8.0, 8.6, 8.9, 12.x; not 9.0)",
            "try FP32, or keep the failing layers in FP32",
            "rewrite the layer with supported operations",
        ),
    ),
    (
        r"internal error|assertion|INTERNAL_ERROR",
        "TensorRT hit an internal error: the model is valid, but the builder failed on it.",
        (
            "try another optimization level or precision, which picks other tactics",
            "reduce the model to the smallest subgraph that still fails to build "
            "(workbench.reduce_build_failure(model, 'reduced.onnx')) and report it to NVIDIA "
            "with the TensorRT version",
        ),
    ),
)

_BUILD_FALLBACK: tuple[str, tuple[str, ...]] = (
    "TensorRT could not build an engine; its own error lines say why.",
    (
        "read TensorRT's error lines below; run with VERBOSE log severity for more",
        "run workbench.diagnose(model) to check that the model parses cleanly",
    ),
)


def explain_build_failure(lines: list[str], facts: BuildFacts | None = None
                          ) -> tuple[str, tuple[str, ...]]:
    """A plain-words cause and concrete fixes for TensorRT build errors after a clean parse.

    Args:
        lines: TensorRT's error lines (logger messages or stderr), in any order.
        facts: What is known about the model and profiles (control flow, the profile's
            shapes, sizes that run): shape-constraint and control-flow failures are then
            explained by node, bound and branch (``workbench.triage.build_failures``).

    Returns:
        ``(cause, fixes)``; a generic explanation when no rule matches.
    """
    text = "\n".join(lines)
    by_cause = explain_build_with_facts(lines, facts or BuildFacts())
    if by_cause is not None:
        return with_no_gpu_note(by_cause[0], text), by_cause[1]
    for pattern, cause, fixes in _BUILD_RULES:
        if re.search(pattern, text, flags=re.IGNORECASE):
            return with_no_gpu_note(cause, text), fixes
    return with_no_gpu_note(_BUILD_FALLBACK[0], text), _BUILD_FALLBACK[1]


# --- parse-failure catalogue ---------------------------------------------------------------

CATEGORIES: dict[str, str] = {
    "unsupported_op": "TensorRT has no importer for this operator",
    "missing_plugin": "the TensorRT plugin this node needs is not loaded",
    "ml_domain": "classical-ML operator (ai.onnx.ml) that TensorRT does not implement",
    "foreign_domain": "operator from a runtime-specific domain (e.g. ONNX Runtime contrib ops)",
    "unsupported_dtype": "a tensor type TensorRT does not support here",
    "needs_constant_folding": "a value TensorRT needs at build time is computed at run time",
    "external_data_missing": "external weight files are missing or truncated",
    "external_data_unsafe": "external weights point outside the model's folder (refused)",
    "invalid_model": "the file is not a complete, valid ONNX model",
    "parameter_limit": "a parameter (a pooling window, …) beyond what TensorRT's layer accepts",
    "parse_error": "TensorRT rejected the node for another reason",
    "qdq_int32_bias": "a DequantizeLinear of int32 (a bias quantized by ONNX Runtime)",
    "qdq_asymmetric": "asymmetric quantization (a non-zero zero point) in a Q/DQ pair",
    **{family.category: family.label for family in FAMILIES},
}

# Domains whose operators TensorRT never imports (besides custom ones).
_ML_DOMAINS = frozenset({"ai.onnx.ml"})
_FOREIGN_DOMAINS = frozenset(
    {"com.microsoft", "com.microsoft.nchwc", "com.microsoft.experimental", "ai.onnx.training",
     "ai.onnx.preview.training", "org.pytorch.aten", "com.ms.internal.nhwc"}
)
# ONNX types TensorRT has no tensor type for (uint8 and float64 work only in a few places).
_BAD_DTYPES = frozenset({"string", "object", "uint16", "uint32", "uint64", "complex64",
                         "complex128"})
_CONST_PATTERN = (
    r"build-time constant|constant-foldable|must be an initializer|must be (a )?constant|"
    r"is not (a )?constant|shape tensor must|Cannot resolve .*constant"
)
_DTYPE_PATTERN = (
    r"data ?type|dtype|unsupported (input )?type|type .{0,40}not supported|\bUINT(8|16|32|64)\b|"
    r"\bSTRING\b|\bDOUBLE\b|\bCOMPLEX"
)
# Categories about the file as a whole: they win over what the node is.
_MODEL_LEVEL = frozenset({"invalid_model", "external_data_unsafe", "external_data_missing"})
_UNSUPPORTED_PATTERN = r"Plugin not found|No importer registered|not supported|UNSUPPORTED_NODE"


def _fixes(category: str, op: str, domain: str,
           shapes_example: str = "{'input': [1, 3, 224, 224]}") -> tuple[str, ...]:
    node = f"{op!r}" + (f" (domain {domain!r})" if domain else "")
    table: dict[str, tuple[str, ...]] = {
        "unsupported_op": (
            f"rewrite {node} with standard ONNX operators that TensorRT supports (change the "
            "model code before export)",
            # The parser looks the creator up by the op type, the node's plugin_version
            # attribute (default "1") and namespace: its plugin_namespace attribute, and
            # also the node's domain (both appear in the parser's own search messages).
            f"write a TensorRT plugin named {op!r}, registered in the namespace given by "
            "the node's plugin_namespace attribute" + (f" or its domain {domain!r}" if domain
            else "") + ", and load it before parsing (full TensorRT only: TensorRT-RTX has no "
            "plugin layers)",
            "export with another opset (torch.onnx.export(..., opset_version=17)) in which the "
            "op is a standard one",
            "split the model: run this node with ONNX Runtime and the rest with TensorRT",
        ),
        "missing_plugin": (
            f"load the plugin library that registers {op!r} before parsing "
            "(trt.init_libnvinfer_plugins, or ctypes.CDLL('libmy_plugin.so'); "
            "trtexec --staticPlugins=...)",
            "check that the plugin's name, version and namespace match the node's op type, "
            "its plugin_version attribute, and its plugin_namespace attribute or domain",
        ),
        "ml_domain": (
            f"run the {domain or 'ai.onnx.ml'} part ({op}) with ONNX Runtime: split the model "
            "(onnx.utils.extract_model) and build TensorRT only for the neural-network part",
            f"or replace {op} by standard ops (e.g. LinearClassifier = MatMul + Add + ArgMax)",
        ),
        "foreign_domain": (
            f"{node} is a runtime-specific operator: export the model again without ONNX "
            "Runtime graph optimizations (they insert com.microsoft ops)",
            "or run that part with ONNX Runtime and the rest with TensorRT (split the model)",
        ),
        "unsupported_dtype": (
            f"cast the inputs of {op!r} to a type TensorRT supports (float32, float16, int32, "
            "int64, bool) before this node",
            "do string or other non-numeric processing outside the engine (in Python or ONNX "
            "Runtime pre-processing)",
        ),
        "needs_constant_folding": (
            "fold constants: workbench.fold_constants(model) turns the Shape/arithmetic "
            "subgraph into an initializer (like polygraphy surgeon sanitize --fold-constants)",
            "if the value depends on a dynamic dimension, freeze the input shapes: "
            f"workbench.fold_constants(model, input_shapes={shapes_example})",
            f"or export {op!r} with a literal value (e.g. x.mean(dim=3) instead of dim=-1 "
            "computed from x.dim())",
        ),
        "external_data_missing": (
            "copy the .data file(s) exported with the model into the same folder as the .onnx "
            "file, with the names the model refers to",
            "or re-save the model: onnx.save(model, path, save_as_external_data=True)",
        ),
        "external_data_unsafe": (
            "refused for safety: a model must not read files outside its folder. Move the data "
            "file next to the model and re-save it with a relative location",
        ),
        "qdq_asymmetric": (
            "re-quantize the FP32 model symmetric with the TensorRT preset: session.quantize() "
            "with the FP32 model loaded, trt-workbench quantize FP32_MODEL -o OUT.onnx, or "
            "quantize_static(..., extra_options={'ActivationSymmetric': True, "
            "'WeightSymmetric': True, 'QuantizeBias': False})",
        ),
        "qdq_int32_bias": (
            "re-quantize the FP32 model with the TensorRT preset, which keeps biases in "
            "float (QuantizeBias False): session.quantize() with the FP32 model loaded, "
            "trt-workbench quantize FP32_MODEL -o OUT.onnx, or "
            "quantize_static(..., quant_format=QuantFormat.QDQ, extra_options="
            "{'QuantizeBias': False, 'ActivationSymmetric': True, 'WeightSymmetric': True})",
            "without the FP32 model: fold each int32 DequantizeLinear into the float bias it "
            "computes ((q - zero_point) × scale, the same numbers): the Parse tab's 'Int32 "
            "biases to float and retry', session.float_biases(), or "
            "workbench.transforms.quant.qdq_bias.float_biases(model) (writes a copy)",
        ),
        "invalid_model": (
            "download or copy the file again (it looks truncated or corrupted)",
            "or export it again; check the result with onnx.checker.check_model(path)",
        ),
    }
    return table.get(category, (
        "read TensorRT's text below; a newer TensorRT or another opset may support the node",
        "reduce the model to the failing node (workbench.reduce_failure) to experiment on it",
    ))


def _categorize(text: str, op: str, domain: str, dtypes: Sequence[str], code: str) -> str:
    def has(pattern: str) -> bool:
        return re.search(pattern, text, flags=re.IGNORECASE) is not None

    if code == "MODEL_DESERIALIZE_FAILED" or has(r"Failed to parse the ONNX model"):
        return "invalid_model"
    if has(r"Relative paths to parent|not allowed in ONNX external|outside the model folder"):
        return "external_data_unsafe"
    if has(r"importInitializers|Failed to import initializer|Failed to open file|external"):
        return "external_data_missing"
    if has(_CONST_PATTERN):
        return "needs_constant_folding"
    if domain in _ML_DOMAINS:
        return "ml_domain"
    if domain in _FOREIGN_DOMAINS:
        return "foreign_domain"
    if op.endswith("_TRT") or domain == "trt.plugins":
        return "missing_plugin"
    if op == "DequantizeLinear" and (has(r"Int32 but must have type") or "int32" in dtypes):
        return "qdq_int32_bias"
    if op in ("QuantizeLinear", "DequantizeLinear") and has(r"asymmetric quantization"):
        return "qdq_asymmetric"
    if has(_DTYPE_PATTERN) or any(d in _BAD_DTYPES for d in dtypes):
        return "unsupported_dtype"
    if has(_UNSUPPORTED_PATTERN):
        return "unsupported_op"
    return "parse_error"


_CAUSES: dict[str, str] = {
    "unsupported_op": "TensorRT has no built-in layer for {node} and found no plugin that "
    "implements it, so it cannot import this node.",
    "missing_plugin": "{node} is implemented by a TensorRT plugin, but no loaded plugin "
    "library registers it under that name, version and namespace.",
    "ml_domain": "{node} is a classical machine-learning operator from the ai.onnx.ml domain; "
    "TensorRT implements only the neural-network operators of the default domain.",
    "foreign_domain": "{node} belongs to a domain that only another runtime implements.",
    "unsupported_dtype": "{node} uses a tensor type ({dtypes}) that TensorRT cannot hold here.",
    "needs_constant_folding": "{node} needs an input (axes, shape, indices) that TensorRT must "
    "know when it builds the engine, but the model computes it at run time.",
    "external_data_missing": "The model keeps weights in separate files, and TensorRT could "
    "not read them.",
    "external_data_unsafe": "The model's external weights point outside its folder.",
    "invalid_model": "The file is not a complete ONNX model, so nothing could be parsed.",
    "parse_error": "TensorRT rejected {node}; its own message below says why.",
    "qdq_asymmetric": "{node} has a non-zero zero point: TensorRT implements symmetric "
    "quantization only (zero point 0; asymmetric UINT8 exists only for DLA). ONNX Runtime's "
    "quantize_static is asymmetric unless ActivationSymmetric/WeightSymmetric are set.",
    "qdq_int32_bias": "{node} reads an int32 tensor: ONNX Runtime's quantize_static quantizes "
    "biases to int32 by default (QuantizeBias), and TensorRT's DequantizeLinear takes only "
    "INT8, UINT8, FP8, INT4 or FP4 inputs. TensorRT wants the bias in float: it fuses it into "
    "the INT8 kernel itself.",
}


def explain_parse_error(
    text: str, op_type: str = "", domain: str = "", dtypes: Sequence[str] = (), code: str = "",
    shapes_example: str = "",
) -> tuple[str, str, tuple[str, ...]]:
    """Category, plain-words cause and fixes for one TensorRT parser error.

    Args:
        text: TensorRT's error description (and any related log lines).
        op_type: The failing node's op type ("" when the error is not about a node).
        domain: The node's domain ("" for the default ONNX domain).
        dtypes: NumPy dtype names of the node's inputs and outputs, where known.
        code: TensorRT's error code name, e.g. "UNSUPPORTED_NODE".
        shapes_example: The model's inputs with concrete shapes, as a Python dict literal,
            for the "freeze the input shapes" fix (a generic example when empty).
    """
    category = _categorize(text, op_type, domain, dtypes, code)
    node = f"{op_type!r}" + (f" (domain {domain!r})" if domain else "") if op_type else "a node"
    family = family_of(op_type, domain)
    if family is not None and category not in _MODEL_LEVEL:
        said = text.strip().splitlines()[0] if text.strip() else ""
        terse = f" TensorRT's own message is only {said!r}." if len(said) < 16 else ""
        return (family.category, with_no_gpu_note(family.cause.format(node=node) + terse, text),
                family.fixes)
    odd = sorted({d for d in dtypes if d in _BAD_DTYPES}) or sorted(set(dtypes))
    cause = with_no_gpu_note(
        _CAUSES[category].format(node=node, dtypes=", ".join(odd) or "unknown"), text)
    if shapes_example:
        return category, cause, _fixes(category, op_type, domain, shapes_example)
    return category, cause, _fixes(category, op_type, domain)


def explain_load_failure(summary: str, found: str, fix: str) -> tuple[str, str, tuple[str, ...]]:
    """Category, cause and fixes for a model the workbench refused before TensorRT saw it."""
    text = f"{summary}\n{found}"
    if re.search(r"outside the model\s+folder|escapes", text):
        category = "external_data_unsafe"
    elif re.search(r"external data|external files", text, flags=re.IGNORECASE):
        category = "external_data_missing"
    else:
        category = "invalid_model"
    known = _fixes(category, "", "")
    # The loader's own fix is the most specific; the catalogue adds the alternatives.
    fixes = (fix, *known[1:]) if fix else known
    return category, summary + (f" Found: {found}." if found else ""), fixes
