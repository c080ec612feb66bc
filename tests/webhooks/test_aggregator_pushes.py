"""Every aggregator's push over real HTTP on loopback, through the receiver its adapter declares.

Bodies and signatures follow each aggregator's public webhook documentation. For each one: a
signed push is recorded (events, status, notices) and the shipment's lease given back; unsigned
and badly signed pushes get 401 and store nothing; a repeated push stores nothing twice; and the
server serves exactly the receivers of the configured aggregators.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from structlog.testing import capture_logs

from carriers import aftership, trackingmore
from tests.support.orders import order as any_order
from tracker.clock import SimulatedClock
from tracker.config import load_config
from tracker.runtime.app import TrackerApp, build_app
from tracker.store.corrections import stop_tracking
from tracker.store.models import Notice, Shipment, TrackingEvent
from tracker.store.shipments import (
    NewShipment,
    add_shipments,
    claim_due_for_poll,
    claim_due_for_timers,
)
from tracker.web.site import DaemonSite

pytestmark = pytest.mark.integration

SECRET = "push-secret-7d1f"
START = datetime(2025, 3, 18, 18, 0, tzinfo=UTC)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "carriers"
NUMBER = "RB123456785BR"
Headers = dict[str, str | bytes]


@dataclass(frozen=True)
class Aggregator:
    """One aggregator's push as its documentation describes it."""

    adapter: str
    path: str
    body: bytes
    #: the headers the aggregator sends with ``body`` when signing with ``secret``
    signed: Callable[[bytes, str], Headers]
    #: header sets that must be refused (missing, wrong secret, other body, garbage)
    forged: Callable[[bytes], list[Headers]]
    status: str


def _aftership_headers(body: bytes, secret: str) -> Headers:
    return {"aftership-hmac-sha256": aftership.push_signature(body, secret)}


AFTERSHIP = Aggregator(
    adapter="aftership",
    path="/webhooks/aftership",
    body=(FIXTURES / "aftership" / "webhook_tracking_update.json").read_bytes(),
    signed=_aftership_headers,
    forged=lambda body: [
        {},
        {"aftership-hmac-sha256": ""},
        _aftership_headers(body, "another-secret"),
        _aftership_headers(body + b" ", SECRET),
        {"aftership-hmac-sha256": "bm90IGEgc2lnbmF0dXJl"},
        {"aftership-hmac-sha256": ("é" * 22).encode()},
    ],
    status="available_for_pickup",
)


def _trackingmore_headers(body: bytes, secret: str) -> Headers:
    """TrackingMore v4 signs the timestamp it sends, not the body."""
    return {
        "timestamp": "1742304311",
        "signature": trackingmore.push_signature("1742304311", secret),
    }


TRACKINGMORE = Aggregator(
    adapter="trackingmore",
    path="/webhooks/trackingmore",
    body=(FIXTURES / "trackingmore" / "webhook.json").read_bytes(),
    signed=_trackingmore_headers,
    forged=lambda body: [
        {},
        {"timestamp": "1742304311"},
        _trackingmore_headers(body, "another-secret"),
        {**_trackingmore_headers(body, SECRET), "timestamp": "1742304312"},
        {"timestamp": "1742304311", "signature": "zz" * 32},
    ],
    status="available_for_pickup",
)

SHIP24 = Aggregator(
    adapter="ship24",
    path="/webhooks/ship24",
    body=(FIXTURES / "ship24" / "webhook.json").read_bytes(),
    signed=lambda body, secret: {"Authorization": f"Bearer {secret}"},
    forged=lambda body: [
        {},
        {"Authorization": "Bearer another-secret"},
        {"Authorization": SECRET},
        {"Authorization": f"Bearer {SECRET} "[:-2]},
        {"Authorization": ("Bearer " + "é" * 8).encode()},
    ],
    status="available_for_pickup",
)

AGGREGATORS = [AFTERSHIP, TRACKINGMORE, SHIP24]


def write_config(tmp_path: Path, adapters: list[str], *, port: bool = True) -> Path:
    lines = [
        "[store]",
        f'url = "sqlite:///{tmp_path / "tracker.sqlite3"}"',
        "[mail]",
        f'maildir = "{tmp_path / "mail"}"',
    ]
    for adapter in adapters:
        lines += [
            f"[carriers.{adapter}]",
            f'api_key_env = "TEST_{adapter.upper()}_KEY"',
            f'webhook_secret_env = "TEST_{adapter.upper()}_WEBHOOK"',
        ]
    if port:
        lines += ["[webhooks]", "port = 0"]
    path = tmp_path / "tracker.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def order(carrier: str) -> NewShipment:
    return any_order(NUMBER, carrier, shipped_at=START - timedelta(days=12))


