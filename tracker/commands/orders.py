"""``tracker add`` and ``tracker import``: orders into the store, all or nothing."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from carriers.registry import default_registry
from tracker.commands.common import config_option, friendly_errors, load
from tracker.errors import InputError
from tracker.orders import RowError, parse_csv, parse_order
from tracker.store.db import open_store
from tracker.store.shipments import add_shipments, already_tracked


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


@click.command("import")
@click.argument("csv_file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@config_option
@friendly_errors
def import_orders(config_path: Path | None, csv_file: Path) -> None:
    """Import orders from a CSV file; bad rows are listed with their line numbers."""
    config = load(config_path)
    now = datetime.now(UTC)
    try:
        text = csv_file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{csv_file}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    try:
        good, bad, lines = parse_csv(
            text, now=now, carriers=_carriers(), aggregator=config.routing.aggregator
        )
    except InputError as exc:
        raise InputError(f"{csv_file}: {exc}") from exc
    store = open_store(config.store.url)
    known = already_tracked(store, [(o.carrier, o.tracking_number) for o in good])
    for line, order in zip(lines, good, strict=True):
        if (order.carrier, order.tracking_number) in known:
            bad.append(
                RowError(line, f"tracking_number: {order.tracking_number!r} is already tracked")
            )
    good = [o for o in good if (o.carrier, o.tracking_number) not in known]
    for error in sorted(bad, key=lambda e: e.line):
        click.echo(f"{csv_file}:{error.line}: {error.message}", err=True)
    stored = add_shipments(store, good, now) if good else []
    click.echo(f"imported {len(stored)} shipment(s), rejected {len(bad)} row(s)")
    if bad:
        sys.exit(1)


commands = [add, import_orders]
