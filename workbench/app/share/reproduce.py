"""Commands and scripts that reproduce a workbench action outside the workbench.

Everything the panel does can be done again by hand: the build as a trtexec (or
``tensorrt_rtx``) command line or a bare-API script, the comparison as a script. A build is
rendered from the same ``BuildPlan`` the builder executes, made
for the installed TensorRT's features (TensorRT-RTX's when none can be imported: it is what
installs from PyPI). TensorRT is only asked, lazily, what it is.
"""

from __future__ import annotations

from collections.abc import Sequence

from workbench.backends.trt import compat
from workbench.core.errors import WorkbenchError
from workbench.core.records import TensorSpec
from workbench.settings.features import BackendFeatures
from workbench.settings.fields import Precision
from workbench.settings.plan import BuildPlan, make_plan
from workbench.settings.render import python_script as render_python
from workbench.settings.render import trtexec_command as render_trtexec
from workbench.settings.settings import BuildSettings

__all__ = ["build_features", "build_plan", "compare_script", "python_script",
           "trtexec_command"]


def build_features() -> BackendFeatures:
    """The features of the TensorRT this process would build with."""
    try:
        return compat.backend_features()
    except WorkbenchError:
        return BackendFeatures.typical(rtx=True)


def build_plan(settings: BuildSettings, inputs: Sequence[TensorSpec] | None = None,
               features: BackendFeatures | None = None) -> BuildPlan:
    """The plan ``build_engine`` would execute for ``settings`` here."""
    return make_plan(settings, features or build_features(), inputs)


def trtexec_command(settings: BuildSettings, model_path: str, engine_path: str,
                    features: BackendFeatures | None = None,
                    inputs: Sequence[TensorSpec] | None = None) -> str:
    """The command line that builds the same engine as ``settings``."""
    return render_trtexec(build_plan(settings, inputs, features), model_path, engine_path)


def python_script(settings: BuildSettings, model_path: str, engine_path: str,
                  features: BackendFeatures | None = None,
                  inputs: Sequence[TensorSpec] | None = None) -> str:
    """A standalone script (bare TensorRT API) that builds the same engine."""
    return render_python(build_plan(settings, inputs, features), model_path, engine_path)


def compare_script(model_path: str, precision: Precision = Precision.FP16,
                   keep_fp32: tuple[str, ...] = (), seed: int = 0,
                   dims: dict[str, int] | None = None,
                   int_ranges: dict[str, tuple[int, int]] | None = None) -> str:
    """The script equivalent of an FP16-vs-FP32 comparison."""
    feeds = (f",\n    dims={dict(dims)!r}" if dims else "") + (
        f",\n    int_ranges={dict(int_ranges)!r}" if int_ranges else "")
    return (f"import workbench\nreport = workbench.compare_precision(\n"
            f"    {model_path!r}, {str(precision)!r}, keep_fp32={keep_fp32!r}, "
            f"seed={seed}{feeds})\nprint(report.summary())\n")
