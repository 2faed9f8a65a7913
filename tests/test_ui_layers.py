"""The engine-layer table (TREx's view): which ONNX nodes each engine layer fuses."""

from __future__ import annotations

from pathlib import Path

from ui_support import make_panel, wait_until

import workbench
from workbench.ui.build.layers import MAX_ROWS, layers_html


def test_layers_table_shows_fusions_of_a_real_build(sample) -> None:
    artifact = workbench.build_engine(sample("resnet_block"))
    html = layers_html(artifact.card)
    fused = {node for layer in artifact.card.layers for node in layer.onnx_nodes}
    assert "block.residual_add" in fused  # TensorRT fuses the residual add into a kernel
    assert f"{len(fused)} ONNX nodes → {len(artifact.card.layers)} engine layers" in html
    assert "block.residual_add" in html and "from the DETAILED build log" in html
    assert html.count("<tr") == len(artifact.card.layers) + 1  # header + one row each


def test_layers_table_is_bounded_and_explains_absence(sample) -> None:
    artifact = workbench.build_engine(sample("tiny_cnn"))
    card = artifact.card
    many = type(card)(**{**card.__dict__, "layers": card.layers[:1] * (MAX_ROWS + 7)})
    html = layers_html(many)
    assert html.count("<tr") == MAX_ROWS + 1 and "… and 7 more layers" in html
    empty = type(card)(**{**card.__dict__, "layers": ()})
    assert "No per-layer information" in layers_html(empty)


def test_build_and_engines_tabs_show_the_layers(tmp_path: Path, sample) -> None:
    panel = make_panel(tmp_path, sample("resnet_block"))
    panel.build.build_button.click()
    panel.session.wait_build(60)
    wait_until(lambda: "Engine built" in panel.build.result.value, what="the build result")
    assert "engine layers" in panel.build.result.value
    panel.engines.name.value = "resnet"
    panel.engines.save_button.click()
    assert "block.conv2" in panel.engines.card.value  # the saved card's layers, listed
    panel.close()
