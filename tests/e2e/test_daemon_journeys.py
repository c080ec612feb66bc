"""End to end: the sandbox carrier over real loopback HTTP, a real SMTP server, simulated time.

Each scripted journey must produce exactly its expected emails, polling must stop once a parcel
is delivered, and restarting the daemon midway must send nothing twice.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from carriers.sandbox.journeys import load_journeys
from carriers.sandbox.service import SandboxService
from tests.journeys import spec
from tests.support.orders import journey_order
from tests.support.smtp import SmtpSink
from tracker.clock import SimulatedClock
from tracker.config import CarrierConfig, MailConfig, SmtpConfig, StoreConfig, TrackerConfig
from tracker.runtime.app import build_app
from tracker.runtime.daemon import Daemon
from tracker.runtime.demo import DEMO_START
from tracker.store.models import Shipment, TrackingEvent
from tracker.store.shipments import NewShipment, add_shipments

# What a buyer of each journey is told, in order: the journey table (tests/journeys/journeys.toml).
EXPECTED = {
    name: [notice.kind for notice in notices] for name, notices in spec.load().journeys.items()
}
EN_STRINGS = tomllib.loads(
    (Path(__file__).resolve().parents[2] / "notices" / "locales" / "en.toml").read_text("utf-8")
)


def _config(tmp_path: Path, base_url: str, smtp: SmtpSink) -> TrackerConfig:
    return TrackerConfig(
        store=StoreConfig(url=f"sqlite:///{tmp_path / 'tracker.sqlite3'}"),
        mail=MailConfig(transport="smtp", smtp=SmtpConfig(host="127.0.0.1", port=smtp.port)),
        carriers={"sandbox": CarrierConfig(base_url=base_url, requests_per_second=10_000)},
    )


def _shipments() -> dict[str, NewShipment]:
    journeys = load_journeys()
    assert set(journeys) == set(EXPECTED), "every sandbox journey needs an expectation here"
    items = {}
    for serial, (name, journey) in enumerate(sorted(journeys.items()), start=1):
        items[name] = journey_order(
            journey,
            serial,
            buyer_email=f"{name}@buyers.example",
            buyer_name="Alex Buyer",
            buyer_language="en",
            shipped_at=DEMO_START,
        )
    return items


async def _run(daemon: Daemon, clock: SimulatedClock, until_day: int) -> None:
    end = DEMO_START + timedelta(days=until_day)
    while clock.now() < end:
        await daemon.step()
        clock.advance(timedelta(hours=1))
    await daemon.step()


async def _journeys_run(tmp_path: Path, smtp: SmtpSink, restart_at_day: int | None) -> Path:
    clock = SimulatedClock(DEMO_START)
    items = _shipments()
    async with SandboxService(clock=clock.now) as service:
        for name, shipment in items.items():
            service.register(shipment.tracking_number, name, registered_at=DEMO_START)
        config = _config(tmp_path, service.base_url, smtp)
        app = build_app(config, clock)
        add_shipments(app.store, list(items.values()), clock.now())
        try:
            if restart_at_day is not None:
                await _run(Daemon(app), clock, restart_at_day)
                await app.close()
                app = build_app(config, clock)
            await _run(Daemon(app), clock, 60)
        finally:
            await app.close()
    return tmp_path / "tracker.sqlite3"


def _by_journey(smtp: SmtpSink) -> dict[str, list[tuple[str, str]]]:
    seen: dict[str, list[tuple[str, str]]] = {}
    for received in smtp.messages:
        (recipient,) = received.rcpt_tos
        journey = recipient.split("@")[0]
        kind = str(received.message["X-Tracker-Notice"])
        seen.setdefault(journey, []).append((kind, str(received.message["Subject"])))
    return seen


def _check_messages(smtp: SmtpSink) -> None:
    items = _shipments()
    seen = _by_journey(smtp)
    assert {j: [k for k, _ in kinds] for j, kinds in seen.items()} == {
        j: kinds for j, kinds in EXPECTED.items()
    }
    for received in smtp.messages:
        message = received.message
        (recipient,) = received.rcpt_tos
        shipment = items[recipient.split("@")[0]]
        kind = str(message["X-Tracker-Notice"])
        subjects = [EN_STRINGS[kind]["subject"]]
        if kind == "arrived_locally":  # an attempt and a pickup notice have their own subjects
            variants = ("attempt", "pickup", "reminder")
            subjects += [EN_STRINGS["situation"][f"{v}_subject"] for v in variants]
        starts = [s.split("{until}")[0].format(order=shipment.order_reference) for s in subjects]
        assert any(str(message["Subject"]).startswith(start) for start in starts), starts
        assert str(message["To"]).endswith(f"<{recipient}>")
        text = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        assert text is not None
        assert html is not None
        assert shipment.tracking_number in text.get_content()
        assert shipment.tracking_number in html.get_content()
    ids = Counter(str(r.message["Message-ID"]) for r in smtp.messages)
    assert all(count == 1 for count in ids.values()), "a Message-ID was delivered twice"


def _check_polling_stopped(database: Path) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    with Session(create_engine(f"sqlite:///{database}")) as session:
        delivered = list(session.scalars(select(Shipment).where(Shipment.status == "delivered")))
        delivered_journeys = [
            name
            for name, notices in spec.load().journeys.items()
            if any(n.kind == "delivered" for n in notices)
        ]
        assert len(delivered) == len(delivered_journeys)
        for shipment in delivered:
            delivered_event = session.scalars(
                select(TrackingEvent).where(
                    TrackingEvent.shipment_id == shipment.id, TrackingEvent.status == "delivered"
                )
            ).one()
            assert shipment.next_poll_at is None
            # The last poll is the one that saw the delivery: nothing was polled afterwards.
            assert shipment.last_polled_at == delivered_event.recorded_at


@pytest.mark.slow
async def test_each_journey_sends_exactly_its_emails(tmp_path: Path, smtp_server: SmtpSink) -> None:
    database = await _journeys_run(tmp_path, smtp_server, restart_at_day=None)
    _check_messages(smtp_server)
    _check_polling_stopped(database)


@pytest.mark.slow
async def test_restart_midway_sends_nothing_twice(tmp_path: Path, smtp_server: SmtpSink) -> None:
    await _journeys_run(tmp_path, smtp_server, restart_at_day=17)
    _check_messages(smtp_server)
