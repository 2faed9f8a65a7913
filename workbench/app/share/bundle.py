"""Bug bundle: one zip with what a TensorRT bug report needs, and nothing else.

``make_bundle(model, "bug.zip")`` finds where the model fails (parse, else build), reduces
it to the smallest subgraph that fails the same way (``reduce_failure`` for a parse,
``reduce_build_failure`` for a build), rebuilds the bundled model with a VERBOSE
log (so the bundle is checked to reproduce the failure), and writes:

=================  ==============================================================
``model.onnx``     the reduced failing model (or the whole model, when it cannot be reduced)
``repro.sh``       the trtexec (or tensorrt_rtx) line that reproduces the failure
``repro.py``       the same with the bare TensorRT Python API
``verbose.log``    TensorRT's VERBOSE log of that build
``diagnosis.json`` the workbench's diagnosis (stage, category, cause, fixes, the reduction)
``versions.json``  ``workbench.app.share.versions.FIELDS``, nothing more about the machine
``README.md``      what the bundle is and what to attach to an issue
=================  ==============================================================

Folders of the user's machine (the model's folder, the working folder, the home folder,
temporary folders) are replaced by placeholders in every text file.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.app.share.bundle_settings import settings_for_model
from workbench.app.share.bundle_texts import Diagnosis, Failure, bundle_texts
from workbench.app.share.compare_bundle import compared_dims, comparison_texts
from workbench.app.share.versions import environment_info
from workbench.core.errors import BuildError, BuildSettingsError, WorkbenchBug, WorkbenchError
from workbench.core.logbus import LogBus
from workbench.settings.settings import BuildSettings

if TYPE_CHECKING:
    from collections.abc import Callable

    from workbench.app.precision.compare import PrecisionReport
    from workbench.core.records import TensorSpec
    from workbench.triage.diagnosis import ParseReport

BundleSource = str | os.PathLike[str] | bytes  # a model file, or its bytes

__all__ = ["BUNDLE_FILES", "BundleResult", "make_bundle"]

BUNDLE_FILES: tuple[str, ...] = ("README.md", "model.onnx", "repro.sh", "repro.py",
                                 "verbose.log", "diagnosis.json", "versions.json")


@dataclass(frozen=True)
class BundleResult:
    """A written bundle: where, which stage fails, and whether the bundle reproduces it."""

    path: Path
    stage: str  # "parse" or "build"
    category: str
    reduced: bool
    reproduced: bool
    notes: tuple[str, ...]

    def summary(self) -> str:
        model = "reduced model" if self.reduced else "whole model"
        check = "reproduces" if self.reproduced else "did NOT reproduce"
        lines = [f"wrote {self.path}: {self.stage} failure [{self.category}], {model}; "
                 f"the bundled model {check} it"]
        return "\n".join([*lines, *("  note: " + n for n in self.notes)])


def make_bundle(source: BundleSource, out_path: str | os.PathLike[str],
                settings: BuildSettings | None = None, *, overwrite: bool = False,
                bug: WorkbenchBug | None = None,
                comparison: PrecisionReport | None = None) -> BundleResult:
    """Write a bug bundle for a model that TensorRT fails to parse or build.

    Args:
        source: The failing model (path or bytes).
        out_path: The zip to write (atomically).
        settings: BuildSettings for the build (default: seeded from the model).
        overwrite: Allow replacing an existing zip.
        bug: A workbench bug to report instead of a TensorRT failure: the bundle holds its
            traceback and the model, and nothing is parsed or built again (the step that
            failed is not run a second time).
        comparison: A failed FP16/BF16 comparison of a model that parses and builds: the
            bundle holds the model and a repro of that comparison (nothing is rerun).

    Raises:
        WorkbenchError: the model parses and builds (nothing to report), or ``out_path``
            exists and ``overwrite`` is False.
    """
    target = Path(out_path).expanduser()
    if target.exists() and not overwrite:
        raise WorkbenchError(f"{target} already exists.", expected="a new file name",
                             found=str(target), fix="choose another name, or overwrite")
    base = settings or BuildSettings()
    settings = dataclasses.replace(base, log_severity="VERBOSE")
    with tempfile.TemporaryDirectory(prefix="wb-bundle-") as work:
        folder = Path(work)
        error: WorkbenchError | None
        if comparison is not None and bug is None:
            return _comparison_bundle(source, comparison, folder, target, overwrite)
        if bug is not None:
            failure, bus, error = _workbench_failure(source, bug, folder)
            settings, _note = settings_for_model(settings, folder / "model.onnx")
        else:
            failure = _find_failure(source, settings, folder)
            # the repro builds the bundled model, whose inputs may not be the user's
            settings, note = settings_for_model(settings, folder / "model.onnx",
                                                _source_inputs(source))
            if note:
                failure = dataclasses.replace(failure, notes=(*failure.notes, note))
            bus, error = _verbose_build(folder / "model.onnx", settings)
        scrub = _scrubber(source, folder)
        models = _model_files(folder)
        extras = [path.relative_to(folder).as_posix() for path in models[1:]]
        files = bundle_texts(failure, settings, bus, error, scrub, extras)
        _write_zip(target, folder, models, files, overwrite)
    return BundleResult(target, failure.stage, failure.category, failure.reduced,
                        error is not None and not isinstance(error, BuildSettingsError),
                        failure.notes)


def _find_failure(source: BundleSource, settings: BuildSettings, folder: Path) -> Failure:
    """Where the model fails; leaves the model to bundle at ``folder/model.onnx``."""
    from workbench.backends.trt.build import build_engine
    from workbench.backends.trt.parse import diagnose
    from workbench.triage.diagnosis import explain_build_failure

    report = diagnose(source)
    if not report:
        return _parse_failure(source, report, folder)
    try:
        build_engine(source, settings)
    except BuildError as err:
        cause, fixes = explain_build_failure(list(err.details or ()) or [err.summary])
        diagnosis: Diagnosis = {"summary": err.summary, "cause": cause, "fixes": list(fixes),
                                "tensorrt": list(err.details or ()), "parse": report.to_dict()}
        reduced, notes, reduction = _reduce_build(source, settings, folder)
        if reduction is not None:
            diagnosis["reduction"] = reduction
        return Failure("build", "BUILD_FAILED", diagnosis, reduced, notes)
    raise WorkbenchError(
        "This model parses and builds: there is no failure to bundle.",
        expected="a model that TensorRT fails to parse or build",
        found=f"{report.node_count} nodes parsed, and the engine built",
        fix="to share results instead, write a report: the panel's Export report button, "
        "or `trt-workbench report MODEL --build`")


def _comparison_bundle(source: BundleSource, report: PrecisionReport, folder: Path, target: Path,
                       overwrite: bool) -> BundleResult:
    """The bundle of a failed comparison (``compare_bundle``): the model and its repro."""
    _copy_model(source, folder / "model.onnx")
    files = comparison_texts(report, compared_dims(_source_inputs(source), report))
    files["versions.json"] = json.dumps(environment_info(), indent=2) + "\n"
    scrub = _scrubber(source, folder)
    _write_zip(target, folder, _model_files(folder),
               {name: scrub(text) for name, text in files.items()}, overwrite)
    return BundleResult(target, "compare", f"{report.precision.upper()}_ACCURACY", False, True,
                        ())


def _workbench_failure(source: BundleSource, bug: WorkbenchBug, folder: Path
                       ) -> tuple[Failure, LogBus, WorkbenchError]:
    """The bundle of a workbench bug: the whole model, the error and its traceback."""
    _copy_model(source, folder / "model.onnx")
    bus = LogBus("VERBOSE", maxlen=10)
    bus.push("INFO", "no TensorRT build was run for this bundle: it reports a workbench bug",
             "workbench")
    diagnosis: Diagnosis = {"summary": bug.summary, "cause": bug.found, "fixes": [bug.fix or ""],
                            "traceback": list(bug.details)}
    failure = Failure("workbench", "WORKBENCH_BUG", diagnosis, False,
                       ("the traceback is in diagnosis.json; repro.sh builds the model with "
                        "TensorRT, which may not be the step that failed",))
    return failure, bus, bug


# Reducing loads the model's weights into memory (and serializes each candidate): beyond
# this, bundle the whole model as its files instead.
_REDUCE_LIMIT_BYTES = 1 << 30


def _reduce_build(source: BundleSource, settings: BuildSettings, folder: Path
                  ) -> tuple[bool, tuple[str, ...], Diagnosis | None]:
    """The smallest subgraph that still fails to build, at ``folder/model.onnx`` (else the
    whole model, with a note saying why): (reduced, notes, the reduction's record)."""
    from workbench.backends.trt.reduce import reduce_build_failure

    too_big = _weight_bytes(source) > _REDUCE_LIMIT_BYTES
    try:
        if too_big:
            raise WorkbenchError("the model's weights are over 1 GiB")
        result = reduce_build_failure(source, folder / "model.onnx", settings)
    except (WorkbenchError, ValueError) as err:  # ValueError: over protobuf's 2 GiB
        _copy_model(source, folder / "model.onnx")
        summary = err.summary if isinstance(err, WorkbenchError) else str(err)
        return False, (f"not reduced ({summary}): the whole model",), None
    smaller = len(result.node_indices) < result.original_node_count
    if not smaller:  # the user's own files, as they are, rather than a re-saved copy
        (folder / "model.onnx").unlink()
        _copy_model(source, folder / "model.onnx")
    notes = () if smaller else ("every node is needed to reproduce the failure",)
    return smaller, notes, {"original_node_count": result.original_node_count,
                            "kept_node_indices": list(result.node_indices),
                            "kept_node_names": list(result.node_names),
                            "failing_node": result.failing_node, "error": result.error}


def _weight_bytes(source: BundleSource) -> int:
    if isinstance(source, bytes):
        return len(source)
    from workbench.inspection.external_data import external_data_refs
    from workbench.inspection.loading import load_model

    path = Path(source).expanduser()
    try:
        refs = external_data_refs(load_model(path, load_weights=False))
    except WorkbenchError:
        return 0
    return path.stat().st_size + sum(ref.length or 0 for ref in refs)


def _parse_failure(source: BundleSource, report: ParseReport, folder: Path) -> Failure:
    from workbench.backends.trt.reduce import reduce_failure

    first = report.issues[0] if report.issues else None
    category = first.category if first else "PARSE_FAILED"
    diagnosis: Diagnosis = dict(report.to_dict())
    try:
        reduction = reduce_failure(source, folder / "model.onnx")
    except WorkbenchError as err:
        _copy_model(source, folder / "model.onnx")
        return Failure("parse", category, diagnosis, False, (f"not reduced: {err.summary}",))
    diagnosis["reduction"] = {
        "original_node_count": reduction.original_node_count,
        "kept_node_indices": list(reduction.node_indices),
        "kept_node_names": list(reduction.node_names),
        "category": reduction.category, "op_type": reduction.op_type}
    return Failure("parse", category, diagnosis, True)


def _copy_model(source: BundleSource, target: Path) -> None:
    """The whole model beside ``target``: the .onnx file as it is, and its external-data
    files at their own relative locations (copied from disk, never loaded into memory)."""
    if isinstance(source, bytes):
        target.write_bytes(source)
        return
    from workbench.inspection.external_data import external_data_refs
    from workbench.inspection.loading import load_model

    path = Path(source).expanduser()
    shutil.copyfile(path, target)
    try:
        locations = {ref.location for ref in external_data_refs(
            load_model(path, load_weights=False))}
    except WorkbenchError:  # unreadable: the file itself is what fails
        return
    for location in sorted(locations):
        data = path.parent / location  # the loader refuses locations outside the folder
        if data.is_file():
            (target.parent / location).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(data, target.parent / location)


def _model_files(folder: Path) -> list[Path]:
    """The bundled model and its external data, in zip order."""
    others = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "model.onnx")
    return [folder / "model.onnx", *others]


