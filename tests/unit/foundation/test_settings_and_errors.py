"""Settings from env and YAML, and the one-line shape of every AdvisorError."""

from __future__ import annotations

from pathlib import Path

import pytest

from advisor.errors import KNOWN_SHOWN, AdvisorError, ConfigError, NotFoundError, closest_names, unknown_hint
from advisor.settings import load_settings


def test_env_prefix_and_yaml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "advisor.yaml"
    config.write_text("default_region: eu-west-1\nprice_staleness_days: 30\n")
    monkeypatch.setenv("ADVISOR_PRICE_STALENESS_DAYS", "45")
    settings = load_settings(config)
    assert settings.default_region == "eu-west-1"  # from the file
    assert settings.price_staleness_days == 45  # the environment wins over the file
    assert settings.db_path == settings.home / "advisor.db"


def test_invalid_setting_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADVISOR_PRICE_STALENESS_DAYS", "soon")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "price_staleness_days" in err.value.one_line()
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "missing.yaml")


def test_secrets_never_print(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADVISOR_SMTP_PASSWORD", "hunter2")
    settings = load_settings()
    assert "hunter2" not in repr(settings) and "hunter2" not in settings.model_dump_json()


def test_one_line_errors() -> None:
    err = AdvisorError("bad value\n  spread over lines", where="plan.yaml:3", fix="use a number")
    assert err.one_line() == "plan.yaml:3: bad value spread over lines; use a number"
    nf = NotFoundError("region", "us-esat-1", known=["us-east-1", "eu-west-1"])
    assert nf.suggestions[0] == "us-east-1" and "did you mean us-east-1" in nf.one_line()
    assert closest_names("zzzz", ["us-east-1"]) == []


def test_an_unknown_name_without_a_close_one_lists_some_known_ones() -> None:
    regions = [f"r{i:02d}" for i in range(20)]
    hint = unknown_hint("region", "mars-1", reversed(regions))
    assert hint == f"known regions: {', '.join(regions[:KNOWN_SHOWN])}, ... (20 in all)"
    assert unknown_hint("instance family", "zz", ["c6i", "m5"]) == "known instance families: c6i, m5"
    assert unknown_hint("team", "x", []) is None
    nf = NotFoundError("team", "nope", known=["risk", "search"])
    assert nf.one_line() == "unknown team 'nope'; known teams: risk, search"
    assert "pricing show" not in NotFoundError("traffic profile", "nope", known=[]).one_line()


def test_an_error_found_at_a_scenario_field_is_given_its_line(tmp_path: Path) -> None:
    from advisor.errors import ConfigError
    from advisor.yamlio import located

    source = tmp_path / "s.yaml"
    text = "name: x\nmodels:\n  - name: a\n    traffic:\n      profile: load.csv\n"
    source.write_text(text, encoding="utf-8")
    inner = ConfigError("bad row", where="models.0.traffic.profile: load.csv:14", fix="fix the row")
    got = located(inner, source, ["name", "models"])
    assert got.where == f"{source}:5" and got.what == "models.0.traffic.profile: load.csv:14: bad row"
    assert got.fix == "fix the row"
    flag = ConfigError("bad", where="--region")  # not a field of the file: as it was
    assert located(flag, source, ["name", "models"]) is flag
    assert located(inner, None, ["name", "models"]) is inner
