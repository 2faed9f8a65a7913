"""Panel benchmark: responsiveness while a VERBOSE build streams, and log-pane memory.

    python bench/panel_bench.py [--layers 700] [--channels 64] [--lines 300000]

1. A ~100 MB model (700 × 3×3 Conv+Relu, 64 channels; generated in a temp dir) is built at
   VERBOSE severity from the real panel (``build_button.click()``), so ~29,000 TensorRT
   lines stream into the real log pane. Meanwhile the main thread measures widget round
   trips the way a kernel sees them — the frontend's message handled by the widget:
   ``_handle_custom_msg({"event": "click"})`` on a button (handler updates a label) and
   ``set_state({"value": ...})`` on the log search box (the pane re-filters up to 100,000
   kept lines and re-renders). Target: p99 < 100 ms.
2. Memory: 100,000-line batches of synthetic mixed-severity lines go through a real
   LogBus into the real LogPane; the process RSS is read after each batch. The bus keeps
   100,000 records and the pane 200 lines, so growth stops after the first batch.

Runs headless: real ipywidgets without a kernel or frontend (widget state changes and
observers run as they do in a kernel; nothing is sent anywhere).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # tests/browser/models.py builds the model


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered), p99, ordered[-1]


def round_trips(panel: object, job: object) -> dict[str, list[float]]:
    """Probe the main thread while the build thread streams its log."""
    import ipywidgets as widgets

    probe, label = widgets.Button(description="probe"), widgets.HTML()
    probe.on_click(lambda _b: setattr(label, "value", f"clicked {time.perf_counter()}"))
    search = panel.build.log.search  # type: ignore[attr-defined]
    samples: dict[str, list[float]] = {"button click": [], "log search (re-filter)": []}
    needles = ["conv", "relu", "tactic", ""]
    index = 0
    while not job.done:  # type: ignore[attr-defined]
        started = time.perf_counter()
        probe._handle_custom_msg({"event": "click"}, [])
        samples["button click"].append(time.perf_counter() - started)
        started = time.perf_counter()
        search.set_state({"value": needles[index % len(needles)]})
        samples["log search (re-filter)"].append(time.perf_counter() - started)
        index += 1
        time.sleep(0.05)  # a fast user: 20 interactions per second
    search.set_state({"value": ""})
    return samples


def bare_build_seconds(model: Path) -> float:
    from workbench.app.session.jobs import BuildJob
    from workbench.settings.settings import BuildSettings

    job = BuildJob(model, BuildSettings(log_severity="VERBOSE"))
    job.artifact(600)
    return job.elapsed


def build_benchmark(layers: int, channels: int) -> None:
    from browser.models import conv_chain

    from workbench.app.session.session import WorkbenchSession
    from workbench.ui.panel import Workbench

    with tempfile.TemporaryDirectory() as folder:
        model = conv_chain(Path(folder) / "big.onnx", layers=layers, channels=channels)
        size = model.stat().st_size / 1e6
        baseline = bare_build_seconds(model)
        session = WorkbenchSession(engines_dir=Path(folder) / "engines", work_dir=folder)
        panel = Workbench(model, session=session)
        session.tasks["diagnose"].join(120)
        panel.build.form.fields["log_severity"].value = "VERBOSE"
        before = rss_mib()
        panel.build.build_button.click()
        job = session.build_job
        samples = round_trips(panel, job)
        session.wait_build(600)
        print(f"build: {size:.0f} MB model ({layers} conv layers) built in {job.elapsed:.2f} s "
              f"at VERBOSE; {job.log.total:,} log lines streamed into the pane "
              f"({panel.build.log.renders} renders); RSS +{rss_mib() - before:.0f} MiB")
        print(f"baseline: the same build as a bare BuildJob (no panel, no probes) took "
              f"{baseline:.2f} s; with the panel streaming and the probes: "
              f"{job.elapsed / baseline:.2f}×")
        for name, values in samples.items():
            p50, p99, worst = percentiles(values)
            verdict = "OK" if p99 < 0.100 else "OVER TARGET"
            print(f"round trip while streaming, {name}: n={len(values)} "
                  f"p50 {p50 * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms, max {worst * 1000:.2f} ms "
                  f"(target p99 < 100 ms: {verdict})")
        panel.close()


def memory_benchmark(lines: int) -> None:
    from workbench.core.logbus import SEVERITIES, LogBus
    from workbench.ui.build.logpane import LogPane

    bus, pane = LogBus("VERBOSE", maxlen=100_000), LogPane()
    pane.attach(bus)
    text = "[GraphReduction] fused conv{}+relu{} into one kernel; tactic 0x{:x} selected"
    base = rss_mib()
    growth = []
    batch = 100_000
    started = time.perf_counter()
    for start in range(0, lines, batch):
        for i in range(start, start + batch):
            bus.push(SEVERITIES[1 + i % 4], text.format(i, i, i))
        pane.render()
        now = rss_mib()
        growth.append(now - base)
        base = now
    elapsed = time.perf_counter() - started
    shown = len(pane.shown_lines())
    print(f"log pane memory: {lines:,} lines in {elapsed:.1f} s ({lines / elapsed:,.0f} lines/s, "
          f"{pane.renders} renders); RSS growth per 100,000 lines: "
          + ", ".join(f"{g:+.1f} MiB" for g in growth)
          + f" (bus keeps {len(bus):,}, dropped {bus.dropped:,}; pane shows {shown})")
    pane.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--layers", type=int, default=700)
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--lines", type=int, default=300_000)
    args = parser.parse_args()
    build_benchmark(args.layers, args.channels)
    memory_benchmark(args.lines)


if __name__ == "__main__":
    main()