@pytest.fixture(params=AGGREGATORS, ids=lambda a: a.adapter)
def aggregator(request: pytest.FixtureRequest) -> Aggregator:
    param: Aggregator = request.param
    return param


@pytest.fixture
async def app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, aggregator: Aggregator
) -> AsyncIterator[TrackerApp]:
    name = aggregator.adapter.upper()
    monkeypatch.setenv(f"TEST_{name}_KEY", "api-key")
    monkeypatch.setenv(f"TEST_{name}_WEBHOOK", SECRET)
    config = load_config(write_config(tmp_path, [aggregator.adapter]))
    built = build_app(config, SimulatedClock(START))
    # the same number under a carrier this aggregator does not serve must be left alone
    add_shipments(built.store, [order(aggregator.adapter), order("sandbox")], START)
    try:
        yield built
    finally:
        await built.close()


async def post(url: str, body: bytes, headers: Headers) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        merged = {"Content-Type": "application/json", **headers}
        raw = [(k.encode(), v if isinstance(v, bytes) else v.encode()) for k, v in merged.items()]
        return await client.post(url, content=body, headers=raw)


def counts(app: TrackerApp) -> tuple[int, int]:
    with app.store() as session:
        events = session.scalar(select(func.count()).select_from(TrackingEvent)) or 0
        notices = session.scalar(select(func.count()).select_from(Notice)) or 0
    return events, notices


def shipment(app: TrackerApp, carrier: str) -> Shipment:
    with app.store() as session:
        row = session.scalars(select(Shipment).where(Shipment.carrier == carrier)).one()
        session.expunge(row)
        return row


async def test_signed_push_is_recorded_once(
    app: TrackerApp, server: DaemonSite, aggregator: Aggregator
) -> None:
    url = server.url + aggregator.path
    with capture_logs() as logs:
        reply = await post(url, aggregator.body, aggregator.signed(aggregator.body, SECRET))
    assert reply.status_code == 200, reply.text
    assert reply.json()["recorded"] == 1
    ours = shipment(app, aggregator.adapter)
    assert ours.status == aggregator.status
    assert (ours.lease_owner, ours.lease_until) == (None, None)
    assert shipment(app, "sandbox").status == "pending"
    events, notices = counts(app)
    assert events >= 1
    assert notices >= 1
    recorded = [e for e in logs if e["event"] == "webhook.recorded"]
    assert recorded[0]["source"] == aggregator.adapter

    again = await post(url, aggregator.body, aggregator.signed(aggregator.body, SECRET))
    assert again.status_code == 200
    assert counts(app) == (events, notices)


async def test_a_push_for_a_stopped_shipment_is_kept_as_history_only(
    app: TrackerApp, server: DaemonSite, aggregator: Aggregator
) -> None:
    """`tracker stop` holds against pushes: the news is stored, nothing is started again (the
    same push to a tracked shipment queues notices and a next poll, as the test above shows)."""
    stop_tracking(app.store, NUMBER, START, carrier=aggregator.adapter)
    app.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    url = server.url + aggregator.path
    reply = await post(url, aggregator.body, aggregator.signed(aggregator.body, SECRET))
    assert reply.status_code == 200, reply.text
    assert reply.json()["recorded"] == 1
    ours = shipment(app, aggregator.adapter)
    assert ours.status == aggregator.status
    assert (ours.next_poll_at, ours.next_timer_at) == (None, None)
    assert ours.stopped_at == START
    assert (ours.lease_owner, ours.lease_until) == (None, None)
    events, notices = counts(app)
    assert events >= 1
    assert notices == 0
    later = START + timedelta(days=60)
    for claim in (claim_due_for_poll, claim_due_for_timers):
        claimed = claim(app.store, later, "test", timedelta(minutes=5), 100)
        assert ours.id not in {c.id for c in claimed}, claim.__name__


async def test_unsigned_or_badly_signed_push_is_401_and_stores_nothing(
    app: TrackerApp, server: DaemonSite, aggregator: Aggregator
) -> None:
    for headers in aggregator.forged(aggregator.body):
        with capture_logs() as logs:
            reply = await post(server.url + aggregator.path, aggregator.body, headers)
        assert reply.status_code == 401, headers
        assert [e["event"] for e in logs if e["event"].startswith("webhook.")] == [
            "webhook.rejected"
        ]
    assert counts(app) == (0, 0)
    assert shipment(app, aggregator.adapter).status == "pending"


async def test_only_configured_aggregators_are_served(
    server: DaemonSite, aggregator: Aggregator
) -> None:
    assert [route.adapter for route in server.routes] == [aggregator.adapter]
    for other in {"/webhooks/seventeentrack"} | {a.path for a in AGGREGATORS}:
        if other != aggregator.path:
            reply = await post(server.url + other, b"{}", {})
            assert reply.status_code == 404, other
