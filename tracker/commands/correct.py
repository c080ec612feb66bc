"""Correcting a stored shipment: ``tracker edit`` (carrier, email, name, language, country),
``tracker stop`` (no more polls or notices, history kept) and ``tracker poll`` (due now)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tracker.commands.common import announce_store, config_option, friendly_errors, load
from tracker.errors import InputError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

_under = click.option(
    "--under",
    "carrier",
    default=None,
    help="The carrier it is tracked under, when it is tracked under two.",
)


def _number(text: str) -> str:
    return text.replace(" ", "").replace("-", "").upper()


@click.command("edit")
@click.argument("tracking_number")
@click.option(
    "--carrier", "new_carrier", default=None, help="Another configured carrier (or auto)."
)
@click.option("--email", "buyer_email", default=None, help="The buyer's corrected address.")
@click.option("--name", "buyer_name", default=None, help="The buyer's name as emails show it.")
@click.option("--language", "buyer_language", default=None, help="The buyer's language (pt).")
@click.option("--country", "destination_country", default=None, help="Destination ISO code.")
@_under
@config_option
@friendly_errors
def edit(
    config_path: Path | None,
    tracking_number: str,
    new_carrier: str | None,
    carrier: str | None,
    **fields: str | None,
) -> None:
    """Correct a tracked shipment; the values are checked as `tracker add` checks them."""
    from tracker.commands.orders import routable
    from tracker.orders import parse_order
    from tracker.store.corrections import edit_shipment
    from tracker.store.db import open_store

    changes = {k: v for k, v in fields.items() if v is not None}
    if new_carrier is not None:
        changes["carrier"] = new_carrier
    if not changes:
        raise InputError(
            "nothing to change: give --carrier, --email, --name, --language or --country"
        )
    config = load(config_path)
    announce_store(config.store.url, config_path)
    store = open_store(config.store.url)
    number = _number(tracking_number)
    now = datetime.now(UTC)
    current = _current_row(store, number, carrier)
    checked = parse_order(
        {**current, **changes},
        now=now,
        carriers=routable(config),
        aggregator=config.routing.aggregator,
    )
    values = {field: str(getattr(checked, field)) for field in changes}
    changed = edit_shipment(store, number, values, now, carrier=carrier)
    if not changed:
        click.echo(f"{number}: nothing changed")
    for field, (old, new) in changed.items():
        click.echo(f"{number}: {field} {old} -> {new}")
    if "carrier" in changed:
        click.echo(f"{number}: due for a poll now under {changed['carrier'][1]}")


def _current_row(
    store: sessionmaker[Session], number: str, carrier: str | None
) -> dict[str, str | None]:
    """The stored shipment as an order row, so an edit is validated as a whole order."""
    from tracker.store.corrections import find_one

    with store() as session:
        s = find_one(session, number, carrier)
        return {
            "tracking_number": s.tracking_number,
            "carrier": s.carrier,
            "buyer_email": s.buyer_email,
            "buyer_name": s.buyer_name,
            "buyer_language": s.buyer_language,
            "destination_country": s.destination_country,
            "origin_country": s.origin_country,
            "order_reference": s.order_reference,
            "shipped_date": s.shipped_at.isoformat(),
        }


@click.command("stop")
@click.argument("tracking_number")
@_under
@config_option
@friendly_errors
def stop(config_path: Path | None, tracking_number: str, carrier: str | None) -> None:
    """Stop tracking a shipment: no more polls or buyer notices; its history stays."""
    from tracker.store.corrections import stop_tracking
    from tracker.store.db import open_store

    config = load(config_path)
    announce_store(config.store.url, config_path)
    number = _number(tracking_number)
    skipped = stop_tracking(
        open_store(config.store.url), number, datetime.now(UTC), carrier=carrier
    )
    click.echo(f"{number}: stopped; {skipped} pending notice(s) skipped; history kept")


@click.command("poll")
@click.argument("tracking_number")
@_under
@config_option
@friendly_errors
def poll(config_path: Path | None, tracking_number: str, carrier: str | None) -> None:
    """Make a shipment due for a poll now (after fixing a carrier key, say)."""
    from tracker.durations import format_duration
    from tracker.store.corrections import poll_now
    from tracker.store.db import open_store

    config = load(config_path)
    announce_store(config.store.url, config_path)
    number = _number(tracking_number)
    shipment = poll_now(open_store(config.store.url), number, datetime.now(UTC), carrier=carrier)
    every = format_duration(config.daemon.poll_every)
    click.echo(
        f"{number}: due now under {shipment.carrier}; the running daemon polls it within {every}"
    )


commands = [edit, stop, poll]
