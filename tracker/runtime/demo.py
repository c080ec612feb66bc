"""The demo: the real daemon against the sandbox carrier over loopback HTTP, in simulated time.

A few dozen shipments follow scripted journeys (normal, slow, customs hold, failed delivery then
pickup, lost, returned, ...); the daemon polls, classifies, decides and emails into a Maildir,
60 simulated days in well under a minute.
"""

from __future__ import annotations

import mailbox
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from carriers.sandbox.journeys import load_journeys, sandbox_number
from carriers.sandbox.service import SandboxService
from tracker.clock import SimulatedClock
from tracker.config import CarrierConfig, MailConfig, StoreConfig, TrackerConfig
from tracker.runtime.app import build_app
from tracker.runtime.daemon import Daemon
from tracker.store.models import Notice, Shipment
from tracker.store.shipments import NewShipment, add_shipments

DEMO_START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
#: buyers who live where their parcel goes, so each email is in the language they read
BUYERS = {
    "US": (("Olivia Martin", "en"), ("James Carter", "en")),
    "GB": (("Amelia Hughes", "en"), ("Oliver Bennett", "en")),
    "RU": (("Ivan Petrov", "ru"), ("Anna Smirnova", "ru")),
    "BR": (("Ana Souza", "pt"), ("Rafael Lima", "pt")),
    "ES": (("Lucía García", "es"), ("Javier Ruiz", "es")),
    "FR": (("Camille Dubois", "fr"), ("Hugo Laurent", "fr")),
    "DE": (("Jonas Weber", "de"), ("Lena Fischer", "de")),
    "IT": (("Giulia Rossi", "it"), ("Marco Bianchi", "it")),
    "PL": (("Zofia Nowak", "pl"), ("Jakub Kowalski", "pl")),
}
FALLBACK_BUYERS = (("Sam Taylor", "en"), ("Alex Morgan", "en"))


@dataclass(frozen=True)
class DemoResult:
    """What the demo did, for the summary table and tests."""

    directory: Path
    maildir: Path
    shipments_by_status: dict[str, int]
    emails_by_kind: dict[str, int]
    emails_in_maildir: int
    simulated_days: int
    sample_number: str


def _reset(directory: Path) -> None:
    """Start from an empty database and mailbox so the summary counts only this run."""
    directory.mkdir(parents=True, exist_ok=True)
    for stale in ("tracker.sqlite3", "tracker.sqlite3-wal", "tracker.sqlite3-shm"):
        (directory / stale).unlink(missing_ok=True)
    shutil.rmtree(directory / "mail", ignore_errors=True)


def demo_config(directory: Path, base_url: str) -> TrackerConfig:
    """Embedded defaults: SQLite and a Maildir inside ``directory``, the sandbox carrier."""
    return TrackerConfig(
        store=StoreConfig(url=f"sqlite:///{directory / 'tracker.sqlite3'}"),
        mail=MailConfig(transport="maildir", maildir=directory / "mail"),
        carriers={"sandbox": CarrierConfig(base_url=base_url, requests_per_second=10_000)},
    )


def demo_shipments(per_journey: int, start: datetime) -> list[tuple[NewShipment, str]]:
    """Shipments spread over every journey, each with a buyer; paired with the journey name."""
    items = []
    serial = 0
    for name, journey in sorted(load_journeys().items()):
        for copy in range(per_journey):
            serial += 1
            people = BUYERS.get(journey.destination, FALLBACK_BUYERS)
            buyer, language = people[copy % len(people)]
            number = sandbox_number(journey, serial)
            items.append(
                (
                    NewShipment(
                        tracking_number=number,
                        carrier="sandbox",
                        buyer_email=f"buyer{serial:03d}@example.com",
                        buyer_name=buyer,
                        buyer_language=language if copy % 2 == 0 else None,
                        destination_country=journey.destination,
                        origin_country=journey.origin,
                        order_reference=f"ORD-{1000 + serial}",
                        shipped_at=start,
                    ),
                    name,
                )
            )
    return items


async def run_demo(
    directory: Path,
    *,
    days: int = 60,
    per_journey: int = 4,
    step: timedelta = timedelta(hours=1),
    on_progress: Callable[[float], None] | None = None,
) -> DemoResult:
    """Run the whole demo into ``directory`` (created; an earlier demo there is replaced)."""
    _reset(directory)
    clock = SimulatedClock(DEMO_START)
    async with SandboxService(clock=clock.now) as service:
        config = demo_config(directory, service.base_url)
        app = build_app(config, clock)
        try:
            items = demo_shipments(per_journey, clock.now())
            for shipment, journey in items:
                service.register(
                    shipment.tracking_number, journey, registered_at=shipment.shipped_at
                )
            add_shipments(app.store, [s for s, _ in items], clock.now())
            daemon = Daemon(app)
            end = DEMO_START + timedelta(days=days)
            while clock.now() < end:
                await daemon.step()
                clock.advance(step)
                if on_progress is not None:
                    on_progress((clock.now() - DEMO_START) / timedelta(days=1))
            await daemon.step()
            summary = _summarize(app.store, directory, config.mail.maildir, days)
            return replace(summary, sample_number=_pick_sample(items))
        finally:
            await app.close()


def _summarize(store: object, directory: Path, maildir: Path, days: int) -> DemoResult:
    from sqlalchemy.orm import Session, sessionmaker

    assert isinstance(store, sessionmaker)
    factory: sessionmaker[Session] = store
    with factory() as session:
        statuses = dict(
            session.execute(select(Shipment.status, func.count()).group_by(Shipment.status)).all()
        )
        kinds = dict(
            session.execute(
                select(Notice.kind, func.count())
                .where(Notice.state == "sent")
                .group_by(Notice.kind)
            ).all()
        )
    box = mailbox.Maildir(maildir, create=False)
    return DemoResult(
        directory=directory,
        maildir=maildir,
        shipments_by_status=dict(Counter(statuses).most_common()),
        emails_by_kind=dict(Counter(kinds).most_common()),
        emails_in_maildir=len(box),
        simulated_days=days,
        sample_number="",
    )


def _pick_sample(items: list[tuple[NewShipment, str]]) -> str:
    """A shipment with an eventful journey to suggest to `tracker show`."""
    for shipment, journey in items:
        if journey == "customs_hold":
            return shipment.tracking_number
    return items[0][0].tracking_number
