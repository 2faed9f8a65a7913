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
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from workbench.engines.card import EngineLayerInfo, EngineTensorInfo

__all__ = ["is_layer_report", "layer_from_json", "layers_from_inspector", "layers_from_log",
           "normalise_dtype"]

_ONNX_LAYER = re.compile(r"\[ONNX Layer: ([^\]]+)\]")
_FIELD = re.compile(r"(Name|LayerType|TacticName): ([^,]*)")
_TRT10_LINE = re.compile(r"^Layer\((?P<type>[^)]*)\): (?P<name>.*?), Tactic: (?P<tactic>\S+), "
                         r"(?P<inputs>.*?) -> (?P<outputs>.*)$")
# RTX: { Name: x, Dimensions: [-1,64], Strides: [..], StrideOrder: [..], Datatype: Half,
#        Format: (Linear) Row major linear format }
_RTX_TENSOR = re.compile(r"\{ Name: (?P<name>.*?), Dimensions: \[(?P<dims>[^\]]*)\].*?"
                         r"Datatype: (?P<dtype>[^,]+), Format: (?P<format>.*?) \}")
# TensorRT 10: "name (Half[1,64,32,32])"; TensorRT 8: "name[Half(1,64,32,32)]"
_TRT10_TENSOR = re.compile(r"^(?P<name>.+?)\s*(?:\((?P<t1>\w+)\[(?P<d1>[^\]]*)\]\)|"
                           r"\[(?P<t2>\w+)\((?P<d2>[^)]*)\)\])$")
# TensorRT's type words (log, JSON "Datatype", enum names, "Format/Datatype" text) → ours
_DTYPES = {
    "float": "FP32", "fp32": "FP32", "half": "FP16", "fp16": "FP16", "bfloat16": "BF16",
    "bf16": "BF16", "int8": "INT8", "fp8": "FP8", "int32": "INT32", "int64": "INT64",
    "bool": "BOOL", "uint8": "UINT8", "int4": "INT4", "fp4": "FP4", "tf32": "TF32",
    "e8m0": "E8M0",
}
_DTYPE_WORD = re.compile(r"\b(FP32|FP16|BF16|TF32|FP8|FP4|Int8|INT8|Int32|INT32|Int64|INT64|"
                         r"Bool|BOOL|UInt8|UINT8|Int4|INT4|Float|Half)\b")


def normalise_dtype(word: str) -> str:
    """``Half`` / ``DataType.HALF`` / ``Row major linear FP16 format`` → ``FP16``."""
    word = word.strip().rsplit(".", 1)[-1]
    if word.lower() in _DTYPES:
        return _DTYPES[word.lower()]
    found = _DTYPE_WORD.search(word)
    return _DTYPES.get(found[1].lower(), found[1].upper()) if found else word


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
                    _trt10_tensors(match["inputs"]), _trt10_tensors(match["outputs"]),
                ))
            elif line.startswith("I/O Tensors"):
                break
    return tuple(layers)


def _rtx_layer(line: str) -> EngineLayerInfo:
    head, _, rest = line.partition(", Inputs: [")
    fields = dict(_FIELD.findall(head))
    inputs, _, rest = rest.partition("], Constants: [")
    _constants, _, rest = rest.partition("], Outputs: [")
    outputs, _, tail = rest.partition("], TacticName:")
    tactic = re.match(r"\s*([^,]*)", tail)
    return EngineLayerInfo(
        fields.get("Name", "?").strip(), fields.get("LayerType", "").strip(),
        tactic[1].strip() if tactic else "",
        tuple(dict.fromkeys(_ONNX_LAYER.findall(tail))),
        _rtx_tensors(inputs), _rtx_tensors(outputs),
    )


def _rtx_tensors(text: str) -> tuple[EngineTensorInfo, ...]:
    return tuple(EngineTensorInfo(m["name"].strip(), normalise_dtype(m["dtype"]),
                                  _dims(m["dims"]), m["format"].strip())
                 for m in _RTX_TENSOR.finditer(text))


def _trt10_tensors(text: str) -> tuple[EngineTensorInfo, ...]:
    tensors = []
    for part in re.split(r"(?<=[\])]), ", text):
        part = part.strip()
        if not part:
            continue
        match = _TRT10_TENSOR.match(part)
        if match is None:
            tensors.append(EngineTensorInfo(part))
            continue
        dtype, dims = match["t1"] or match["t2"], match["d1"] or match["d2"] or ""
        tensors.append(EngineTensorInfo(match["name"], normalise_dtype(dtype), _dims(dims)))
    return tuple(tensors)


def _dims(text: str) -> tuple[int, ...]:
    return tuple(int(d) for d in re.findall(r"-?\d+", text))


def layer_from_json(data: Mapping[str, Any], index: int = 0) -> EngineLayerInfo:
    """One layer of EngineInspector's JSON (``get_layer_information(i, JSON)`` or an item of
    ``get_engine_information(JSON)["Layers"]``). TensorRT 10 writes each tensor's type into
    ``"Format/Datatype"`` ("Row major linear FP16 format"); RTX writes ``"Datatype"`` and
    ``"Format"`` apart, as in its build log."""
    metadata = str(data.get("Metadata", ""))
    return EngineLayerInfo(
        str(data.get("Name", index)), str(data.get("LayerType", "")),
        str(data.get("TacticName", data.get("TacticValue", ""))),
        tuple(dict.fromkeys(_ONNX_LAYER.findall(metadata))),
        _json_tensors(data.get("Inputs", [])), _json_tensors(data.get("Outputs", [])),
    )


def _json_tensors(items: Any) -> tuple[EngineTensorInfo, ...]:
    tensors = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, str):
            tensors.append(EngineTensorInfo(item))
            continue
        if not isinstance(item, Mapping):
            continue
        type_text = str(item.get("Datatype", item.get("Format/Datatype", "")))
        fmt = str(item.get("Format", item.get("Format/Datatype", "")))
        dims = item.get("Dimensions", [])
        tensors.append(EngineTensorInfo(
            str(item.get("Name", "")), normalise_dtype(type_text) if type_text else "",
            tuple(int(d) for d in dims) if isinstance(dims, list) else (), fmt))
    return tuple(tensors)


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
        layers.append(layer_from_json(data, index))
    return tuple(layers)
