"""Run tab: seeded or uploaded inputs, ONNX Runtime or TensorRT, output statistics."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from workbench.app.session.session import LoadedModel, WorkbenchSession
from workbench.app.session.tasks import Event, Task, TaskKind, as_workbench_error
from workbench.ui.common import ErrorBox, busy_while, esc, html_table, note
from workbench.ui.feed_controls import FeedControls

__all__ = ["RunTab"]


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.4g}"


class RunTab:
    """Inputs → run in the background → an outputs table (and latency on a GPU)."""

    def __init__(self, session: WorkbenchSession) -> None:
        self.session = session
        self.seed = widgets.IntText(value=0, description="seed", layout={"width": "160px"},
                                    style={"description_width": "40px"})
        self.generate_button = widgets.Button(description="Random inputs", icon="random")
        self.upload = widgets.FileUpload(accept=".npz", multiple=False,
                                         description="Upload .npz")
        self.inputs = widgets.HTML()
        self.feed_controls = FeedControls(session)
        self.backend = widgets.Dropdown(options=[("ONNX Runtime (CPU)", "onnxruntime"),
                                                 ("TensorRT", "tensorrt")],
                                        value="onnxruntime", description="run with")
        self.trt_note = widgets.HTML()
        self.run_button = widgets.Button(description="Run", icon="play",
                                         button_style="primary", disabled=True)
        self.status = widgets.HTML()
        self.error = ErrorBox()
        self.outputs = widgets.HTML()
        self.generate_button.on_click(lambda _b: self.generate())
        self.upload.observe(self._on_upload, "value")
        self.backend.observe(lambda _c: self._show_backend(), "value")
        self.run_button.on_click(lambda _b: self.start())
        session.on(Event.TASK, self._on_task)
        self.widget = widgets.VBox([
            widgets.HTML("<b>Inputs</b>"),
            widgets.HBox([self.seed, self.generate_button, self.upload]),
            self.feed_controls.widget, self.inputs,
            widgets.HBox([self.backend, self.run_button]), self.trt_note, self.status,
            self.error, self.outputs,
        ])

    def on_model(self, model: LoadedModel | None) -> None:
        self.outputs.value = self.inputs.value = ""
        self.error.clear()
        for control in (self.generate_button, self.upload, self.seed):
            control.disabled = model is None
        self.feed_controls.on_model(model)
        if model is not None:
            self.generate()
        self._show_backend()

    def _show_backend(self) -> None:
        """Say what the chosen backend will run; Run is enabled only where it can run."""
        no_model = self.session.model is None
        if self.backend.value != "tensorrt":
            self.trt_note.value = ""
            self.run_button.disabled = no_model
            return
        ok, why = self.session.runs.tensorrt_status()
        self.run_button.disabled = no_model or not ok
        if ok:
            self.trt_note.value = note(f"TensorRT runs on {esc(why)}; the engine from the "
                                       "Build tab (or the one reloaded) is used.", "ok")
        else:
            self.trt_note.value = note(f"TensorRT cannot run engines here: {esc(why)}. "
                                       "Use ONNX Runtime on this machine.", "warn")

    def generate(self) -> None:
        self.error.clear()
        try:
            feeds = self.session.runs.make_inputs(int(self.seed.value),
                                                  self.feed_controls.options())
        except Exception as err:  # shown in the panel, never raised into the notebook
            self.error.show(as_workbench_error(err, "making random inputs"))
            return
        self._show_inputs(feeds)

    def _on_upload(self, change: dict[str, Any]) -> None:
        self.error.clear()
        for item in change["new"] or ():
            try:
                feeds = self.session.runs.use_inputs_file(bytes(item["content"]), str(item["name"]))
            except Exception as err:
                self.error.show(as_workbench_error(err, "reading the .npz file"))
                return
            self._show_inputs(feeds)

    def _show_inputs(self, feeds: dict[str, Any]) -> None:
        rows = [(name, str(a.dtype), list(a.shape), _num(float(a.min()) if a.size else None),
                 _num(float(a.max()) if a.size else None)) for name, a in feeds.items()]
        # only seeded feeds are reproducible from a number; a file's are what it holds
        why = (" (same seed, same values)" if self.session.runs.input_seed is not None
               else " (the arrays as saved in it)")
        self.inputs.value = (f"<small>inputs from <b>{esc(self.session.runs.input_source)}</b>"
                             f"{why}</small>"
                             + html_table(("input", "dtype", "shape", "min", "max"), rows))

    def start(self) -> Task | None:
        self.error.clear()
        if self.session.runs.input_seed is not None and self.session.model is not None:
            self.generate()  # generated inputs follow the seed and size boxes as they are now
            if self.error.value:
                return None
        try:
            return self.session.start(self.session.runs.run, self.backend.value)
        except Exception as err:
            self.error.show(as_workbench_error(err, "starting the run"))
            return None

    def _on_task(self, _event: str, task: Task[Any]) -> None:
        if task.kind is not TaskKind.RUN:
            return
        busy_while(task, [self.run_button, self.generate_button], self.status)
        if task.busy:
            return
        self._show_backend()  # re-derive Run's state: TensorRT may not run here
        if task.error is not None:
            self.error.show(task.error)
            self.outputs.value = ""
        else:
            self.outputs.value = self._result_html(task.result)

    @staticmethod
    def _result_html(result: Any) -> str:
        rows = [(s.name, s.dtype, list(s.shape), _num(s.min), _num(s.max), _num(s.mean),
                 _num(s.std), s.nan, s.inf) for s in result.stats()]
        text = (f"<small>{esc(result.backend)} · inputs from {esc(result.input_source)} · "
                f"{result.seconds * 1000:.1f} ms (one run, wall time)</small>"
                + html_table(("output", "dtype", "shape", "min", "max", "mean", "std", "NaN",
                              "Inf"), rows))
        latency = result.latency
        if latency is not None:
            text += html_table(("latency", "min", "median", "p90", "p99", "max", "qps"), [(
                f"{latency.iterations} runs", f"{latency.min_ms:.3f} ms",
                f"{latency.median_ms:.3f} ms", f"{latency.p90_ms:.3f} ms",
                f"{latency.p99_ms:.3f} ms", f"{latency.max_ms:.3f} ms",
                f"{latency.throughput_qps:.0f}")])
        else:
            text += note("Latency statistics need TensorRT on a GPU; ONNX Runtime on CPU "
                         "shows the single run's wall time only.")
        return text
