"""Writing derived models: atomically, never over an existing file or over their source.

Shared by every transform that saves a model (folding, reduction, external-data staging,
conversion), so each refuses the same way.
"""

from __future__ import annotations

import os
from pathlib import Path

import onnx

from workbench.core.errors import WorkbenchError
from workbench.core.fileio import write_atomic

__all__ = ["refuse_existing", "refuse_own_source", "save_model_atomic"]


def save_model_atomic(
    model: onnx.ModelProto, path: str | os.PathLike[str], *, overwrite: bool = False
) -> Path:
    """Write a model with ``workbench.core.fileio.write_atomic`` (never over an existing
    file unless ``overwrite=True``).

    Raises:
        WorkbenchError: ``path`` exists (and ``overwrite`` is False), the model is over
            protobuf's 2 GiB limit, or the file cannot be written.
    """
    target = Path(path).expanduser().resolve()
    if not overwrite:
        refuse_existing(target)  # before serializing: no work for a refused save
    try:
        write_atomic(target, model.SerializeToString(), overwrite=overwrite)
    except FileExistsError as err:  # created since the check above
        raise _exists_error(target) from err
    except (OSError, ValueError) as err:  # ValueError: a proto over protobuf's 2 GiB limit
        raise WorkbenchError(
            f"Cannot save the model to {target}.",
            expected="a writable folder",
            found=f"{type(err).__name__}: {err}",
            fix="check the folder exists and is writable",
        ) from err
    return target


def refuse_existing(path: str | os.PathLike[str]) -> None:
    """Raise the WorkbenchError of ``save_model_atomic`` when ``path`` exists."""
    target = Path(path).expanduser().resolve()
    if target.exists():
        raise _exists_error(target)


def refuse_own_source(source: object, target: str | os.PathLike[str], example: str) -> None:
    """Refuse writing a derived model over the file it is made from (``source`` a path;
    bytes and protos have no file). ``example``: a name to suggest instead."""
    if not isinstance(source, (str, os.PathLike)):
        return
    if Path(target).expanduser().resolve() == Path(source).expanduser().resolve():
        raise WorkbenchError(
            "The new model cannot replace the model it is made from.",
            expected="an output file other than the model's own",
            found=str(target),
            fix=f"choose a new file name, e.g. {example}",
        )


def _exists_error(target: Path) -> WorkbenchError:
    return WorkbenchError(
        f"Not saving: {target} already exists.",
        expected="a path where no file exists yet",
        found="an existing file (it is left untouched)",
        fix="choose another path, or pass overwrite=True",
    )
