"""``advisor pricing refresh`` end to end: Price List answers on a botocore Stubber, spot prices from a real
moto server on 127.0.0.1, the new snapshot read back through the catalog, and failures that must leave the
snapshot in force untouched.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import boto3
import pandas as pd
import pytest
from botocore.stub import Stubber
from moto.server import ThreadedMotoServer
from rich.console import Console

from advisor.cli import main
from advisor.domain import PurchaseOption
from advisor.errors import ConfigError, DataError, NotFoundError, StorageError
from advisor.pricing.aws import AwsClients
from advisor.pricing.catalog import Catalog
from advisor.pricing.refresh import check_regions, check_services, refresh_snapshot
from advisor.pricing.snapshot import CURRENT_POINTER, load_snapshot, write_manifest
from advisor.settings import BUNDLED_PRICING_DIR, Settings
from tests.pricing_api_stubs import (
    documents,
    ec2_filters,
    pages,
    queue_products,
    request,
    stubbed_pricing,
    use_fake_aws_credentials,
)

NOW = dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_fake_aws_credentials(monkeypatch, tmp_path, with_keys=True)


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """A copy of the bundled snapshot without specs for inf2.xlarge (so the refresh must add them)."""
    dest = tmp_path / "bundle"
    shutil.copytree(BUNDLED_PRICING_DIR, dest)
    specs = pd.read_csv(dest / "ec2_instances.csv")
    specs[specs["instance_type"] != "inf2.xlarge"].to_csv(dest / "ec2_instances.csv", index=False)
    write_manifest(dest, origin="bundled copy for tests")
    return dest


def _quiet(terminal: bool = False) -> Console:
    return Console(file=io.StringIO(), width=160, record=True, force_terminal=terminal)


def _tree(root: Path) -> dict[str, str]:
    """Every file under ``root`` with its SHA-256: what must not change when a refresh fails."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file()
    }


def _moto_spot_prices(url: str, region: str) -> dict[str, float]:
    """Ground truth straight from the moto server: one price per instance type in ``region``."""
    ec2 = boto3.client("ec2", region_name=region, endpoint_url=url)
    history = ec2.describe_spot_price_history(ProductDescriptions=["Linux/UNIX"])["SpotPriceHistory"]
    return {h["InstanceType"]: float(h["SpotPrice"]) for h in history}


def _queue_all_price_list(stubber: Stubber, region: str = "us-east-1") -> None:
    """The Price List calls of a full refresh, in the order the refresh makes them."""
    queue_products(stubber, "AmazonEC2", ec2_filters(region), pages("ec2_us-east-1.json"))
    sagemaker = {"regionCode": region, "component": "Hosting"}
    queue_products(stubber, "AmazonSageMaker", sagemaker, pages("sagemaker_us-east-1.json"))
    queue_products(stubber, "AmazonECS", {"regionCode": region}, pages("fargate_us-east-1.json"))
    queue_products(stubber, "AWSELB", {"regionCode": region}, pages("elb_us-east-1.json"))


