"""Benchmark: time to show a graph overlay on a ~1,700- and a ~10,000-node model, against
opening the same model in Netron (and Model Explorer when the [explorer] extra is there).

    python bench/graph_bench.py             # gpt_like with 50 and 295 layers
    python bench/graph_bench.py --quick     # 5 layers only, a few seconds
    python bench/graph_bench.py --browser   # also time each page drawing in headless Chromium

Models are ``sample_models.realistic.gpt_like`` decoders with small widths (the node count
is what matters here). Each tool runs in a fresh subprocess, so its imports, time and peak
RSS are its own:

* **overlay** — what the Graph tab does: load the model, parse it with TensorRT (the parse
  overlay's data), build the overlay, draw the neighbourhood of a node as SVG with ``dot``
  and fold the graph by namespace. "show" is overlay + drawing (the click, once findings
  exist); "from file" adds load and parse.
* **netron** — the Model tab's view: ``netron.serve`` of the model's bytes, then fetching
  its page and the model the page reads (the baseline).
* **model explorer** — the [explorer] extra: its server process up and answering, and its
  ONNX adapter converting the model (what its page waits for before drawing).

``--browser`` adds the drawing itself in headless Chromium (outside requests blocked): the
overlay's SVG page, Netron until its first graph node, Model Explorer until its canvas
(capped at --browser-cap seconds). Ratios are against Netron, measured in the same run;
peak RSS is the process's own high-water mark, over the model's weight bytes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHILD = r"""
import json, sys, time, urllib.request
what, path, result = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, sys.argv[4])
from bench.peak_rss import peak_rss
times = {}
def step(name, work):
    start = time.perf_counter(); value = work(); times[name] = time.perf_counter() - start
    return value
