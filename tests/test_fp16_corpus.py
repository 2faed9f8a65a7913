"""Issue 17's bar on the realistic corpus: every model that builds in FP32 builds in FP16
(TensorRT-RTX, for real) and its FP16 comparison runs.

Models the default profile cannot build get the profile a user would set (the If switch
needs a longer time axis than the seeded one); models TensorRT cannot parse (ONNX Runtime
dynamic quantization) build in neither precision and are counted as such.
"""

from __future__ import annotations

import pytest

from sample_models.realistic import REALISTIC
from workbench.app.precision import compare_precision
from workbench.backends.trt.build import build_engine
from workbench.build.settings import BuildSettings, ShapeProfile
from workbench.core.errors import BuildError

SUITABLE = {
    "if_switch": ((ShapeProfile("input", (1, 512), (1, 1024), (2, 2048)),
                   ShapeProfile("state", (2, 1, 16), (2, 1, 16), (2, 2, 16))),
                  {"batch": 1, "samples": 1024}),
    # image sides must be multiples of 32 (the build's seeded profile knows; random feeds
    # are given sizes as a user would)
    "paddle_detector": ((), {"p2o.DynamicDimension.0": 1, "p2o.DynamicDimension.1": 64,
                             "p2o.DynamicDimension.2": 64}),
}


def _builds(path, precision: str, profiles: tuple[ShapeProfile, ...]) -> bool:
    settings = BuildSettings(precision=precision, compute_capabilities=("8.9",),
                             profiles=(profiles,) if profiles else ())
    try:
        artifact = build_engine(path, settings)
    except BuildError:
        return False
    assert precision == "fp32" or artifact.conversion is not None
    return True


def test_every_model_that_builds_in_fp32_builds_in_fp16_and_compares(realistic, capsys) -> None:
    fp32 = fp16 = compared = 0
    for entry in REALISTIC:
        path = realistic(entry.name)
        profiles, dims = SUITABLE.get(entry.name, ((), None))
        if not _builds(path, "fp32", profiles):
            assert not entry.parses, f"{entry.name} should build in FP32"
            continue
        fp32 += 1
        assert _builds(path, "fp16", profiles), f"{entry.name}: FP32 builds, FP16 does not"
        fp16 += 1
        report = compare_precision(path, dims=dims, backend="numpy")
        # every model TensorRT builds passes FP16 on its generated inputs (checked by hand:
        # the masks saturate benignly, the detector's 1.2e8 variance is folded in FP32)
        assert report.conversion is not None and report.verdict == "PASSED", report.summary()
        compared += 1
    with capsys.disabled():
        print(f"\nrealistic corpus: FP16 builds {fp16} / FP32 builds {fp32}; "
              f"FP16 comparisons run {compared}")
    assert fp16 == fp32 == compared == len(REALISTIC) - 1  # all but the ORT-quantized model


@pytest.mark.parametrize("name", ["bert_like", "gpt_like"])
def test_passing_transformers_have_no_first_bad_node_and_no_keep_list(realistic, name) -> None:
    report = compare_precision(realistic(name), backend="numpy")
    assert report.verdict == "PASSED", report.summary()
    assert report.first_bad_node is None and report.suggested_keep_fp32 == ()
    # the finfo.min mask is benign saturation whenever the inputs mask anything
    assert not [i for i in report.out_of_range if i.kind == "overflow"]
