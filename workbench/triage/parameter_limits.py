"""Parameter limits of TensorRT's layers, and CUDA messages that only say "no GPU here".

TensorRT refuses a node whose parameters its layer cannot take with "Parameter check
failed, condition: …" (an API Usage Error). The measured case: HF EfficientNet's pooler,
an AveragePool with ``kernel_shape`` [1280, 1280] on a 7×7 map — the window's volume is
beyond ``maxKernelDimsProduct``. That window covers the whole input once: it is a global
pool, which TensorRT imports, and ``workbench.transforms.global_pool`` rewrites it.

On a machine without a GPU (or its driver), TensorRT's text also carries
"cudaError 35: CUDA driver version is insufficient for CUDA runtime version": TensorRT
probes the device while it reports the error. It is not the cause of a parse or build
failure, and is explained as the artefact it is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["NO_GPU_NOTE", "POOL_REWRITE_FIX", "explain_parameter_limit", "no_gpu_note",
           "parameter_check", "with_no_gpu_note"]

NO_GPU_NOTE = (
    "TensorRT's text also says 'CUDA driver version is insufficient' (cudaError 35): that is "
    "only this machine having no usable GPU driver (TensorRT probed the device while it "
    "reported the error), not the cause; the parse and the build work without a GPU"
)
POOL_REWRITE_FIX = (
    "rewrite it as {replacement} (a copy; the window covers the whole input, so the result is "
    "the same): the Parse tab's 'Rewrite as global pool and retry' button, "
    "session.rewrite_global_pools(), or workbench.rewrite_global_pools(model, 'out.onnx')"
)
_CUDA_ARTEFACT = re.compile(r"cudaError\s*35|CUDA driver version is insufficient",
                            re.IGNORECASE)
_CHECK = re.compile(r"Parameter check failed,?\s*condition:\s*(?P<cond>[^\n]+?)(?:\.\s|\s+In |$)",
                    re.IGNORECASE)
_POOLS = {"AveragePool": "GlobalAveragePool", "MaxPool": "GlobalMaxPool",
          "LpPool": "GlobalLpPool"}


def no_gpu_note(text: str) -> str:
    """``NO_GPU_NOTE`` when TensorRT's text carries the no-driver CUDA error, else ""."""
    return NO_GPU_NOTE if _CUDA_ARTEFACT.search(text) else ""


def with_no_gpu_note(cause: str, text: str) -> str:
    """``cause`` with ``NO_GPU_NOTE`` appended when ``text`` carries the CUDA error."""
    note = no_gpu_note(text)
    return f"{cause} ({note}.)" if note and note not in cause else cause


def parameter_check(text: str) -> str | None:
    """The condition of TensorRT's "Parameter check failed" message, or None."""
    found = _CHECK.search(text)
    return found.group("cond").strip().rstrip(".") if found else None


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in re.findall(r"-?\d+", text))


def explain_parameter_limit(
    text: str, op_type: str, attributes: Sequence[tuple[str, str]],
    input_shape: Sequence[int | str | None] = (),
) -> tuple[str, str, tuple[str, ...]] | None:
    """Category ``parameter_limit``, cause and fixes, when TensorRT refused a parameter.

    Args:
        text: TensorRT's error text.
        op_type: The failing node's op type.
        attributes: The node's attributes as ``(name, text)`` pairs (``node_attributes``).
        input_shape: The node's first input's shape, where known.
    """
    condition = parameter_check(text)
    if condition is None:
        return None
    attrs = dict(attributes)
    said = f"TensorRT's check '{condition}' failed"
    if op_type in _POOLS and "kernel_shape" in attrs:
        return _pool_limit(op_type, attrs, input_shape, said)
    return ("parameter_limit",
            f"A parameter of {op_type!r} is beyond what TensorRT's layer accepts ({said}).",
            (f"change the parameters of {op_type!r} in the model code to values TensorRT's "
             "layer accepts (the condition above says which), then export again",
             "reduce the model to the failing node (workbench.reduce_failure) to try values"))


def _pool_limit(op_type: str, attrs: dict[str, str], input_shape: Sequence[int | str | None],
                said: str) -> tuple[str, str, tuple[str, ...]]:
    kernel = _ints(attrs["kernel_shape"])
    window = "×".join(map(str, kernel))
    spatial = tuple(input_shape[2:])
    known = bool(spatial) and all(isinstance(d, int) for d in spatial)
    pads = _ints(attrs.get("pads", ""))
    covers = known and len(spatial) == len(kernel) and not any(pads) and all(
        k >= d for k, d in zip(kernel, spatial, strict=True))  # type: ignore[operator]
    replacement = _POOLS[op_type]
    cause = (f"The {op_type!r} node's pooling window ({window}) is beyond TensorRT's limit "
             f"on a window's size ({said}).")
    if covers:
        size = "×".join(map(str, spatial))
        cause += (f" The window covers the whole {size} input once: this node is a global "
                  f"pool ({replacement}), which TensorRT imports.")
        fixes: tuple[str, ...] = (
            POOL_REWRITE_FIX.format(replacement=replacement),
            "or in the model code, pool with an adaptive 1×1 pool (nn.AdaptiveAvgPool2d(1)) "
            "or x.mean(dim=(2, 3), keepdim=True) before export")
    else:
        where = ("its input's size is not known before running, so whether it covers the "
                 "whole input cannot be told" if not known else "it does not cover the whole "
                 "input, so it is not a global pool")
        cause += f" {where[0].upper()}{where[1:]}."
        fixes = ("use a smaller window in the model code (or two pools in a row whose windows "
                 "multiply to this one)",
                 "if the window is meant to cover the whole input, freeze the input shapes "
                 "(Parse tab: fold constants) and diagnose again: a global pool then shows")
    return "parameter_limit", cause, fixes
