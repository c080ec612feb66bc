"""Read-only commands for ops and sellers: ``show``, ``unclassified`` and ``check-config``."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from tracker.commands.common import (
    DISCOVERY,
    announce_store,
    config_option,
    find_config,
    friendly_errors,
    store_url,
)
from tracker.config import load_config
from tracker.errors import InputError, TrackerError
from tracker.safetext import for_terminal, without_controls
from tracker.store.models import Notice, Shipment, TrackingEvent
from tracker.store.readonly import display_url, open_existing_store


@click.command("show")
@click.argument("tracking_number")
@config_option
@click.option("--store", "store_option", default=None, help="SQLAlchemy URL of the store to read.")
@friendly_errors
def show(config_path: Path | None, store_option: str | None, tracking_number: str) -> None:
    """Print a shipment's timeline: raw events, their status, milestones and notices."""
    url = store_url(config_path, store_option)
    factory = open_existing_store(url)
    number = tracking_number.replace(" ", "").upper()
    with factory() as session:
        shipments = list(
            session.scalars(select(Shipment).where(Shipment.tracking_number == number))
        )
        if not shipments:
            raise InputError(f"tracking number {number!r} is not tracked in {display_url(url)}")
        console = Console()
        for shipment in shipments:
            events = session.scalars(
                select(TrackingEvent)
                .where(TrackingEvent.shipment_id == shipment.id)
                .order_by(TrackingEvent.occurred_at, TrackingEvent.id)
            )
            notices = list(
                session.scalars(
                    select(Notice)
                    .where(Notice.shipment_id == shipment.id)
                    .order_by(Notice.not_before)
                )
            )
            # Stored text is not markup (an order reference "[/bold]"), nor terminal controls.
            t = for_terminal
            console.print(
                f"[bold]{t(shipment.tracking_number)}[/] via {t(shipment.carrier)} — "
                f"order {t(shipment.order_reference)} — to {t(shipment.destination_country)} — "
                f"status [bold]{t(shipment.status)}[/]"
                + (f" / {t(shipment.detail)}" if shipment.detail else "")
            )
            console.print(
                f"shipped {shipment.shipped_at:%Y-%m-%d %H:%M} UTC; next poll "
                + (
                    f"{shipment.next_poll_at:%Y-%m-%d %H:%M} UTC"
                    if shipment.next_poll_at
                    else "never (final or stopped)"
                )
            )
            # carrier-supplied text: printed without markup
            console.print(estimate_line(shipment), markup=False, highlight=False)
            timeline = Table(title="Timeline")
            for column in ("time (UTC)", "code", "carrier text", "place", "status", "detail"):
                timeline.add_column(column)
            for event in events:
                timeline.add_row(
                    f"{event.occurred_at:%Y-%m-%d %H:%M}",
                    t(event.code),
                    t(event.text),
                    t(", ".join(p for p in (event.location, event.country) if p)),
                    t(event.status),
                    t(event.detail),
                )
            console.print(timeline)
            table = Table(title="Milestones and notices")
            for column in (
                "milestone",
                "state",
                "due (UTC)",
                "sent (UTC)",
                "choices offered",
                "subject / error",
            ):
                table.add_column(column)
            for notice in notices:
                table.add_row(
                    t(
                        notice.kind
                        + (f" ({notice.payload['channel']})" if "channel" in notice.payload else "")
                    ),
                    t(notice.state),
                    f"{notice.not_before:%Y-%m-%d %H:%M}",
                    f"{notice.sent_at:%Y-%m-%d %H:%M}" if notice.sent_at else "",
                    t(", ".join(notice.payload.get("choices") or ())),
                    t(notice.subject or notice.last_error),
                )
            console.print(table)
            for notice in notices:
                if notice.kind == "refund_offer" and notice.sent_at is not None:
                    console.print(
                        f"refund offered {notice.sent_at:%Y-%m-%d %H:%M} UTC; choices offered: "
                        + ", ".join(notice.payload.get("choices") or ())
                    )
                if notice.kind == "buyer_choice":
                    console.print(
                        f"buyer chose {notice.payload.get('choice')} on the tracking page "
                        f"{notice.created_at:%Y-%m-%d %H:%M} UTC, answering the "
                        f"{notice.payload.get('offer_kind')} notice",
                        markup=False,
                    )


def estimate_line(shipment: Shipment) -> str:
    """Whose delivery estimate the shipment holds and since when, and who holds the parcel."""
    holder = f"; held by {shipment.carrier_holder}" if shipment.carrier_holder else ""
    if shipment.expected_delivery is None:
        return (
            "estimated delivery: none from the carrier (notices use the lane's learned window, "
            f"else thresholds.expected_transit){holder}"
        )
    source = shipment.expected_delivery_source or "the carrier"
    given = shipment.expected_delivery_given_at
    when = f", received {given:%Y-%m-%d %H:%M} UTC" if given is not None else ""
    return (
        f"estimated delivery {shipment.expected_delivery:%Y-%m-%d %H:%M} UTC from "
        f"{source}{when}{holder}"
    )


@click.command("unclassified")
@config_option
@click.option("--store", "store_option", default=None, help="SQLAlchemy URL of the store to read.")
@click.option("--limit", default=20, show_default=True, help="How many to list.")
@friendly_errors
def unclassified(config_path: Path | None, store_option: str | None, limit: int) -> None:
    """The most frequent events no rule classified, so ops can add rules for them."""
    factory = open_existing_store(store_url(config_path, store_option))
    with factory() as session:
        rows = session.execute(
            select(TrackingEvent.carrier, TrackingEvent.code, TrackingEvent.text, func.count())
            .where(TrackingEvent.status == "unknown")
            .group_by(TrackingEvent.carrier, TrackingEvent.code, TrackingEvent.text)
            .order_by(func.count().desc())
            .limit(limit)
        ).all()
    if not rows:
        click.echo("no unclassified events")
        return
    for carrier, code, text, count in rows:
        code, text = without_controls(code or "-"), without_controls(text)  # stored before 13.6
        click.echo(f"{count:>6}  {carrier:<14} {code:<10} {text}")


@click.command("check-config")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False), required=False)
@config_option
def check_config(config_path: Path | None, path: Path | None) -> None:
    """Validate a config file; errors point at the exact key."""
    target = path or find_config(config_path)
    if target is None:
        click.echo(f"error: no config file found (looked at {DISCOVERY})", err=True)
        sys.exit(2)
    from tracker.runtime.preflight import check_runnable, config_warnings

    try:
        config = load_config(target)
        check_runnable(config, source=str(target))  # what `tracker run` checks first
    except TrackerError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    click.echo(f"{target}: OK")
    announce_store(config.store.url, target)
    for warning in config_warnings(config):
        click.echo(f"warning: {warning}", err=True)
    if config.mail.transport == "maildir":
        click.echo(
            f'warning: [mail] transport is "maildir": buyers get no email, notices are only '
            f"written to {config.mail.maildir}; switch to SMTP before going live (README: "
            "Going live)",
            err=True,
        )


commands = [show, unclassified, check_config]
