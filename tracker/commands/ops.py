"""Ops commands: ``tracker status`` (health, usable from monitoring) and ``tracker events`` (the
audit log: "what happened to parcel X?")."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from tracker.commands.common import (
    announce_store,
    config_option,
    friendly_errors,
    load,
    parse_since,
    store_url,
)
from tracker.commands.shops import print_shops
from tracker.durations import parse_duration
from tracker.eventlog import redact_secrets_in, redact_value
from tracker.runtime.health import HealthLimits, health_report
from tracker.safetext import for_terminal, without_controls
from tracker.store.models import AuditEntry, Shipment
from tracker.store.readonly import open_existing_store

#: exit code of ``tracker status`` when something needs attention
UNHEALTHY = 1


def _duration_option(value: str) -> timedelta:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def _print_report(report: dict[str, Any]) -> None:
    console = Console(highlight=False)
    verdict = "[green]healthy[/]" if report["healthy"] else "[red]UNHEALTHY[/]"
    console.print(f"tracker: {verdict}  (checked {report['checked_at']})")
    for problem in report["problems"]:
        console.print(f"  [red]-[/] {for_terminal(problem)}")
    scheduler = report["scheduler"]
    console.print(f"scheduler: [bold]{scheduler['state']}[/]")
    for d in scheduler["daemons"][:5]:
        console.print(
            f"  {d['owner']}  {d['state']}  heartbeat {d['heartbeat_age_seconds']:.0f}s ago  "
            f"config {d['config_digest']}  reloads {d['reloads']}"
        )
    carriers = Table(title="Carriers")
    for column in ("carrier", "active", "last successful poll (UTC)", "circuit", "failures"):
        carriers.add_column(column)
    for name, c in report["carriers"].items():
        carriers.add_row(
            name,
            str(c["active_shipments"]),
            c["last_successful_poll"] or "never",
            c["circuit"],
            str(c["consecutive_failures"]),
        )
    console.print(carriers)
    queues = ", ".join(f"{k} {v}" for k, v in report["queues"].items())
    console.print(f"queues: {queues}")
    shipments = ", ".join(f"{k} {v}" for k, v in sorted(report["shipments"].items())) or "none"
    console.print(f"shipments: {shipments}")
    notices = report["notices"]
    by_state = ", ".join(f"{k} {v}" for k, v in sorted(notices["by_state"].items())) or "none"
    console.print(
        f"notices: {by_state}; failed in the last {notices['failed_window']}: "
        f"{notices['failed_recent']}"
    )
    if report.get("shops"):
        print_shops(report["shops"])


@click.command("status")
@config_option
@click.option("--store", "store_option", default=None, help="SQLAlchemy URL of the store to read.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option(
    "--missed-beats",
    default=3,
    show_default=True,
    help="Unhealthy after this many heartbeat intervals without a heartbeat.",
)
@click.option(
    "--max-failed-notices",
    default=10,
    show_default=True,
    help="Unhealthy when more notices than this failed within --failed-window.",
)
@click.option(
    "--failed-window",
    default="24h",
    show_default=True,
    callback=lambda c, p, v: _duration_option(v),
    help="How far back failed notices count towards --max-failed-notices (e.g. 24h, 2d).",
)
@click.option(
    "--carrier-stale-after",
    default="6h",
    show_default=True,
    callback=lambda c, p, v: _duration_option(v),
    help="Unhealthy when a carrier with shipments to poll had no successful poll for this long.",
)
@click.option("--at", "at", default=None, hidden=True, help="Evaluate at this ISO time (tests).")
@friendly_errors
def status(
    config_path: Path | None,
    store_option: str | None,
    as_json: bool,
    missed_beats: int,
    max_failed_notices: int,
    failed_window: timedelta,
    carrier_stale_after: timedelta,
    at: str | None,
) -> None:
    """Health of the service; exits 1 when unhealthy, so monitoring can run it as a check."""
    limits = HealthLimits(missed_beats, max_failed_notices, failed_window, carrier_stale_after)
    now = datetime.fromisoformat(at) if at else datetime.now(UTC)
    factory = open_existing_store(store_url(config_path, store_option, quiet=as_json))
    with factory() as session:
        report = health_report(session, now, limits)
    if as_json:
        click.echo(json.dumps(report, indent=2, sort_keys=True))
    else:
        _print_report(report)
    if not report["healthy"]:
        sys.exit(UNHEALTHY)


def find_events(
    session: Session,
    *,
    shipment_id: int | None,
    tracking: str | None,
    kinds: tuple[str, ...],
    carrier: str | None,
    since: datetime | None,
    limit: int,
) -> list[tuple[AuditEntry, Shipment | None]]:
    """The newest ``limit`` audit rows matching every given filter, oldest first."""
    query = select(AuditEntry, Shipment).outerjoin(Shipment, Shipment.id == AuditEntry.shipment_id)
    if shipment_id is not None:
        query = query.where(AuditEntry.shipment_id == shipment_id)
    if tracking is not None:
        query = query.where(Shipment.tracking_number == tracking.replace(" ", "").upper())
    if kinds:
        # ``notice`` matches every notice.* kind; ``notice.sent`` matches exactly.
        query = query.where(
            or_(
                *(
                    AuditEntry.kind == k if "." in k else AuditEntry.kind.startswith(f"{k}.")
                    for k in kinds
                )
            )
        )
    if carrier is not None:
        query = query.where(or_(AuditEntry.carrier == carrier, Shipment.carrier == carrier))
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    query = query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    return [(row[0], row[1]) for row in reversed(session.execute(query).all())]


def _event_record(entry: AuditEntry, shipment: Shipment | None, redact: bool) -> dict[str, Any]:
    data = redact_value(dict(entry.data)) if redact else redact_secrets_in(dict(entry.data))
    return {
        "id": entry.id,
        "at": entry.at.isoformat(),
        "kind": entry.kind,
        "shipment_id": entry.shipment_id,
        "tracking_number": shipment.tracking_number if shipment else None,
        "carrier": entry.carrier or (shipment.carrier if shipment else None),
        "data": data,
    }


@click.command("events")
@config_option
@click.option("--store", "store_option", default=None, help="SQLAlchemy URL of the store to read.")
@click.option("--shipment", "shipment_id", type=int, default=None, help="Shipment id.")
@click.option("--tracking", default=None, help="Tracking number (any carrier).")
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    help="Audit kind, exact (notice.sent) or a family (notice); repeatable.",
)
@click.option("--carrier", default=None, help="Carrier name, e.g. usps.")
@click.option("--since", default=None, help="How far back: 2d, 36h, or an ISO date.")
@click.option("--limit", default=500, show_default=True, help="At most this many (the newest).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@friendly_errors
def events(
    config_path: Path | None,
    store_option: str | None,
    shipment_id: int | None,
    tracking: str | None,
    kinds: tuple[str, ...],
    carrier: str | None,
    since: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """The audit log, oldest first: state changes, queued, sent, retried and failed notices."""
    if shipment_id is not None and tracking is not None:
        raise click.UsageError("give --shipment or --tracking, not both")
    config = load(config_path)
    url = store_option or config.store.url
    if not as_json:  # --json prints JSON only, for scripts
        announce_store(url, config_path, from_option=store_option is not None)
    factory = open_existing_store(url)
    with factory() as session:
        rows = find_events(
            session,
            shipment_id=shipment_id,
            tracking=tracking,
            kinds=kinds,
            carrier=carrier,
            since=None if since is None else parse_since(since, datetime.now(UTC)),
            limit=limit,
        )
    records = [_event_record(e, s, config.logging.redact_emails) for e, s in rows]
    if as_json:
        for record in records:
            click.echo(json.dumps(record, ensure_ascii=False, sort_keys=True))
        return
    if not records:
        click.echo("no matching events")
        return
    columns = ("time (UTC)", "tracking number", "carrier", "kind", "details")
    lines: list[tuple[str, ...]] = [
        (
            r["at"][:19].replace("T", " "),
            without_controls(r["tracking_number"] or ""),
            without_controls(r["carrier"] or ""),
            without_controls(r["kind"]),
            without_controls(", ".join(f"{k}={v}" for k, v in r["data"].items() if v is not None)),
        )
        for r in records
    ]
    if not sys.stdout.isatty():  # a pipe or a file gets every character: one line per event
        for line in (columns, *lines):
            click.echo("\t".join(line))  # without_controls made tabs spaces
        return
    table = Table()
    for column in columns:
        table.add_column(column)
    for line in lines:  # stored text is not markup: an order reference may read "[/bold]"
        table.add_row(*(for_terminal(cell) for cell in line))
    Console(highlight=False).print(table)


commands = [status, events]
