"""The session report: one self-contained HTML file, every section, opened in Chromium.

The session runs for real (TensorRT-RTX parse and build, ONNX Runtime and NumPy FP16 for
the comparison) on fp16_overflow, a model whose FP16 comparison fails with drift plots.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest

from workbench.app.report import SECTIONS
from workbench.app.session import WorkbenchSession
from workbench.cli import main
from workbench.core.errors import WorkbenchError


@pytest.fixture(scope="module")
def full_report(tmp_path_factory, sample) -> Path:
    """A report after diagnose, build and compare (built once for the module)."""
    folder = tmp_path_factory.mktemp("report")
    session = WorkbenchSession(engines_dir=folder, work_dir=folder)
    session.load(sample("fp16_overflow"))
    session.diagnose()
    session.start_build()
    session.wait_build()
    session.compare()
    path = session.report(folder / "report.html")
    session.close()
    return path


def test_report_has_every_section_with_content(full_report: Path) -> None:
    text = full_report.read_text()
    for anchor, title in SECTIONS:
        assert f"data-section='{anchor}'" in text and title in text
    assert "tensorrt_rtx --onnx=fp16_overflow.onnx" in text  # trtexec line, relative name
    assert "builder.build_serialized_network" in text  # the Python script
    assert "Build <span class='ok'>built</span>" in text
    assert "Full build log" in text and "download='build.log'" in text
    assert "rms.square" in text  # an ONNX node fused into an engine layer / the drift
    assert "FAILED" in text  # fp16_overflow's FP16 comparison fails
    assert text.count("src='data:image/png;base64,") == 2  # histogram + drift curve
    assert "TensorRT-RTX 1.7" in text


def test_report_makes_no_outside_reference(full_report: Path) -> None:
    text = full_report.read_text()
    assert not re.search(r"""(src|href)=['"](https?:|//)""", text)
    assert "default-src 'none'" in text  # and the page forbids any request itself


def test_report_refuses_to_overwrite(full_report: Path) -> None:
    before = full_report.read_bytes()
    session = WorkbenchSession()
    with pytest.raises(WorkbenchError, match="No model is loaded"):
        session.report(full_report.parent / "other.html")
    session.load(Path(__file__).parent.parent / "sample_models" / "tiny_cnn.onnx")
    with pytest.raises(WorkbenchError, match="already exists"):
        session.report(full_report)
    assert full_report.read_bytes() == before


def test_cli_report_without_build_says_what_was_not_run(sample, tmp_path: Path,
                                                        capsys) -> None:
    out = tmp_path / "r.html"
    assert main(["report", str(sample("unsupported_op")), "-o", str(out)]) == 0
    text = out.read_text()
    assert "does not parse" in text and "FancyActivation" in text
    assert "No build in this session" in text
    assert "report MODEL --compare" in text
    assert main(["report", str(sample("unsupported_op")), "-o", str(out)]) == 1
    assert "already exists" in capsys.readouterr().err
    built = tmp_path / "built.html"
    assert main(["report", str(sample("tiny_cnn")), "-o", str(built), "--build"]) == 0
    text = built.read_text()
    assert "Build <span class='ok'>built</span>" in text
    assert "[V]" in text  # the attached log is the VERBOSE one (the CLI's default)


@pytest.mark.browser
def test_report_renders_offline_in_chromium(full_report: Path, tmp_path: Path,
                                           monkeypatch) -> None:
    from browser.lab import CHROMIUM, CHROMIUM_ARGS, browser_problem

    problem = browser_problem()
    if problem is not None:
        pytest.skip(problem)
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("HOME", str(tmp_path))  # nothing written to the real home
    outside: list[str] = []

    def route(request_route) -> None:
        url = request_route.request.url
        if url.startswith(("file:", "data:")):
            request_route.continue_()
        else:
            outside.append(url)
            request_route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1000, "height": 800})
            context.route("**/*", route)
            page = context.new_page()
            page.goto(full_report.as_uri())
            for anchor, title in SECTIONS:
                section = page.locator(f"section[data-section='{anchor}']")
                assert section.is_visible(), anchor
                assert section.locator("h2").inner_text() == title
                assert section.bounding_box()["height"] > 40, anchor
            images = page.locator("img")
            assert images.count() == 2
            for i in range(images.count()):
                assert images.nth(i).evaluate("img => img.complete && img.naturalWidth") > 100
            save_screenshot(page, tmp_path)
            page.locator("summary", has_text="Full build log").click()
            assert "Engine generation completed" in page.locator("details[open]").inner_text()
        finally:
            browser.close()
    assert outside == []


def save_screenshot(page, out_dir: Path) -> Path:
    """The README's docs/report.png, written only when WORKBENCH_UPDATE_SCREENSHOT=1."""
    from PIL import Image

    png = page.screenshot(type="png", full_page=True, animations="disabled")
    image = Image.open(io.BytesIO(png)).convert("RGB")
    image = image.quantize(colors=64, method=Image.Quantize.MEDIANCUT)
    docs = Path(__file__).resolve().parent.parent / "docs"
    update = os.environ.get("WORKBENCH_UPDATE_SCREENSHOT") == "1"
    target = (docs if update else out_dir) / "report.png"
    image.save(target, format="PNG", optimize=True)
    assert target.stat().st_size < 400_000, "the report screenshot must stay under 400 KB"
    return target


def test_report_of_a_realistic_failure_says_why(realistic, tmp_path: Path) -> None:
    """if_switch (corpus) parses, but a profile shorter than its Conv window cannot run (the
    build is refused before TensorRT, with sizes that do run); the report says why, and a
    comparison that cannot run says so instead of 'not run'."""
    from workbench.app.report import write_report
    from workbench.build.settings import BuildSettings, default_profiles

    session = WorkbenchSession(work_dir=tmp_path, engines_dir=tmp_path)
    model = session.load(realistic("if_switch"))
    # seeded without the graph's minimums (samples 1/16/64), as the default once was
    short = BuildSettings(profiles=(default_profiles(model.summary.inputs),))
    with pytest.raises(WorkbenchError) as refused:
        session.start_build(short)
    session.set_feed_options(session.feed_options.__class__(dims={"samples": 16}))
    assert session.start_compare().join(60)  # fails to run: the report says so
    out = write_report(session, tmp_path / "if.html", build_refused=refused.value.message)
    text = out.read_text()
    assert "Build <span class='bad'>refused</span>" in text
    # sr = 16000, the value the If compares with: its 16 kHz branch is the one that fails
    assert "sr16k.stft_conv" in text and "use sizes that run" in text
    assert "No comparison in this session" not in text
    assert ("The comparison <span class='bad'>failed to run</span>" in text
            or "FP16 vs FP32" in text)
