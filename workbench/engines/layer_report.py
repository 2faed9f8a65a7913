"""What an engine's layers say, without a GPU: the precision map, whether a keep-FP32 list
was honoured, and two engines side by side (TREx's compare-engines, from cards alone).

Pure Python over ``EngineLayerInfo`` records, which come from
the DETAILED build log (no GPU) or EngineInspector (GPU) and are stored in the engine card.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from workbench.engines.card import EngineLayerInfo

__all__ = ["KeepCheck", "check_keep_fp32", "precision_map", "precision_text", "quantized_layers"]

# The Casts into FP32 that an FP16 conversion puts in front of a kept region: the
# workbench's converter names them "<tensor>.cast_fp32" (workbench.transforms.precision.walk,
# GraphConverter._fetch); onnxconverter-common "<node>_input_cast<i>". A real build checks it.
_FP32_CAST = re.compile(r"(\.cast_fp32|_input_cast\d+)$")


def precision_map(layers: Iterable[EngineLayerInfo]) -> dict[str, int]:
    """How many engine layers run in each precision, most first ("FP16": 40, …)."""
    counts = Counter(layer.precision or "no tensors" for layer in layers)
    return dict(counts.most_common())


def precision_text(layers: Sequence[EngineLayerInfo]) -> str:
    """``FP16 40 · FP32→FP16 2 · FP32 1`` (or '' when no layer has types)."""
    counts = precision_map(layers)
    counts.pop("no tensors", None)
    return " · ".join(f"{name} {count}" for name, count in counts.items())


def quantized_layers(layers: Iterable[EngineLayerInfo],
                     types: tuple[str, ...] = ("INT8", "FP8")) -> tuple[EngineLayerInfo, ...]:
    """The engine layers that read or write INT8/FP8 tensors (a Q/DQ model's quantized
    convolutions and matrix multiplies, and the fused quantize/dequantize kernels around
    them), in engine order; their ``onnx_nodes`` name the ONNX nodes they hold."""
    return tuple(layer for layer in layers
                 if any(t.dtype in types for t in (*layer.inputs, *layer.outputs)))


@dataclass(frozen=True)
class KeepCheck:
    """Whether the engine runs each keep-FP32 node in FP32.

    ``honoured`` maps each kept node found in the engine to how (words); ``violations``
    names the nodes that run in FP16, with the layer; ``missing`` the nodes found in no
    engine layer (TensorRT folded or removed them, or the layer record has no metadata).
    """

    keep: tuple[str, ...]
    honoured: tuple[tuple[str, str], ...]
    violations: tuple[tuple[str, str], ...]
    missing: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.violations

    def __bool__(self) -> bool:
        return self.ok

    def text(self) -> str:
        """One line for the build result: "keep list honoured: …" or what was not."""
        if self.violations:
            bad = "; ".join(f"{node} runs in FP16 in engine layer {where}"
                            for node, where in self.violations)
            return f"keep list NOT honoured: {bad}"
        groups: dict[str, list[str]] = {}
        for node, why in self.honoured:
            groups.setdefault(why, []).append(node)
        how = "; ".join(f"{', '.join(nodes)} run in {why}" for why, nodes in groups.items())
        how = how or "no kept node is in the engine"
        gone = (f" ({', '.join(self.missing)} not found in any engine layer)"
                if self.missing else "")
        return f"keep list honoured: {how}{gone}"


def check_keep_fp32(layers: Sequence[EngineLayerInfo], keep: Iterable[str]) -> KeepCheck:
    """Check that every engine layer holding a kept ONNX node computes in FP32.

    A layer computes a kept node in FP32 when one of its tensors is FP32, or when all its
    tensors are FP16 but a Cast into FP32 that the FP16 conversion put in front of the kept
    region is fused into the same layer: the kernel then reads FP16,
    casts to FP32 and computes the kept nodes in FP32 (Myelin names such kernels
    ``__myl_Cast…``). A layer with only FP16 tensors and no such Cast runs the node in FP16.
    """
    keep = tuple(keep)
    honoured: list[tuple[str, str]] = []
    violations: list[tuple[str, str]] = []
    missing: list[str] = []
    for node in keep:
        holders = [layer for layer in layers if node in layer.onnx_nodes]
        if not holders:
            missing.append(node)
            continue
        verdicts = [_verdict(layer) for layer in holders]
        bad = [layer.name for layer, why in zip(holders, verdicts, strict=True) if why is None]
        if bad:
            violations.append((node, ", ".join(bad)))
        else:
            honoured.append((node, "; ".join(dict.fromkeys(v for v in verdicts if v))))
    return KeepCheck(keep, tuple(honoured), tuple(violations), tuple(missing))


def _verdict(layer: EngineLayerInfo) -> str | None:
    types = layer.float_types()
    if not types:
        return f"no float type in {layer.name} (nothing is rounded)"
    if "FP32" in types:
        return f"FP32 in {layer.name} ({layer.precision})"
    casts = [n for n in layer.onnx_nodes if _FP32_CAST.search(n)]
    if casts:
        return (f"FP32 inside the fused kernel {layer.name} (FP16 in and out; the Cast to FP32, "
                f"{', '.join(casts)}, is fused into it)")
    return None
