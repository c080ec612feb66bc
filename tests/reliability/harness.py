"""Helpers for the reliability suite: a recording SMTP server, a file-backed clock shared with
daemon processes, config files, the journey set, and a comparable snapshot of the store."""

from __future__ import annotations

import contextlib
import socket
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from carriers.sandbox.journeys import load_journeys, sandbox_number
from tracker.store.models import Notice, Shipment, TrackingEvent
from tracker.store.shipments import NewShipment

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BUYERS = (
    ("Olivia Martin", "en"),
    ("Ivan Petrov", "ru"),
    ("Ana Souza", "pt"),
    ("Jonas Weber", "de"),
)


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class MailRecorder:
    """An aiosmtpd handler counting messages per Message-ID; ``refuse`` answers every DATA."""

    recipients: list[str] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)
    attempts: int = 0
    refuse: str | None = None
    refuse_rcpt: dict[str, str] = field(default_factory=dict)
    rcpt_attempts: Counter[str] = field(default_factory=Counter)
    #: (time.monotonic(), Message-ID) of every accepted message, in order
    accepted: list[tuple[float, str]] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self.rcpt_attempts[address] += 1
        if address in self.refuse_rcpt:
            return self.refuse_rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        self.attempts += 1
        if self.refuse:
            return self.refuse
        content = envelope.original_content or b""
        message = message_from_bytes(content)
        self.accepted.append((time.monotonic(), str(message["Message-ID"])))
        self.recipients.extend(envelope.rcpt_tos)
        self.raw.append(content)
        return "250 Message accepted"

    @property
    def by_message_id(self) -> Counter[str]:
        """How many times each Message-ID was accepted."""
        return Counter(message_id for _, message_id in self.accepted)

    @property
    def duplicates(self) -> int:
        """Messages received more than once (same Message-ID), beyond the first copy."""
        return sum(n - 1 for n in self.by_message_id.values())


class SmtpServer:
    """A real SMTP server on a fixed loopback port that can go down and come back."""

    def __init__(self, recorder: MailRecorder | None = None, port: int | None = None) -> None:
        self.recorder = recorder or MailRecorder()
        self.port = port or free_port()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


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
                    NewShipment(
                        tracking_number=sandbox_number(journey, serial),
                        carrier="sandbox",
                        buyer_email=f"buyer{serial:03d}@example.com",
                        buyer_name=buyer,
                        buyer_language=language,
                        destination_country=journey.destination,
                        origin_country=journey.origin,
                        order_reference=f"ORD-{1000 + serial}",
                        shipped_at=START,
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