def test_refresh_every_service_writes_a_snapshot_the_catalog_serves(
    tmp_path: Path, bundle: Path, moto_url: str, aws_keys: None
) -> None:
    settings = Settings(home=tmp_path / "home", bundled_pricing_dir=bundle, aws_endpoint_url=moto_url)
    client, stubber = stubbed_pricing()
    _queue_all_price_list(stubber)
    console = _quiet(terminal=True)  # the progress lines are drawn on a terminal only
    with stubber:
        path = refresh_snapshot(
            settings,
            regions=["us-east-1"],
            services=["elb", "spot", "ec2", "fargate", "sagemaker"],
            console=console,
            clients=AwsClients(settings, pricing_client=client),
            now=NOW,
        )
    stubber.assert_no_pending_responses()
    assert (settings.snapshots_dir / CURRENT_POINTER).read_text().strip() == path.name
    old = load_snapshot(bundle).tables
    new = load_snapshot(path)
    assert new.origin.startswith("aws refresh of ec2,spot,sagemaker,fargate,elb for us-east-1")
    catalog = Catalog.load(settings)
    assert catalog.snapshot.path == path

    # EC2 on-demand: us-east-1 is exactly the Price List's answer; every other region is untouched.
    od = new.tables["ec2_on_demand.csv"]
    east = od[od["region"] == "us-east-1"]
    assert sorted(east["instance_type"]) == sorted(
        d["product"]["attributes"]["instanceType"] for d in documents("ec2_us-east-1.json")
    )
    price = catalog.on_demand("us-east-1", "p4d.24xlarge")
    assert (price.usd_per_hour, price.source, price.as_of) == (21.957642, "aws-pricing-api", NOW.date())
    pd.testing.assert_frame_equal(
        od[od["region"] != "us-east-1"].reset_index(drop=True),
        old["ec2_on_demand.csv"][old["ec2_on_demand.csv"]["region"] != "us-east-1"].reset_index(drop=True),
        check_dtype=False,
    )

    # Specs: the missing inf2.xlarge is back, from the Price List; nothing else changed.
    inf2 = catalog.instance("inf2.xlarge")
    assert (inf2.vcpu, inf2.memory_gib, inf2.accelerator_name, inf2.accelerator_count) == (
        4,
        16,
        "inferentia2",
        1,
    )
    assert inf2.accelerator_memory_gib == 32 and inf2.source == "aws-pricing-api"
    assert len(new.tables["ec2_instances.csv"]) == len(old["ec2_instances.csv"]) + 1

    # Spot: every type moto reports, its price, savings against the refreshed on-demand price, old band kept.
    truth = _moto_spot_prices(moto_url, "us-east-1")
    spot = new.tables["ec2_spot.csv"]
    east_spot = spot[spot["region"] == "us-east-1"].set_index("instance_type")
    assert set(east_spot.index) == set(truth)
    m5 = catalog.spot("us-east-1", "m5.xlarge")
    assert (
        m5.usd_per_hour == pytest.approx(truth["m5.xlarge"])
        and m5.source == "aws-describe-spot-price-history"
    )
    assert m5.savings_pct_vs_on_demand == round(100 * (1 - truth["m5.xlarge"] / 0.192), 1)
    old_spot = old["ec2_spot.csv"].set_index(["region", "instance_type"])
    assert m5.interruption_band is not None
    assert m5.interruption_band.value == old_spot.loc[("us-east-1", "m5.xlarge"), "interruption_frequency"]
    assert (spot["region"] != "us-east-1").sum() == (old["ec2_spot.csv"]["region"] != "us-east-1").sum()

    # SageMaker: ml.g6.xlarge was an estimate, now it is AWS's price.
    g6 = catalog.sagemaker("us-east-1", "ml.g6.xlarge")
    assert (g6.estimated, g6.usd_per_hour, g6.source) == (False, 1.006, "aws-pricing-api")

    # Fargate on-demand refreshed, Fargate Spot (absent from the Price List) kept; load balancers refreshed.
    assert catalog.fargate_rate("us-east-1").source == "aws-pricing-api"
    assert catalog.fargate_rate("us-east-1", PurchaseOption.FARGATE_SPOT).source == "fgcalc@dac946d6"
    alb = catalog.load_balancer("us-east-1", "application")
    assert (alb.usd_per_hour, alb.usd_per_capacity_unit_hour, alb.source) == (
        0.0225,
        0.008,
        "aws-pricing-api",
    )

    report = console.export_text()
    for line in (
        "ec2 us-east-1",
        "spot us-east-1",
        "elb us-east-1",
        "Price refresh",
        "added specs for inf2.xlarge",
    ):
        assert line in report


