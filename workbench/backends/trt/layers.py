"""Per-layer engine information: from EngineInspector (GPU), or from the build log.

Without a GPU no engine can be deserialized, so EngineInspector is out of reach. The
builder, however, logs the finished engine's layers at VERBOSE when profiling verbosity is
DETAILED (TensorRT-RTX: one ``Layers:`` message, ``Name: …, LayerType: …, TacticName: …,
Metadata: [ONNX Layer: …]`` per layer; TensorRT 10: ``Layer(Type): name, Tactic: …, in ->
out`` lines). What the log gives is names, kinds, tactics and the ONNX nodes fused into each
layer; it does not give timings, and with LAYER_NAMES_ONLY only names.
"""

from __future__ import annotations

import json
import re
from types import ModuleType
from typing import Any

from workbench.build.engines import EngineLayerInfo

__all__ = ["is_layer_report", "layers_from_inspector", "layers_from_log"]

_ONNX_LAYER = re.compile(r"\[ONNX Layer: ([^\]]+)\]")
_FIELD = re.compile(r"(Name|LayerType|TacticName): ([^,]*)")
_TRT10_LINE = re.compile(r"^Layer\((?P<type>[^)]*)\): (?P<name>.*?), Tactic: (?P<tactic>\S+), "
                         r"(?P<inputs>.*?) -> (?P<outputs>.*)$")


def is_layer_report(severity: str, text: str) -> bool:
    """Whether a log message is the builder's per-layer report (kept whatever the filter)."""
    return severity == "VERBOSE" and text.startswith(("Layers:", "Engine Layer Information"))


def layers_from_log(messages: list[str]) -> tuple[EngineLayerInfo, ...]:
    """Parse the per-layer report(s) the builder logged; empty when none was logged."""
    layers: list[EngineLayerInfo] = []
    for message in messages:
        for line in message.splitlines():
            line = line.strip()
            if line.startswith("Name: "):
                layers.append(_rtx_layer(line))
            elif match := _TRT10_LINE.match(line):
                layers.append(EngineLayerInfo(
                    match["name"], match["type"], match["tactic"], (),
                    tuple(_tensor_names(match["inputs"])), tuple(_tensor_names(match["outputs"])),
                ))
            elif line.startswith("I/O Tensors"):
                break
    return tuple(layers)


def _rtx_layer(line: str) -> EngineLayerInfo:
    fields = dict(_FIELD.findall(line.split(", Inputs:")[0]))
    tactic = re.search(r"TacticName: ([^,]*)", line)
    nodes = tuple(dict.fromkeys(_ONNX_LAYER.findall(line)))
    return EngineLayerInfo(
        fields.get("Name", "?").strip(), fields.get("LayerType", "").strip(),
        tactic[1].strip() if tactic else "", nodes,
        tuple(re.findall(r"Inputs: \[ \{ Name: ([^,]+)", line)),
        tuple(re.findall(r"Outputs: \[ \{ Name: ([^,]+)", line)),
    )


def _tensor_names(text: str) -> list[str]:
    return [part.split(" (")[0].strip() for part in text.split("), ") if part.strip()]


def layers_from_inspector(trt: ModuleType, engine: Any) -> tuple[EngineLayerInfo, ...]:
    """Per-layer information of a deserialized engine (needs a GPU to get here)."""
    inspector = engine.create_engine_inspector()
    layers = []
    for index in range(engine.num_layers):
        text = inspector.get_layer_information(index, trt.LayerInformationFormat.JSON)
        try:
            data = json.loads(text)
        except ValueError:
            layers.append(EngineLayerInfo(text.strip()))
            continue
        if not isinstance(data, dict):
            layers.append(EngineLayerInfo(str(data)))
            continue
        metadata = str(data.get("Metadata", ""))
        layers.append(EngineLayerInfo(
            str(data.get("Name", index)), str(data.get("LayerType", "")),
            str(data.get("TacticName", data.get("TacticValue", ""))),
            tuple(dict.fromkeys(_ONNX_LAYER.findall(metadata))),
            tuple(str(t.get("Name", "")) for t in data.get("Inputs", []) if isinstance(t, dict)),
            tuple(str(t.get("Name", "")) for t in data.get("Outputs", []) if isinstance(t, dict)),
        ))
    return tuple(layers)
