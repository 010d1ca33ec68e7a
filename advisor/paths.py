"""Reading inputs and writing where advisor keeps things, with one clear line when either goes wrong.

:func:`ensure_dir` creates a folder (``ADVISOR_HOME`` and what lives in it) or says why it cannot: a file in
the way, a read-only file system, no permission, a full disk, a path too long. :func:`write_text` writes a
file atomically (a temporary file beside it, then a rename), so an interrupted or failed write leaves the
old content as it was. :func:`read_text` reads an input file as text: UTF-8, or UTF-16/32 with a byte-order
mark, never a binary file or a NUL byte.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from advisor.errors import InputError, StorageError, storage_error


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


MAX_INPUT_BYTES = 64 * 1024 * 1024
_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
         (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))  # fmt: skip


def read_text(path: Path, what: str) -> str:
    """A text input file: UTF-8, or UTF-16/32 with a byte-order mark; InputError naming it otherwise."""
    try:
        if path.stat().st_size > MAX_INPUT_BYTES:
            raise InputError(
                f"the {what} is larger than {MAX_INPUT_BYTES // 2**20} MiB",
                where=str(path),
                fix="pass a smaller file",
            )
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the {what}: {exc.strerror or exc}", where=str(path)) from None
    encoding = next((enc for bom, enc in _BOMS if data.startswith(bom)), "utf-8")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"the {what} is not text (byte {exc.start} is not {encoding})",
            where=str(path),
            fix="save it as UTF-8 text",
        ) from None
    if "\x00" in text:
        raise InputError(
            f"the {what} contains NUL bytes: not a text file", where=str(path), fix="pass a text file"
        )
    return text.lstrip("\ufeff")


class _NotJson(ValueError):
    """A NaN or ±Infinity literal (what ``json.loads`` accepts and JSON does not)."""


def _no_constant(literal: str) -> Any:
    raise _NotJson(literal)


def parse_json(text: str, where: str, what: str) -> Any:
    """JSON ``text``; InputError at ``where:line:column`` when malformed, or nested too deeply to read.

    Strict JSON: ``NaN``, ``Infinity`` and ``-Infinity`` (which Python's json reads, and servers refuse) are
    errors too.
    """
    try:
        return json.loads(text, parse_constant=_no_constant)
    except _NotJson as exc:
        raise InputError(
            f"malformed JSON in the {what}: {exc} is not a JSON number",
            where=where,
            fix="write a number, or null",
        ) from None
    except json.JSONDecodeError as exc:
        raise InputError(
            f"malformed JSON in the {what}: {exc.msg}",
            where=f"{where}:{exc.lineno}:{exc.colno}",
            fix="fix the JSON",
        ) from None
    except RecursionError:
        raise InputError(f"the {what} is nested too deeply to read", where=where, fix="flatten it") from None
