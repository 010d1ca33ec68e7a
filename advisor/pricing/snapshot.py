"""Price snapshots on disk: a folder of CSVs plus ``manifest.json`` (file checksums, creation time, origin).

The bundled snapshot lives in ``pricing_data/``. ``advisor pricing refresh`` writes new snapshots under
``$ADVISOR_HOME/pricing/<id>/`` and then points ``$ADVISOR_HOME/pricing/CURRENT`` at the new one with an
atomic rename, so a refresh that fails part-way leaves the previous snapshot in force and untouched.
Loading checks every file's checksum and required columns; a damaged file is a one-line DataError.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pandas as pd

from advisor.errors import DataError, storage_error
from advisor.paths import ensure_dir
from advisor.settings import BUNDLED_PRICING_DIR, Settings

MANIFEST = "manifest.json"
CURRENT_POINTER = "CURRENT"

# file -> columns every snapshot must have (sources may add more).
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "ec2_instances.csv": (
        "instance_type", "family", "vcpu", "memory_gib", "gpu_count", "gpu_model", "gpu_memory_gib",
        "arch", "accelerator_name", "accelerator_count", "accelerator_memory_gib", "source",
    ),
    "ec2_on_demand.csv": ("region", "instance_type", "usd_per_hour", "as_of", "source", "note"),
    "ec2_spot.csv": (
        "region", "instance_type", "usd_per_hour", "basis", "savings_pct_vs_on_demand",
        "interruption_frequency", "spot_min_usd", "spot_max_usd", "as_of", "source",
    ),
    "sagemaker.csv": ("region", "instance_type", "usd_per_hour", "as_of", "source", "note"),
    "fargate.csv": (
        "region", "capacity", "platform", "usd_per_vcpu_hour", "usd_per_gb_hour",
        "windows_os_license_usd_per_vcpu_hour", "as_of", "source", "note",
    ),
    "elb.csv": (
        "region", "load_balancer_type", "usd_per_hour", "usd_per_capacity_unit_hour", "capacity_unit",
        "usd_per_gb_processed", "as_of", "source", "note",
    ),
}  # fmt: skip
SAGEMAKER_DATA_FILE = "sagemaker_data_processing.csv"
# Files a snapshot may lack (snapshots written before they existed), with the columns they need if present.
OPTIONAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "ec2_spot_family_summary.csv": (),
    SAGEMAKER_DATA_FILE: ("region", "direction", "usd_per_gb", "as_of", "source", "note"),
}
OPTIONAL_FILES = tuple(OPTIONAL_COLUMNS)
# Not judged for staleness: specs, and the SageMaker data-processing rate (one rate, unchanged since its
# 2023 bill; its date is shown with every figure built on it).
_NOT_FOR_STALENESS = ("ec2_instances.csv", SAGEMAKER_DATA_FILE)


@dataclass(frozen=True)
class Snapshot:
    """The tables of one price snapshot, as loaded and checked."""

    path: Path
    created_at: dt.datetime
    origin: str
    tables: dict[str, pd.DataFrame]

    def table(self, name: str) -> pd.DataFrame:
        return self.tables[name]

    # kept once worked out (pandas parses every table's dates: ~15 ms a call); the tables never change
    @cached_property
    def newest_as_of(self) -> dt.date:
        dates = [pd.to_datetime(t["as_of"]).max() for t in self.tables.values() if "as_of" in t]
        newest: dt.date = max(d for d in dates if pd.notna(d)).date()
        return newest

    @cached_property
    def oldest_price_as_of(self) -> dt.date:
        """The oldest date among price tables (specs excluded): what staleness is judged on."""
        dates = [
            pd.to_datetime(t["as_of"]).min()
            for name, t in self.tables.items()
            if "as_of" in t and name not in _NOT_FOR_STALENESS
        ]
        oldest: dt.date = min(d for d in dates if pd.notna(d)).date()
        return oldest


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def current_snapshot_dir(settings: Settings) -> Path:
    """The snapshot in force: the one CURRENT points at under ADVISOR_HOME, else the bundled one."""
    pointer = settings.snapshots_dir / CURRENT_POINTER
    if pointer.is_file():
        target = settings.snapshots_dir / pointer.read_text(encoding="utf-8").strip()
        if not (target / MANIFEST).is_file():
            raise DataError(
                f"CURRENT names snapshot {target.name!r}, which has no {MANIFEST}",
                where=str(pointer),
                fix="run `advisor pricing refresh` again, or delete CURRENT to use the bundled snapshot",
            )
        return target
    return settings.bundled_pricing_dir


def bundled_snapshot_dir() -> Path:
    """The snapshot shipped with advisor (``pricing_data/``)."""
    return BUNDLED_PRICING_DIR


def load_snapshot(path: Path) -> Snapshot:
    """Load and check every table of the snapshot at ``path``. Raises DataError on any damage."""
    manifest_path = path / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        checksums: dict[str, str] = manifest["files"]
        created_at = dt.datetime.fromisoformat(manifest["created_at"])
        origin = str(manifest.get("origin", "unknown"))
    except FileNotFoundError:
        raise DataError(
            "price snapshot has no manifest.json",
            where=str(path),
            fix="restore it from the repository or run `advisor pricing refresh`",
        ) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise DataError(
            f"price snapshot manifest is corrupt ({exc.__class__.__name__}: {exc})",
            where=str(manifest_path),
            fix="restore it from the repository or run `advisor pricing refresh`",
        ) from None
    tables: dict[str, pd.DataFrame] = {}
    for name in (*REQUIRED_COLUMNS, *OPTIONAL_FILES):
        file = path / name
        if not file.is_file():
            if name in OPTIONAL_FILES:
                continue
            raise DataError(
                "price snapshot file is missing", where=str(file), fix="restore it or refresh prices"
            )
        data = file.read_bytes()
        expected = checksums.get(name)
        if expected is not None and hashlib.sha256(data).hexdigest() != expected:
            raise DataError(
                "price snapshot file is corrupt (its checksum does not match manifest.json)",
                where=str(file),
                fix="restore it from the repository or run `advisor pricing refresh`",
            )
        tables[name] = _parse_csv(file, data, REQUIRED_COLUMNS.get(name, OPTIONAL_COLUMNS.get(name, ())))
    return Snapshot(path=path, created_at=created_at, origin=origin, tables=tables)


def _parse_csv(file: Path, data: bytes, required: tuple[str, ...]) -> pd.DataFrame:
    try:
        frame = pd.read_csv(io.BytesIO(data), keep_default_na=True, low_memory=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise DataError(
            f"price snapshot file cannot be parsed ({' '.join(str(exc).split())})",
            where=str(file),
            fix="restore it from the repository or run `advisor pricing refresh`",
        ) from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataError(
            f"price snapshot file lacks column(s) {', '.join(missing)}",
            where=str(file),
            fix="restore it from the repository or run `advisor pricing refresh`",
        )
    return frame


def write_manifest(path: Path, origin: str, created_at: dt.datetime | None = None) -> None:
    """(Re)compute checksums of the CSVs in ``path`` and write manifest.json atomically."""
    created = created_at or dt.datetime.now(dt.UTC)
    files = {f.name: sha256_of(f) for f in sorted(path.glob("*.csv"))}
    body = {"created_at": created.isoformat(timespec="seconds"), "origin": origin, "files": files}
    _atomic_write(path / MANIFEST, json.dumps(body, indent=2, sort_keys=True) + "\n")


def write_snapshot(settings: Settings, tables: dict[str, pd.DataFrame], origin: str) -> Path:
    """Write ``tables`` as a new snapshot under ADVISOR_HOME and make it current, atomically.

    The snapshot folder is built under a temporary name and renamed into place; only then is CURRENT
    replaced (os.replace, atomic on POSIX). Any failure before that leaves the previous snapshot in force; a
    machine that refuses the write (full disk, read-only) is a StorageError naming the folder.
    """
    root = ensure_dir(settings.snapshots_dir, "the price snapshots folder")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    try:
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=root))
        try:
            for name, frame in tables.items():
                frame.to_csv(staging / name, index=False)
            write_manifest(staging, origin)
            final = root / f"snapshot-{stamp}"
            staging.rename(final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        _atomic_write(root / CURRENT_POINTER, final.name + "\n")
    except OSError as exc:
        raise storage_error(exc, root, "writing the price snapshot") from None
    return final


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
