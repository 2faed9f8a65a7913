"""ONNX Runtime runner: the FP32 reference of every comparison. The only onnxruntime importer.

``onnxruntime`` is imported inside ``OrtRunner._activate_impl``, not at module level,
so modules that merely mention ``OrtRunner`` (the precision comparison, the CLI) still
import on machines where the layering test blocks it. With ``expose_intermediates`` every
tensor that a node produces becomes a graph output, so one ``infer`` call returns the
whole graph's values (what ``polygraphy run --onnx-outputs mark all`` does).

Sessions open from the model's path, so weights in external data (models over protobuf's
2 GiB) are read by ONNX Runtime itself and never pass through a serialized ``ModelProto``;
the runner holds the model without its external weights. A large in-memory model is
written to a temporary folder with external data first (removed on ``deactivate``).
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx

from workbench.backends.runner import Runner, validate_feeds
from workbench.core.errors import ModelLoadError
from workbench.core.records import TensorSpec
from workbench.feeds.explain import explain_run_failure, first_sentence
from workbench.graph import graph_values
from workbench.inspection.loading import ModelSource, load_model
from workbench.inspection.protos import dtype_name, graph_io_specs, value_info_spec
from workbench.transforms.external import (
    INLINE_LIMIT,
    StagedModel,
    staged_model,
    without_weights,
)

__all__ = ["OrtRunner", "cast_array", "load_error"]


class OrtRunner(Runner):
    """Run an ONNX model with ONNX Runtime.

    Args:
        source: Path, bytes or ``onnx.ModelProto``.
        providers: ONNX Runtime execution providers, in order of preference.
        expose_intermediates: Also return every intermediate tensor, keyed by its name.
        expose: With ``expose_intermediates``, only these intermediates (ONNX Runtime keeps
            every graph output of a run alive until it ends, fetched or not: a caller
            taking a few tensors at a time exposes only those).
        graph_optimizations: False runs the graph as written (ORT_DISABLE_ALL): a Q/DQ
            model then computes QuantizeLinear/DequantizeLinear as fake quantization in
            float, instead of ORT fusing them into its own integer kernels.
        capped: Allocate from an arena capped at ``TRIAL_MEMORY_CAP`` bytes, so a
            trial run (a profile check at sizes nobody chose) fails with ONNX Runtime's
            "Available memory … is smaller than requested bytes" instead of asking the
            machine for gigabytes.
    """

    name = "onnxruntime"

    def __init__(
        self,
        source: ModelSource,
        providers: Sequence[str] = ("CPUExecutionProvider",),
        expose_intermediates: bool = False,
        graph_optimizations: bool = True,
        capped: bool = False,
        expose: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        self._expose = None if expose is None else frozenset(expose)
        self.graph_optimizations = graph_optimizations
        self.capped = capped
        self._source = source
        self._stage = contextlib.ExitStack()
        self.providers = tuple(providers)
        self.expose_intermediates = expose_intermediates
        self._model: onnx.ModelProto | None = None
        # A large file with inline weights is ONNX Runtime's alone to read: parsing it here
        # too would double the memory of a run. Its specs then come from the session (and
        # ORT's own checks, external-data paths included, guard the file).
        self._lazy = (not expose_intermediates and isinstance(source, (str, os.PathLike))
                      and _file_size(source) > INLINE_LIMIT)
        if not self._lazy:
            self._model = self._load()
        self._output_names: tuple[str, ...] = ()
        self.skipped_intermediates: tuple[str, ...] = ()
        self._session: Any = None
        self._typed: dict[str, onnx.ValueInfoProto] | None = None
        self._run_options: Any = None

    @property
    def model(self) -> onnx.ModelProto:
        """The graph (without the weights of a model read from a file)."""
        if self._model is None:
            self._model = self._load()
        return self._model

    def _load(self) -> onnx.ModelProto:
        # Without its weights: specs, types and outputs need only the graph.
        if isinstance(self._source, (str, os.PathLike)):
            return without_weights(load_model(self._source, load_weights=False))
        return load_model(self._source)

    def input_specs(self) -> tuple[TensorSpec, ...]:
        if self._model is None and self._session is not None:
            return tuple(_session_spec(arg) for arg in self._session.get_inputs())
        return graph_io_specs(self.model.graph)[0]

    def _typed_values(self) -> dict[str, onnx.ValueInfoProto]:
        if self._typed is None:
            self._typed = _typed_values(self.model)
        return self._typed

    def output_specs(self) -> tuple[TensorSpec, ...]:
        inferred = self._typed_values()
        return tuple(
            value_info_spec(inferred[name]) for name in self.output_names() if name in inferred
        )

    def output_names(self) -> tuple[str, ...]:
        """Names ``infer`` returns: the model outputs, then intermediates in graph order."""
        if not self._output_names:
            self._output_names = self._plan_outputs()
        return self._output_names

    def producers(self) -> dict[str, str]:
        """tensor name -> name of the node that produces it (for per-layer reports)."""
        return {out: node.name for out, node in graph_values(self.model.graph).producers().items()}

    def _plan_outputs(self) -> tuple[str, ...]:
        if self._model is None and self._session is not None:
            return tuple(arg.name for arg in self._session.get_outputs())
        declared = [o.name for o in self.model.graph.output]
        if not self.expose_intermediates:
            return tuple(declared)
        typed = self._typed_values()
        extra: list[str] = []
        skipped: list[str] = []
        for node in self.model.graph.node:
            for out in node.output:
                if not out or out in declared or out in extra or (
                        self._expose is not None and out not in self._expose):
                    continue
                # ORT refuses graph outputs without a type; shape inference gives most of them.
                (extra if out in typed else skipped).append(out)
        self.skipped_intermediates = tuple(skipped)
        return (*declared, *extra)

    def _session_model(self, staged: StagedModel) -> str | bytes:
        """A path when ORT can open the file as it is, else small proto bytes (external
        weights stay references, found through the session's external-data folder)."""
        if not self.expose_intermediates and staged.path is not None:
            return str(staged.path)
        model = onnx.ModelProto()
        model.CopyFrom(staged.model)  # no external weights in it: a copy of the graph only
        if self.expose_intermediates:
            typed = self._typed_values()
            declared = {o.name for o in model.graph.output}
            model.graph.output.extend(
                typed[name] for name in self.output_names() if name not in declared)
        return model.SerializeToString()

    def _activate_impl(self) -> None:
        import onnxruntime as ort  # lazily: see the module docstring

        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only; ORT warns about unused initializers
        # Pre-packed MatMul weights are a second copy of them, made while loading: for the
        # few inferences a workbench runs, loading twice as fast in 20% less memory wins.
        options.add_session_config_entry("session.disable_prepacking", "1")
        if self.capped and _capped_allocator(ort):
            options.add_session_config_entry("session.use_env_allocators", "1")
            options.log_severity_level = 4  # a refused allocation is an answer, not news
            # the shared arena gives its memory back after each run (it would keep the
            # largest trial's activations for the life of the kernel)
            self._run_options = ort.RunOptions()
            self._run_options.add_run_config_entry("memory.enable_memory_arena_shrinkage",
                                                   "cpu:0")
        if self.expose_intermediates or not self.graph_optimizations:
            # Fusions would remove the very tensors we were asked to expose.
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        from_path = isinstance(self._source, (str, os.PathLike))
        source = self._source if from_path else self.model
        try:
            if from_path and not self.expose_intermediates:  # ORT reads the file itself
                self._session = ort.InferenceSession(
                    str(self._source), sess_options=options, providers=list(self.providers))
                return
            staged = self._stage.enter_context(staged_model(source))
            if staged.folder is not None:
                options.add_session_config_entry(
                    "session.model_external_initializers_file_folder_path", str(staged.folder))
            self._session = ort.InferenceSession(
                self._session_model(staged), sess_options=options,
                providers=list(self.providers))
        except ModelLoadError:
            self._stage.close()
            raise
        except Exception as err:  # ORT raises its own Fail/InvalidGraph/... classes
            self._stage.close()
            raise load_error(err) from err

    def fetch(self, feeds: dict[str, np.ndarray], names: Sequence[str]
              ) -> dict[str, np.ndarray]:
        """Run once and return only ``names`` (graph outputs, or intermediates when exposed):
        a caller taking intermediates in groups holds one group at a time."""
        self._require_active("fetch()")
        checked = self._checked(feeds)
        try:
            values = self._session.run(list(names), checked, self._run_options)
        except Exception as err:
            raise explain_run_failure(str(err), checked, self.model) from err
        return {name: np.asarray(value) for name, value in zip(names, values, strict=True)}

    def _checked(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return validate_feeds(self.input_specs(), feeds, self.profile_ranges())

    def _deactivate_impl(self) -> None:
        self._session = None
        self._stage.close()

    def _infer_impl(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        names = list(self.output_names())
        try:
            values = self._session.run(names, feeds, self._run_options)
        except Exception as err:  # shape and index errors surface only at run time
            raise explain_run_failure(str(err), feeds, self.model) from err
        return {name: np.asarray(value) for name, value in zip(names, values, strict=True)}


TRIAL_MEMORY_CAP = 3 << 30  # weights (checks run models up to 256 MiB) and activations
_CAPPED: list[bool] = []  # whether the process-wide capped arena exists (set once)
_CAPPED_LOCK = threading.Lock()


def _capped_allocator(ort: Any) -> bool:
    """Register ONNX Runtime's process-wide CPU arena capped at TRIAL_MEMORY_CAP, once.
    Only sessions that ask for it (``session.use_env_allocators``) allocate from it."""
    with _CAPPED_LOCK:
        if not _CAPPED:
            _register_capped(ort)
    return _CAPPED[0]


def _register_capped(ort: Any) -> None:
    try:
        info = ort.OrtMemoryInfo("Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0,
                                     ort.OrtMemType.DEFAULT)
        ort.create_and_register_allocator(info, ort.OrtArenaCfg(TRIAL_MEMORY_CAP, -1, -1, -1))
        _CAPPED.append(True)
    except Exception:  # an ORT without env allocators: trials run uncapped
        _CAPPED.append(False)


# Below this many elements NumPy's own cast is quicker than a session call.
_CAST_MIN_ELEMENTS = 1 << 14
_CAST_TYPES = {np.dtype(np.float32): onnx.TensorProto.FLOAT,
               np.dtype(np.float16): onnx.TensorProto.FLOAT16}


def cast_array(values: np.ndarray, dtype: np.dtype | type) -> np.ndarray:
    """``values.astype(dtype)`` between float32 and float16, by ONNX Runtime's ``Cast``.

    Why: NumPy converts float16 one element at a time (~1 GB/s here); ORT's kernel uses the
    CPU's F16C instructions (~9 GB/s). Both round to nearest even and keep inf, NaN and
    subnormals (``tests/test_weight_conversion.py`` checks the two agree bit for bit), so
    only the speed differs. Other dtypes, small arrays, or no onnxruntime: NumPy's cast.
    """
    target = np.dtype(dtype)
    source = values.dtype
    if (source == target or source not in _CAST_TYPES or target not in _CAST_TYPES
            or values.size < _CAST_MIN_ELEMENTS):
        return values.astype(target)
    session = _cast_session(_CAST_TYPES[source], _CAST_TYPES[target])
    if session is None:
        return values.astype(target)
    flat = np.ascontiguousarray(values).reshape(-1)
    return np.asarray(session.run(None, {"x": flat})[0]).reshape(values.shape)


@functools.cache
def _cast_session(source: int, target: int) -> Any:
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Cast", ["x"], ["y"], to=target)], "cast",
        [onnx.helper.make_tensor_value_info("x", source, ["n"])],
        [onnx.helper.make_tensor_value_info("y", target, ["n"])])
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)])
    model.ir_version = 8
    options = ort.SessionOptions()
    # one thread: the per-layer comparison runs the FP32 graph on the other core
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    # no arena: the outputs (weights kept for later runs) must give their memory back
    # when freed, not to a pool that never shrinks
    options.enable_cpu_mem_arena = False
    options.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), sess_options=options,
                                providers=["CPUExecutionProvider"])


