"""``tracker add`` and ``tracker import``: orders into the store, all or nothing."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from carriers.registry import default_registry
from tracker.commands.common import announce_store, config_option, friendly_errors, load
from tracker.config import TrackerConfig
from tracker.errors import InputError
from tracker.orders import CsvLines, RowError, check_csv, parse_order, read_orders
from tracker.store.db import open_store
from tracker.store.shipments import NewShipment, add_shipments, already_tracked

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker


#: installed carriers that work without a [carriers.NAME] table: the simulated carrier on
#: loopback (no credentials); every real carrier fails each poll until it is configured
WORKS_UNCONFIGURED = frozenset({"sandbox"})


def routable(config: TrackerConfig) -> list[str]:
    """The carriers a number may be stored under: enabled ``[carriers.NAME]`` tables (the
    aggregator among them) and the installed carriers that need no settings."""
    configured = {name for name, entry in config.carriers.items() if entry.enabled}
    installed = set(default_registry().available())
    return sorted(configured | (installed & WORKS_UNCONFIGURED))


def tracked_under_other_carriers(
    store: sessionmaker[Session], orders: list[NewShipment]
) -> dict[str, str]:
    """Number -> the carrier it is already tracked under, for numbers tracked under another
    carrier than the order's (the same number twice means two polls and two sets of emails)."""
    from sqlalchemy import select

    from tracker.store.models import Shipment

    wanted = {o.tracking_number: o.carrier for o in orders}
    if not wanted:
        return {}
    with store() as session:
        rows = session.execute(
            select(Shipment.tracking_number, Shipment.carrier).where(
                Shipment.tracking_number.in_(list(wanted))
            )
        ).all()
    return {number: carrier for number, carrier in rows if carrier != wanted[number]}


@click.command("add")
@click.argument("tracking_number")
@click.option("--carrier", default="auto", show_default=True, help="Carrier name, or auto-detect.")
@click.option("--email", "buyer_email", required=True, help="Buyer's email address.")
@click.option("--name", "buyer_name", required=True, help="Buyer's name as it appears in emails.")
@click.option("--language", "buyer_language", default=None, help="Buyer's language (e.g. pt).")
@click.option("--country", "destination_country", required=True, help="Destination ISO code (BR).")
@click.option("--origin", "origin_country", default=None, help="Origin ISO code (CN).")
@click.option("--order", "order_reference", required=True, help="Order reference.")
@click.option("--shipped", "shipped_date", required=True, help="Shipped date, e.g. 2026-11-20.")
@click.option(
    "--also-under-another-carrier",
    "second_carrier",
    is_flag=True,
    help="Track the number even though it is already tracked under another carrier.",
)
@config_option
@friendly_errors
def add(
    config_path: Path | None, tracking_number: str, second_carrier: bool, **fields: str | None
) -> None:
    """Start tracking one shipment."""
    config = load(config_path)
    now = datetime.now(UTC)
    order = parse_order(
        {"tracking_number": tracking_number, **fields},
        now=now,
        carriers=routable(config),
        aggregator=config.routing.aggregator,
    )
    announce_store(config.store.url, config_path)
    store = open_store(config.store.url)
    other = tracked_under_other_carriers(store, [order])
    if other and not second_carrier:
        raise InputError(
            f"{order.tracking_number} is already tracked under {other[order.tracking_number]}; "
            f"pass --also-under-another-carrier to track it under {order.carrier} too"
        )
    (shipment_id,) = add_shipments(store, [order], now)
    click.echo(f"added shipment {shipment_id}: {order.tracking_number} via {order.carrier}")


#: orders stored per transaction: memory stays flat and a running daemon is never held up long
IMPORT_BATCH = 2_000


@click.command("import")
@click.argument("csv_file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "--also-under-another-carrier",
    "second_carrier",
    is_flag=True,
    help="Store rows whose number is already tracked under another carrier.",
)
@config_option
@friendly_errors
def import_orders(config_path: Path | None, csv_file: Path, second_carrier: bool) -> None:
    """Import orders from a CSV file; bad rows are listed with their line numbers.

    The file is read twice, never held whole: once for its structure (a malformed file is
    refused before anything is stored), then row by row, stored in batches of 2,000.
    """
    config = load(config_path)
    now = datetime.now(UTC)
    try:
        with csv_file.open("rb") as raw:
            rows = check_csv(CsvLines(raw))
    except InputError as exc:
        raise InputError(f"{csv_file}: {exc}") from exc
    announce_store(config.store.url, config_path)
    store = open_store(config.store.url)
    stored = rejected = 0
    with (
        csv_file.open("rb") as raw,
        click.progressbar(
            length=rows,
            label=f"importing {rows:,} row(s)",
            file=sys.stderr,
            show_pos=True,
            hidden=not sys.stderr.isatty(),  # a log or a pipe gets the summary line only
        ) as progress,
    ):
        lines = CsvLines(raw)
        batch: list[tuple[int, NewShipment | RowError]] = []
        orders = read_orders(
            lines, now=now, carriers=routable(config), aggregator=config.routing.aggregator
        )
        for item in orders:
            batch.append(item)
            if len(batch) == IMPORT_BATCH:
                done, refused = _store_batch(store, batch, now, csv_file, second_carrier)
                stored, rejected = stored + done, rejected + refused
                progress.update(len(batch))
                batch = []
        done, refused = _store_batch(store, batch, now, csv_file, second_carrier)
        stored, rejected = stored + done, rejected + refused
        progress.update(len(batch))
    click.echo(f"imported {stored} shipment(s), rejected {rejected} row(s)")
    if rejected:
        sys.exit(1)


def _store_batch(
    store: sessionmaker[Session],
    batch: list[tuple[int, NewShipment | RowError]],
    now: datetime,
    csv_file: Path,
    second_carrier: bool = False,
) -> tuple[int, int]:
    """Store the good orders of ``batch`` in one transaction and report its bad lines in order;
    (stored, rejected)."""
    good = [(line, item) for line, item in batch if isinstance(item, NewShipment)]
    bad = [item for _, item in batch if isinstance(item, RowError)]
    known = already_tracked(store, [(o.carrier, o.tracking_number) for _, o in good])
    bad += [
        RowError(line, f"tracking_number: {o.tracking_number!r} is already tracked")
        for line, o in good
        if (o.carrier, o.tracking_number) in known
    ]
    good = [(line, o) for line, o in good if (o.carrier, o.tracking_number) not in known]
    other = {} if second_carrier else tracked_under_other_carriers(store, [o for _, o in good])
    bad += [
        RowError(
            line,
            f"tracking_number: {o.tracking_number!r} is already tracked under "
            f"{other[o.tracking_number]} (--also-under-another-carrier to track it again)",
        )
        for line, o in good
        if o.tracking_number in other
    ]
    fresh = [o for _, o in good if o.tracking_number not in other]
    if bad and sys.stderr.isatty():
        click.echo("\r\x1b[K", nl=False, err=True)  # the progress bar's line, cleared first
    for error in sorted(bad, key=lambda e: e.line):
        click.echo(f"{csv_file}:{error.line}: {error.message}", err=True)
    return len(add_shipments(store, fresh, now) if fresh else []), len(bad)


commands = [add, import_orders]
