"""Finding profiles by file or by name: bundled ones (``load_profiles/``) and imported ones.

``--profile REF`` resolves in this order: an existing file (``.yaml``/``.yml`` generator spec, or ``.csv``,
read as a ``timestamp,rps|count`` profile when its header names a rate or count column and as a request log
otherwise — a log's header must name a timestamp column unless it has only one); then a name in
``$ADVISOR_HOME/profiles/`` (where ``advisor profile import`` writes); then a name in the bundled
``load_profiles/``. An unknown name is a NotFoundError listing the closest names.
"""

from __future__ import annotations

import csv
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from advisor.errors import InputError, NotFoundError
from advisor.paths import read_text
from advisor.settings import Settings
from advisor.traffic.csvfile import FillPolicy, is_profile_table, read_profile_csv
from advisor.traffic.generators import PROFILE_NAME_RE, PROFILE_NAME_RULE, generate_file, load_spec
from advisor.traffic.profile import DEFAULT_STEP_S, TrafficProfile
from advisor.traffic.requestlog import read_request_log
from advisor.traffic.timestamps import TIMESTAMP_COLUMNS, check_timezone

PROFILE_SUFFIXES = (".yaml", ".yml", ".csv")


class ProfileEntry(BaseModel):
    """A profile available by name."""

    model_config = ConfigDict(frozen=True)

    name: str
    path: str
    kind: str  # "generator" | "csv"
    origin: str  # "bundled" | "imported"
    description: str = ""


def check_profile_name(name: str | None, where: str = "--name") -> str | None:
    """``name`` when it can name a profile file in a folder (no path, no ``..``); InputError otherwise."""
    if name is not None and (not PROFILE_NAME_RE.match(name) or ".." in name):
        raise InputError(f"{name!r} cannot name a profile", where=where, fix=PROFILE_NAME_RULE)
    return name


def imported_dir(settings: Settings) -> Path:
    return settings.home / "profiles"


def token_traces_dir(settings: Settings) -> Path:
    """Where ``advisor profile import --llm`` writes token traces (apart from the profiles, which it would
    otherwise list as profiles)."""
    return settings.home / "token-traces"


def list_profiles(settings: Settings) -> list[ProfileEntry]:
    """Every named profile: imported ones first (they shadow bundled ones of the same name)."""
    seen: set[str] = set()
    out: list[ProfileEntry] = []
    for origin, folder in (("imported", imported_dir(settings)), ("bundled", settings.profiles_dir)):
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.suffix not in PROFILE_SUFFIXES or path.stem in seen:
                continue
            seen.add(path.stem)
            kind = "csv" if path.suffix == ".csv" else "generator"
            description = ""
            if kind == "generator":
                try:
                    description = load_spec(path).description
                except Exception:  # a broken bundled spec is listed, and fails loudly when used
                    description = "(invalid spec)"
            out.append(
                ProfileEntry(
                    name=path.stem, path=str(path), kind=kind, origin=origin, description=description
                )
            )
    return out


def profile_destination(settings: Settings, name: str, output: Path | None, force: bool) -> Path:
    """Where ``profile import``/``generate`` write profile ``name``: ``output``, else the imported profiles'
    folder. A profile already there, or one that would take a bundled profile's name (imported profiles
    are looked up first), is replaced only with ``force``: nothing stored is overwritten unasked."""
    path = output or imported_dir(settings) / f"{name}.csv"
    if path.exists() and not force:
        raise InputError(
            f"profile {path.stem!r} exists already",
            where=str(path),
            fix="pass --force to replace it, or another --name (or --output) to keep both",
        )
    bundled = [settings.profiles_dir / f"{name}{suffix}" for suffix in PROFILE_SUFFIXES]
    if output is None and any(b.is_file() for b in bundled) and not force:
        raise InputError(
            f"{name!r} is a bundled profile's name: a stored profile of that name would be used in its place",
            fix="pass --name to pick another, or --force to shadow the bundled profile",
        )
    return path


def find_profile_path(ref: str, settings: Settings, *, where: str | None = "--profile") -> Path:
    """The file behind ``ref`` (a path, or a profile name); otherwise an error at ``where`` (the flag that
    named it; None for a command's argument): a path that is missing or a folder is said to be one, a name
    that is unknown gets the closest known names."""
    path = Path(ref)
    if path.is_file():
        return path
    for folder in (imported_dir(settings), settings.profiles_dir):
        for suffix in PROFILE_SUFFIXES:
            candidate = folder / f"{ref}{suffix}"
            if candidate.is_file():
                return candidate
    if path.is_dir():  # after the names: a folder called like a profile does not hide it
        raise InputError(f"traffic profile {ref} is a folder", where=where, fix="pass a profile file or name")
    if len(path.parts) > 1 or path.suffix in (*PROFILE_SUFFIXES, ".json", ".txt", ".log"):
        raise InputError(
            f"traffic profile file {ref} not found",
            where=where,
            fix="check the path (a scenario's relative paths are read beside the scenario file)",
        )
    known = [e.name for e in list_profiles(settings)]
    fix = None if known else "pass a profile file"
    raise NotFoundError("traffic profile", ref, known=known, where=where, fix=fix)


def load_profile_file(
    path: Path,
    *,
    fill: FillPolicy | str = FillPolicy.NONE,
    timezone: str | None = None,
    step_s: int | None = None,
    name: str | None = None,
) -> TrafficProfile:
    """Load a generator spec, a profile CSV or a request log (told apart as the module docstring says)."""
    if timezone is not None:
        check_timezone(timezone)
    if path.suffix in (".yaml", ".yml"):
        if timezone is not None:
            raise InputError(
                "a generator spec has no timestamps to read in a zone",
                where="--timezone",
                fix=f"set the spec's own timezone: in {path.name}, or leave --timezone out",
            )
        profile = generate_file(path)
        return profile.replace(name=name) if name else profile
    if not path.is_file():
        raise InputError("file not found", where=str(path), fix="pass an existing CSV or YAML file")
    first = read_text(path, "profile file").split("\n", 1)[0]
    header = next(csv.reader([first]), [])
    if is_profile_table(header):
        return read_profile_csv(path, name=name, step_s=step_s, timezone=timezone, fill=fill)
    named = {h.strip().lower() for h in header}
    if len(header) > 1 and not named & set(TIMESTAMP_COLUMNS):
        raise InputError(
            f"header {','.join(header)!r} names no timestamp column and no rps/count column",
            where=f"{path}:1",
            fix="start a profile with 'timestamp,rps' or 'timestamp,count'; a request log needs 'timestamp'",
        )
    return read_request_log(path, name=name, step_s=step_s or DEFAULT_STEP_S, timezone=timezone)


def resolve_profile(
    ref: str,
    settings: Settings,
    *,
    fill: FillPolicy | str = FillPolicy.NONE,
    timezone: str | None = None,
    step_s: int | None = None,
) -> TrafficProfile:
    """``--profile NAME|FILE`` → a profile (see the module docstring for the lookup order)."""
    return load_profile_file(find_profile_path(ref, settings), fill=fill, timezone=timezone, step_s=step_s)