def test_load_balancers_fall_back_to_the_amazonec2_service_code(tmp_path: Path, aws_keys: None) -> None:
    settings = Settings(home=tmp_path / "home")
    client, stubber = stubbed_pricing()
    queue_products(stubber, "AWSELB", {"regionCode": "eu-west-1"}, [[]])
    docs = documents("elb_eu-west-1_under_amazonec2.json")
    for family in (
        "Load Balancer-Application",
        "Load Balancer-Network",
        "Load Balancer-Gateway",
        "Load Balancer",
    ):
        answer = [d for d in docs if d["product"]["productFamily"] == family]
        queue_products(stubber, "AmazonEC2", {"regionCode": "eu-west-1", "productFamily": family}, [answer])
    with stubber:
        refresh_snapshot(
            settings,
            regions=["eu-west-1"],
            services=["elb"],
            console=_quiet(),
            clients=AwsClients(settings, pricing_client=client),
            now=NOW,
        )
    stubber.assert_no_pending_responses()
    catalog = Catalog.load(settings)
    bundled = Catalog(load_snapshot(BUNDLED_PRICING_DIR))
    for kind in ("application", "network"):
        new, old = catalog.load_balancer("eu-west-1", kind), bundled.load_balancer("eu-west-1", kind)
        assert new.source == "aws-pricing-api" and new.as_of == NOW.date()
        assert (new.usd_per_hour, new.usd_per_capacity_unit_hour) == (
            old.usd_per_hour,
            old.usd_per_capacity_unit_hour,
        )
    assert (
        catalog.load_balancer("eu-west-1", "gateway").source
        == bundled.load_balancer("eu-west-1", "gateway").source
    )


def _first_refresh(settings: Settings) -> None:
    """Put a refreshed snapshot in force (load balancers only) so later failures have one to protect."""
    client, stubber = stubbed_pricing()
    queue_products(stubber, "AWSELB", {"regionCode": "us-east-1"}, pages("elb_us-east-1.json"))
    with stubber:
        refresh_snapshot(
            settings,
            regions=["us-east-1"],
            services=["elb"],
            console=_quiet(),
            clients=AwsClients(settings, pricing_client=client),
            now=NOW,
        )


@pytest.mark.parametrize("failure", ["throttled on page 2 of EC2", "access denied at ELB, after EC2"])
def test_a_failure_mid_way_leaves_the_snapshot_in_force_untouched(
    tmp_path: Path, aws_keys: None, failure: str
) -> None:
    settings = Settings(home=tmp_path / "home")
    _first_refresh(settings)
    before = _tree(settings.snapshots_dir)
    client, stubber = stubbed_pricing()
    ec2_pages = pages("ec2_us-east-1.json")
    expected: type[DataError | ConfigError]
    if failure.startswith("throttled"):
        queue_products(stubber, "AmazonEC2", ec2_filters("us-east-1"), ec2_pages[:1], more_after=True)
        stubber.add_client_error(
            "get_products",
            service_error_code="ThrottlingException",
            service_message="Rate exceeded",
            http_status_code=400,
            expected_params=request("AmazonEC2", ec2_filters("us-east-1"), page=1),
        )
        expected, needles = DataError, ("pricing:GetProducts AmazonEC2 (us-east-1)", "throttling")
    else:
        queue_products(stubber, "AmazonEC2", ec2_filters("us-east-1"), ec2_pages)
        stubber.add_client_error(
            "get_products",
            service_error_code="AccessDeniedException",
            service_message="User is not authorized to perform: pricing:GetProducts",
            http_status_code=400,
            expected_params=request("AWSELB", {"regionCode": "us-east-1"}),
        )
        expected, needles = ConfigError, ("pricing:GetProducts AWSELB (us-east-1)", "pricing:GetProducts and")
    with stubber, pytest.raises(expected) as caught:
        refresh_snapshot(
            settings,
            regions=["us-east-1"],
            services=["ec2", "elb"],
            console=_quiet(),
            clients=AwsClients(settings, pricing_client=client),
            now=NOW,
        )
    for needle in needles:
        assert needle in caught.value.one_line()
    assert _tree(settings.snapshots_dir) == before  # CURRENT, the snapshot and no staging left behind


