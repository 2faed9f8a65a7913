"""``trt-workbench report``, ``bundle`` and ``triage``: share what the workbench found.

``report`` writes one self-contained HTML file about a model; ``bundle`` a zip for a
TensorRT bug report; ``triage`` a table of a whole folder of models (HTML, and JSON to
compare a later run against with ``--since``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from workbench.cli.outputs import refuse_existing_output
from workbench.core.errors import WorkbenchError
from workbench.settings.settings import PRECISIONS, BuildSettings, ShapeProfile

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``report``, ``bundle`` and ``triage`` subcommands."""
    report = subparsers.add_parser(
        "report", help="write a self-contained HTML report about a model",
        description="Inspect and diagnose MODEL (and optionally build it and compare FP16 "
        "against FP32), then write everything into one HTML file that opens offline.")
    report.add_argument("model", help="the .onnx file")
    report.add_argument("-o", "--output", required=True, help="the .html file to write")
    report.add_argument("--build", action="store_true", help="also build an engine")
    report.add_argument("--compare", action="store_true", help="also compare FP16 vs FP32")
    _settings_args(report)
    report.add_argument("--log-level", default="VERBOSE",
                        choices=("ERROR", "WARNING", "INFO", "VERBOSE"),
                        help="build log kept and attached in full (default VERBOSE; the "
                        "report shows only its warnings and errors)")
    report.add_argument("--overwrite", action="store_true", help="replace an existing file")
    report.set_defaults(handler=run_report)

    bundle = subparsers.add_parser(
        "bundle", help="zip a failing model's repro for a TensorRT bug report",
        description="Find where MODEL fails (parse or build), reduce it, and zip the model, "
        "a repro command and script, the VERBOSE log, the diagnosis and the versions.")
    bundle.add_argument("model", help="the failing .onnx file")
    bundle.add_argument("-o", "--output", required=True, help="the .zip file to write")
    _settings_args(bundle)
    bundle.add_argument("--overwrite", action="store_true", help="replace an existing file")
    bundle.set_defaults(handler=run_bundle)

    triage = subparsers.add_parser(
        "triage", help="triage every model of a folder (one row each)",
        description="Parse (and optionally build and compare) every .onnx under DIR, each "
        "in its own process, and write one HTML table.")
    triage.add_argument("folder", metavar="DIR", help="the folder of .onnx files")
    triage.add_argument("-o", "--output", required=True, help="the .html file to write")
    triage.add_argument("--json", metavar="FILE", help="also save the rows as JSON")
    triage.add_argument("--build", action="store_true", help="also build each engine")
    triage.add_argument("--compare", action="store_true", help="also compare FP16 vs FP32")
    triage.add_argument("--jobs", type=int, default=1, metavar="N",
                        help="models triaged at once (default 1)")
    triage.add_argument("--timeout", type=float, default=600.0, metavar="S",
                        help="seconds one model may take (default 600)")
    triage.add_argument("--since", metavar="OLD_JSON",
                        help="an earlier --json: show what changed since")
    triage.add_argument("--overwrite", action="store_true", help="replace existing files")
    triage.set_defaults(handler=run_triage)


def _settings_args(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--precision", choices=PRECISIONS, default="fp32")
    cmd.add_argument("--shapes", nargs="+", default=[], metavar="INPUT:MIN,OPT,MAX",
                     help="one optimization profile (default: seeded from symbolic dims)")


def _settings(args: argparse.Namespace, log_severity: str = "INFO") -> BuildSettings:
    shapes = tuple(ShapeProfile.parse(text) for text in args.shapes)
    return BuildSettings(precision=args.precision, profiles=(shapes,) if shapes else (),
                         log_severity=log_severity)


def run_report(args: argparse.Namespace) -> int:
    from workbench.app.session.session import WorkbenchSession
    from workbench.app.share.report import write_report

    refuse_existing_output(args.output, args.overwrite)
    session = WorkbenchSession()
    session.load(args.model)
    report = session.triage.diagnose()
    print(f"parse: {'parses' if report else 'fails'}", file=sys.stderr)
    refused = ""
    if args.build:
        try:
            session.builds.build(_settings(args, args.log_level))
            print("build: built", file=sys.stderr)
        except WorkbenchError as err:  # refused before it started, or failed
            refused = err.message if session.builds.job is None else ""
            print(f"build: {err.summary}", file=sys.stderr)
    if args.compare:
        task = session.start(session.precision.compare)  # a task keeps its error for the report
        task.join()
        print("fp16: " + (f"not compared: {task.error.summary}" if task.error else
                          "pass" if task.result else "fail"), file=sys.stderr)
    path = write_report(session, args.output, overwrite=args.overwrite, build_refused=refused)
    session.close()
    print(f"wrote {path}")
    return 0


def run_bundle(args: argparse.Namespace) -> int:
    from workbench.app.share.bundle import make_bundle

    result = make_bundle(args.model, args.output, _settings(args), overwrite=args.overwrite)
    print(result.summary())
    return 0


def run_triage(args: argparse.Namespace) -> int:
    from workbench.app.zoo.html import render_zoo, zoo_text
    from workbench.app.zoo.triage import ZooReport, ZooRow, compare_zoos, triage_folder
    from workbench.core.fileio import write_atomic

    for path in (args.output, args.json):
        if path:
            refuse_existing_output(path, args.overwrite)
    old = ZooReport.load(args.since) if args.since else None  # a bad file fails first

    def progress(row: ZooRow) -> None:
        print(f"  {row.model}: {row.status} / parse {row.parse} / build {row.build} / "
              f"fp16 {row.fp16}", file=sys.stderr)

    report = triage_folder(args.folder, build=args.build, compare=args.compare,
                           jobs=args.jobs, timeout=args.timeout, on_row=progress)
    changes = compare_zoos(old, report) if old is not None else None
    write_atomic(Path(args.output), render_zoo(report, changes).encode("utf-8"),
                 overwrite=args.overwrite)
    if args.json:
        report.save(args.json, overwrite=args.overwrite)
    print(zoo_text(report, changes))
    print(f"wrote {args.output}" + (f" and {args.json}" if args.json else ""))
    return 0
