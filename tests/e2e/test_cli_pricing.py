"""`advisor pricing` through the console script's entry: JSON figures, tables, and one-line errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from advisor.settings import BUNDLED_PRICING_DIR
from tests.helpers import assert_one_line_error, run_cli


def test_show_m5_xlarge_json() -> None:
    result = run_cli("pricing", "show", "--region", "us-east-1", "--instance-type", "m5.xlarge", "--json")
    assert result.code == 0, result.stderr
    body = json.loads(result.stdout)
    spec = body["instance_type"]
    assert (spec["vcpu"], spec["memory_gib"]) == (4, 16.0)
    od, spot = body["prices"]["on_demand"], body["prices"]["spot"]
    assert od["usd_per_hour"] == 0.192
    assert spot["interruption_band"] == ">20%" and 0 < spot["usd_per_hour"] < 0.192
    for price in (od, spot, body["prices"]["sagemaker"]):
        assert price["source"] and price["as_of"]
    assert "older than" not in result.stdout  # warnings go to stderr, never into the JSON
    assert "warning:" in result.stderr and "days old" in result.stderr


def test_show_table_and_fargate() -> None:
    result = run_cli(
        "pricing", "show", "--instance-type", "c6i.large", "--fargate-vcpu", "1", "--fargate-memory-gib", "2"
    )
    assert result.code == 0, result.stderr
    assert "c6i.large" in result.stdout and "0.04937" in result.stdout


def test_compare_json_marks_cheapest_per_region() -> None:
    result = run_cli(
        "pricing",
        "compare",
        "--instance-types",
        "m5.xlarge,c6i.xlarge",
        "--regions",
        "us-east-1,eu-west-1",
        "--json",
    )
    assert result.code == 0, result.stderr
    rows = json.loads(result.stdout)["rows"]
    assert len(rows) == 4
    for region in ("us-east-1", "eu-west-1"):
        in_region = [r for r in rows if r["region"] == region]
        cheapest = min(in_region, key=lambda r: r["on_demand"])
        assert [r["cheapest_in_region"] for r in in_region] == [r is cheapest for r in in_region]
    assert any(r["sagemaker_estimated"] for r in rows if r["region"] == "eu-west-1")


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["pricing", "show", "--instance-type", "m5.xlrage"], ["m5.xlrage", "m5.xlarge"]),
        (["pricing", "show", "--region", "us-east-9"], ["us-east-9", "us-east-1", "--region"]),
        (["pricing", "compare", "--instance-types", "m5.xlarge", "--regions", "us-east-9"], ["us-east-9"]),
        (
            ["pricing", "show", "--fargate-vcpu", "0.3", "--fargate-memory-gib", "1"],
            ["0.3 vCPU", "0.25 vCPU"],
        ),
        (["pricing", "show", "--fargate-vcpu", "1"], ["--fargate-memory-gib"]),
    ],
)
def test_bad_input_is_one_line(args: list[str], needles: list[str]) -> None:
    assert_one_line_error(run_cli(*args), *needles)


def _contents(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _copy_bundled(tmp_path: Path) -> Path:
    target = tmp_path / "pricing_copy"
    shutil.copytree(BUNDLED_PRICING_DIR, target)
    return target


@pytest.mark.parametrize(
    ("damage", "needle"),
    [
        (lambda d: (d / "ec2_on_demand.csv").write_bytes(b"\x00\xff garbage"), "ec2_on_demand.csv"),
        (
            lambda d: (d / "ec2_spot.csv").write_text("region,instance_type\nus-east-1,m5.xlarge\n"),
            "ec2_spot.csv",
        ),
        (lambda d: (d / "manifest.json").write_text("{not json"), "manifest.json"),
        (lambda d: (d / "fargate.csv").unlink(), "fargate.csv"),
    ],
)
def test_corrupt_snapshot_is_one_line_and_untouched(tmp_path: Path, damage, needle: str) -> None:  # type: ignore[no-untyped-def]
    snapshot = _copy_bundled(tmp_path)
    damage(snapshot)
    before = _contents(snapshot)
    result = run_cli(
        "pricing", "show", "--instance-type", "m5.xlarge", env={"ADVISOR_BUNDLED_PRICING_DIR": str(snapshot)}
    )
    assert_one_line_error(result, needle)
    assert _contents(snapshot) == before


def test_checksum_catches_a_silently_edited_price(tmp_path: Path) -> None:
    snapshot = _copy_bundled(tmp_path)
    path = snapshot / "ec2_on_demand.csv"
    path.write_text(path.read_text().replace("us-east-1,m5.xlarge,0.192,", "us-east-1,m5.xlarge,0.001,"))
    result = run_cli(
        "pricing", "show", "--instance-type", "m5.xlarge", env={"ADVISOR_BUNDLED_PRICING_DIR": str(snapshot)}
    )
    assert_one_line_error(result, "checksum")


def test_cheapest_command() -> None:
    result = run_cli("pricing", "cheapest", "--vcpu", "2", "--memory-gib", "8", "--replicas", "3", "--json")
    assert result.code == 0, result.stderr
    offers = json.loads(result.stdout)["offers"]
    totals = [o["usd_per_hour_total"] for o in offers]
    assert offers and totals == sorted(totals)


def test_usage_error_is_not_a_traceback() -> None:
    result = run_cli("pricing", "show", "--no-such-flag")
    assert result.code == 2 and "Traceback" not in result.stderr
