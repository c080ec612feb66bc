"""17TRACK's push webhook over real HTTP on loopback: signed pushes are recorded through the
poll path (events, status, notices) in one transaction; bad signatures and unknown numbers
change nothing; a shipment leased by a poll gets 503 so 17TRACK retries."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email import policy as email_policy
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update
from structlog.testing import capture_logs

from tests.support.orders import order
from tracker.cli import main
from tracker.clock import SimulatedClock, SystemClock
from tracker.config import RefundConfig, load_config
from tracker.errors import ConfigError
from tracker.jobs.dispatch import dispatch_due
from tracker.runtime.app import TrackerApp, build_app
from tracker.runtime.daemon import Daemon
from tracker.store.corrections import stop_tracking
from tracker.store.models import Notice, Shipment, TrackingEvent
from tracker.store.shipments import add_shipments
from tracker.web.site import DaemonSite

pytestmark = pytest.mark.integration

KEY = "push-secret"
START = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
SHIPPED = START - timedelta(days=12)
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "carriers" / "seventeentrack"
PUSH = (FIXTURE / "webhook.json").read_bytes()
NUMBER = "RB123456785BR"
#: the URL sellers enter in 17TRACK's dashboard: a public interface
SEVENTEENTRACK_PATH = "/webhooks/seventeentrack"


def sign(body: bytes, key: str = KEY) -> str:
    return hashlib.sha256(body + b"/" + key.encode()).hexdigest()


def write_config(tmp_path: Path, *, key_env: str | None = "TEST_17TRACK_PUSH_KEY") -> Path:
    lines = [
        "[store]",
        f'url = "sqlite:///{tmp_path / "tracker.sqlite3"}"',
        "[daemon]",
        'heartbeat_every = "1h"',
        "[mail]",
        f'maildir = "{tmp_path / "mail"}"',
        "[carriers.china_post_17]",
        'adapter = "seventeentrack"',
        "[webhooks]",
        "port = 0",
    ]
    if key_env:
        lines.append(f'seventeentrack_key_env = "{key_env}"')
    path = tmp_path / "tracker.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
async def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[TrackerApp]:
    monkeypatch.setenv("TEST_17TRACK_PUSH_KEY", KEY)
    built = build_app(load_config(write_config(tmp_path)), SimulatedClock(START))
    add_shipments(
        built.store,
        [
            order(NUMBER, "china_post_17", shipped_at=SHIPPED),
            order(NUMBER, "sandbox", shipped_at=SHIPPED),
        ],
        START,
    )
    try:
        yield built
    finally:
        await built.close()


async def post(server: DaemonSite, body: bytes, signature: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["sign"] = signature
    async with httpx.AsyncClient() as client:
        return await client.post(server.url + SEVENTEENTRACK_PATH, content=body, headers=headers)


def counts(app: TrackerApp) -> tuple[int, int]:
    with app.store() as session:
        events = session.scalar(select(func.count()).select_from(TrackingEvent))
        notices = session.scalar(select(func.count()).select_from(Notice))
    return events or 0, notices or 0


def shipment(app: TrackerApp, carrier: str) -> Shipment:
    with app.store() as session:
        row = session.scalars(select(Shipment).where(Shipment.carrier == carrier)).one()
        session.expunge(row)
        return row


async def test_signed_push_stores_events_and_queues_notices(
    app: TrackerApp, server: DaemonSite
) -> None:
    with capture_logs() as logs:
        reply = await post(server, PUSH, sign(PUSH))
    assert reply.status_code == 200
    assert reply.json() == {"recorded": 1, "busy": 0, "unknown": 0, "stopped": 0}
    ours = shipment(app, "china_post_17")
    assert ours.status == "available_for_pickup"
    assert ours.lease_owner is None
    assert ours.lease_until is None
    with app.store() as session:
        texts = session.scalars(
            select(TrackingEvent.text).where(TrackingEvent.shipment_id == ours.id)
        ).all()
        kinds = set(session.scalars(select(Notice.kind).where(Notice.shipment_id == ours.id)))
    assert texts == ["Objeto aguardando retirada no endereço indicado"]
    assert "arrived_locally" in kinds
    # the same number under a carrier 17TRACK does not serve is left alone
    assert shipment(app, "sandbox").status == "pending"
    recorded = [e for e in logs if e["event"] == "webhook.recorded"]
    assert recorded[0]["new_events"] == 1
    assert recorded[0]["notices"] == len(kinds)

    # 17TRACK may deliver a push twice: nothing is stored twice
    again = await post(server, PUSH, sign(PUSH))
    assert again.status_code == 200
    assert counts(app) == (1, len(kinds))


@pytest.mark.parametrize(
    "signature",
    [None, "", sign(PUSH, "wrong-key"), sign(PUSH + b" "), "zz" * 32],
    ids=["missing", "empty", "other-key", "other-body", "not-hex"],
)
async def test_bad_signature_is_401_and_stores_nothing(
    app: TrackerApp, server: DaemonSite, signature: str | None
) -> None:
    with capture_logs() as logs:
        reply = await post(server, PUSH, signature)
    assert reply.status_code == 401
    assert counts(app) == (0, 0)
    assert shipment(app, "china_post_17").status == "pending"
    assert [e["event"] for e in logs if e["event"].startswith("webhook.")] == ["webhook.rejected"]


async def test_unknown_number_is_acknowledged_and_ignored(
    app: TrackerApp, server: DaemonSite
) -> None:
    body = PUSH.replace(NUMBER.encode(), b"LX000000000CN")
    with capture_logs() as logs:
        reply = await post(server, body, sign(body))
    assert reply.status_code == 200
    assert reply.json()["unknown"] == 1
    assert counts(app) == (0, 0)
    ignored = [e for e in logs if e["event"] == "webhook.ignored"]
    assert ignored[0]["reason"] == "unknown"


async def test_shipment_leased_by_a_poll_gets_503_then_the_retry_lands(
    app: TrackerApp, server: DaemonSite
) -> None:
    with app.store.begin() as session:
        session.execute(
            update(Shipment)
            .where(Shipment.carrier == "china_post_17")
            .values(lease_owner="poller", lease_until=START + timedelta(minutes=5))
        )
    busy = await post(server, PUSH, sign(PUSH))
    assert busy.status_code == 503
    assert busy.headers["Retry-After"] == "30"
    assert counts(app) == (0, 0)
    assert shipment(app, "china_post_17").lease_owner == "poller"

    with app.store.begin() as session:
        session.execute(update(Shipment).values(lease_owner=None, lease_until=None))
    retried = await post(server, PUSH, sign(PUSH))
    assert retried.status_code == 200
    assert counts(app)[0] == 1


async def test_garbage_with_a_good_signature_is_400(app: TrackerApp, server: DaemonSite) -> None:
    reply = await post(server, b"not json", sign(b"not json"))
    assert reply.status_code == 400
    assert counts(app) == (0, 0)


async def test_daemon_run_forever_starts_and_stops_the_endpoint(app: TrackerApp) -> None:
    with app.store.begin() as session:  # no poll competes for the lease in this test
        session.execute(update(Shipment).values(next_poll_at=None))
    app.clock = SystemClock()  # APScheduler runs on the wall clock
    daemon = Daemon(app)
    (hook,) = daemon.hooks
    assert isinstance(hook, DaemonSite)
    stop = asyncio.Event()
    running = asyncio.create_task(daemon.run_forever(stop))
    for _ in range(1000):  # up to 10 s: start-up is slow on a loaded machine
        if hook.started:
            break
        await asyncio.sleep(0.01)
    url = hook.url + SEVENTEENTRACK_PATH
    reply = await post(hook, PUSH, sign(PUSH))
    assert reply.status_code == 200
    stop.set()
    await asyncio.wait_for(running, timeout=10)
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as client:
            await client.post(url, content=PUSH)


async def test_on_without_a_key_refuses_to_start(tmp_path: Path) -> None:
    app = build_app(load_config(write_config(tmp_path, key_env=None)), SimulatedClock(START))
    try:
        with pytest.raises(ConfigError, match="seventeentrack_key_env"):
            await DaemonSite(app).start()
    finally:
        await app.close()


STOPPED = b'{"event": "TRACKING_STOPPED", "data": {"number": "RB123456785BR", "carrier": 2151}}'


def cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code in (0, 1), result.output  # status exits 1 without a daemon
    return result.output


async def test_a_stopped_tracking_closes_the_shipment_and_tells_the_seller(
    app: TrackerApp, server: DaemonSite
) -> None:
    """17TRACK stopped following a parcel still under way: we do not restart it (see
    carriers/seventeentrack.py); the shipment is closed as expired through a stop event, polling
    stops, the buyer is told nothing more, the seller is told by email, and ``tracker events``
    and ``tracker status`` show it. A repeated push changes nothing."""
    app.config = app.config.model_copy(
        update={"refund": RefundConfig(notify_seller_email="owner@example.com")}
    )
    assert (await post(server, PUSH, sign(PUSH))).status_code == 200
    with app.store() as session:
        buyer_kinds = sorted(session.scalars(select(Notice.kind)))
    assert isinstance(app.clock, SimulatedClock)
    app.clock.advance(timedelta(days=30))

    reply = await post(server, STOPPED, sign(STOPPED))
    assert reply.status_code == 200
    assert reply.json() == {"recorded": 1, "busy": 0, "unknown": 0, "stopped": 0}
    ours = shipment(app, "china_post_17")
    assert ours.status == "expired"
    assert ours.next_poll_at is None  # polling stops
    assert ours.lease_owner is None
    assert shipment(app, "sandbox").status == "pending"  # not 17TRACK's
    with app.store() as session:
        kinds = sorted(session.scalars(select(Notice.kind)))
        last = session.scalars(
            select(TrackingEvent).order_by(TrackingEvent.occurred_at.desc())
        ).first()
    # no new buyer notice (no travel claim); one seller alert
    assert kinds == sorted([*buyer_kinds, "seller_expired"])
    assert last is not None
    assert last.code == "TRACKING_STOPPED"
    assert last.status == "expired"

    await dispatch_due(app)
    (seller,) = [
        mail
        for mail in (
            message_from_bytes(path.read_bytes(), policy=email_policy.default)
            for path in (app.config.mail.maildir / "new").iterdir()
        )
        if mail["To"] == "owner@example.com"
    ]
    assert seller["Subject"] == f"Tracking expired: order ORD-{NUMBER} ({NUMBER})"
    body = seller.get_body(("plain",))
    assert body is not None
    assert "Last news: 17TRACK stopped tracking this number" in body.get_content()

    store = ["--store", app.config.store.url]
    events = cli("events", "--tracking", NUMBER, "--carrier", "china_post_17", "--json", *store)
    logged = [json.loads(line) for line in events.splitlines()]
    assert {"seller.expired", "shipment.status_changed"} <= {e["kind"] for e in logged}
    at = ["--at", app.clock.now().isoformat()]
    assert json.loads(cli("status", "--json", *store, *at))["shipments"]["expired"] == 1
    assert "expired 1" in cli("status", *store, *at)

    # 17TRACK may deliver the stop twice: the second changes nothing
    stored_before = counts(app)
    again = await post(server, STOPPED, sign(STOPPED))
    assert again.status_code == 200
    assert again.json() == {"recorded": 0, "busy": 0, "unknown": 0, "stopped": 1}
    assert counts(app) == stored_before
    assert shipment(app, "china_post_17").lease_owner is None


async def test_a_stop_after_tracker_stop_changes_nothing(
    app: TrackerApp, server: DaemonSite
) -> None:
    """The seller stopped tracking it themselves (``tracker stop``): 17TRACK's stop tells them
    nothing new, and the shipment is not closed behind their back."""
    stop_tracking(app.store, NUMBER, START, carrier="china_post_17")
    reply = await post(server, STOPPED, sign(STOPPED))
    assert reply.json()["stopped"] == 1
    assert counts(app) == (0, 0)
    assert shipment(app, "china_post_17").status == "pending"


async def test_a_stop_after_delivery_changes_nothing(app: TrackerApp, server: DaemonSite) -> None:
    """17TRACK stops a delivered parcel 15 days after delivery: nothing to close or tell."""
    delivered = PUSH.replace(b"AvailableForPickup_Other", b"Delivered").replace(
        b'"AvailableForPickup"', b'"Delivered"'
    )
    assert (await post(server, delivered, sign(delivered))).status_code == 200
    assert shipment(app, "china_post_17").status == "delivered"
    before = counts(app)
    reply = await post(server, STOPPED, sign(STOPPED))
    assert reply.json()["stopped"] == 1
    assert counts(app) == before
    assert shipment(app, "china_post_17").status == "delivered"
