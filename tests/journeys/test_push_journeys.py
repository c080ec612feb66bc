"""Journeys through an aggregator's pushes (17TRACK over real HTTP on loopback): repeated, late
and out-of-order pushes, before and after delivery, never make a notice false or send one twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from tracker.clock import SimulatedClock
from tracker.config import load_config
from tracker.runtime.app import TrackerApp, build_app
from tracker.store.models import Notice, Shipment
from tracker.store.shipments import NewShipment, add_shipments
from tracker.web.site import DaemonSite

pytestmark = pytest.mark.integration

KEY = "push-secret"
START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
NUMBER = "RB123456785BR"
PATH = "/webhooks/seventeentrack"

ACCEPTED = ("2025-03-01T20:00:00+08:00", "Posting", "Shenzhen", "CN", "InTransit_PickedUp")
ARRIVED = ("2025-03-09T08:00:00-03:00", "Objeto recebido no Brasil", "Curitiba - PR", "BR", "")
PICKUP = (
    "2025-03-14T10:21:00-03:00",
    "Objeto aguardando retirada no endereço indicado",
    "São Paulo - SP",
    "BR",
    "AvailableForPickup_Other",
)
DELIVERED = (
    "2025-03-15T15:00:00-03:00",
    "Objeto entregue ao destinatário",
    "São Paulo - SP",
    "BR",
    "Delivered_Other",
)
LATE_SCAN = (
    "2025-03-16T09:00:00-03:00",
    "Objeto em trânsito",
    "São Paulo - SP",
    "BR",
    "InTransit_Other",
)


def body(status: str, *events: tuple[str, str, str, str, str]) -> bytes:
    """A TRACKING_UPDATED push as 17TRACK documents it, newest event first."""
    items = [
        {
            "time_iso": t,
            "description": d,
            "location": loc,
            "sub_status": sub,
            "address": {"country": c},
        }
        for t, d, loc, c, sub in sorted(events, reverse=True)
    ]
    data = {
        "number": NUMBER,
        "carrier": 2151,
        "track_info": {
            "latest_status": {"status": status, "sub_status": items[0]["sub_status"]},
            "tracking": {
                "providers": [
                    {
                        "provider": {"key": 2151, "name": "Correios", "country": "BR"},
                        "events": items,
                    }
                ]
            },
        },
    }
    return json.dumps({"event": "TRACKING_UPDATED", "data": data}).encode()


@pytest.fixture
async def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[TrackerApp]:
    monkeypatch.setenv("TEST_17TRACK_PUSH_KEY", KEY)
    config = tmp_path / "tracker.toml"
    config.write_text(
        "\n".join(
            [
                "[store]",
                f'url = "sqlite:///{tmp_path / "tracker.sqlite3"}"',
                "[mail]",
                f'maildir = "{tmp_path / "mail"}"',
                "[carriers.correios_17]",
                'adapter = "seventeentrack"',
                'webhook_secret_env = "TEST_17TRACK_PUSH_KEY"',
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
                carrier="correios_17",
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
    signature = hashlib.sha256(payload + b"/" + KEY.encode()).hexdigest()
    async with httpx.AsyncClient() as client:
        reply = await client.post(
            server.url + PATH,
            content=payload,
            headers={"sign": signature, "Content-Type": "application/json"},
        )
    assert reply.status_code == 200, reply.text


def queued(app: TrackerApp) -> list[tuple[str, str | None]]:
    with app.store() as session:
        rows = session.execute(select(Notice.kind, Notice.payload).order_by(Notice.id)).all()
    return [(kind, (payload or {}).get("situation")) for kind, payload in rows]


def status(app: TrackerApp) -> str:
    with app.store() as session:
        return session.scalars(select(Shipment.status)).one()


async def test_repeated_and_late_pushes_after_delivery_send_nothing_new(app: TrackerApp) -> None:
    server = DaemonSite(app)
    await server.start()
    try:
        await push(app, server, 1, body("InTransit", ACCEPTED))
        await push(app, server, 9, body("InTransit", ACCEPTED, ARRIVED))
        await push(app, server, 15, body("Delivered", ACCEPTED, ARRIVED, PICKUP, DELIVERED))
        before = queued(app)
        assert before[-1] == ("delivered", None)
        # The same push again, then one with a later in-transit scan, then a pickup repeat.
        await push(app, server, 15.5, body("Delivered", ACCEPTED, ARRIVED, PICKUP, DELIVERED))
        await push(
            app, server, 16, body("InTransit", ACCEPTED, ARRIVED, PICKUP, DELIVERED, LATE_SCAN)
        )
        await push(app, server, 17, body("AvailableForPickup", PICKUP))
    finally:
        await server.stop()
    assert queued(app) == before
    assert status(app) == "delivered"


async def test_a_late_older_scan_never_sends_an_earlier_milestone(app: TrackerApp) -> None:
    server = DaemonSite(app)
    await server.start()
    try:
        await push(app, server, 1, body("InTransit", ACCEPTED))
        await push(app, server, 14, body("AvailableForPickup", ACCEPTED, PICKUP))
        # The arrival in Brazil (day 9) is reported only now, after the pickup notice.
        await push(app, server, 14.5, body("AvailableForPickup", ACCEPTED, ARRIVED, PICKUP))
    finally:
        await server.stop()
    kinds = queued(app)
    assert kinds == [("shipped", None), ("arrived_locally", "pickup")]
    assert status(app) == "available_for_pickup"
