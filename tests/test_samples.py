"""The committed sample models are exactly what make_samples.py writes, and stay small."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_make_samples():
    script = ROOT / "sample_models" / "make_samples.py"
    spec = importlib.util.spec_from_file_location("make_samples", script)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_samples"] = module
    spec.loader.exec_module(module)
    return module


def test_regenerated_samples_match_committed(tmp_path: Path, samples_dir: Path) -> None:
    make_samples = load_make_samples()
    written = make_samples.write_samples(tmp_path)
    assert len(written) >= 13
    for path in written:
        committed = samples_dir / path.name
        assert committed.exists(), f"{path.name} is generated but not committed"
        assert committed.read_bytes() == path.read_bytes(), (
            f"{path.name} differs from what make_samples.py writes; "
            "run: python sample_models/make_samples.py"
        )


def test_samples_are_small(samples_dir: Path) -> None:
    for path in samples_dir.iterdir():
        assert path.stat().st_size < 2 * 1024 * 1024, f"{path.name} is over 2 MB"


def test_sample_readme_lists_every_sample(samples_dir: Path) -> None:
    make_samples = load_make_samples()
    readme = (samples_dir / "README.md").read_text()
    for sample in make_samples.SAMPLES:
        assert f"`{sample.name}.onnx`" in readme, f"{sample.name} missing from the samples README"
