"""Writing files atomically: a temporary file in the same folder, then a rename."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from core.errors import DiffusionVizError


def make_readable(path: str | Path) -> None:
    """mkstemp creates 0600 files; give the result the permissions a plain open() would."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)``, then rename the result onto ``path``.

    A failure anywhere (an exception, a full disk) leaves no partial file behind and any
    earlier file at ``path`` untouched; an OSError becomes a DiffusionVizError that names the file.
    """
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    os.close(fd)
    try:
        write(Path(tmp))
        make_readable(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise _cannot_write(path, exc) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _cannot_write(path: Path, exc: OSError) -> DiffusionVizError:
    # Every writer (GIF, PNG frames, sample grids, checkpoints) goes through here, so a read-only
    # folder or a full disk is one message for the user wherever it happens.
    return DiffusionVizError(f"could not write {path}: {exc.strerror or exc}")


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))