if what == "overlay":
    from workbench.app.overlays.graph_overlays import overlay_graph
    from workbench.app.overlays.overlay_graph import namespace_rows, neighbourhood_svg
    from workbench.app.session.session import WorkbenchSession
    session = WorkbenchSession(work_dir=sys.argv[5], engines_dir=sys.argv[5])
    step("load", lambda: session.load(path))
    step("parse", session.diagnose)
    overlay = step("overlay", lambda: session.graph_overlay("parse"))
    graph = overlay_graph(session)
    middle = graph.names[len(graph) // 2]
    svg = step("draw", lambda: neighbourhood_svg(graph, overlay, middle, 3))
    rows = step("fold", lambda: namespace_rows(graph, overlay))
    open(sys.argv[6], "w").write("<html><body>" + svg + "</body></html>")
    times["nodes"] = len(graph); times["groups"] = len(rows)
elif what == "netron":
    import logging, netron
    logging.getLogger().addHandler(logging.NullHandler())
    data = open(path, "rb").read()
    address = step("serve", lambda: netron.serve("model.onnx", data=data,
                                                 address=("127.0.0.1", 0), browse=False))
    base = f"http://{address[0]}:{address[1]}"
    step("page", lambda: urllib.request.urlopen(base + "/").read())
    step("model", lambda: urllib.request.urlopen(base + "/data/model.onnx").read())
    open(sys.argv[6], "w").write(base + "/")
else:
    from pathlib import Path
    from workbench.backends.explorer import ExplorerServer
    server = ExplorerServer()
    view = step("server", lambda: server.start(Path(path), {}, Path(sys.argv[5]), "model"))
    from model_explorer_onnx.main import ONNXAdapter
    step("adapter", lambda: ONNXAdapter().convert(path, {}))
    open(sys.argv[6], "w").write(view.url)
times["peak_rss"] = peak_rss()
json.dump(times, open(result, "w"))
if len(sys.argv) > 7:  # keep serving until the parent has drawn the page
    import os
    while not os.path.exists(sys.argv[7]):
        time.sleep(0.2)
if what == "explorer":
    server.stop()
"""

SHOW = {"overlay": ("overlay", "draw", "fold"), "netron": ("serve", "page", "model"),
        "explorer": ("server", "adapter")}


def make_model(folder: Path, layers: int) -> tuple[Path, int]:
    from sample_models.realistic import gpt_like

    path = gpt_like(folder, layers=layers, d_model=16, heads=2, vocab=64, seq=32,
                    name=f"gpt_{layers}")
    import onnx

    model = onnx.load(path)
    weights = sum(len(t.raw_data) or 4 * len(t.float_data) for t in model.graph.initializer)
    return path, weights


def run_child(what: str, path: Path, work: Path, browser: bool
              ) -> tuple[dict[str, float], str, subprocess.Popen[bytes] | None]:
    result = work / f"{what}.json"
    target = work / (f"{what}.html" if what == "overlay" else f"{what}.target")
    release = work / f"{what}.release"
    for leftover in (result, target, release):
        leftover.unlink(missing_ok=True)
    command = [sys.executable, "-c", CHILD, what, str(path), str(result), str(ROOT),
               str(work), str(target)]
    if what in ("netron", "explorer") and browser:
        command.append(str(release))  # netron ignores it; both stay up for the browser
    process = subprocess.Popen(command)
    serving = what in ("netron", "explorer") and browser
    while not result.exists() and process.poll() is None:
        time.sleep(0.1)
    if not serving:
        process.wait()
    if not result.exists():
        raise RuntimeError(f"{what} failed on {path.name}")
    page = target.as_uri() if what == "overlay" else target.read_text()
    return json.loads(result.read_text()), page, process if serving else None


def browser_times(pages: dict[str, str], cap: float) -> dict[str, float | str]:
    """Seconds until each page shows its graph, in headless Chromium, offline."""
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(ROOT / "tests"))
    from browser.lab import CHROMIUM, CHROMIUM_ARGS
    from test_browser import netron_build_date

    done: dict[str, float | str] = {}
    ready = {"overlay": "svg g.node", "netron": "g.node", "explorer": "canvas"}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        for what, url in pages.items():
            context = browser.new_context()
            context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(
                ("file:", "data:", "blob:", "http://127.0.0.1", "http://localhost"))
                else route.abort())
            context.add_cookies([{"name": "consent", "value": str(int(time.time() * 1000)),
                                  "url": "http://127.0.0.1"}])
            page = context.new_page()
            page.set_default_timeout(cap * 1000)
            built = netron_build_date()
            if what == "netron" and built is not None:
                page.clock.set_system_time(built + timedelta(days=30))  # its 180-day rule
            print(f"  drawing {what} in Chromium…", flush=True)
            start = time.perf_counter()
            try:
                page.goto(url)
                page.locator(ready[what]).first.wait_for(timeout=cap * 1000)
                done[what] = time.perf_counter() - start
            except Exception:  # a page that never draws is the finding
                done[what] = f"> {cap:.0f} s (not drawn)"
            context.close()
        browser.close()
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one small model")
    parser.add_argument("--browser", action="store_true", help="time the drawing in Chromium")
    parser.add_argument("--browser-cap", type=float, default=180.0)
    args = parser.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
    from workbench.backends.explorer import explorer_installed

    tools = ["overlay", "netron"] + (["explorer"] if explorer_installed() else [])
    if "explorer" not in tools:
        print("model explorer: not installed (pip install 'trt-workbench[explorer]')")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for layers in (5,) if args.quick else (50, 295):
            path, weights = make_model(folder, layers)
            figures: dict[str, dict[str, float]] = {}
            pages: dict[str, str] = {}
            keep: list[subprocess.Popen[bytes]] = []
            try:
                for what in tools:
                    figures[what], pages[what], process = run_child(what, path, folder,
                                                                    args.browser)
                    if process is not None:
                        keep.append(process)
                print(f"\n{path.name}: {figures['overlay']['nodes']:.0f} nodes, "
                      f"{weights / 2**20:.1f} MiB of weights, "
                      f"{figures['overlay']['groups']:.0f} namespace groups")
                report(figures, weights)
                if args.browser:
                    drawn = browser_times(pages, args.browser_cap)
                    screen_report(figures, drawn)
            finally:  # the servers wait for this before they stop
                for what in ("netron", "explorer"):
                    (folder / f"{what}.release").touch()
                for process in keep:
                    process.wait(timeout=60)
    return 0


def screen_report(figures: dict[str, dict[str, float]],
                  drawn: dict[str, float | str]) -> None:
    """Server side plus drawing: the time until the user sees the graph."""
    totals = {what: sum(figures[what][k] for k in SHOW[what]) + seconds
              for what, seconds in drawn.items() if isinstance(seconds, float)}
    base = totals.get("netron")
    for what, seconds in drawn.items():
        if isinstance(seconds, float):
            ratio = f" = {totals[what] / base:.2f}x netron" if base else ""
            print(f"  on screen {what:<9} {totals[what]:7.2f} s (drawn in Chromium "
                  f"{seconds:.2f} s){ratio}")
        else:
            print(f"  on screen {what:<9} {seconds}")


def report(figures: dict[str, dict[str, float]], weights: int) -> None:
    base = sum(figures["netron"][k] for k in SHOW["netron"])
    for what, parts in SHOW.items():
        if what not in figures:
            continue
        got = figures[what]
        show = sum(got[k] for k in parts)
        detail = ", ".join(f"{k} {got[k]:.3f}" for k in parts)
        line = (f"  {what:<9} show {show:7.3f} s ({detail}) = {show / base:5.2f}x netron; "
                f"peak RSS {got['peak_rss'] / 2**20:6.1f} MiB = "
                f"{got['peak_rss'] / max(weights, 1):.1f}x weights")
        if what == "overlay":
            line += f"; from file {show + got['load'] + got['parse']:.3f} s " \
                    f"(load {got['load']:.3f}, TensorRT parse {got['parse']:.3f})"
        print(line)


if __name__ == "__main__":
    raise SystemExit(main())
