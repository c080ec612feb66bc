"""The push journeys of tests/journeys/test_push_journeys.py, through AfterShip's webhooks instead
of 17TRACK's (Tracking API 2024-10 ``tracking_update`` bodies, signed in ``aftership-hmac-sha256``):
repeated, late and out-of-order pushes, before and after delivery, never make a notice false or
send one twice, and the buyer's notices name the courier, not AfterShip."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

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

SECRET = "aftership-webhook-secret"
START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
NUMBER = "RB123456785BR"
PATH = "/webhooks/aftership"

#: (checkpoint_time, message, location, country_region, subtag)
ACCEPTED = ("2025-03-01T20:00:00+08:00", "Posting", "Shenzhen", "CHN", "InTransit_002")
ARRIVED = (
    "2025-03-09T08:00:00-03:00",
    "Objeto recebido no Brasil",
    "Curitiba - PR",
    "BRA",
    "InTransit_001",
)
PICKUP = (
    "2025-03-14T10:21:00-03:00",
    "Objeto aguardando retirada no endereço indicado",
    "São Paulo - SP",
    "BRA",
    "AvailableForPickup_001",
)
DELIVERED = (
    "2025-03-15T15:00:00-03:00",
    "Objeto entregue ao destinatário",
    "São Paulo - SP",
    "BRA",
    "Delivered_001",
)
LATE_SCAN = (
    "2025-03-16T09:00:00-03:00",
    "Objeto em trânsito",
    "São Paulo - SP",
    "BRA",
    "InTransit_001",
)


def body(tag: str, *checkpoints: tuple[str, str, str, str, str]) -> bytes:
    """A tracking_update webhook as AfterShip documents it (checkpoints oldest first)."""
    items = [
        {
            "slug": "brazil-correios",
            "checkpoint_time": when,
            "message": message,
            "location": place,
            "country_region": country,
            "tag": subtag.split("_", 1)[0],
            "subtag": subtag,
        }
        for when, message, place, country, subtag in sorted(checkpoints)
    ]
    tracking = {
        "tracking_number": NUMBER,
        "slug": "brazil-correios",
        "tag": tag,
        "subtag": f"{tag}_001",
        "checkpoints": items,
    }
    return json.dumps({"event": "tracking_update", "msg": tracking, "ts": 1740830400}).encode()


@pytest.fixture
async def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[TrackerApp]:
    monkeypatch.setenv("TEST_AS_KEY", "key")
    monkeypatch.setenv("TEST_AS_WEBHOOK", SECRET)
    config = tmp_path / "tracker.toml"
    config.write_text(
        "\n".join(
            [
                "[store]",
                f'url = "sqlite:///{tmp_path / "tracker.sqlite3"}"',
                "[mail]",
                f'maildir = "{tmp_path / "mail"}"',
                "[carriers.aftership]",
                'api_key_env = "TEST_AS_KEY"',
                'webhook_secret_env = "TEST_AS_WEBHOOK"',
                "[webhooks]",
                "port = 0",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    built = build_app(load_config(config), SimulatedClock(START))
    add_shipments(
        built.store,
        [
            NewShipment(
                tracking_number=NUMBER,
                carrier="aftership",
                buyer_email="ana@example.com",
                buyer_name="Ana Souza",
                buyer_language="pt",
                destination_country="BR",
                origin_country="CN",
                order_reference="ORD-1",
                shipped_at=START,
            )
        ],
        START,
    )
    try:
        yield built
    finally:
        await built.close()


async def push(app: TrackerApp, server: DaemonSite, at_day: float, payload: bytes) -> None:
    assert isinstance(app.clock, SimulatedClock)
    app.clock.advance(START + timedelta(days=at_day) - app.clock.now())
    headers = {"aftership-hmac-sha256": push_signature(payload, SECRET)}
    async with httpx.AsyncClient() as client:
        reply = await client.post(
            server.url + PATH,
            content=payload,
            headers={**headers, "Content-Type": "application/json"},
        )
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


async def test_repeated_and_late_pushes_after_delivery_send_nothing_new(app: TrackerApp) -> None:
    server = DaemonSite(app)
    await server.start()
    try:
        await push(app, server, 1, body("InTransit", ACCEPTED))
        await push(app, server, 9, body("InTransit", ACCEPTED, ARRIVED))
        await push(app, server, 15, body("Delivered", ACCEPTED, ARRIVED, PICKUP, DELIVERED))
        before = queued(app)
        assert before[-1] == ("delivered", None)
        await push(app, server, 15.5, body("Delivered", ACCEPTED, ARRIVED, PICKUP, DELIVERED))
        await push(
            app, server, 16, body("InTransit", ACCEPTED, ARRIVED, PICKUP, DELIVERED, LATE_SCAN)
        )
        await push(app, server, 17, body("AvailableForPickup", PICKUP))
    finally:
        await server.stop()
    assert queued(app) == before
    row = shipment(app)
    assert row.status == "delivered"
    assert row.carrier_holder == "Correios"  # what the buyer's notices name, not AfterShip


async def test_a_late_older_scan_never_sends_an_earlier_milestone(app: TrackerApp) -> None:
    server = DaemonSite(app)
    await server.start()
    try:
        await push(app, server, 1, body("InTransit", ACCEPTED))
        await push(app, server, 14, body("AvailableForPickup", ACCEPTED, PICKUP))
        await push(app, server, 14.5, body("AvailableForPickup", ACCEPTED, ARRIVED, PICKUP))
    finally:
        await server.stop()
    assert queued(app) == [("shipped", None), ("arrived_locally", "pickup")]
    assert shipment(app).status == "available_for_pickup"
