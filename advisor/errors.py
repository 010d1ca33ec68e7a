"""The one error family of advisor.

Every error a user can cause is an :class:`AdvisorError` that knows *what* went wrong, *where* (a file and
line, a field path, a flag) and *how to fix it*. The CLI prints it as one line and exits with its
``exit_code`` (2 for user errors); no traceback is shown. Results that are merely disappointing (no plan
meets the SLO) are values with a reason, not errors.
"""

from __future__ import annotations

import difflib
import errno
import os
from collections.abc import Iterable

USER_ERROR_EXIT_CODE = 2


class AdvisorError(Exception):
    """Base class: a problem the user can act on."""

    exit_code: int = USER_ERROR_EXIT_CODE

    def __init__(self, what: str, *, where: str | None = None, fix: str | None = None) -> None:
        self.what = what
        self.where = where
        self.fix = fix
        super().__init__(self.one_line())

    def __reduce__(self) -> tuple[object, ...]:
        """Pickled as its class and fields, so that an error raised in a worker process (or on a Dask worker)
        arrives whole: the same class, what, where, fix, and any field a subclass adds."""
        return (_rebuild, (type(self), dict(self.__dict__)))

    def one_line(self) -> str:
        """``what (where); fix`` on a single line, newlines folded."""
        text = self.what
        if self.where:
            text = f"{self.where}: {text}"
        if self.fix:
            text = f"{text}; {self.fix}"
        return " ".join(text.split())


class ConfigError(AdvisorError):
    """Settings, scenario or plan files that are invalid."""


class InputError(AdvisorError):
    """Data files or arguments that cannot be used (bad CSV row, unknown flag value)."""


class NotFoundError(InputError):
    """A named thing (instance type, region, model, run) that does not exist."""

    def __init__(
        self,
        kind: str,
        name: str,
        *,
        known: Iterable[str] = (),
        where: str | None = None,
        fix: str | None = None,
    ) -> None:
        known = list(known)
        self.suggestions = closest_names(name, known)
        hint = fix if fix is not None else unknown_hint(kind, name, known)
        super().__init__(f"unknown {kind} {name!r}", where=where, fix=hint)


class DataError(AdvisorError):
    """A stored file (price snapshot, database) that is corrupt or unreadable."""


class StorageError(AdvisorError):
    """The machine refused a read or write: disk full, read-only file system, no permission, a file in the
    way of a folder. Nothing the user typed is wrong, so the exit status is 1, not 2."""

    exit_code = 1


class MeasurementError(AdvisorError):
    """A benchmark that could not be run (server never ready, payload malformed)."""


class InfeasibleError(AdvisorError):
    """A request that has no answer at all (e.g. a Fargate size AWS does not offer)."""


class ApplyError(AdvisorError):
    """A change to a deployed system that failed or was refused."""


_ERRNO_TEXT = {
    errno.ENOSPC: ("the disk is full", "free some space, or point ADVISOR_HOME at a disk with room"),
    errno.EDQUOT: ("the disk quota is exhausted", "free some space, or point ADVISOR_HOME elsewhere"),
    errno.EROFS: ("the file system is read-only", "point ADVISOR_HOME at a writable folder"),
    errno.EACCES: ("permission denied", "fix the permissions, or point ADVISOR_HOME at a folder of yours"),
    errno.EPERM: (
        "operation not permitted",
        "fix the permissions, or point ADVISOR_HOME at a folder you own",
    ),
    errno.ENOTDIR: ("a file is in the way of a folder", "move the file, or point ADVISOR_HOME elsewhere"),
    errno.EEXIST: ("a file is in the way of a folder", "move the file, or point ADVISOR_HOME elsewhere"),
    errno.EISDIR: ("is a folder, not a file", "name a file"),
    errno.ENAMETOOLONG: ("the path is too long", "use a shorter path"),
    errno.ENOENT: ("the folder does not exist", "create it first, or name an existing one"),
}
_SQLITE_TEXT = (
    ("disk is full", errno.ENOSPC),
    ("readonly database", errno.EROFS),
    ("read-only", errno.EROFS),
    ("unable to open database file", errno.EACCES),
    ("disk i/o error", errno.EIO),
)


