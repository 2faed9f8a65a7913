"""Atomic file writes: the one place that puts bytes on disk for the workbench. Stdlib only.

Every layer that saves a file (engines and their cards, ONNX models, comparison reports,
the timing cache) calls ``write_atomic``, so a reader never sees a half-written file
and an existing file is never replaced unless the caller asked for it.

Errors are plain ``OSError``s; each caller turns them into its own ``WorkbenchError``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["write_atomic"]


def write_atomic(path: str | os.PathLike[str], data: bytes, *,
                 overwrite: bool = False) -> Path:
    """Write ``data`` to ``path`` so that it is either fully there or not at all.

    The bytes go to a temporary file ``.<name>.<pid>.<random>.tmp`` in the same folder,
    which is fsynced, then moved into place: ``os.link`` when not overwriting (so an
    existing file is never replaced, even by a racing writer), ``os.replace`` when
    ``overwrite=True``. The folder is fsynced after. The temporary file is removed on every
    error, and temporary files of earlier writers of ``path`` that no longer run (killed
    mid-write) are removed first. Returns ``path`` as a Path.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is False (it was not touched).
        OSError: Writing failed (missing folder, permissions, name too long, disk full).
    """
    target = Path(path)
    _remove_stale_temps(target)
    tmp: Path | None = None
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.",
                                        suffix=".tmp", dir=target.parent)
        tmp = Path(tmp_name)
        # mkstemp creates 0600; a saved engine or report is an ordinary file that follows
        # the umask like any other the user writes (0644 under the usual 022)
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(tmp, target)
        else:
            os.link(tmp, target)  # FileExistsError if the target exists: never clobber
    finally:
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
    _fsync_dir(target.parent)
    return target


def _umask() -> int:
    """The process umask, read without changing it where Linux reports it."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: read by setting; restored at once
    os.umask(mask)
    return mask


def _remove_stale_temps(target: Path) -> None:
    """Remove ``.<name>.<pid>.<random>.tmp`` files of ``target`` whose writer is dead.

    Only files whose writer process no longer exists (on this machine) are removed, so a
    concurrent save of the same file is never disturbed.
    """
    prefix = f".{target.name}."
    try:
        names = [n for n in os.listdir(target.parent)
                 if n.startswith(prefix) and n.endswith(".tmp")]
    except OSError:
        return
    for name in names:
        # exactly "<pid>.<random>.tmp" after the prefix (mkstemp's random part has no dot):
        # ".a.99.<pid>.<random>.tmp" belongs to "a.99", not to "a" with pid 99
        parts = name[len(prefix):].split(".")
        if len(parts) == 3 and parts[0].isdigit() and not _process_alive(int(parts[0])):
            with contextlib.suppress(OSError):
                (target.parent / name).unlink()


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OverflowError:
        return True  # not a pid this module wrote: leave the file alone
    except OSError:
        return True  # exists, owned by someone else
    return True


def _fsync_dir(folder: Path) -> None:
    """Make a rename or link in ``folder`` durable; a no-op where folders cannot be synced."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # some filesystems cannot open folders; the files themselves are synced
    try:
        os.fsync(fd)
    except OSError:
        pass  # fsync of a directory is unsupported on some filesystems; not an error here
    finally:
        os.close(fd)
