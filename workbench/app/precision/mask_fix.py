"""The optional mask fix, verified: clamp the attention-mask constants, then re-run.

``workbench.transforms.mask_clamp.clamp_mask_constants`` rewrites ``finfo.min`` mask
constants to -1e4. Whether that is safe for *this* model on *these* inputs is measured, not
assumed, by two re-runs on the same feeds:

1. FP32 before against FP32 after (ONNX Runtime): the rewrite must not change the model's
   answer. It does not on partly masked rows (``exp`` of either sentinel is exactly 0);
   it does on a row whose every key is masked (uniform attention before, attention by
   score after), which is then said, not hidden;
2. the reduced-precision comparison of the rewritten model (``compare_precision``):
   the saturation is gone and the verdict is re-taken.

The fix is *verified* when both hold. The rewritten model is written to a new file (the
user's file is never touched); it is kept only when ``out_path`` is given. Its weights are
the original's bytes, so its comparison takes the original's converted weights where an
earlier comparison left them (``workbench.app.precision.compare_cache.same_weights``).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from workbench.app.precision.compare import (
    CandidateBackend,
    PrecisionReport,
    candidate_backend,
    compare_precision,
    fp32_outputs,
    model_feeds_for,
)
from workbench.app.precision.compare_cache import (
    model_identity,
    reference_outputs,
    remember_reference,
    same_weights,
)
from workbench.app.precision.layerwise import large_model
from workbench.compare.metrics import ComparisonReport, compare_outputs
from workbench.compare.tolerances import Tolerances
from workbench.core.errors import ComparisonError
from workbench.feeds.generator import FeedOptions
from workbench.inspection.loading import ModelSource, load_model
from workbench.settings.fields import Precision, PrecisionArg, reduced_precision
from workbench.transforms.external import save_staged, staged_model
from workbench.transforms.mask_clamp import SAFE_MASK_VALUE, MaskClamp, clamp_mask_constants
from workbench.transforms.naming import name_nodes
from workbench.transforms.saving import refuse_own_source

__all__ = ["MaskFixResult", "verify_mask_clamp"]


@dataclass(frozen=True)
class MaskFixResult:
    """The clamp, what it did to the FP32 answer, and the re-taken comparison."""

    clamp: MaskClamp
    fp32_change: ComparisonReport  # FP32 after vs FP32 before, same inputs
    after: PrecisionReport  # the rewritten model: reduced precision vs its FP32
    path: Path | None  # the rewritten model, when kept
    seconds: float

    @property
    def fp32_unchanged(self) -> bool:
        return self.fp32_change.passed

    @property
    def verified(self) -> bool:
        """FP32 answer unchanged and the reduced-precision verdict PASSED."""
        return self.fp32_unchanged and self.after.verdict == "PASSED"

    @property
    def status(self) -> str:
        if self.verified:
            return "verified"
        if self.after.verdict == "PASSED":
            return "changes the FP32 answer"
        return "does not settle"

    def lines(self) -> list[str]:
        worst = max((o.max_abs or 0.0 for o in self.fp32_change.outputs), default=0.0)
        fp32 = ("FP32 answer unchanged on these inputs (max |after - before| "
                f"{worst:.3g})" if self.fp32_unchanged else
                f"FP32 answer CHANGED on these inputs (max |after - before| {worst:.3g}): "
                "a row whose every key is masked attended uniformly before and by score "
                "after; use the clamped model only if such rows are padding you discard")
        after = self.after
        left = (f"; {len(after.benign)} benign saturation(s) left" if after.benign
                else "; no saturation left")
        return [
            f"mask fix {self.status}: {self.clamp.describe()}",
            fp32,
            f"{after.precision.upper()} vs FP32 of the clamped model: {after.verdict}{left}"
            + (f"; first bad node {after.first_bad_node}" if after.first_bad_node else ""),
            f"clamped model: {self.path}" if self.path else "clamped model not kept",
            f"2 re-runs in {self.seconds:.2f} s",
        ]

    def summary(self) -> str:
        return "\n".join(self.lines())

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "verified": self.verified,
                "clamp": self.clamp.to_dict(), "fp32_unchanged": self.fp32_unchanged,
                "fp32_change": self.fp32_change.to_dict(), "after": self.after.to_dict(),
                "path": None if self.path is None else str(self.path),
                "seconds": self.seconds}


def verify_mask_clamp(
    source: ModelSource,
    precision: PrecisionArg = Precision.FP16,
    inputs: Mapping[str, np.ndarray] | str | Path | None = None,
    keep_fp32: Iterable[str] = (),
    seed: int = 0,
    tolerances: Tolerances | None = None,
    *,
    dims: Mapping[str, int] | None = None,
    int_ranges: Mapping[str, tuple[int, int]] | None = None,
    value: float = SAFE_MASK_VALUE,
    out_path: str | Path | None = None,
    overwrite: bool = False,
    backend: CandidateBackend | str = CandidateBackend.AUTO,
) -> MaskFixResult:
    """Clamp the mask constants of ``source`` to ``±value`` and verify it by re-running.

    Args:
        source: The FP32 model (path, bytes or ModelProto); it is not modified.
        precision: As ``compare_precision``.
        inputs: As ``compare_precision`` (the same feeds serve both re-runs).
        keep_fp32: As ``compare_precision``.
        seed: As ``compare_precision``.
        tolerances: As ``compare_precision``.
        dims: As ``compare_precision``.
        int_ranges: As ``compare_precision``.
        value: The magnitude mask values get (default 1e4).
        out_path: Where to keep the clamped model (a new file; with a ``.data`` file
            beside it when the model keeps weights in external data). None: not kept.
        overwrite: Replace an existing ``out_path`` (never the model itself).
        backend: The candidate backend of the re-run comparison (as compare_precision).

    Raises:
        ComparisonError: the model has no mask constant to clamp.
        WorkbenchError: ``out_path`` exists (without ``overwrite``) or is the model itself.
    """
    start = time.perf_counter()
    precision, backend = reduced_precision(precision), candidate_backend(backend)
    if out_path is not None:
        refuse_own_source(source, out_path, "model.masks-clamped.onnx")
    with staged_model(source) as staged, tempfile.TemporaryDirectory(
            prefix="workbench-masks-") as tmp:
        model = name_nodes(staged.model)
        clamped, clamp = clamp_mask_constants(model, value, staged.folder)
        if not clamp.changed:
            raise _nothing_to_clamp()
        # feeds first: inputs the model rejects are refused before a copy is written
        feeds = model_feeds_for(model, inputs, seed, FeedOptions(dims or {}, int_ranges or {}))
        target = Path(out_path).expanduser() if out_path else Path(tmp) / "clamped.onnx"
        written = save_staged(clamped, staged.folder, target, overwrite=overwrite)
        del clamped
        # the FP32 answers: the original's from an earlier comparison when there was one,
        # the clamped copy's kept for its comparison below (app/compare_cache.py)
        original = model_identity(staged.path, model, staged.folder)
        optimize = large_model(model, feeds)  # as compare_precision runs it
        before = reference_outputs(original, feeds, lambda: fp32_outputs(
            staged.path or model, feeds, optimize=optimize))
        fp32_after = fp32_outputs(written, feeds, optimize=optimize)
        written_model = load_model(written, load_weights=False)
        copy = model_identity(written, written_model, written.parent)
        remember_reference(copy, feeds, fp32_after)
        # the copy's weights are the original's bytes (only mask constants changed, and
        # those are inline): its comparison takes the original's converted weights
        same_weights(original, copy, _unchanged_weights(model, written_model, clamp))
        del written_model
        fp32_change = compare_outputs(before, fp32_after, Tolerances.preset("fp32"))
        del before, fp32_after
        after = compare_precision(written, precision, inputs=feeds, keep_fp32=keep_fp32,
                                  tolerances=tolerances, backend=backend)
    return MaskFixResult(clamp, fp32_change, after, written if out_path else None,
                         time.perf_counter() - start)


def _unchanged_weights(model: onnx.ModelProto, written: onnx.ModelProto,
                       clamp: MaskClamp) -> list[tuple[onnx.TensorProto, onnx.TensorProto]]:
    """(original, copy) of each external weight the clamp left as it was (save_staged
    copied its bytes)."""
    clamped = {c.tensor for c in clamp.constants}
    external = {t.name: t for t in model.graph.initializer
                if t.data_location == onnx.TensorProto.EXTERNAL and t.name not in clamped}
    return [(external[t.name], t) for t in written.graph.initializer
            if t.data_location == onnx.TensorProto.EXTERNAL and t.name in external
            and t.data_type == external[t.name].data_type
            and list(t.dims) == list(external[t.name].dims)]


def _nothing_to_clamp() -> ComparisonError:
    return ComparisonError(
        "This model has no attention-mask constant to clamp.",
        expected="a constant of magnitude >= 1e30 (finfo(float32).min) whose every use ends "
        "in Softmax, Reduce/Arg Max/Min, a comparison or a Where condition",
        found="none in the main graph",
        fix="nothing to do: the mask fix is only offered when report.mask_constants is "
        "non-empty",
    )
