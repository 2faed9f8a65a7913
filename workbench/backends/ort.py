"""ONNX Runtime runner: the FP32 reference of every comparison. The only onnxruntime importer.

``onnxruntime`` is imported inside :meth:`OrtRunner._activate_impl`, not at module level,
so modules that merely mention ``OrtRunner`` (the precision comparison, the CLI) still
import on machines where the layering test blocks it. With ``expose_intermediates`` every
tensor that a node produces becomes a graph output, so one ``infer`` call returns the
whole graph's values (what ``polygraphy run --onnx-outputs mark all`` does).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx

from workbench.backends.runner import Runner
from workbench.core.errors import ModelLoadError
from workbench.core.records import TensorSpec
from workbench.feeds.explain import explain_run_failure, first_sentence
from workbench.inspection.loading import ModelSource, load_model
from workbench.inspection.protos import graph_io_specs, value_info_spec

__all__ = ["OrtRunner"]


class OrtRunner(Runner):
    """Run an ONNX model with ONNX Runtime.

    Args:
        source: Path, bytes or ``onnx.ModelProto``.
        providers: ONNX Runtime execution providers, in order of preference.
        expose_intermediates: Also return every intermediate tensor, keyed by its name.
    """

    name = "onnxruntime"

    def __init__(
        self,
        source: ModelSource,
        providers: Sequence[str] = ("CPUExecutionProvider",),
        expose_intermediates: bool = False,
    ) -> None:
        super().__init__()
        self.model = load_model(source)
        self.providers = tuple(providers)
        self.expose_intermediates = expose_intermediates
        self._specs, _ = graph_io_specs(self.model.graph)
        self._output_names: tuple[str, ...] = ()
        self.skipped_intermediates: tuple[str, ...] = ()
        self._session: Any = None
        self._typed: dict[str, onnx.ValueInfoProto] | None = None

    def input_specs(self) -> tuple[TensorSpec, ...]:
        return self._specs

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
        return {out: node.name for node in self.model.graph.node for out in node.output if out}

    def _plan_outputs(self) -> tuple[str, ...]:
        declared = [o.name for o in self.model.graph.output]
        if not self.expose_intermediates:
            return tuple(declared)
        typed = self._typed_values()
        extra: list[str] = []
        skipped: list[str] = []
        for node in self.model.graph.node:
            for out in node.output:
                if not out or out in declared or out in extra:
                    continue
                # ORT refuses graph outputs without a type; shape inference gives most of them.
                (extra if out in typed else skipped).append(out)
        self.skipped_intermediates = tuple(skipped)
        return (*declared, *extra)

    def _session_bytes(self) -> bytes:
        if not self.expose_intermediates:
            return self.model.SerializeToString()
        typed = self._typed_values()
        model = onnx.ModelProto()
        model.CopyFrom(self.model)
        declared = {o.name for o in model.graph.output}
        for name in self.output_names():
            if name not in declared:
                model.graph.output.append(typed[name])
        return model.SerializeToString()

    def _activate_impl(self) -> None:
        import onnxruntime as ort  # lazily: see the module docstring

        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only; ORT warns about unused initializers
        if self.expose_intermediates:
            # Fusions would remove the very tensors we were asked to expose.
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        try:
            self._session = ort.InferenceSession(
                self._session_bytes(), sess_options=options, providers=list(self.providers)
            )
        except Exception as err:  # ORT raises its own Fail/InvalidGraph/... classes
            raise ModelLoadError(
                "ONNX Runtime cannot load this model.",
                expected="a model whose every operator ONNX Runtime implements",
                found=f"{type(err).__name__}: {first_sentence(str(err))}",
                fix="custom-domain operators need a custom-op library registered with ORT; "
                "check the opset and the operator names",
                details=[line for line in str(err).splitlines() if line.strip()],
            ) from err

    def _deactivate_impl(self) -> None:
        self._session = None

    def _infer_impl(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        names = list(self.output_names())
        try:
            values = self._session.run(names, feeds)
        except Exception as err:  # shape and index errors surface only at run time
            raise explain_run_failure(str(err), feeds, self.model) from err
        return {name: np.asarray(value) for name, value in zip(names, values, strict=True)}


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