def _verbose_build(model: Path, settings: BuildSettings
                   ) -> tuple[LogBus, WorkbenchError | None]:
    """Build the bundled model with a VERBOSE log; the error it fails with (None if it builds)."""
    from workbench.backends.trt.build import build_engine

    bus = LogBus("VERBOSE", maxlen=200_000)
    try:
        build_engine(model, settings, on_log=bus)
    except WorkbenchError as err:
        return bus, err
    return bus, None


def _scrubber(source: BundleSource, folder: Path) -> Callable[[str], str]:
    """Replace the user's folders in text by placeholders (longest first)."""
    places = [(str(folder.resolve()), "."), (str(folder), ".")]
    if not isinstance(source, bytes):
        model_dir = Path(source).expanduser().resolve().parent
        places += [(str(model_dir), "<model folder>")]
    places += [(str(Path.cwd()), "<working folder>"), (tempfile.gettempdir(), "<tmp>"),
               (str(Path.home()), "~")]
    places = sorted({p for p in places if len(p[0]) > 1}, key=lambda p: -len(p[0]))

    def scrub(text: str) -> str:
        for old, new in places:
            text = text.replace(old, new)
        return text

    return scrub


def _source_inputs(source: BundleSource) -> tuple[TensorSpec, ...]:
    """The user's model's inputs (the settings' profiles name them)."""
    from workbench.inspection.loading import load_model
    from workbench.inspection.protos import graph_io_specs

    try:
        return graph_io_specs(load_model(source, load_weights=False).graph)[0]
    except WorkbenchError:
        return ()


def _write_zip(target: Path, folder: Path, models: list[Path], files: dict[str, str],
               overwrite: bool) -> None:
    """Write the zip beside ``target`` and move it into place (never a half-written zip)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name in BUNDLE_FILES:
                if name == "model.onnx":  # and its external data, streamed from disk
                    for path in models:
                        archive.write(path, path.relative_to(folder).as_posix())
                else:
                    archive.writestr(name, files[name])
        if overwrite:
            os.replace(tmp, target)
        else:
            os.link(tmp, target)  # never replace a file that appeared meanwhile
    except FileExistsError as err:
        raise WorkbenchError(f"{target} already exists.", fix="choose another name") from err
    finally:
        tmp.unlink(missing_ok=True)
