"""``tracker add`` and ``tracker import``: orders into the store, all or nothing."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from carriers.registry import default_registry
from tracker.commands.common import config_option, friendly_errors, load
from tracker.errors import InputError
from tracker.orders import CsvLines, RowError, check_csv, parse_order, read_orders
from tracker.store.db import open_store
from tracker.store.shipments import NewShipment, add_shipments, already_tracked

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker


def _carriers() -> list[str]:
    return default_registry().available()


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
@config_option
@friendly_errors
def add(config_path: Path | None, tracking_number: str, **fields: str | None) -> None:
    """Start tracking one shipment."""
    config = load(config_path)
    now = datetime.now(UTC)
    order = parse_order(
        {"tracking_number": tracking_number, **fields}, now=now, carriers=_carriers()
    )
    store = open_store(config.store.url)
    (shipment_id,) = add_shipments(store, [order], now)
    click.echo(f"added shipment {shipment_id}: {order.tracking_number} via {order.carrier}")


#: orders stored per transaction: memory stays flat and a running daemon is never held up long
IMPORT_BATCH = 2_000


@click.command("import")
@click.argument("csv_file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@config_option
@friendly_errors
def import_orders(config_path: Path | None, csv_file: Path) -> None:
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
            lines, now=now, carriers=_carriers(), aggregator=config.routing.aggregator
        )
        for item in orders:
            batch.append(item)
            if len(batch) == IMPORT_BATCH:
                done, refused = _store_batch(store, batch, now, csv_file)
                stored, rejected = stored + done, rejected + refused
                progress.update(len(batch))
                batch = []
        done, refused = _store_batch(store, batch, now, csv_file)
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
) -> tuple[int, int]:
    """Store the good orders of ``batch`` in one transaction and report its bad lines in order;
    (stored, rejected)."""
    good = [(line, item) for line, item in batch if isinstance(item, NewShipment)]
    bad = [item for _, item in batch if isinstance(item, RowError)]
    known = already_tracked(store, [(o.carrier, o.tracking_number) for _, o in good])
    fresh = [o for _, o in good if (o.carrier, o.tracking_number) not in known]
    bad += [
        RowError(line, f"tracking_number: {o.tracking_number!r} is already tracked")
        for line, o in good
        if (o.carrier, o.tracking_number) in known
    ]
    if bad and sys.stderr.isatty():
        click.echo("\r\x1b[K", nl=False, err=True)  # the progress bar's line, cleared first
    for error in sorted(bad, key=lambda e: e.line):
        click.echo(f"{csv_file}:{error.line}: {error.message}", err=True)
    return len(add_shipments(store, fresh, now) if fresh else []), len(bad)


commands = [add, import_orders]
