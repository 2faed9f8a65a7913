"""Size and range controls for generated inputs, shared by the Run and Compare tabs.

One box per symbolic dim (its size) and per integer input (``[low, high)``), prefilled with
what the feed generator would use, and a table of what each input gets and why. Both tabs
write the same ``session.runs.feed_options``; each shows the other's changes (event ``feeds``).
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from workbench.app.session.session import LoadedModel, WorkbenchSession
from workbench.app.session.tasks import Event
from workbench.core.records import TensorSpec
from workbench.feeds.generator import FeedOptions, FeedPlanRow, plan_dims
from workbench.feeds.inputs import dim_key
from workbench.ui.common import esc, html_table

__all__ = ["FeedControls"]

_INTEGER_KINDS = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
_BOX = {"width": "210px"}
_LABEL = {"description_width": "110px"}


class FeedControls:
    """Sizes per symbolic dim and ranges per integer input → ``FeedOptions``."""

    def __init__(self, session: WorkbenchSession) -> None:
        self.session = session
        self.dims: dict[str, widgets.IntText] = {}
        self.ranges: dict[str, tuple[widgets.IntText, widgets.IntText]] = {}
        self.controls = widgets.VBox()
        self.plan = widgets.HTML()
        self.widget = widgets.Accordion(children=[widgets.VBox([self.controls, self.plan])])
        self.widget.set_title(0, "Input sizes and value ranges")
        self.widget.selected_index = None
        session.on(Event.FEEDS, lambda _e, _options: self.refresh())
        session.on(Event.BUILD, lambda _e, _job: self.refresh())  # a new engine's opt shapes

    def on_model(self, model: LoadedModel | None) -> None:
        self.dims, self.ranges = {}, {}
        self.controls.children, self.plan.value = (), ""
        if model is None:
            return
        specs: tuple[TensorSpec, ...] = tuple(model.summary.inputs)
        for spec in specs:
            for axis, dim in enumerate(spec.shape or ()):
                key = dim_key(spec.name, axis, dim)
                if key is not None and key not in self.dims:
                    # the full name as a tooltip: long names are cut in the label
                    self.dims[key] = widgets.IntText(description=key, layout=_BOX,
                                                     style=_LABEL, tooltip=key)
            if spec.dtype in _INTEGER_KINDS and "mask" not in spec.name.lower():
                self.ranges[spec.name] = (
                    widgets.IntText(description="from", layout={"width": "150px"},
                                    style={"description_width": "40px"}),
                    widgets.IntText(description="to (excl.)", layout={"width": "180px"},
                                    style={"description_width": "70px"}))
        rows: list[Any] = []
        if self.dims:
            rows += [widgets.HTML("<small>sizes of the dynamic dims (unnamed ones as "
                                  "input[axis])</small>"),
                     widgets.GridBox(list(self.dims.values()), layout={
                         "grid_template_columns": "repeat(3, 220px)"})]
        if self.ranges:
            rows += [widgets.HTML("<small>values of integer inputs (high excluded)</small>")]
            rows += [widgets.HBox([widgets.HTML(f"<code>{esc(name)}</code>",
                                                layout={"width": "200px"}), *pair])
                     for name, pair in self.ranges.items()]
        self.controls.children = tuple(rows)
        self.refresh()

    def refresh(self) -> None:
        """Show the session's options and the plan they give (nothing raised)."""
        if self.session.model is None:
            return
        try:
            plan = self.session.runs.feed_plan()
        except Exception as err:  # a bad size: the tab's own error box says more on apply
            self.plan.value = f"<small style='color:#c62828'>{esc(err)}</small>"
            return
        self._fill(plan)
        self.plan.value = html_table(
            ("input", "dtype", "shape", "values", "why"),
            [(row.name, row.dtype, "×".join(map(str, row.shape)) or "scalar",
              row.values.replace(" ", "\u00a0"), row.why) for row in plan])

    def _sizes(self, plan: list[FeedPlanRow]) -> dict[str, int]:
        """Symbolic dim name -> the size the plan gives it."""
        return plan_dims(self.session.require_model().summary.inputs, plan)

    def _fill(self, plan: list[FeedPlanRow]) -> None:
        for dim, size in self._sizes(plan).items():
            if dim in self.dims:
                self.dims[dim].value = size
        for row in plan:
            if row.name in self.ranges and row.values.startswith("["):
                low, high = row.values.strip("[)").split(",")
                self.ranges[row.name][0].value = int(low)
                self.ranges[row.name][1].value = int(high)

    def options(self) -> FeedOptions:
        """What the boxes say; sizes and ranges equal to the defaults are not pinned (so a
        new build's opt shapes still size the next run)."""
        plan = self.session.runs.feed_plan(FeedOptions())
        default = {row.name: row for row in plan}
        default_sizes = self._sizes(plan)
        dims = {name: int(box.value) for name, box in self.dims.items()
                if default_sizes.get(name) != int(box.value)}
        ranges = {}
        for name, (low, high) in self.ranges.items():
            chosen = f"[{int(low.value)}, {int(high.value)})"
            if name not in default or default[name].values != chosen:
                ranges[name] = (int(low.value), int(high.value))
        return FeedOptions(dims, ranges)

    def apply(self) -> FeedOptions:
        """Store the boxes' options in the session (the other tab's boxes follow)."""
        options = self.options()
        self.session.runs.set_feed_options(options)
        return options
