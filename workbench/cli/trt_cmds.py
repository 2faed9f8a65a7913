"""``trt-workbench build`` and ``trt-workbench engine``.

``build`` streams TensorRT's log to stderr with a progress bar, prints the equivalent
trtexec command, saves the engine and its card. ``engine`` checks a saved engine.
With ``--json`` stdout carries only JSON; everything live goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path
from typing import Any

from workbench.core.errors import BuildSettingsError, WorkbenchError
from workbench.settings.fields import FIELDS, FieldKind, Precision, SettingField
from workbench.settings.plan import GRAPH_CONVERSIONS
from workbench.settings.settings import BuildSettings, ShapeProfile

__all__ = ["register", "settings_from_args"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this module's subcommands."""
    build = subparsers.add_parser("build", help="build a TensorRT engine with a live log",
                                  description="Build an engine from an ONNX model.")
    build.add_argument("model", help="the .onnx file")
    build.add_argument("-o", "--output", required=True, help="engine path (card: PATH.json)")
    defaults = BuildSettings()
    for field in FIELDS:  # one option per setting, from the schema
        _add_setting_option(build, field, getattr(defaults, field.name))
    build.add_argument("--overwrite", action="store_true", help="replace an existing engine")
    build.add_argument("--json", action="store_true", help="print the engine card as JSON")
    build.add_argument("--skip-profile-check", action="store_true",
                       help="do not run the model with ONNX Runtime at the profile's shapes "
                       "first (the check refuses a profile the model cannot run)")
    build.set_defaults(handler=run_build)

    engine = subparsers.add_parser("engine", help="check a saved engine against its card",
                                   description="Show an engine's card and whether it can "
                                   "run here.")
    engine.add_argument("engine", help="the engine file (its card is ENGINE.json)")
    engine.add_argument("--json", action="store_true")
    engine.add_argument("--layers", action="store_true",
                        help="list the engine layers: precision, type, the ONNX nodes fused "
                        "into each, tensors")
    engine.add_argument("--compare", metavar="ENGINE_B",
                        help="compare with another saved engine, from both cards (no GPU)")
    engine.add_argument("--graph", metavar="FILE",
                        help="write the engine as a graph: FILE.svg (drawn), FILE.dot "
                        "(graphviz) or FILE.onnx (opens in Netron)")
    engine.set_defaults(handler=run_engine)

    convert = subparsers.add_parser(
        "convert", help="write the FP16/BF16 graph that strongly typed builds use",
        description="Convert an ONNX model to FP16 or BF16 (I/O types kept), the graph a strongly "
        "typed TensorRT (11.x, RTX) builds for --precision fp16 / bf16.")
    convert.add_argument("model", help="the FP32 .onnx file")
    convert.add_argument("-o", "--output", required=True, help="the converted .onnx file")
    convert.add_argument("--precision", choices=sorted(p.value for p in GRAPH_CONVERSIONS),
                         default="fp16")
    convert.add_argument("--keep-fp32", nargs="+", default=[], metavar="NODE",
                         help="node names left in FP32")
    convert.add_argument("--overwrite", action="store_true")
    convert.set_defaults(handler=run_convert)


_METAVARS = {FieldKind.NAMES: "NODE", FieldKind.MIB: "MIB", FieldKind.LEVEL: "0-5",
             FieldKind.PATH: "FILE", FieldKind.TARGETS: "CC",
             FieldKind.PROFILES: "INPUT:MIN,OPT,MAX"}


def _add_setting_option(parser: argparse.ArgumentParser, field: SettingField,
                        default: Any) -> None:
    """The CLI option of one setting, its form decided by the field's kind."""
    options: dict[str, Any] = {"help": field.help, "dest": field.name}
    if field.kind is FieldKind.CHOICE:
        options.update(choices=field.choices, default=str(default))
    elif field.kind is FieldKind.FLAG:
        options.update(action="store_true")
    elif field.kind in (FieldKind.NAMES, FieldKind.TARGETS, FieldKind.PROFILES):
        options.update(nargs="+", default=[], metavar=_METAVARS[field.kind])
    elif field.kind is FieldKind.LEVEL:
        options.update(type=int, default=default, choices=range(6), metavar="0-5")
    elif field.kind is FieldKind.MIB:
        options.update(type=int, metavar="MIB")
    else:
        options.update(metavar=_METAVARS[field.kind])
    parser.add_argument(field.cli, **options)


