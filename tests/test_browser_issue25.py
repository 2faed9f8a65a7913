"""Issue 25 in real JupyterLab (headless Chromium): sizes set for ``?`` dims, a keep list
from a passing re-run sent to Build, a comparison whose FP32 reference disagrees with ONNX
Runtime shown as INCONCLUSIVE, and a parse-refused model from Bug bundle to repro.

Screenshots of the Model, Compare (drift table) and Parse tabs on a real export go to
``WORKBENCH_SCREENSHOT_DIR`` (default: the test's temporary folder), never the checkout;
the export is ``sample_models/exports/swin_dynamo.onnx`` or ``WORKBENCH_SCREENSHOT_MODEL``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from browser.lab import CHROMIUM, CHROMIUM_ARGS, running_lab
from reference_models import efficientnet_pooler, lp_pool_ceil, save
from test_browser import browser_ready, button, only_local, run_all, wait_for_panel_text
from test_ui_feed_sizes import anonymous_dims

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.browser
__all__ = ["browser_ready"]  # the fixture, imported for its skip rule

NOTEBOOK = """\
import sys
sys.path.insert(0, {repo!r})
from workbench import Workbench, WorkbenchSession

session = WorkbenchSession(engines_dir="engines", work_dir="out")
panel = Workbench("anonymous_dims.onnx", session=session)
panel"""


def _notebook(folder: Path) -> str:
    cell = {"cell_type": "code", "execution_count": None, "id": "panel", "metadata": {},
            "outputs": [], "source": NOTEBOOK.format(repo=str(ROOT))}
    (folder / "issue25.ipynb").write_text(json.dumps({
        "cells": [cell], "metadata": {"kernelspec": {
            "display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}},
        "nbformat": 4, "nbformat_minor": 5}))
    return "issue25.ipynb"


def _open(page: Any, path: Path) -> None:
    field = page.locator(".wb-panel input[placeholder='path/to/model.onnx']")
    field.fill(str(path))
    field.press("Enter")
    button(page, "Open").click()
    wait_for_panel_text(page, f"TensorRT Workbench — {path.name}")


def _tab(page: Any, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()


def _size_box(page: Any, label: str) -> Any:
    return page.locator(".wb-panel .widget-inline-hbox:visible").filter(
        has=page.get_by_text(label, exact=True)).locator("input").first


def _screenshot(page: Any, folder: Path, name: str) -> Path:
    target = folder / name
    page.locator(".wb-panel").first.screenshot(path=str(target), animations="disabled")
    return target


def _real_export() -> Path | None:
    given = os.environ.get("WORKBENCH_SCREENSHOT_MODEL")
    path = Path(given) if given else ROOT / "sample_models" / "exports" / "swin_dynamo.onnx"
    return path if path.is_file() else None


def test_issue25_in_jupyterlab(browser_ready: None, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    root = tmp_path / "root"
    root.mkdir()
    anonymous_dims(root / "anonymous_dims.onnx")
    save(lp_pool_ceil(), root)
    pooler = efficientnet_pooler(batch="batch")
    save(pooler, root)
    shutil.copy(ROOT / "sample_models" / "fp16_overflow.onnx", root / "fp16_overflow.onnx")
    shots = Path(os.environ.get("WORKBENCH_SCREENSHOT_DIR", str(tmp_path / "shots")))
    shots.mkdir(parents=True, exist_ok=True)
    export = _real_export()
    if export is not None:
        shutil.copy(export, root / export.name)
    with running_lab(root, tmp_path / "lab") as lab, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1300, "height": 3200})
        context.route("**/*", only_local)
        page = context.new_page()
        page.goto(lab.notebook_url(_notebook(root)))
        run_all(page)
        page.locator(".wb-panel").wait_for(timeout=60_000)
        wait_for_panel_text(page, "TensorRT Workbench — anonymous_dims.onnx")

        # 1. a '?' dim gets a size box in the Run tab, and the run uses the size
        _tab(page, "Run")
        page.locator(".wb-panel .lm-AccordionPanel-title:visible, "
                     ".wb-panel .p-Collapse-header:visible, "
                     ".wb-panel .jupyter-widget-Collapse-header:visible").filter(
            has_text="Input sizes and value ranges").first.click()
        box = _size_box(page, "x[1]")
        box.fill("37")
        box.press("Tab")
        button(page, "Run").click()
        wait_for_panel_text(page, "onnxruntime · inputs from seed")
        wait_for_panel_text(page, ", 37]")  # x's shape in the inputs table

        # 2. the keep list of a passing re-run goes to the Build tab
        _open(page, root / "fp16_overflow.onnx")
        _tab(page, "Compare")
        button(page, "Compare").click()
        wait_for_panel_text(page, "FP16 vs FP32: FAILED", timeout=120_000)
        button(page, "Keep these in FP32 and re-run").click()
        wait_for_panel_text(page, "FP16 vs FP32: PASSED", timeout=120_000)
        use = button(page, "Use this keep list for the build")
        expect(use).to_be_enabled(timeout=30_000)
        use.click()
        wait_for_panel_text(page, "Carried to the Build tab")
        _tab(page, "Build")
        keep_field = page.locator(
            ".wb-panel input[placeholder='node names, comma-separated']:visible").first
        expect(keep_field).to_have_value(re.compile(r"rms\.sqrt"), timeout=30_000)

        # 3. the FP32 reference disagrees with ONNX Runtime: INCONCLUSIVE, with the node
        _open(page, root / "lp_pool_ceil.onnx")
        _tab(page, "Compare")
        button(page, "Compare").click()
        wait_for_panel_text(page, "FP16 vs FP32: INCONCLUSIVE", timeout=120_000)
        wait_for_panel_text(page, "they part at node lp_pool")
        assert "FAILED" not in page.locator(".wb-panel").first.inner_text().split(
            "FP16 vs FP32:")[1][:40]

        # 4. a parse-refused model: diagnosis, build, bug bundle, repro
        _open(page, root / "efficientnet_pooler.onnx")
        _tab(page, "Parse")
        wait_for_panel_text(page, "covers the whole 7×7 input")
        assert button(page, "Rewrite as global pool and retry").is_visible()
        _tab(page, "Build")
        page.locator(".wb-panel .wb-build-button").click()
        wait_for_panel_text(page, "could not parse", timeout=120_000)
        button(page, "Bug bundle").click()
        wait_for_panel_text(page, "the bundled model reproduces it", timeout=120_000)
        bundle = root / "out" / "efficientnet_pooler.bug.zip"
        unpacked = tmp_path / "bundle"
        with zipfile.ZipFile(bundle) as archive:
            archive.extractall(unpacked)
        assert "pixel_values" not in (unpacked / "repro.sh").read_text()
        assert "Parameter check failed" in (unpacked / "verbose.log").read_text()
        run = subprocess.run([sys.executable, "repro.py"], cwd=unpacked, capture_output=True,
                             text=True, timeout=300, check=False)
        assert run.returncode == 1 and "Parameter check failed" in run.stderr

        # 5. screenshots of a real export: Model, Parse, Compare (drift table)
        if export is not None:
            _open(page, root / export.name)
            wait_for_panel_text(page, "loading the model: done")  # the op chart too
            _tab(page, "Model")
            _screenshot(page, shots, "issue25_model.png")
            _tab(page, "Parse")
            wait_for_panel_text(page, "TensorRT (", timeout=120_000)
            _screenshot(page, shots, "issue25_parse.png")
            _tab(page, "Compare")
            button(page, "Compare").click()
            wait_for_panel_text(page, "vs FP32:", timeout=300_000)
            drift = page.locator(".wb-panel").get_by_text("Per-layer drift").first
            drift.scroll_into_view_if_needed()
            _screenshot(page, shots, "issue25_compare.png")
            widths = page.locator(".wb-panel").first.evaluate(
                "e => [e.scrollWidth, e.clientWidth]")
            assert widths[0] <= widths[1] + 1, widths  # tables scroll in their own boxes
        browser.close()
