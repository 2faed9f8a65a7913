"""workbench.core.fileio.write_atomic: the one atomic write every save goes through."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from workbench.core.fileio import write_atomic


def test_writes_and_refuses_to_overwrite(tmp_path: Path) -> None:
    target = write_atomic(tmp_path / "a.bin", b"first")
    assert target.read_bytes() == b"first"
    with pytest.raises(FileExistsError):
        write_atomic(target, b"second")
    assert target.read_bytes() == b"first"
    write_atomic(target, b"third", overwrite=True)
    assert target.read_bytes() == b"third"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]


def test_failed_write_leaves_no_temp_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_atomic(tmp_path / "missing" / "a.bin", b"x")
    (tmp_path / "folder").mkdir()
    with pytest.raises(OSError):
        write_atomic(tmp_path / "folder", b"x", overwrite=True)  # a folder is in the way
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder"]


def test_only_temps_of_dead_writers_of_this_file_are_removed(tmp_path: Path) -> None:
    live = tmp_path / f".a.{os.getppid()}.abcdefgh.tmp"
    dead = tmp_path / ".a.999999999.abcdefgh.tmp"
    # Found while consolidating: ".a.99.<pid>..." (a temp of "a.99") was read as a temp of
    # "a" by a writer 99, and a pid too large for os.kill raised OverflowError.
    other_file = tmp_path / f".a.999999999.{os.getppid()}.abcdefgh.tmp"
    huge_pid = tmp_path / ".a.99999999999999999999999.abcdefgh.tmp"
    for path in (live, dead, other_file, huge_pid):
        path.write_bytes(b"temp")
    write_atomic(tmp_path / "a", b"x")
    assert live.exists() and other_file.exists() and huge_pid.exists()
    assert not dead.exists()
