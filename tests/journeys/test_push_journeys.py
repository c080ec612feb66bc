"""Journeys through an aggregator's pushes, over real HTTP on loopback, for each aggregator that
pushes (17TRACK ``TRACKING_UPDATED`` signed in ``sign``; AfterShip 2024-10 ``tracking_update``
signed in ``aftership-hmac-sha256``): repeated, late and out-of-order pushes, before and after
delivery, never make a notice false or send one twice, and the buyer's notices name the courier
that holds the parcel, not the aggregator."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest
from sqlalchemy import select

from carriers.aftership import push_signature
from tracker.clock import SimulatedClock
from tracker.config import load_config
from tracker.runtime.app import TrackerApp, build_app
from tracker.store.models import Notice, Shipment
from tracker.store.shipments import NewShipment, add_shipments
from tracker.web.site import DaemonSite

pytestmark = pytest.mark.integration

SECRET = "push-secret"
START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
NUMBER = "RB123456785BR"


class Scan(NamedTuple):
    """One carrier scan, with the sub-status each aggregator gives it."""

    time: str
    text: str
    place: str
    country: str  # ISO alpha-2 (17TRACK); AfterShip writes alpha-3
    seventeentrack: str
    aftership: str


ACCEPTED = Scan(
    "2025-03-01T20:00:00+08:00", "Posting", "Shenzhen", "CN", "InTransit_PickedUp", "InTransit_002"
)
ARRIVED = Scan(
    "2025-03-09T08:00:00-03:00", "Objeto recebido no Brasil", "Curitiba - PR", "BR", "",
    "InTransit_001",
)  # fmt: skip
PICKUP = Scan(
    "2025-03-14T10:21:00-03:00",
    "Objeto aguardando retirada no endereço indicado",
    "São Paulo - SP",
    "BR",
    "AvailableForPickup_Other",
    "AvailableForPickup_001",
)
DELIVERED = Scan(
    "2025-03-15T15:00:00-03:00", "Objeto entregue ao destinatário", "São Paulo - SP", "BR",
    "Delivered_Other", "Delivered_001",
)  # fmt: skip
LATE_SCAN = Scan(
    "2025-03-16T09:00:00-03:00", "Objeto em trânsito", "São Paulo - SP", "BR", "InTransit_Other",
    "InTransit_001",
)  # fmt: skip
ALPHA3 = {"CN": "CHN", "BR": "BRA"}


def seventeentrack_body(status: str, *scans: Scan) -> bytes:
    """A TRACKING_UPDATED push as 17TRACK documents it, newest event first."""
    items = [
        {
            "time_iso": s.time,
            "description": s.text,
            "location": s.place,
            "sub_status": s.seventeentrack,
            "address": {"country": s.country},
        }
        for s in sorted(scans, reverse=True)
    ]
    provider = {"provider": {"key": 2151, "name": "Correios", "country": "BR"}, "events": items}
    data = {
        "number": NUMBER,
        "carrier": 2151,
        "track_info": {
            "latest_status": {"status": status, "sub_status": items[0]["sub_status"]},
            "tracking": {"providers": [provider]},
        },
    }
    return json.dumps({"event": "TRACKING_UPDATED", "data": data}).encode()


def aftership_body(tag: str, *scans: Scan) -> bytes:
    """A tracking_update webhook as AfterShip documents it (checkpoints oldest first)."""
    items = [
        {
            "slug": "brazil-correios",
            "checkpoint_time": s.time,
            "message": s.text,
            "location": s.place,
            "country_region": ALPHA3[s.country],
            "tag": s.aftership.split("_", 1)[0],
            "subtag": s.aftership,
        }
        for s in sorted(scans)
    ]
    tracking = {
        "tracking_number": NUMBER,
        "slug": "brazil-correios",
        "tag": tag,
        "subtag": f"{tag}_001",
        "checkpoints": items,
    }
    return json.dumps({"event": "tracking_update", "msg": tracking, "ts": 1740830400}).encode()


@dataclass(frozen=True)
class Aggregator:
    """How one aggregator is configured, what it pushes and how it signs."""

    carrier: str
    config: tuple[str, ...]
    path: str
    body: Callable[..., bytes]
    sign: Callable[[bytes], dict[str, str]]


AGGREGATORS = {
    "seventeentrack": Aggregator(
        carrier="correios_17",
        config=('adapter = "seventeentrack"', 'webhook_secret_env = "TEST_PUSH_SECRET"'),
        path="/webhooks/seventeentrack",
        body=seventeentrack_body,
        sign=lambda p: {"sign": hashlib.sha256(p + b"/" + SECRET.encode()).hexdigest()},
    ),
    "aftership": Aggregator(
        carrier="aftership",
        config=('api_key_env = "TEST_AS_KEY"', 'webhook_secret_env = "TEST_PUSH_SECRET"'),
        path="/webhooks/aftership",
        body=aftership_body,
        sign=lambda p: {"aftership-hmac-sha256": push_signature(p, SECRET)},
    ),
}


@pytest.fixture(params=sorted(AGGREGATORS))
def aggregator(request: pytest.FixtureRequest) -> Aggregator:
    return AGGREGATORS[str(request.param)]


@pytest.fixture
async def app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, aggregator: Aggregator
) -> AsyncIterator[TrackerApp]:
    monkeypatch.setenv("TEST_AS_KEY", "key")
    monkeypatch.setenv("TEST_PUSH_SECRET", SECRET)
    config = tmp_path / "tracker.toml"
    lines = [
        "[store]",
        f'url = "sqlite:///{tmp_path / "tracker.sqlite3"}"',
        "[mail]",
        f'maildir = "{tmp_path / "mail"}"',
        f"[carriers.{aggregator.carrier}]",
        *aggregator.config,
        "[webhooks]",
        "port = 0",
    ]
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    built = build_app(load_config(config), SimulatedClock(START))
    order = NewShipment(
        tracking_number=NUMBER,
        carrier=aggregator.carrier,
        buyer_email="ana@example.com",
        buyer_name="Ana Souza",
        buyer_language="pt",
        destination_country="BR",
        origin_country="CN",
        order_reference="ORD-1",
        shipped_at=START,
    )
    add_shipments(built.store, [order], START)
    try:
        yield built
    finally:
        await built.close()


async def push(
    app: TrackerApp, server: DaemonSite, aggregator: Aggregator, at_day: float, payload: bytes
) -> None:
    assert isinstance(app.clock, SimulatedClock)
    app.clock.advance(START + timedelta(days=at_day) - app.clock.now())
    headers = {**aggregator.sign(payload), "Content-Type": "application/json"}
    async with httpx.AsyncClient() as client:
        reply = await client.post(server.url + aggregator.path, content=payload, headers=headers)
    assert reply.status_code == 200, reply.text


def queued(app: TrackerApp) -> list[tuple[str, str | None]]:
    with app.store() as session:
        rows = session.execute(select(Notice.kind, Notice.payload).order_by(Notice.id)).all()
    return [(kind, (payload or {}).get("situation")) for kind, payload in rows]


def shipment(app: TrackerApp) -> Shipment:
    with app.store() as session:
        row = session.scalars(select(Shipment)).one()
        session.expunge(row)
        return row


async def test_repeated_and_late_pushes_after_delivery_send_nothing_new(
    app: TrackerApp, aggregator: Aggregator
) -> None:
    body = aggregator.body
    server = DaemonSite(app)
    await server.start()
    try:
        await push(app, server, aggregator, 1, body("InTransit", ACCEPTED))
        await push(app, server, aggregator, 9, body("InTransit", ACCEPTED, ARRIVED))
        full = (ACCEPTED, ARRIVED, PICKUP, DELIVERED)
        await push(app, server, aggregator, 15, body("Delivered", *full))
        before = queued(app)
        assert before[-1] == ("delivered", None)
        # The same push again, then one with a later in-transit scan, then a pickup repeat.
        await push(app, server, aggregator, 15.5, body("Delivered", *full))
        await push(app, server, aggregator, 16, body("InTransit", *full, LATE_SCAN))
        await push(app, server, aggregator, 17, body("AvailableForPickup", PICKUP))
    finally:
        await server.stop()
    assert queued(app) == before
    row = shipment(app)
    assert row.status == "delivered"
    assert row.carrier_holder == "Correios"  # what the buyer's notices name, not the aggregator


async def test_a_late_older_scan_never_sends_an_earlier_milestone(
    app: TrackerApp, aggregator: Aggregator
) -> None:
    body = aggregator.body
    server = DaemonSite(app)
    await server.start()
    try:
        await push(app, server, aggregator, 1, body("InTransit", ACCEPTED))
        await push(app, server, aggregator, 14, body("AvailableForPickup", ACCEPTED, PICKUP))
        # The arrival in Brazil (day 9) is reported only now, after the pickup notice.
        late = body("AvailableForPickup", ACCEPTED, ARRIVED, PICKUP)
        await push(app, server, aggregator, 14.5, late)
    finally:
        await server.stop()
    assert queued(app) == [("shipped", None), ("arrived_locally", "pickup")]
    assert shipment(app).status == "available_for_pickup"