def storage_error(exc: BaseException, path: object, doing: str) -> StorageError:
    """One clear line for a failed read or write of ``path`` (``doing``: "writing the store", ...).

    Handles OSError (by errno) and sqlite3's OperationalError (by message); anything else keeps its text.
    """
    code = exc.errno if isinstance(exc, OSError) else None
    if code is None:
        text = str(exc).lower()
        code = next((c for needle, c in _SQLITE_TEXT if needle in text), None)
    what, fix = _ERRNO_TEXT.get(code or -1, (str(exc) or type(exc).__name__, "check the path and the disk"))
    if code == errno.EIO:
        what, fix = "an input/output error", "check the disk"
        if _free_bytes(path) < LOW_DISK_BYTES:  # SQLite reports a full disk under a WAL as an I/O error
            what, fix = _ERRNO_TEXT[errno.ENOSPC]
    return StorageError(f"{doing} failed: {what}", where=str(path), fix=fix)


LOW_DISK_BYTES = 256 * 1024


def _free_bytes(path: object) -> int:
    """Bytes free on the file system holding ``path`` (its nearest existing folder); large when unknown."""
    here = os.path.abspath(str(path))
    while here and not os.path.isdir(here):
        here = os.path.dirname(here)
    try:
        stat = os.statvfs(here or "/")
    except OSError:
        return 1 << 62
    return stat.f_bavail * stat.f_frsize


def at_field(exc: AdvisorError, field: str, *, fix: str | None = None) -> ConfigError:
    """``exc`` located at a configuration field, keeping the inner location (``file:line``, a nested field).

    A flag name as the inner location (``--region``) is dropped: inside a file, no flag was given.
    Example: a bad row in a scenario's profile reads ``models.2.traffic.profile: load.csv:14: ...``.
    """
    inner = exc.where
    where = field if not inner or inner.startswith("--") or inner == field else f"{field}: {inner}"
    return ConfigError(exc.what, where=where, fix=fix or exc.fix)


def choices_hint(name: str, known: Iterable[str], tail: str = "") -> str:
    """``did you mean X? use one of A, B, C`` so a typo gets both the guess and the full list."""
    names = list(known)
    close = closest_names(name, names)
    guess = f"did you mean {', '.join(close)}? " if close else ""
    return f"{guess}use one of {', '.join(names)} {tail}".strip()


KNOWN_SHOWN = 8  # known names an unknown one's error lists when none is close


def unknown_hint(kind: str, name: str, known: Iterable[str]) -> str | None:
    """What follows ``unknown KIND 'NAME'``: the closest known names, else the first few and how many there
    are (None when nothing is known)."""
    names = sorted(set(known))
    close = closest_names(name, names)
    if close:
        return f"did you mean {', '.join(close)}?"
    if not names:
        return None
    more = f", ... ({len(names)} in all)" if len(names) > KNOWN_SHOWN else ""
    plural = kind[:-1] + "ies" if kind.endswith("y") and not kind.endswith(("ay", "ey", "oy")) else kind + "s"
    return f"known {plural}: {', '.join(names[:KNOWN_SHOWN])}{more}"


def closest_names(name: str, known: Iterable[str], limit: int = 3) -> list[str]:
    """The known names most similar to ``name`` (case-insensitive), best first."""
    pool = {k.lower(): k for k in known}
    hits = difflib.get_close_matches(name.lower(), list(pool), n=limit, cutoff=0.6)
    return [pool[h] for h in hits]


def _rebuild(cls: type[AdvisorError], fields: dict[str, object]) -> AdvisorError:
    err = cls.__new__(cls)
    err.__dict__.update(fields)
    Exception.__init__(err, err.one_line())
    return err