def _file_size(path: str | os.PathLike[str]) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0  # missing: loading it eagerly gives the workbench's own error


# ONNX Runtime's element type names (NodeArg.type "tensor(float)") as ONNX element types
_ORT_TYPES = {
    "float": onnx.TensorProto.FLOAT, "double": onnx.TensorProto.DOUBLE,
    "float16": onnx.TensorProto.FLOAT16, "bfloat16": onnx.TensorProto.BFLOAT16,
    "int8": onnx.TensorProto.INT8, "int16": onnx.TensorProto.INT16,
    "int32": onnx.TensorProto.INT32, "int64": onnx.TensorProto.INT64,
    "uint8": onnx.TensorProto.UINT8, "uint16": onnx.TensorProto.UINT16,
    "uint32": onnx.TensorProto.UINT32, "uint64": onnx.TensorProto.UINT64,
    "bool": onnx.TensorProto.BOOL, "string": onnx.TensorProto.STRING,
}


def _session_spec(arg: Any) -> TensorSpec:
    """A TensorSpec from an ORT NodeArg (name, "tensor(float)", [dims or names or None])."""
    kind = str(arg.type)[len("tensor("):-1] if str(arg.type).startswith("tensor(") else ""
    dtype = dtype_name(_ORT_TYPES.get(kind, onnx.TensorProto.UNDEFINED))
    shape = None if arg.shape is None else tuple(
        d if isinstance(d, (int, str)) or d is None else str(d) for d in arg.shape)
    return TensorSpec(arg.name, dtype, shape)