def test_a_failure_while_writing_leaves_the_snapshot_in_force(
    tmp_path: Path, aws_keys: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(home=tmp_path / "home")
    _first_refresh(settings)
    before = _tree(settings.snapshots_dir)

    def disk_full(*_args: object, **_kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("advisor.pricing.snapshot.write_manifest", disk_full)
    with pytest.raises(StorageError, match="the disk is full") as err:
        _first_refresh(settings)
    assert err.value.exit_code == 1 and str(settings.snapshots_dir) in err.value.one_line()
    assert _tree(settings.snapshots_dir) == before


def test_an_unreachable_endpoint_is_one_clear_error(tmp_path: Path, aws_keys: None) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings(home=tmp_path / "home", aws_endpoint_url=f"http://127.0.0.1:{port}")
    with pytest.raises(DataError) as caught:
        refresh_snapshot(
            settings,
            regions=["eu-west-1"],
            services=["spot"],
            console=_quiet(),
            clients=AwsClients(settings, max_attempts=1),
        )
    line = caught.value.one_line()
    assert "cannot reach the AWS endpoint" in line and "ec2:DescribeSpotPriceHistory (eu-west-1)" in line
    assert not (settings.snapshots_dir / CURRENT_POINTER).exists()


def test_unknown_regions_and_services_are_refused_before_any_call() -> None:
    with pytest.raises(NotFoundError) as region:
        check_regions(["us-east-9"])
    assert region.value.suggestions and region.value.where == "--region"
    with pytest.raises(NotFoundError) as service:
        check_services(["ec2", "spotty"])
    assert service.value.suggestions == ["spot"]
    assert check_services(["elb", "EC2", "spot", "ec2"]) == ["ec2", "spot", "elb"]
    assert check_regions(["eu-west-1", " eu-west-1", "us-east-1"]) == ["eu-west-1", "us-east-1"]


# ----- the CLI -------------------------------------------------------------------------------------------


def test_cli_refresh_spot_against_moto(
    moto_url: str, aws_keys: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ADVISOR_AWS_ENDPOINT_URL", moto_url)
    assert main(["pricing", "refresh", "--region", "eu-west-1", "--services", "spot"]) == 0
    out = capsys.readouterr().out
    assert "New price snapshot in force" in out and "eu-west-1" in out
    assert "spot eu-west-1" not in out  # no progress line off a terminal: results only
    assert main(["pricing", "show", "--region", "eu-west-1", "--instance-type", "m5.xlarge", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    spot = shown["prices"]["spot"]
    truth = _moto_spot_prices(moto_url, "eu-west-1")["m5.xlarge"]
    assert (
        spot["usd_per_hour"] == pytest.approx(truth) and spot["source"] == "aws-describe-spot-price-history"
    )
    on_demand = shown["prices"]["on_demand"]["usd_per_hour"]
    assert spot["savings_pct_vs_on_demand"] == round(100 * (1 - truth / on_demand), 1)
    assert spot["interruption_band"] == "10-15%"  # the Spot Instance Advisor band of the bundled row, kept
    assert shown["prices"]["on_demand"]["source"] != "aws-pricing-api"  # EC2 was not asked for


def test_cli_without_credentials_prints_one_line_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_fake_aws_credentials(monkeypatch, tmp_path, with_keys=False)
    monkeypatch.setenv("ADVISOR_AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    assert main(["pricing", "refresh", "--region", "eu-west-1", "--services", "spot"]) == 2
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in captured.err + captured.out
    assert (
        "no usable AWS credentials" in errors[0] and "ec2:DescribeSpotPriceHistory (eu-west-1)" in errors[0]
    )
    assert not (tmp_path / "home" / "pricing" / CURRENT_POINTER).exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--region", "us-east-9", "--services", "spot"], "unknown region 'us-east-9'"),
        (["--region", "us-east-1", "--services", "ec2,spotty"], "unknown service 'spotty'"),
    ],
)
def test_cli_bad_region_or_service_is_one_line(
    args: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["pricing", "refresh", *args]) == 2
    err = capsys.readouterr().err
    assert needle in err and "did you mean" in err and "Traceback" not in err
