"""Writing where advisor keeps things, with one clear line when the machine refuses.

:func:`ensure_dir` creates a folder (``ADVISOR_HOME`` and what lives in it) or says why it cannot: a file in
the way, a read-only file system, no permission, a full disk, a path too long. :func:`write_text` writes a
file atomically (a temporary file beside it, then a rename), so an interrupted or failed write leaves the
old content as it was.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from advisor.errors import StorageError, storage_error


def ensure_dir(path: Path, what: str = "the folder") -> Path:
    """``path`` as an existing folder; StorageError (exit 1) naming it when it cannot be one."""
    if path.exists() and not path.is_dir():
        raise StorageError(
            f"{what} is a file, not a folder", where=str(path), fix="move the file, or choose another folder"
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise storage_error(exc, path, f"creating {what}") from None
    return path


def write_text(path: Path, text: str, what: str = "the file") -> Path:
    """Write ``text`` to ``path`` atomically; StorageError naming the path when the machine refuses."""
    if path.is_dir():
        raise StorageError(f"{what} is a folder", where=str(path), fix="name a file, e.g. out.csv")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise StorageError(
            f"the folder for {what} does not exist", where=str(parent), fix="create it first, or name another"
        )
    tmp = None
    try:
        fd, name = tempfile.mkstemp(dir=parent, prefix=f".{path.name[:80]}.", suffix=".tmp")
        tmp = Path(name)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise storage_error(exc, path, f"writing {what}") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink()
    return path