def load_error(err: BaseException) -> ModelLoadError:
    """ORT's refusal to load a model, with its real cause named."""
    text = str(err)
    first = f"{type(err).__name__}: {first_sentence(text)}"
    details = [line for line in text.splitlines() if line.strip()]
    if isinstance(err, MemoryError) or "bad_alloc" in text or "Failed to allocate" in text:
        return ModelLoadError(
            "ONNX Runtime ran out of memory loading this model.",
            expected="free memory for the model's weights (about their size on disk)",
            found=first,
            fix="close other sessions or kernels holding large models, or use a machine "
            "with more memory",
            details=details,
        )
    if "2GB" in text or "2 GiB" in text or "protobuf" in text.lower() or "EncodeError" in first:
        return ModelLoadError(
            "ONNX Runtime could not read this model: it is over protobuf's 2 GiB limit.",
            expected="a model over 2 GiB opened by path, with weights in external data",
            found=first,
            fix="save it with onnx.save(model, path, save_as_external_data=True) and pass "
            "the path",
            details=details,
        )
    if "domain" in text.lower() or "not a registered function/op" in text:
        return ModelLoadError(
            "ONNX Runtime cannot load this model: an operator is not implemented.",
            expected="operators of the standard ONNX domains (or a registered custom-op "
            "library)",
            found=first,
            fix="custom-domain operators need a custom-op library registered with ORT; "
            "check the opset and the operator names",
            details=details,
        )
    return ModelLoadError(
        "ONNX Runtime cannot load this model.",
        expected="a valid ONNX model that ONNX Runtime implements",
        found=first,
        fix="check the model with the panel's Model tab (or `trt-workbench inspect MODEL`); "
        "the message above is ONNX Runtime's own",
        details=details,
    )


def _typed_values(model: onnx.ModelProto) -> dict[str, onnx.ValueInfoProto]:
    """Every tensor with a known element type, after ONNX shape inference."""
    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # inference is best effort; untyped tensors are simply skipped
        inferred = model
    values = [*inferred.graph.value_info, *inferred.graph.output, *inferred.graph.input]
    return {
        v.name: v
        for v in values
        if v.type.HasField("tensor_type") and v.type.tensor_type.elem_type != 0
    }
