"""``advisor pricing refresh``: fetch current prices from AWS and write them as a new snapshot, atomically.

For each requested region: EC2 Linux on-demand prices (and specs of types the snapshot lacks), SageMaker
real-time hosting, Fargate and load balancers come from the Price List Query API (``pricing`` GetProducts,
paginated, asked in us-east-1); Spot prices come from EC2 DescribeSpotPriceHistory in that region. Every new
row carries ``source`` (``aws-pricing-api`` / ``aws-describe-spot-price-history``) and ``as_of`` = the day
it was fetched; the Price List's SKU, offer version and effective date go to ``note``.

All AWS calls finish before anything is written. The snapshot in force is copied, the refreshed regions and
services replaced (:mod:`advisor.pricing.refresh_merge`), and the result written with
:func:`advisor.pricing.snapshot.write_snapshot` (staging folder, rename, then CURRENT swapped atomically).
A failure at any point, AWS or disk, leaves the previous snapshot in force and its files untouched.

Library use (what the CLI does)::

    path = refresh_snapshot(settings, regions=["us-east-1"], services=["ec2", "spot"], console=console)
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from advisor.errors import InputError, NotFoundError
from advisor.pricing.aws import AWS_ERRORS, AwsClients, known_regions, translate_aws_error
from advisor.pricing.price_list import Product, iter_products
from advisor.pricing.price_list_parsers import (
    EC2_SERVICE_CODE,
    ELB_FALLBACK_SERVICE_CODE,
    ELB_FAMILIES,
    ELB_SERVICE_CODE,
    FARGATE_SERVICE_CODE,
    SAGEMAKER_SERVICE_CODE,
    Row,
    ec2_filters,
    elb_fallback_filters,
    elb_filters,
    fargate_filters,
    parse_ec2,
    parse_elb,
    parse_fargate,
    parse_sagemaker,
    sagemaker_filters,
)
from advisor.pricing.refresh_merge import Fetched, MergeNote, merge_fetched
from advisor.pricing.snapshot import current_snapshot_dir, load_snapshot, write_snapshot
from advisor.pricing.spot_history import SpotQuote, fetch_spot_quotes
from advisor.settings import Settings

# Refresh order matters: spot savings are computed against the (possibly just refreshed) on-demand prices.
SERVICES = ("ec2", "spot", "sagemaker", "fargate", "elb")
_REGION_SYNTAX = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$")


def refresh_snapshot(
    settings: Settings,
    *,
    regions: Sequence[str],
    services: Sequence[str] = SERVICES,
    console: Console | None = None,
    clients: AwsClients | None = None,
    now: dt.datetime | None = None,
) -> Path:
    """Fetch ``services`` for ``regions`` from AWS, write a new snapshot, make it current; return its folder.

    ``services`` is any subset of :data:`SERVICES`; unknown names or regions raise NotFoundError before any
    call is made. AWS failures (credentials, permissions, throttling after retries, unreachable endpoint)
    raise ConfigError or DataError naming the operation and region; then nothing has been written. A service
    that returns nothing for a region keeps that region's previous rows (EC2 on-demand raises instead).
    ``clients`` replaces the boto3 clients (tests); ``now`` fixes the fetch time (UTC).
    """
    snapshot = load_snapshot(current_snapshot_dir(settings))
    region_list = check_regions(regions, also_known=snapshot.table("ec2_on_demand.csv")["region"])
    service_list = check_services(services)
    moment = now or dt.datetime.now(dt.UTC)
    out = console or Console(stderr=True)
    fetched = fetch_all(clients or AwsClients(settings), service_list, region_list, moment, out)
    tables, notes = merge_fetched(snapshot.tables, fetched, moment.date())
    origin = (
        f"aws refresh of {','.join(service_list)} for {','.join(region_list)}; "
        f"other rows as in {snapshot.path.name}"
    )
    path = write_snapshot(settings, tables, origin=origin)
    _print_notes(out, notes)
    return path


def check_regions(regions: Sequence[str], also_known: Iterable[str] = ()) -> list[str]:
    """The distinct region codes, in order; NotFoundError (with suggestions) for one nobody knows.

    Known = the regions botocore's bundled endpoint data lists for EC2, plus ``also_known`` (the regions of
    the snapshot in force, for a region newer than the installed botocore).
    """
    cleaned = list(dict.fromkeys(r.strip() for r in regions if r.strip()))
    if not cleaned:
        raise InputError("no region given", where="--region", fix="pass --region us-east-1 (repeatable)")
    known = sorted(set(known_regions()) | {str(r) for r in also_known})
    for region in cleaned:
        if not _REGION_SYNTAX.match(region) or region not in known:
            raise NotFoundError("region", region, known=known, where="--region")
    return cleaned


def check_services(services: Sequence[str]) -> list[str]:
    """The requested services in refresh order; NotFoundError for a name outside :data:`SERVICES`."""
    wanted = {s.strip().lower() for s in services if s.strip()}
    if not wanted:
        raise InputError("no service given", where="--services", fix=f"pick from {','.join(SERVICES)}")
    unknown = sorted(wanted - set(SERVICES))
    if unknown:
        raise NotFoundError("service", unknown[0], known=SERVICES, where="--services")
    return [s for s in SERVICES if s in wanted]


def fetch_all(
    clients: AwsClients,
    services: Sequence[str],
    regions: Sequence[str],
    now: dt.datetime,
    console: Console,
) -> Fetched:
    """Call AWS for every (service, region), with one progress line each; nothing is written here."""
    fetched = Fetched()
    as_of = now.date().isoformat()
    with _progress(console) as progress:
        for service in services:
            for region in regions:
                with _step(progress, service, region) as on_page:
                    if service == "ec2":
                        docs = _products(clients, EC2_SERVICE_CODE, ec2_filters(region), region, on_page)
                        fetched.ec2[region] = parse_ec2(docs, region, as_of)
                    elif service == "spot":
                        fetched.spot[region] = _spot_quotes(clients, region, now, on_page)
                    elif service == "sagemaker":
                        docs = _products(
                            clients, SAGEMAKER_SERVICE_CODE, sagemaker_filters(region), region, on_page
                        )
                        fetched.sagemaker[region] = parse_sagemaker(docs, region, as_of)
                    elif service == "fargate":
                        filters = fargate_filters(region)
                        docs = _products(clients, FARGATE_SERVICE_CODE, filters, region, on_page)
                        fetched.fargate[region] = parse_fargate(docs, region, as_of)
                    else:
                        fetched.elb[region] = _elb_rows(clients, region, as_of, on_page)
    return fetched


def _products(
    clients: AwsClients,
    service_code: str,
    filters: dict[str, str],
    region: str,
    on_page: Callable[[int], None],
) -> list[Product]:
    try:
        return list(iter_products(clients.pricing(), service_code, filters, on_page=on_page))
    except AWS_ERRORS as exc:
        raise translate_aws_error(exc, f"pricing:GetProducts {service_code}", region) from None


def _spot_quotes(
    clients: AwsClients, region: str, now: dt.datetime, on_page: Callable[[int], None]
) -> list[SpotQuote]:
    try:
        return fetch_spot_quotes(clients.ec2(region), now, on_page=on_page)
    except AWS_ERRORS as exc:
        raise translate_aws_error(exc, "ec2:DescribeSpotPriceHistory", region) from None


def _elb_rows(clients: AwsClients, region: str, as_of: str, on_page: Callable[[int], None]) -> list[Row]:
    docs = _products(clients, ELB_SERVICE_CODE, elb_filters(region), region, on_page)
    rows = parse_elb(docs, region, as_of)
    if rows:
        return rows
    # Load balancers were long published under AmazonEC2; ask there, one product family at a time (an
    # unfiltered AmazonEC2 query would return every instance SKU of the region).
    docs = []
    for family in ELB_FAMILIES:
        filters = elb_fallback_filters(region, family)
        docs.extend(_products(clients, ELB_FALLBACK_SERVICE_CODE, filters, region, on_page))
    return parse_elb(docs, region, as_of)


@contextmanager
def _progress(console: Console) -> Iterator[Progress]:
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description:<18}"),
        BarColumn(),
        TextColumn("{task.fields[pages]} pages, {task.fields[items]} items"),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,  # a progress line belongs to a terminal, not to a log
    )
    with progress:
        yield progress


@contextmanager
def _step(progress: Progress, service: str, region: str) -> Iterator[Callable[[int], None]]:
    task = progress.add_task(f"{service} {region}", total=None, pages=0, items=0)
    counts = [0, 0]  # pages, items

    def on_page(items: int) -> None:
        counts[0] += 1
        counts[1] += items
        progress.update(task, pages=counts[0], items=counts[1])

    yield on_page
    progress.update(task, total=1, completed=1)


def _print_notes(console: Console, notes: list[MergeNote]) -> None:
    table = Table(title="Price refresh")
    for column in ("table", "region", "new rows", "replaced", "note"):
        table.add_column(column, justify="right" if column in ("new rows", "replaced") else "left")
    for note in notes:
        table.add_row(note.table, note.region, str(note.new_rows), str(note.removed_rows), note.note)
    console.print(table)
