"""Helpers for the reliability suite: a file-backed clock shared with daemon processes, config
files, the journey set, and a comparable snapshot of the store."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from carriers.sandbox.journeys import load_journeys
from tests.support.orders import journey_order
from tracker.store.models import Notice, Shipment, TrackingEvent
from tracker.store.shipments import NewShipment

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BUYERS = (
    ("Olivia Martin", "en"),
    ("Ivan Petrov", "ru"),
    ("Ana Souza", "pt"),
    ("Jonas Weber", "de"),
)


class FileClock:
    """The simulated time a daemon process persists, read by the sandbox service in this process."""

    def __init__(self, path: Path, start: datetime) -> None:
        self.path = path
        self.last = start
        path.write_text(start.isoformat())

    def __call__(self) -> datetime:
        # mid-replace on some filesystems: keep the last reading
        with contextlib.suppress(OSError, ValueError):
            self.last = datetime.fromisoformat(self.path.read_text().strip())
        return self.last


def journey_set(per_journey: int = 2) -> list[tuple[NewShipment, str]]:
    """Shipments over every sandbox journey, each paired with its journey name."""
    items = []
    serial = 0
    for name, journey in sorted(load_journeys().items()):
        for _ in range(per_journey):
            serial += 1
            buyer, language = BUYERS[serial % len(BUYERS)]
            items.append(
                (
                    journey_order(
                        journey, serial, buyer_name=buyer, buyer_language=language, shipped_at=START
                    ),
                    name,
                )
            )
    return items


def write_config(
    path: Path,
    *,
    db: Path | str,
    carriers: dict[str, str],
    smtp_port: int | None,
    maildir: Path | None = None,
    extra: str = "",
) -> Path:
    """A tracker.toml: SQLite (or a URL), sandbox-style carriers, SMTP or Maildir, fast jobs."""
    url = db if isinstance(db, str) else f"sqlite:///{db}"
    lines = [
        "[store]",
        f'url = "{url}"',
        "[daemon]",
        'poll_every = "1m"',
        'timers_every = "1m"',
        'dispatch_every = "1m"',
        'lease = "30s"',
        'http_timeout = "3s"',
        "batch_size = 50",
        "[mail]",
    ]
    if smtp_port is not None:
        lines += [
            'transport = "smtp"',
            'retry_backoff = "10m"',
            "[mail.smtp]",
            f"port = {smtp_port}",
            'timeout = "5s"',
        ]
    else:
        lines += ['transport = "maildir"', f'maildir = "{maildir}"']
    for name, base_url in carriers.items():
        lines += [f"[carriers.{name}]", f'base_url = "{base_url}"', "requests_per_second = 10000"]
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


@dataclass(frozen=True)
class Snapshot:
    """The stored state that must not depend on crashes: statuses, events, notices."""

    shipments: dict[str, tuple[str, str | None, str | None]]
    events: dict[str, frozenset[tuple[str, str, str | None]]]
    notices: dict[str, tuple[str, str]]


def snapshot(factory: sessionmaker[DbSession]) -> Snapshot:
    """Read the comparable state out of a store."""
    with factory() as session:
        ships = {s.id: s for s in session.scalars(select(Shipment))}
        events: dict[str, set[tuple[str, str, str | None]]] = {
            s.tracking_number: set() for s in ships.values()
        }
        for e in session.scalars(select(TrackingEvent)):
            events[ships[e.shipment_id].tracking_number].add((e.fingerprint, e.status, e.detail))
        notices = {n.idempotency_key: (n.kind, n.state) for n in session.scalars(select(Notice))}
        shipments = {
            s.tracking_number: (
                s.status,
                s.detail,
                s.delivered_at.isoformat() if s.delivered_at else None,
            )
            for s in ships.values()
        }
    return Snapshot(shipments, {k: frozenset(v) for k, v in events.items()}, notices)


def sent_message_ids(factory: sessionmaker[DbSession]) -> set[str]:
    """Message-IDs of the notices the store records as sent."""
    with factory() as session:
        return {
            str(m) for m in session.scalars(select(Notice.message_id).where(Notice.state == "sent"))
        }
