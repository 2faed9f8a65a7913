"""Optimization profiles checked by running them: ONNX Runtime at the profile's shapes.

TensorRT checks a profile against the graph's shape constraints only deep in the build
("kOPT values for profile 0 violate shape constraints … Broadcast has incompatible
dimensions: 4 != 2"). A detector whose spatial sizes must be multiples of 32, or an audio
front end whose Conv needs at least its kernel's length of samples, cannot take every shape
its symbolic dims allow. Running the model with ONNX Runtime at the min and opt shapes (and
max when that is cheap) finds such a profile before the build, names the node and the
constraint, and finds sizes that do run.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import onnx

from workbench.core.errors import BuildSettingsError, WorkbenchError
from workbench.core.records import TensorSpec
from workbench.feeds.generator import model_feeds
from workbench.inspection.control_flow import control_flow
from workbench.inspection.input_roles import input_roles
from workbench.inspection.loading import ModelSource, load_model
from workbench.inspection.protos import graph_io_specs
from workbench.settings.settings import BuildSettings, ShapeProfile

if TYPE_CHECKING:
    from workbench.backends.runner import Runner

__all__ = ["BoundFailure", "ProfileCheck", "check_profiles", "refuse",
           "require_runnable_profiles"]

BOUNDS = ("min", "opt", "max")
_MAX_CHEAP_ELEMENTS = 4_000_000  # input elements at max under which max is run too
_MAX_CHECK_BYTES = 256 << 20  # bigger models: not run here (it would take their RAM again)
_LADDER = (32, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 2048, 4096)
_SHAPE_WORDS = (r"shape|broadcast|dimension|reshape|volume|size|kernel|incompatible|"
                r"mismatch|axis|concat|pad")
_OUT_OF_BOUNDS = r"out of (data )?bounds|out of range"
_NODE = re.compile(r"(?:node\.|Node)\s*Name:\s*'([^']*)'|\bName:'([^']*)'")


@dataclass(frozen=True)
class BoundFailure:
    """One profile bound (min/opt/max) the model cannot run with."""

    profile: int
    bound: str
    shapes: tuple[tuple[str, tuple[int, ...]], ...]
    node: str
    message: str
    # an index out of bounds at this bound while a smaller bound of the profile ran: an
    # index made from a size (GPT-2's position ids past its 64 positions), not a value
    index_past_a_size: bool = False

    @property
    def about_shapes(self) -> bool:
        """The failure is about sizes (a broadcast, a reshape, a window, an index made from
        a size), not about values: only such a failure refuses a profile, so random feeds
        cannot refuse a good one."""
        return (self.index_past_a_size
                or re.search(_SHAPE_WORDS, self.message, re.IGNORECASE) is not None)

    def text(self) -> str:
        shapes = ", ".join(f"{n}={'x'.join(map(str, s))}" for n, s in self.shapes)
        where = f" at node {self.node!r}" if self.node else ""
        return (f"profile {self.profile} {self.bound} ({shapes}): ONNX Runtime fails{where}: "
                f"{self.message}")


@dataclass(frozen=True)
class ProfileCheck:
    """What running the profiles with ONNX Runtime showed. Truthy when every bound ran."""

    checked: tuple[str, ...]  # "profile 0 min", … what ran
    failures: tuple[BoundFailure, ...] = ()
    suggestion: tuple[ShapeProfile, ...] | None = None
    skipped: str = ""  # why nothing was run, when nothing was
    searched: tuple[str, ...] = ()  # dims whose ladder was tried in vain (no suggestion)

    def __bool__(self) -> bool:
        return not self.refusals

    @property
    def refusals(self) -> tuple[BoundFailure, ...]:
        """Failures about shapes: these refuse the profile (others are only reported)."""
        return tuple(f for f in self.failures if f.about_shapes)

    def text(self) -> str:
        if self.skipped:
            return f"profiles not run: {self.skipped}"
        if not self.failures:
            return "profiles run with ONNX Runtime: " + ", ".join(self.checked)
        if not self.refusals:
            return ("profiles run with ONNX Runtime (failures not about shapes, so not "
                    "refused): " + "; ".join(f.text() for f in self.failures))
        lines = [f.text() for f in self.failures]
        if self.suggestion:
            lines.append("sizes that run: " + " ".join(s.text() for s in self.suggestion))
        return "\n".join(lines)


def check_profiles(source: ModelSource, settings: BuildSettings,
                   inputs: Sequence[TensorSpec] | None = None) -> ProfileCheck:
    """Run the model with ONNX Runtime at each profile's min and opt shapes (max if cheap).

    Args:
        source: The model (path, bytes or ModelProto).
        settings: Build settings; empty profiles are seeded first (``resolved``).
        inputs: The model's inputs, when already known.

    Returns:
        A ProfileCheck: the failures (node, message) and, for the first failing profile,
        sizes that run. Models over 256 MiB, or with inputs ONNX Runtime cannot be fed
        random values for, are not run (``skipped`` says why).
    """
    from workbench.backends.ort import OrtRunner

    # a missing file falls through to load_model, which says what was expected and found
    path = Path(source).expanduser() if isinstance(source, (str, Path)) else None
    if path is not None and path.is_file() and path.stat().st_size > _MAX_CHECK_BYTES:
        return ProfileCheck((), skipped="the model is over 256 MiB")
    model = load_model(source)
    specs = tuple(inputs) if inputs is not None else graph_io_specs(model.graph)[0]
    settings = settings.resolved(specs)
    if not settings.profiles:
        return ProfileCheck((), skipped="the model has no dynamic inputs")
    runner = OrtRunner(model, capped=True)  # no trial size may ask for gigabytes
    # TensorRT builds every branch of an If; ONNX Runtime runs only the one taken, so each
    # value that picks a branch (Equal(sr, 16000) → sr=16000) gets its own run.
    branches: list[dict[str, float]] = [{}] + [{name: value} for d in control_flow(model).deciders
                       for name, value in d.values]
    try:
        runner.activate()
    except WorkbenchError as err:
        return ProfileCheck((), skipped=err.summary)
    try:
        run = _runner_call(runner, model, specs, branches)
        return _check_all(settings.profiles, specs, run)
    finally:
        runner.deactivate()


Run = Callable[[dict[str, tuple[int, ...]]], tuple[str, str] | None]


def _runner_call(runner: Runner, model: onnx.ModelProto, specs: Sequence[TensorSpec],
                 branches: Sequence[dict[str, float]] = ({},)) -> Run:
    """A function: shapes → None when the model runs (every branch), else (node, message).
    Feeds come from the one feed generator (integer inputs within what they index)."""
    roles = input_roles(model)

    def run(shapes: dict[str, tuple[int, ...]]) -> tuple[str, str] | None:
        for values in branches:
            try:
                feeds = model_feeds(model, 0, specs=specs, shapes=shapes, roles=roles)
                for name, value in values.items():
                    feeds[name] = np.full_like(feeds[name], value)
                runner.infer(feeds)
            except WorkbenchError as err:  # ORT's own text (details) names the nodes
                return _failure("\n".join(err.details or ()) or err.found or err.summary)
        return None

    return run


def _failure(text: str) -> tuple[str, str]:
    """(node, message) from ONNX Runtime's text: nested nodes (an If and the Conv inside its
    branch) joined by ' > ', and the innermost status message."""
    names = [a or b for a, b in _NODE.findall(text)]
    message = text.rsplit("Status Message:", 1)[-1].strip() if names else text
    return " > ".join(names), message


def _check_all(profiles: Sequence[Sequence[ShapeProfile]], specs: Sequence[TensorSpec],
               run: Run) -> ProfileCheck:
    checked: list[str] = []
    failures: list[BoundFailure] = []
    suggestion: tuple[ShapeProfile, ...] | None = None
    for index, profile in enumerate(profiles):
        bounds = list(BOUNDS[:2])
        if sum(_elements(s.max) for s in profile) <= _MAX_CHEAP_ELEMENTS:
            bounds.append("max")
        failed: list[str] = []
        for bound in bounds:
            shapes = {s.input: getattr(s, bound) for s in profile}
            result = run(_with_static(shapes, specs))
            checked.append(f"profile {index} {bound}")
            if result is not None:
                ran_smaller = any(b not in failed for b in bounds[:bounds.index(bound)])
                past = ran_smaller and re.search(_OUT_OF_BOUNDS, result[1], re.IGNORECASE)
                failed.append(bound)
                failures.append(BoundFailure(index, bound, tuple(shapes.items()), *result,
                                             index_past_a_size=bool(past)))
        if failed and suggestion is None:
            suggestion = _suggest(tuple(profile), failed, specs, run)
    searched = () if suggestion is not None or not failures else tuple(
        dict.fromkeys(name for _, _, name in _varying_axes(specs)))
    return ProfileCheck(tuple(checked), tuple(failures), suggestion, searched=searched)


def _elements(shape: Sequence[int]) -> int:
    count = 1
    for dim in shape:
        count *= dim
    return count


def _with_static(shapes: dict[str, tuple[int, ...]], specs: Sequence[TensorSpec]
                 ) -> dict[str, tuple[int, ...]]:
    """Static inputs keep their own shapes (they have no ShapeProfile)."""
    full = dict(shapes)
    for spec in specs:
        if spec.name not in full and spec.shape is not None and not spec.is_dynamic:
            full[spec.name] = tuple(int(d) for d in spec.shape)  # type: ignore[arg-type]
    return full


def _suggest(profile: tuple[ShapeProfile, ...], failed: list[str], specs: Sequence[TensorSpec],
             run: Run) -> tuple[ShapeProfile, ...] | None:
    """Sizes that run, bound by bound, keeping min ≤ opt ≤ max.

    A failing bound first moves every non-batch dynamic dim together up a ladder of
    multiples of 32 (dims with the same name move together): what strided Conv stacks,
    reflect pads and detectors need. When no rung runs, each dim moves alone from the
    previous bound's sizes (which run) towards the seeded ones: a text recogniser runs at
    one image height only, while its width may grow.
    """
    axes = _varying_axes(specs)
    chosen: dict[str, dict[str, tuple[int, ...]]] = {}
    previous: dict[str, tuple[int, ...]] | None = None
    floor = 0
    for bound in BOUNDS:
        current = {s.input: getattr(s, bound) for s in profile}
        found: dict[str, tuple[int, ...]] | None = current
        if bound in failed or not _fits(current, axes, floor):
            found = _joint(current, axes, floor, bound == "max", specs, run)
            if found is None and previous is not None:
                found = _one_dim_at_a_time(previous, current, axes, specs, run)
        if found is None:
            return None
        chosen[bound] = previous = found
        floor = max([floor, *(found[n][a] for n, a, _ in axes if n in found)])
    if all(chosen[b] == {s.input: getattr(s, b) for s in profile} for b in BOUNDS):
        return None
    return tuple(ShapeProfile(s.input, chosen["min"][s.input], chosen["opt"][s.input],
                              chosen["max"][s.input]) for s in profile)


def _joint(current: dict[str, tuple[int, ...]], axes: list[tuple[str, int, str]], floor: int,
           is_max: bool, specs: Sequence[TensorSpec], run: Run
           ) -> dict[str, tuple[int, ...]] | None:
    start = max([floor, *(current[n][a] for n, a, _ in axes if n in current)])
    if is_max:
        start = max(start, floor * 4)
    for size in (v for v in _LADDER if v >= start):
        trial = _set_axes(current, axes, size)
        if run(_with_static(trial, specs)) is None:
            return trial
    return None


def _one_dim_at_a_time(previous: dict[str, tuple[int, ...]], current: dict[str, tuple[int, ...]],
                       axes: list[tuple[str, int, str]], specs: Sequence[TensorSpec], run: Run
                       ) -> dict[str, tuple[int, ...]]:
    """From ``previous`` (which runs), each dim group towards its size in ``current``: the
    largest rung between the two that runs, else where it was. The batch stays as
    ``current`` has it."""
    varying = {(name, axis) for name, axis, _ in axes}
    result = {name: tuple(previous[name][i] if (name, i) in varying else dim
                          for i, dim in enumerate(shape)) for name, shape in current.items()}
    for group in dict.fromkeys(name for _, _, name in axes):
        members = [(n, a, g) for n, a, g in axes if g == group and n in result]
        if not members:
            continue
        low = max(result[n][a] for n, a, _ in members)
        high = max(current[n][a] for n, a, _ in members)
        for size in sorted({high, *(v for v in _LADDER if low < v < high)}, reverse=True):
            trial = _set_axes(result, members, size)
            if size > low and run(_with_static(trial, specs)) is None:
                result = trial
                break
    return result


def _varying_axes(specs: Sequence[TensorSpec]) -> list[tuple[str, int, str]]:
    """(input, axis, dim name) of every dynamic axis but the batch (axis 0, and any axis
    named like an axis 0: ``state [2, batch, 16]``)."""
    batch = {spec.shape[0] for spec in specs if spec.shape and isinstance(spec.shape[0], str)}
    return [(spec.name, axis, str(dim or f"{spec.name}:{axis}"))
            for spec in specs if spec.shape is not None
            for axis, dim in enumerate(spec.shape)
            if axis > 0 and not (isinstance(dim, int) and dim >= 0) and dim not in batch]


def _fits(shapes: dict[str, tuple[int, ...]], axes: list[tuple[str, int, str]],
          floor: int) -> bool:
    return all(shapes[n][a] >= floor for n, a, _ in axes if n in shapes)


def _set_axes(shapes: dict[str, tuple[int, ...]], axes: list[tuple[str, int, str]],
              size: int) -> dict[str, tuple[int, ...]]:
    out = {name: list(shape) for name, shape in shapes.items()}
    for name, axis, _ in axes:
        if name in out:
            out[name][axis] = size
    return {name: tuple(shape) for name, shape in out.items()}


def require_runnable_profiles(source: ModelSource, settings: BuildSettings,
                              inputs: Sequence[TensorSpec] | None = None) -> ProfileCheck:
    """``check_profiles``, raising BuildSettingsError when a bound does not run.

    The error names the node, ONNX Runtime's message and the sizes that run, as a
    ``ShapeProfile`` text the Build tab and ``--shapes`` accept.
    """
    check = check_profiles(source, settings, inputs)
    if not check:
        raise refuse(check)
    return check


def refuse(check: ProfileCheck) -> BuildSettingsError:
    """The error that refuses a profile the model cannot run."""
    first = check.refusals[0]
    fix = "change the profile so that the model can run at every bound"
    if check.searched:
        fix = (f"no size ran: {', '.join(check.searched)} tried at "
               f"{', '.join(map(str, _LADDER))} (together, then one at a time); " + fix
               + " — the failing node above says which size it needs")
    elif not check.suggestion and check.refusals:
        fix = ("only the batch dim varies, and no batch size was searched; " + fix)
    if check.suggestion:
        fix = ("use sizes that run: " + " ".join(s.text() for s in check.suggestion)
               + " (Build tab: 'Use suggested profile'; CLI: --shapes; or "
               "BuildSettings(profiles=[check_profiles(model, settings).suggestion]))")
    return BuildSettingsError(
        f"The model cannot run at profile {first.profile}'s {first.bound} shapes"
        + (f": node {first.node!r} fails." if first.node else "."),
        expected="shapes every node of the model accepts (ONNX Runtime runs them)",
        found="; ".join(f.text() for f in check.refusals)[:900],
        fix=fix,
    )