def settings_from_args(args: argparse.Namespace) -> BuildSettings:
    """BuildSettings from the options ``register`` made from the schema."""
    if args.keep_fp32 and args.precision == "fp32":
        raise BuildSettingsError("--keep-fp32 needs --precision fp16 (or bf16).",
                                 expected="--precision fp16 --keep-fp32 NODE ...",
                                 found="--precision fp32", fix="add --precision fp16")
    values: dict[str, Any] = {}
    for field in FIELDS:
        value = getattr(args, field.name)
        if field.kind is FieldKind.PROFILES:
            shapes = tuple(ShapeProfile.parse(text) for text in value)
            value = (shapes,) if shapes else ()
        elif field.kind in (FieldKind.NAMES, FieldKind.TARGETS):
            value = tuple(value)
        values[field.name] = value
    return BuildSettings(**values)


class _Terminal:
    """Live log lines and a one-line progress bar on stderr (bar only on a terminal)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bar = ""
        self._tty = sys.stderr.isatty()

    def log(self, record: Any) -> None:
        if record.source == "stderr":
            return  # already on the terminal: the capture copies stderr through
        with self._lock:
            self._clear()
            print(record.format(), file=sys.stderr)
            self._draw()

    def progress(self, event: Any) -> None:
        if not self._tty:
            if event.kind == "phase_start":
                print(f"{'  ' * event.depth}> {event.phase}", file=sys.stderr)
            return
        filled = int(event.fraction * 30)
        with self._lock:
            self._bar = f"[{'#' * filled}{'.' * (30 - filled)}] {event.fraction:4.0%} " \
                        f"{event.phase[:40]}"
            self._draw()

    def _clear(self) -> None:
        if self._tty and self._bar:
            sys.stderr.write("\r\x1b[2K")

    def _draw(self) -> None:
        if self._tty and self._bar:
            sys.stderr.write("\r" + self._bar)
            sys.stderr.flush()

    def close(self) -> None:
        with self._lock:
            if self._tty and self._bar:
                sys.stderr.write("\n")
            self._bar = ""


def run_build(args: argparse.Namespace) -> int:
    from workbench.app.share.reproduce import trtexec_command
    from workbench.backends.trt.build import build_engine
    from workbench.engines.card import card_path_for, refuse_existing_engine, save_engine

    settings = settings_from_args(args)
    if not args.overwrite:
        refuse_existing_engine(args.output)  # fail before a long build, not after
    if not args.skip_profile_check:
        from workbench.app.session.profile_check import require_runnable_profiles

        require_runnable_profiles(args.model, settings)  # names the node and sizes that run
    terminal = _Terminal()
    try:
        artifact = build_engine(args.model, settings, on_log=terminal.log,
                                on_progress=terminal.progress)
    finally:
        terminal.close()
    path = save_engine(artifact, args.output, overwrite=args.overwrite)
    command = trtexec_command(artifact.card.settings, args.model, str(path))
    if args.json:
        print(json.dumps({"engine": str(path), "card": str(card_path_for(path)),
                          "trtexec": command, **artifact.card.to_dict()}, indent=2))
        return 0
    print(f"equivalent command: {command}", file=sys.stderr)
    print(f"saved {path} ({len(artifact.plan):,} bytes) and {card_path_for(path)}")
    print(f"built with {artifact.card.flavour_label} for {artifact.card.target_text()}; "
          f"plan SHA-256 {artifact.card.plan_sha256}")
    settings = artifact.card.settings
    if settings.precision is not Precision.FP32 and settings.keep_fp32 and artifact.card.layers:
        from workbench.engines.layer_report import check_keep_fp32

        check = check_keep_fp32(artifact.card.layers, settings.keep_fp32)
        print(check.text())
        return 0 if check else 1
    return 0


def run_engine(args: argparse.Namespace) -> int:
    from workbench.backends.trt.runtime.engine import load_engine

    loaded = load_engine(args.engine)
    if args.compare:
        return _compare_engines(loaded, load_engine(args.compare), args.json)
    if args.graph:
        from workbench.engines.drawing import write_engine_graph

        if loaded.card is None:
            raise WorkbenchError(f"{loaded.path.name} has no card: no layers to draw.",
                                 expected=f"{loaded.card_path.name} beside the engine",
                                 found="no card", fix="save engines with save_engine")
        written = write_engine_graph(loaded.card, args.graph, title=loaded.path.name)
        print(f"wrote {written} ({len(loaded.card.layers)} engine layers)")
        return 0
    if args.json:
        print(json.dumps(loaded.to_dict(), indent=2))
        return 0
    card = loaded.card
    print(f"engine:   {loaded.path} ({loaded.plan_size:,} bytes)")
    print(f"sha256:   {loaded.plan_sha256}" + (" (matches the card)" if card else ""))
    if card is None:
        print(f"card:     none ({loaded.card_path.name} missing; nothing could be checked)")
    else:
        print(f"built:    {card.flavour_label}, {card.created}, precision "
              f"{card.settings.precision}, from {card.onnx_path or '<bytes>'}")
        for spec in (*card.inputs, *card.outputs):
            print(f"  tensor  {spec.name}: {spec.dtype} {spec.shape_text()}")
        for index, profile in enumerate(card.profiles):
            print(f"  profile {index}: " + "  ".join(s.text() for s in profile))
    reasons = f" ({', '.join(loaded.validity_reasons)})" if loaded.validity_reasons else ""
    print(f"validity: {loaded.validity}{reasons}")
    print(f"verdict:  {loaded.explanation}")
    for mismatch in loaded.mismatches:
        print(f"  - {mismatch}")
    if loaded.layers:
        print(f"layers:   {len(loaded.layers)} (from the {loaded.layers_source.replace('_', ' ')})")
        if args.layers:
            _print_layers(loaded.layers)
    return 0


def _print_layers(layers: Any) -> None:
    from workbench.engines.layer_report import precision_text

    print(f"  precision map: {precision_text(layers) or 'no tensor types recorded'}")
    print(f"  {'#':>4}  {'precision':<16}  {'type':<14}  ONNX nodes fused into it  "
          "[engine layer]")
    for index, layer in enumerate(layers):
        nodes = ", ".join(layer.onnx_nodes) or "-"
        print(f"  {index:>4}  {layer.precision or '-':<16}  {layer.layer_type:<14}  {nodes}  "
              f"[{layer.name}]")


def _compare_engines(a: Any, b: Any, as_json: bool) -> int:
    import dataclasses

    from workbench.engines.compare import compare_cards

    for loaded in (a, b):
        if loaded.card is None:
            raise WorkbenchError(
                f"{loaded.path.name} has no engine card: there is nothing to compare.",
                expected=f"{loaded.card_path.name} beside the engine",
                found="no card", fix="compare engines saved by the workbench (save_engine)")
    comparison = compare_cards(a.card, b.card, str(a.path), str(b.path))
    if as_json:
        print(json.dumps(dataclasses.asdict(comparison), indent=2))
    else:
        print(comparison.text())
    return 0


def run_convert(args: argparse.Namespace) -> int:
    from workbench.transforms.external import (
        data_file,
        refuse_model_files,
        staged_model,
        write_converted_model,
    )
    from workbench.transforms.precision.convert import convert
    from workbench.transforms.saving import refuse_own_source, save_model_atomic

    target = Path(args.output).expanduser().resolve()
    refuse_own_source(args.model, target, "model.fp16.onnx")
    precision = Precision(args.precision)  # one of GRAPH_CONVERSIONS: argparse checked it
    with staged_model(args.model) as staged:
        if staged.folder is None:  # weights inline and small: one file
            conversion = convert(staged.model, precision, args.keep_fp32)
            path = save_model_atomic(conversion.model, target, overwrite=args.overwrite)
            report = conversion.report
        else:  # weights converted one tensor at a time into OUTPUT.data (works over 2 GiB)
            refuse_model_files(target, args.overwrite)
            path, report = write_converted_model(staged, precision, args.keep_fp32, target)
            print(f"weights in {data_file(target).name} beside it")
    print(f"wrote {path} ({args.precision}): {report.describe()}")
    for line in report.lines()[1:]:
        print("  " + line)
    return 0
