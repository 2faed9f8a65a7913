"""Nothing is lost: atomic saves under SIGKILL, no overwrite without overwrite=True, temp
files cleaned up on errors, a bounded log buffer, and a delete that asks first."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workbench.app.session.engine_library import EngineLibrary
from workbench.app.session.session import WorkbenchSession
from workbench.backends.trt.reduce import reduce_failure
from workbench.core.errors import EngineSaveError, WorkbenchError
from workbench.core.logbus import LogBus
from workbench.engines.card import card_path_for, save_engine
from workbench.transforms.folding import fold_constants

ROOT = Path(__file__).resolve().parent.parent
BIG = 384 * 2**20  # a plan large enough that writing and fsyncing it takes a while

# The child saves a real artifact whose plan is padded to BIG bytes, with overwrite=True.
_SAVER = """
import json, sys
from dataclasses import replace
from workbench.engines.card import EngineArtifact, EngineCard, save_engine
card = EngineCard.from_dict(json.loads(open(sys.argv[2]).read()))
plan = b"vtrt" + bytes(int(sys.argv[3]) - 4)
print("ready", flush=True)
save_engine(EngineArtifact(plan, replace(card, plan_size=len(plan))), sys.argv[1],
            overwrite=sys.argv[4] == "1")
print("saved", flush=True)
"""


def _temps(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.endswith(".tmp"))


def _kill_save_at(target: Path, card_json: Path, moment: str, overwrite: bool) -> bool:
    """Start a child saving a BIG plan to ``target``; SIGKILL it at ``moment``
    ("mid-write": its temp file is partly written; "written": fully written, not yet
    renamed). Returns False when the save finished before the moment was caught."""
    child = subprocess.Popen(
        [sys.executable, "-c", _SAVER, str(target), str(card_json), str(BIG),
         "1" if overwrite else "0"],
        stdout=subprocess.PIPE, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    prefix = f".{target.name}.{child.pid}."
    deadline = time.monotonic() + 60
    try:
        while child.poll() is None and time.monotonic() < deadline:
            for tmp in target.parent.glob(prefix + "*.tmp"):
                size = tmp.stat().st_size if tmp.exists() else -1
                if (moment == "mid-write" and 0 < size < BIG) or (
                        moment == "written" and size == BIG):
                    child.kill()
                    child.wait()
                    return True
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
    return False


@pytest.mark.parametrize("moment", ["mid-write", "written"])
def test_killed_save_leaves_the_old_engine_intact(artifact, tmp_path: Path, moment: str) -> None:
    target = save_engine(artifact, tmp_path / "mlp.engine")
    old_plan, old_card = target.read_bytes(), card_path_for(target).read_bytes()
    card_json = tmp_path / "card.json"
    card_json.write_text(artifact.card.to_json())
    caught = any(_kill_save_at(target, card_json, moment, overwrite=True) for _ in range(3))
    if not caught:
        pytest.skip(f"the save always finished before the moment {moment!r} was seen")
    assert target.read_bytes() == old_plan  # the killed save changed nothing visible
    assert card_path_for(target).read_bytes() == old_card
    assert len(_temps(tmp_path)) == 1  # SIGKILL leaves its temp file; nothing else
    save_engine(artifact, target, overwrite=True)  # the next save removes it
    assert _temps(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "card.json", "mlp.engine", "mlp.engine.json"]


def test_killed_first_save_leaves_no_engine_behind(artifact, tmp_path: Path) -> None:
    card_json = tmp_path / "card.json"
    card_json.write_text(artifact.card.to_json())
    target = tmp_path / "new.engine"
    if not any(_kill_save_at(target, card_json, "mid-write", overwrite=False)
               for _ in range(3)):
        pytest.skip("the save always finished before it could be killed")
    assert not target.exists() and not card_path_for(target).exists()
    save_engine(artifact, target)  # no half-written file blocks the path as "existing"
    assert json.loads(card_path_for(target).read_text())["plan_size"] == len(artifact.plan)
    assert _temps(tmp_path) == []


def test_nothing_is_overwritten_without_overwrite(artifact, sample, tmp_path: Path) -> None:
    engine = tmp_path / "x.engine"
    engine.write_bytes(b"my engine")
    with pytest.raises(EngineSaveError, match="already exists; it was not touched"):
        save_engine(artifact, engine)
    folded = tmp_path / "folded.onnx"
    folded.write_bytes(b"my folded model")
    with pytest.raises(WorkbenchError, match="already exists"):
        fold_constants(sample("needs_constant_folding"), out_path=folded)
    reduced = tmp_path / "reduced.onnx"
    reduced.write_bytes(b"my reduced model")
    with pytest.raises(WorkbenchError, match="already exists"):
        reduce_failure(sample("unsupported_op"), reduced)
    assert engine.read_bytes() == b"my engine"
    assert folded.read_bytes() == b"my folded model"
    assert reduced.read_bytes() == b"my reduced model"
    assert _temps(tmp_path) == []


def test_failed_card_write_removes_the_plan_and_temp_files(artifact, tmp_path: Path) -> None:
    # Found while hardening: mkstemp ran outside the try, so a name too long for the card's
    # temp file escaped as a bare OSError. The plan's temp fits; the card's does not.
    overhead = len(f"..{os.getpid()}..tmp") + 8  # ".<name>.<pid>.<8 random>.tmp"
    name = "e" * (255 - overhead - 2)
    with pytest.raises(EngineSaveError, match="Cannot write") as err:
        save_engine(artifact, tmp_path / name)
    assert "File name too long" in err.value.message
    assert list(tmp_path.iterdir()) == []  # the plan that was placed is rolled back


def test_save_into_missing_folder_is_a_clear_error(artifact, sample, tmp_path: Path) -> None:
    with pytest.raises(EngineSaveError, match="does not exist"):
        save_engine(artifact, tmp_path / "nope" / "x.engine")
    # Found while hardening: fold_constants raised a bare FileNotFoundError here.
    with pytest.raises(WorkbenchError, match="Cannot save the model") as err:
        fold_constants(sample("needs_constant_folding"), out_path=tmp_path / "nope" / "f.onnx")
    assert "FileNotFoundError" in err.value.message
    assert list(tmp_path.iterdir()) == []


def test_stale_temp_of_a_live_writer_is_kept(artifact, tmp_path: Path) -> None:
    """Only temp files of dead writers are cleaned: a concurrent save is not disturbed."""
    live = tmp_path / f".x.engine.{os.getppid()}.abcdefgh.tmp"
    dead = tmp_path / ".x.engine.999999999.abcdefgh.tmp"
    live.write_bytes(b"in progress")
    dead.write_bytes(b"left by a killed save")
    save_engine(artifact, tmp_path / "x.engine")
    assert live.exists() and not dead.exists()


def test_log_buffer_is_bounded() -> None:
    bus = LogBus("VERBOSE", maxlen=1000)
    for i in range(25_000):
        bus.push("VERBOSE", f"line {i}")
    assert len(bus) == 1000 and bus.dropped == 24_000 and bus.total == 25_000
    assert bus.lines()[0] == "line 24000" and bus.lines()[-1] == "line 24999"
    default = LogBus("VERBOSE")
    for _ in range(100_500):
        default.push("VERBOSE", "x")
    assert len(default) == 100_000  # the default a build job uses is bounded too


def test_delete_asks_first(artifact, tmp_path: Path) -> None:
    session = WorkbenchSession(engines_dir=tmp_path / "engines", work_dir=tmp_path / "work")
    library = EngineLibrary(session.engines_dir)
    path = library.save(artifact, "mlp")
    with pytest.raises(WorkbenchError, match="needs confirmation"):
        session.delete_engine("mlp")
    assert path.exists() and card_path_for(path).exists()
    assert session.delete_engine("mlp", confirm=True) == [path, card_path_for(path)]
    assert not path.exists() and not card_path_for(path).exists()


def test_panel_delete_needs_the_confirm_box(artifact, tmp_path: Path) -> None:
    pytest.importorskip("ipywidgets")
    from workbench.ui.build.engines_tab import EnginesTab

    session = WorkbenchSession(engines_dir=tmp_path / "engines", work_dir=tmp_path / "work")
    path = EngineLibrary(session.engines_dir).save(artifact, "mlp")
    tab = EnginesTab(session)
    tab.refresh()
    tab.listing.value = "mlp"
    tab.delete_button.click()
    assert path.exists(), "the panel deleted without confirmation"
    assert "needs confirmation" in tab.error.value
    tab.confirm.value = True
    tab.delete_button.click()
    assert not path.exists()
    assert tab.confirm.value is False  # the box does not stay ticked for the next delete
