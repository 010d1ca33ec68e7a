"""Settings: one pydantic-settings model, built once by the CLI and passed to whatever needs it.

Sources, highest priority first: explicit keyword arguments, environment variables prefixed ``ADVISOR_``
(``ADVISOR_HOME``, ``ADVISOR_DEFAULT_REGION``...), a YAML settings file (``ADVISOR_CONFIG`` or
``--config``), then the defaults below. Nothing reads settings from a global.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from advisor.errors import ConfigError
from advisor.paths import read_text
from advisor.yamlio import check_unique_keys, compose, safe_load

PACKAGE_DIR = Path(__file__).resolve().parent


def shipped_dir(name: str) -> Path:
    """A folder that ships with advisor but lives at the top level of the repository (``pricing_data``,
    ``load_profiles``, ``dashboards``); the one place that finds them.

    pyproject.toml maps each into the wheel as ``advisor/<name>/`` (``[tool.setuptools.package-dir]``), so
    an installed advisor has it inside the package. A checkout has no such folder in ``advisor/``: an
    editable install and a source tree on sys.path (as under pytest) both import the package from
    ``<repo>/advisor/``, and the folder is its sibling. Plain paths, not importlib.resources: a wheel
    installs unpacked, and the callers need real files (snapshot copies, ``streamlit run``).
    """
    installed = PACKAGE_DIR / name
    return installed if installed.is_dir() else PACKAGE_DIR.parent / name


BUNDLED_PRICING_DIR = shipped_dir("pricing_data")
BUNDLED_PROFILES_DIR = shipped_dir("load_profiles")
DASHBOARD_APP = shipped_dir("dashboards") / "app.py"


class Settings(BaseSettings):
    """Everything configurable about advisor, with its environment variable in parentheses."""

    model_config = SettingsConfigDict(env_prefix="ADVISOR_", extra="forbid")

    home: Path = Field(
        default=Path(".advisor"),
        description="Folder holding the store (advisor.db) and refreshed price snapshots (ADVISOR_HOME).",
    )
    bundled_pricing_dir: Path = Field(
        default=BUNDLED_PRICING_DIR,
        description="The price snapshot shipped with advisor, used until `pricing refresh` writes one.",
    )
    profiles_dir: Path = Field(default=BUNDLED_PROFILES_DIR, description="Bundled traffic profiles.")
    default_region: str = Field(default="us-east-1", description="Region used when a command names none.")
    price_staleness_days: int = Field(
        default=90, ge=1, description="Warn when the price snapshot is older than this."
    )
    aws_endpoint_url: str | None = Field(
        default=None, description="Override for AWS API endpoints (a moto server in tests)."
    )
    smtp_host: str | None = Field(
        default=None, description="SMTP server for cost reports (ADVISOR_SMTP_HOST)."
    )
    smtp_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="SMTP port (default 587 with STARTTLS, 465 with SSL, else 25).",
    )
    smtp_security: Literal["starttls", "ssl", "none"] = Field(
        default="starttls", description="STARTTLS on a plain connection, SSL from the start, or none."
    )
    smtp_username: str | None = Field(default=None, description="SMTP login (with ADVISOR_SMTP_PASSWORD).")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password for cost reports.")
    smtp_from: str | None = Field(default=None, description="Sender address of cost reports.")
    smtp_timeout_s: float = Field(default=30.0, gt=0, le=600, description="SMTP connect/command timeout.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The YAML source reads ``model_config["yaml_file"]``; load_settings sets it on a subclass.
        return (init_settings, env_settings, YamlConfigSettingsSource(settings_cls))

    @property
    def db_path(self) -> Path:
        return self.home / "advisor.db"

    @property
    def snapshots_dir(self) -> Path:
        return self.home / "pricing"


def _check_settings_file(path: Path) -> None:
    """ConfigError (file:line) unless ``path`` is a readable YAML mapping (an empty file is one)."""
    if not path.is_file():
        raise ConfigError("settings file not found", where=str(path), fix="pass an existing YAML file")
    text = read_text(path, "settings file")
    try:
        data = safe_load(text)
        check_unique_keys(compose(text), str(path))
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConfigError(
            "the settings file is not valid YAML", where=where, fix="fix the YAML syntax"
        ) from None
    if data is not None and not isinstance(data, dict):
        raise ConfigError(
            "the settings file must be a YAML mapping (key: value lines)",
            where=f"{path}:1",
            fix="e.g. home: .advisor",
        )


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings from the environment and an optional YAML file; bad values raise ConfigError."""
    if config_file is None and os.environ.get("ADVISOR_CONFIG"):
        config_file = Path(os.environ["ADVISOR_CONFIG"])
    cls: type[Settings] = Settings
    if config_file is not None:
        _check_settings_file(config_file)
        cls = type(
            "FileSettings", (Settings,), {"model_config": {**Settings.model_config, "yaml_file": config_file}}
        )
    try:
        return cls(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise ConfigError(
            f"invalid setting {field}: {err['msg']}",
            where=str(config_file or "environment"),
            fix=f"fix {field} (env ADVISOR_{field.upper()})",
        ) from None
