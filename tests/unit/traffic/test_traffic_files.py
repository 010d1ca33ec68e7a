"""Profile files and request logs: good ones load exactly; each kind of bad one is a line naming file:line."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from advisor.errors import ConfigError, InputError
from advisor.traffic.csvfile import read_profile_csv, write_profile_csv
from advisor.traffic.generators import generate_file
from advisor.traffic.profile import TrafficProfile
from advisor.traffic.requestlog import read_request_log
from tests.helpers import REPO_ROOT
from tests.traffic_cost_helpers import TRACES, invoke


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


GOOD = "timestamp,rps\n2024-03-01T00:00:00Z,1.5\n2024-03-01T00:01:00Z,2\n2024-03-01T00:02:00Z,0\n"


def test_rate_and_count_files(tmp_path: Path) -> None:
    p = read_profile_csv(_write(tmp_path, "rates.csv", GOOD))
    assert p.step_s == 60 and p.rps.tolist() == [1.5, 2.0, 0.0]
    assert p.start == pd.Timestamp("2024-03-01T00:00:00Z")
    counts = "timestamp,count\n1709251200,600\n1709251500,300\n"  # epoch seconds, 5-minute buckets
    q = read_profile_csv(_write(tmp_path, "counts.csv", counts))
    assert q.step_s == 300 and q.rps.tolist() == [2.0, 1.0] and q.total_requests == pytest.approx(900)


def test_local_offsets_across_a_dst_change_are_one_grid(tmp_path: Path) -> None:
    # Berlin moved from +01:00 to +02:00 at 2024-03-31 02:00 local (01:00 UTC): these are 3 consecutive hours.
    text = (
        "timestamp,rps\n"
        "2024-03-31T00:00:00+01:00,1\n2024-03-31T01:00:00+01:00,2\n2024-03-31T03:00:00+02:00,3\n"
    )
    p = read_profile_csv(_write(tmp_path, "dst.csv", text), timezone="Europe/Berlin")
    assert p.step_s == 3600 and p.rps.tolist() == [1.0, 2.0, 3.0]
    assert p.timezone == "Europe/Berlin"


def test_write_then_read_round_trips(tmp_path: Path) -> None:
    original = TrafficProfile.from_array("rt", [0.5, 1.25, 3.0], start="2024-05-01", timezone="Asia/Kolkata")
    back = read_profile_csv(write_profile_csv(original, tmp_path / "rt.csv"), timezone="Asia/Kolkata")
    assert back.rps.tolist() == original.rps.tolist()
    assert back.start == original.start and back.step_s == original.step_s


@pytest.mark.parametrize(
    ("case", "text", "line", "needle"),
    [
        (
            "gap",
            "timestamp,rps\n2024-01-01T00:00Z,1\n2024-01-01T00:01Z,1\n2024-01-01T00:04Z,1\n",
            4,
            "gap of 2",
        ),
        ("nan", "timestamp,rps\n2024-01-01T00:00Z,1\n2024-01-01T00:01Z,NaN\n", 3, "missing value"),
        ("empty-value", "timestamp,rps\n2024-01-01T00:00Z,1\n2024-01-01T00:01Z,\n", 3, "missing value"),
        ("negative", "timestamp,rps\n2024-01-01T00:00Z,1\n2024-01-01T00:01Z,-3\n", 3, "negative value -3"),
        ("not-a-number", "timestamp,rps\n2024-01-01T00:00Z,1\n2024-01-01T00:01Z,lots\n", 3, "'lots'"),
        (
            "unsorted",
            "timestamp,rps\n2024-01-01T00:01Z,1\n2024-01-01T00:00Z,1\n2024-01-01T00:02Z,1\n",
            3,
            "not sorted",
        ),
        (
            "duplicate",
            "timestamp,rps\n2024-01-01T00:00Z,1\n2024-01-01T00:01Z,1\n2024-01-01T00:01Z,2\n",
            4,
            "duplicate timestamp",
        ),
        ("mixed-tz", "timestamp,rps\n2024-01-01T00:00Z,1\n2024-01-01 00:01:00,1\n", 3, "mixed time zones"),
        ("bad-timestamp", "timestamp,rps\n2024-01-01T00:00Z,1\nyesterday,1\n", 3, "'yesterday'"),
        (
            "irregular",
            "timestamp,rps\n2024-01-01T00:00Z,1\n2024-01-01T00:01Z,1\n2024-01-01T00:02:30Z,1\n",
            4,
            "not a whole number",
        ),
        ("header", "when,value\n2024-01-01T00:00Z,1\n", 1, "no timestamp column and no rps/count"),
        ("ragged", "timestamp,rps\n2024-01-01T00:00Z,1\n2024-01-01T00:01Z,1,7\n", 3, "malformed CSV"),
    ],
)
def test_each_bad_profile_file_is_one_line_naming_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, text: str, line: int, needle: str
) -> None:
    path = _write(tmp_path, f"{case}.csv", text)
    error = invoke(capsys, "profile", "show", str(path)).one_error_line()
    assert f"{path}:{line}:" in error and needle in error
    # ... and the same file through `cost simulate` fails the same way, before any work
    plan = REPO_ROOT / "examples" / "plans" / "api-c6i-spot.yaml"
    again = invoke(capsys, "cost", "simulate", str(plan), "--profile", str(path)).one_error_line()
    assert f"{path}:{line}:" in again


def test_empty_file_and_header_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = _write(tmp_path, "empty.csv", "")
    assert f"{empty}:1" in invoke(capsys, "profile", "show", str(empty)).one_error_line()
    header = _write(tmp_path, "header.csv", "timestamp,rps\n")
    assert f"{header}:2" in invoke(capsys, "profile", "show", str(header)).one_error_line()


@pytest.mark.parametrize(
    ("fill", "expected"),
    [
        ("zero", [1.0, 0.0, 0.0, 4.0, 0.0, 6.0]),
        ("ffill", [1.0, 1.0, 1.0, 4.0, 4.0, 6.0]),
        ("interpolate", [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
    ],
)
def test_fill_policies_for_gaps_and_missing_values(tmp_path: Path, fill: str, expected: list[float]) -> None:
    text = (
        "timestamp,rps\n"
        "2024-01-01T00:00Z,1\n2024-01-01T00:03Z,4\n2024-01-01T00:04Z,nan\n2024-01-01T00:05Z,6\n"
    )
    p = read_profile_csv(_write(tmp_path, "holes.csv", text), fill=fill)
    assert p.rps.tolist() == pytest.approx(expected)
    assert f"fill={fill}" in p.source


def _rows(path: Path) -> int:
    with path.open(newline="") as fh:
        return sum(1 for _ in csv.reader(fh)) - 1


@pytest.mark.skipif(not TRACES.is_dir(), reason="../shared/traces (the real Azure LLM traces) is not present")
@pytest.mark.parametrize("name", ["azure_llm_inference_2023_conv.csv", "azure_llm_inference_2023_code.csv"])
def test_real_traces_import_with_totals_equal_to_row_counts(name: str) -> None:
    path = TRACES / name
    rows = _rows(path)
    for step in (1, 60, 300):
        p = read_request_log(path, step_s=step)
        assert round(p.total_requests) == rows
        assert p.total_requests == pytest.approx(rows, rel=1e-12)
    minute = read_request_log(path, step_s=60)
    arrivals = pd.to_datetime(pd.read_csv(path)["TIMESTAMP"], format="ISO8601")
    first_minute, last_minute = arrivals.min().floor("min"), arrivals.max().floor("min")
    assert minute.steps == (last_minute - first_minute) / pd.Timedelta(minutes=1) + 1
    assert minute.start == first_minute.tz_localize("UTC")
    assert minute.peak_to_mean is not None and minute.peak_to_mean > 1


@pytest.mark.skipif(not TRACES.is_dir(), reason="../shared/traces (the real Azure LLM traces) is not present")
def test_real_trace_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = TRACES / "azure_llm_inference_2023_code.csv"
    run = invoke(
        capsys,
        "profile",
        "import",
        str(path),
        "--name",
        "code",
        "--output",
        str(tmp_path / "c.csv"),
        "--json",
    )
    assert run.code == 0, run.stderr
    body = json.loads(run.stdout)
    assert round(body["summary"]["total_requests"]) == _rows(path)
    reread = read_profile_csv(tmp_path / "c.csv")
    assert round(reread.total_requests) == _rows(path)


def test_request_log_buckets_unsorted_arrivals(tmp_path: Path) -> None:
    text = (
        "id,arrival\n"
        "a,2024-01-01 00:00:59.9\nb,2024-01-01 00:00:01\nc,2024-01-01 00:02:00\nd,2024-01-01 00:00:30\n"
    )
    p = read_request_log(_write(tmp_path, "log.csv", text), step_s=60)
    assert p.rps.tolist() == pytest.approx([3 / 60, 0.0, 1 / 60])
    assert p.start == pd.Timestamp("2024-01-01", tz="UTC")


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("arrival\n2024-01-01 00:00:01\n\nsoon\n", 4, "'soon'"),
        ("arrival\n2024-01-01 00:00:01+02:00\n2024-01-01 00:00:02\n", 3, "mixed time zones"),
        ("arrival,x\n,1\n", 2, "missing timestamp"),
    ],
)
def test_bad_request_logs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, line: int, needle: str
) -> None:
    path = _write(tmp_path, "bad-log.csv", text)
    error = invoke(capsys, "profile", "show", str(path)).one_error_line()
    assert f"{path}:{line}:" in error and needle in error


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("name: x\ncomponents:\n  - kind: flat\n    rps: [1\n", 5, "invalid YAML"),
        ("name: x\ncomponents:\n  - kind: flat\n    rps: -2\n", 4, "components.0.rps"),
        (
            "name: x\ncomponents:\n  - kind: diurnal\n    trough_rps: 1\n    peak_rps: 2\n    peek_hour: 3\n",
            6,
            "components.0.peek_hour: unknown field",
        ),
        ("name: x\ncomponents:\n  - kind: tidal\n    rps: 1\n", 3, "components.0"),
        (
            "name: x\ntimezone: Mars/Olympus\ncomponents:\n  - kind: flat\n    rps: 1\n",
            2,
            "unknown time zone",
        ),
        ("name: x\ndays: 2\n", 1, "components"),
        ("- just\n- a list\n", 1, "must be a YAML mapping"),
    ],
)
def test_bad_generator_specs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, line: int, needle: str
) -> None:
    path = _write(tmp_path, "spec.yaml", text)
    with pytest.raises(ConfigError):
        generate_file(path)
    error = invoke(capsys, "profile", "generate", str(path)).one_error_line()
    assert f"{path}:{line}:" in error and needle in error, error


def test_unknown_profile_name_suggests_close_ones(capsys: pytest.CaptureFixture[str]) -> None:
    error = invoke(capsys, "profile", "show", "diurnal-busines-api").one_error_line()
    assert "unknown traffic profile" in error and "did you mean diurnal-business-api" in error
    # the name is the command's argument, not a flag it does not have
    error = invoke(capsys, "profile", "show", "nope").one_error_line()
    assert "--profile" not in error and "known traffic profiles: bursty-spikes" in error, error


def test_a_profile_path_that_is_missing_or_a_folder_is_said_to_be(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = invoke(capsys, "profile", "show", str(tmp_path / "gone.csv")).one_error_line()
    assert f"traffic profile file {tmp_path / 'gone.csv'} not found" in missing, missing
    folder = invoke(capsys, "profile", "show", str(tmp_path)).one_error_line()
    assert f"traffic profile {tmp_path} is a folder" in folder, folder
    cost = invoke(capsys, "cost", "simulate", "examples/plans/api-c6i-spot.yaml", "--profile", "nope")
    assert cost.one_error_line().startswith("error: --profile: unknown traffic profile 'nope'")
    # a folder in the working directory called like a profile does not hide the profile
    monkeypatch.chdir(tmp_path)
    (tmp_path / "flat").mkdir()
    shown = invoke(capsys, "profile", "show", "flat")
    assert shown.code == 0 and "Traffic profile flat" in shown.stdout, shown.stderr


def test_profile_cli_show_generate_and_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    listing = invoke(capsys, "profile", "show", "--json")
    assert listing.code == 0
    assert "nightly-batch" in {p["name"] for p in json.loads(listing.stdout)["profiles"]}
    out = tmp_path / "month.csv"
    run = invoke(
        capsys,
        "profile",
        "generate",
        "flat",
        "--peak-rps",
        "10",
        "--repeat-to",
        "month",
        "--step",
        "300",
        "--output",
        str(out),
        "--json",
    )
    assert run.code == 0, run.stderr
    month = read_profile_csv(out)
    assert month.step_s == 300 and month.duration_hours == pytest.approx(730)
    assert np.allclose(month.rps, 10.0)
    shown = invoke(capsys, "profile", "show", str(out))
    assert shown.code == 0 and "requests per 730 h month" in shown.stdout
    both = invoke(capsys, "profile", "show", "flat", "--peak-rps", "1", "--monthly-requests", "5")
    assert "not both" in both.one_error_line()


def test_profile_show_json_of_a_short_profile_is_strict_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Three minutes of traffic leave most hours of the week without data: those are null, not NaN (which
    no strict JSON parser takes)."""
    shown = invoke(capsys, "profile", "show", str(_write(tmp_path, "short.csv", GOOD)), "--json")
    assert shown.code == 0, shown.stderr

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} in the JSON")

    hourly = json.loads(shown.stdout, parse_constant=refuse)["hourly_mean_rps"]
    values = [v for series in hourly.values() for v in (series if isinstance(series, list) else [series])]
    assert None in values and any(isinstance(v, float) for v in values)


