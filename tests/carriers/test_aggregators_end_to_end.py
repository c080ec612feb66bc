"""17TRACK, TrackingMore and Ship24 end to end through the real poll and dispatch jobs, each
against a loopback fake answering in the shape its public API documentation gives (AfterShip has
its own modules, test_aggregator_journey.py and test_aggregator_health.py): the courier's estimate
is stored, told to the buyer as the courier's and replaced by a later one; an expired tracking is
told to the seller, with no buyer notice; a rejected key turns ``tracker status`` unhealthy until
a call succeeds; a 429 holds the carrier for the wait it names; a restart creates the tracking
again harmlessly and stores nothing twice."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update

from tests.support.aggregators import aggregator_config
from tests.support.loopback import LoopbackHTTPServer, Reply, Request
from tests.support.orders import order
from tracker.cli import main
from tracker.clock import SimulatedClock
from tracker.config import RefundConfig
from tracker.jobs.dispatch import dispatch_due
from tracker.jobs.poll import poll_due
from tracker.runtime.app import TrackerApp, build_app
from tracker.runtime.daemon import Daemon
from tracker.runtime.heartbeat import heartbeat_of
from tracker.store.models import Notice, Shipment, TrackingEvent
from tracker.store.shipments import add_shipments

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "carriers"
START = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
NUMBER = "RB123456785BR"
FIRST, LATER = "2026-12-09", "2026-12-11"


class Fake:
    """One aggregator's answers: its estimate (a day), whether it gave up (expired), whether
    the key is refused."""

    estimate = FIRST
    expired = False
    refused = False
    #: answer every call with 429 and these headers (None: answer normally)
    limited: dict[str, str] | None = None
    #: how many times the number was created (registered)
    creations = 0

    def too_many(self) -> Reply | None:
        if self.limited is None:
            return None
        return Reply(429, '{"message": "Too many requests"}', self.limited)

    def routes(self, server: LoopbackHTTPServer) -> None:
        raise NotImplementedError


class SeventeenTrack(Fake):
    """17TRACK v2.2: register, then gettrackinfo; errors as a JSON ``code``."""

    def routes(self, server: LoopbackHTTPServer) -> None:
        server.route("POST", "/track/v2.2/register", self.register)
        server.route("POST", "/track/v2.2/gettrackinfo", self.info)

    def answer(
        self, accepted: list[dict[str, Any]], rejected: list[dict[str, Any]] | None = None
    ) -> Reply:
        if self.refused:
            return Reply(200, json.dumps({"code": -18010002, "data": {}}))
        data = {"accepted": accepted, "rejected": rejected or []}
        return self.too_many() or Reply(200, json.dumps({"code": 0, "data": data}))

    def register(self, request: Request) -> Reply:
        self.creations += 1
        if self.creations > 1:  # documented: -18019901, the number is registered already
            error = {"code": -18019901, "message": "The tracking number already exists."}
            return self.answer([], [{"number": NUMBER, "error": error}])
        return self.answer([{"number": NUMBER, "carrier": 3011}])

    def info(self, request: Request) -> Reply:
        status = "Expired" if self.expired else "InTransit"
        event = {
            "time_iso": "2026-11-21T10:15:00+08:00",
            "description": "Posting/Collection",
            "location": "Shenzhen",
            "sub_status": "InTransit_PickedUp",
        }
        item = {
            "number": NUMBER,
            "carrier": 3011,
            "track_info": {
                "latest_status": {"status": status, "sub_status": f"{status}_Other"},
                "time_metrics": {
                    "estimated_delivery_date": {
                        "source": "Official",
                        "from": None,
                        "to": f"{self.estimate}T18:00:00+00:00",
                    }
                },
                "tracking": {
                    "providers": [
                        {"provider": {"key": 3011, "name": "China Post"}, "events": [event]}
                    ]
                },
            },
        }
        return self.answer([item])


class TrackingMore(Fake):
    """TrackingMore v4: create, then one batch read; errors in ``meta.code``."""

    def routes(self, server: LoopbackHTTPServer) -> None:
        server.route("POST", "/trackings/create", self.create)
        server.route("POST", "/couriers/detect", self.detect)
        server.route("GET", "/trackings/get", self.read)

    def refusal(self) -> Reply:
        return Reply(401, '{"meta": {"code": 401, "message": "Unauthorized"}, "data": []}')

    def create(self, request: Request) -> Reply:
        if self.refused:
            return self.refusal()
        self.creations += 1
        if self.creations > 1:  # documented: meta.code 4101, the tracking exists already
            return Reply(400, '{"meta": {"code": 4101, "message": "Tracking No. already exists."}}')
        body = {"meta": {"code": 200}, "data": json.loads(request.body)}
        return self.too_many() or Reply(200, json.dumps(body))

    def detect(self, request: Request) -> Reply:
        return Reply(200, '{"meta": {"code": 200}, "data": [{"courier_code": "china-post"}]}')

    def read(self, request: Request) -> Reply:
        if self.refused:
            return self.refusal()
        if limited := self.too_many():
            return limited
        body = json.loads((FIXTURES / "trackingmore" / "get.json").read_bytes())
        tracking = body["data"][0]
        tracking["scheduled_delivery_date"] = self.estimate
        tracking["destination_info"] = {"courier_code": None, "trackinfo": []}  # China Post's
        if self.expired:
            tracking["delivery_status"] = "expired"
        body["data"] = [tracking]
        return Reply(200, json.dumps(body))


class Ship24(Fake):
    """Ship24 trackers API: one call creates or reads; errors in ``errors[].code``."""

    def routes(self, server: LoopbackHTTPServer) -> None:
        server.route("POST", "/trackers/track", self.track)

    def track(self, request: Request) -> Reply:
        if self.refused:
            body = {"errors": [{"code": "auth_invalid_api_key", "message": "no"}], "data": None}
            return Reply(401, json.dumps(body))
        self.creations += 1  # documented as idempotent: the same fields find the same tracker
        if limited := self.too_many():
            return limited
        body = json.loads((FIXTURES / "ship24" / "track.json").read_bytes())
        delivery = body["data"]["trackings"][0]["shipment"]["delivery"]
        delivery["courierEstimatedDeliveryDate"] = {"from": None, "to": f"{self.estimate}T18:00:00"}
        return Reply(200, json.dumps(body))


@dataclass(frozen=True)
class Aggregator:
    adapter: str
    fake: Callable[[], Fake]
    #: the courier the fake names as holding the parcel: buyers read this name
    courier: str


AGGREGATORS = [
    Aggregator("seventeentrack", SeventeenTrack, "China Post"),
    Aggregator("trackingmore", TrackingMore, "China Post"),
    Aggregator("ship24", Ship24, "China Post"),
]


@pytest.fixture(params=AGGREGATORS, ids=lambda a: a.adapter)
def aggregator(request: pytest.FixtureRequest) -> Aggregator:
    chosen: Aggregator = request.param
    return chosen


@pytest.fixture
def fake(aggregator: Aggregator, loopback_http: LoopbackHTTPServer) -> Fake:
    made = aggregator.fake()
    made.routes(loopback_http)
    return made


@pytest.fixture
async def app(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    loopback_http: LoopbackHTTPServer,
    aggregator: Aggregator,
) -> AsyncIterator[TrackerApp]:
    config = aggregator_config(
        tmp_path,
        monkeypatch,
        aggregator.adapter,
        loopback_http.base_url,
        refund=RefundConfig(notify_seller_email="owner@example.com"),
    )
    built = build_app(config, SimulatedClock(START))
    line = order(
        NUMBER,
        aggregator.adapter,
        buyer_email="ana@example.com",
        buyer_language="en",
        order_reference="ORD-7",
        shipped_at=START - timedelta(days=10),
    )
    add_shipments(built.store, [line], START)
    try:
        yield built
    finally:
        await built.close()


async def poll_at(app: TrackerApp, when: datetime) -> None:
    assert isinstance(app.clock, SimulatedClock)
    app.clock.advance(when - app.clock.now())
    with app.store.begin() as session:  # due now, whatever the schedule said
        session.execute(update(Shipment).values(next_poll_at=when))
    await poll_due(app)


def stored(app: TrackerApp) -> Shipment:
    with app.store() as session:
        row = session.scalars(select(Shipment)).one()
        session.expunge(row)
        return row


def mail_to(app: TrackerApp, address: str) -> list[str]:
    """The plain-text bodies of the emails sent to ``address``."""
    bodies = []
    for path in sorted((app.config.mail.maildir / "new").iterdir()):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        if message["To"].endswith(f"<{address}>") or message["To"] == address:
            part = message.get_body(("plain",))
            assert part is not None
            bodies.append(str(part.get_content()))
    return bodies


async def test_the_couriers_estimate_is_told_as_theirs_and_replaced(
    app: TrackerApp, fake: Fake, aggregator: Aggregator
) -> None:
    await poll_at(app, START)
    first = stored(app)
    assert first.expected_delivery is not None
    assert first.expected_delivery.date().isoformat() == FIRST
    assert first.expected_delivery_source == aggregator.courier
    await dispatch_due(app)
    told = "\n".join(mail_to(app, "ana@example.com"))
    assert f"{aggregator.courier} expects to deliver it by December 9, 2026." in told
    assert "We expect" not in told

    fake.estimate = LATER
    later = START + timedelta(days=2)
    await poll_at(app, later)
    second = stored(app)
    assert second.expected_delivery is not None
    assert second.expected_delivery.date().isoformat() == LATER
    assert second.expected_delivery_given_at == later


@pytest.mark.parametrize(
    "aggregator", [a for a in AGGREGATORS if a.adapter != "ship24"], ids=lambda a: a.adapter
)
async def test_an_expired_tracking_is_told_to_the_seller_not_the_buyer(
    app: TrackerApp, fake: Fake, aggregator: Aggregator
) -> None:
    """Ship24 documents no expired state; 17TRACK's ``Expired`` and TrackingMore's ``expired``
    close the shipment: no more polls, no travel claim, the seller told."""
    fake.expired = True
    await poll_at(app, START)
    row = stored(app)
    assert row.status == "expired"
    assert row.next_poll_at is None
    with app.store() as session:
        assert list(session.scalars(select(Notice.kind))) == ["seller_expired"]
    await dispatch_due(app)
    assert mail_to(app, "ana@example.com") == []
    (seller,) = mail_to(app, "owner@example.com")
    assert "Tracking has ended for this parcel without a delivery" in seller


def report(app: TrackerApp) -> dict[str, Any]:
    heartbeat_of(Daemon(app), "running")
    at = app.clock.now().isoformat()
    result = CliRunner().invoke(
        main, ["status", "--json", "--store", app.config.store.url, "--at", at]
    )
    data: dict[str, Any] = json.loads(result.stdout)
    return data


async def test_a_rejected_key_is_unhealthy_until_a_call_succeeds(
    app: TrackerApp, fake: Fake, aggregator: Aggregator
) -> None:
    fake.refused = True
    await poll_at(app, START)
    status = report(app)
    assert not status["healthy"]
    rejected = status["carriers"][aggregator.adapter]["credentials_rejected"]
    assert "TEST_AGGREGATOR_KEY" in rejected
    assert any(p.startswith(f"carrier {aggregator.adapter}:") for p in status["problems"])

    fake.refused = False  # the seller fixed the key
    await poll_at(app, START + timedelta(hours=13))
    status = report(app)
    assert status["carriers"][aggregator.adapter]["credentials_rejected"] is None
    assert not [p for p in status["problems"] if p.startswith(f"carrier {aggregator.adapter}")]
    assert stored(app).last_polled_at == START + timedelta(hours=13)


async def test_429_holds_the_carrier_for_the_wait_it_names(
    app: TrackerApp, fake: Fake, aggregator: Aggregator
) -> None:
    fake.limited = {"Retry-After": "120"}
    await poll_at(app, START)
    breaker = app.carrier(aggregator.adapter).breaker
    assert breaker.held_until == START + timedelta(seconds=120)
    assert stored(app).next_poll_at == START + timedelta(seconds=120)


async def test_a_restart_creates_nothing_twice_and_stores_nothing_twice(
    app: TrackerApp, fake: Fake, aggregator: Aggregator
) -> None:
    """A restarted daemon has forgotten what it created: the aggregator's "already exists" is
    taken as done, and the same answer stores no event or notice twice."""
    await poll_at(app, START)
    before = rows(app)
    assert before[0] >= 1
    assert before[1]
    restarted = build_app(app.config, SimulatedClock(START + timedelta(days=1)))
    try:
        for day in (1, 2):
            await poll_at(restarted, START + timedelta(days=day))
    finally:
        await restarted.close()
    assert rows(app) == before
    row = stored(app)
    assert row.poll_failures == 0
    assert row.last_polled_at == START + timedelta(days=2)
    # created (registered) once before the restart and once after it, then remembered; Ship24
    # has no separate creation: each of the three polls sends the same fields
    assert fake.creations == (3 if aggregator.adapter == "ship24" else 2)


def rows(app: TrackerApp) -> tuple[int, list[str]]:
    with app.store() as session:
        events = session.scalar(select(func.count()).select_from(TrackingEvent)) or 0
        keys = sorted(session.scalars(select(Notice.idempotency_key)))
    return events, keys