def test_a_stored_profile_is_replaced_only_when_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stored = tmp_path / "home" / "profiles" / "good.csv"
    first = _write(tmp_path, "a.csv", GOOD)
    assert invoke(capsys, "profile", "import", str(first), "--name", "good").code == 0
    kept = stored.read_bytes()
    other = _write(tmp_path, "b.csv", GOOD.replace(",1.5", ",7"))
    again = invoke(capsys, "profile", "import", str(other), "--name", "good")
    assert "profile 'good' exists already; pass --force" in again.one_error_line()
    assert stored.read_bytes() == kept
    assert invoke(capsys, "profile", "import", str(other), "--name", "good", "--force").code == 0
    assert read_profile_csv(stored).rps.tolist()[0] == 7.0
    # a bundled profile's name would put the import in its place wherever the name is used
    for args in (("import", str(other), "--name", "flat"), ("generate", "flat", "--peak-rps", "3")):
        refused = invoke(capsys, "profile", *args)
        assert "'flat' is a bundled profile's name" in refused.one_error_line()
    assert not (tmp_path / "home" / "profiles" / "flat.csv").exists()
    assert invoke(capsys, "profile", "generate", "flat", "--peak-rps", "3", "--name", "flat-3").code == 0


def test_a_time_zone_is_checked_whatever_the_profile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for ref in ("flat", str(_write(tmp_path, "p.csv", GOOD))):
        error = invoke(capsys, "profile", "show", ref, "--timezone", "Mars/Olympus").one_error_line()
        assert "unknown time zone 'Mars/Olympus'" in error, error
    spec = invoke(capsys, "profile", "show", "flat", "--timezone", "Europe/Paris").one_error_line()
    assert "a generator spec has no timestamps to read in a zone" in spec and "flat.yaml" in spec, spec


def test_errors_have_the_right_type(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        read_profile_csv(tmp_path / "missing.csv")
