"""A parcel followed through AfterShip, end to end through the real jobs, against a loopback fake
of the 2024-10 API: the courier's estimate is stored with its source and time, shown by
``tracker show`` and replaced by a later one; the buyer's email names the courier holding the
parcel, never AfterShip; an Expired tracking closes the shipment for the seller to see, with no
more polls and no claim to the buyer that the parcel travels."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
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
from tracker.store.models import Notice, Shipment, TrackingEvent
from tracker.store.shipments import add_shipments
from tracker.web.parcels import load_parcel
from tracker.web.story import Window

START = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
NUMBER = "RB123456785BR"


class FakeAfterShip:
    """Serves one tracking whose tag, checkpoints and estimate each test sets; creating it a
    second time is refused as AfterShip documents (400, meta.code 4003)."""

    def __init__(self, server: LoopbackHTTPServer) -> None:
        self.tracking: dict[str, Any] = {"tracking_number": NUMBER, "tag": "Pending"}
        self.creations = 0
        server.route("POST", "/trackings", self.create)
        server.route("GET", "/trackings", self.listing)

    def create(self, request: Request) -> Reply:
        self.creations += 1
        if self.creations > 1:
            return Reply(400, '{"meta": {"code": 4003, "message": "Tracking already exists."}}')
        return Reply(201, '{"meta": {"code": 201}}')

    def listing(self, request: Request) -> Reply:
        body = {"meta": {"code": 200}, "data": {"trackings": [self.tracking]}}
        return Reply(200, json.dumps(body))


def checkpoint(when: str, message: str, subtag: str) -> dict[str, str]:
    return {
        "checkpoint_time": when,
        "message": message,
        "location": "Curitiba - PR",
        "country_region": "BRA",
        "subtag": subtag,
        "slug": "brazil-correios",
    }


@pytest.fixture
async def app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loopback_http: LoopbackHTTPServer
) -> AsyncIterator[TrackerApp]:
    config = aggregator_config(tmp_path, monkeypatch, "aftership", loopback_http.base_url)
    built = build_app(config, SimulatedClock(START))
    line = order(
        NUMBER,
        "aftership",
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


def stored(app: TrackerApp) -> Shipment:
    with app.store() as session:
        row = session.scalars(select(Shipment)).one()
        session.expunge(row)
        return row


def show(app: TrackerApp) -> str:
    result = CliRunner().invoke(main, ["show", NUMBER, "--store", app.config.store.url])
    assert result.exit_code == 0, result.output
    return result.output


def sent_mail(app: TrackerApp) -> list[EmailMessage]:
    folder = app.config.mail.maildir / "new"
    return [
        message_from_bytes(path.read_bytes(), policy=policy.default)
        for path in sorted(folder.iterdir())
    ]


async def poll_at(app: TrackerApp, when: datetime) -> None:
    assert isinstance(app.clock, SimulatedClock)
    app.clock.advance(when - app.clock.now())
    with app.store.begin() as session:  # due now, whatever the schedule said
        session.execute(update(Shipment).values(next_poll_at=when))
    await poll_due(app)


async def test_the_couriers_estimate_is_stored_shown_and_replaced(
    app: TrackerApp, loopback_http: LoopbackHTTPServer
) -> None:
    fake = FakeAfterShip(loopback_http)
    fake.tracking.update(
        tag="InTransit",
        slug="brazil-correios",
        checkpoints=[checkpoint("2026-12-01T09:00:00-03:00", "Objeto postado", "InTransit_002")],
        courier_estimated_delivery_date={"estimated_delivery_date": "2026-12-09"},
    )
    await poll_at(app, START)
    first = stored(app)
    assert first.expected_delivery == datetime(2026, 12, 9, 23, 59, 59, tzinfo=UTC)
    assert first.expected_delivery_source == "Correios"
    assert first.expected_delivery_given_at == START
    assert first.carrier_holder == "Correios"
    output = show(app)
    assert "estimated delivery 2026-12-09 23:59 UTC" in output
    assert "from Correios" in output

    later = START + timedelta(days=2)
    fake.tracking["courier_estimated_delivery_date"] = {"estimated_delivery_date": "2026-12-11"}
    await poll_at(app, later)
    second = stored(app)
    assert second.expected_delivery == datetime(2026, 12, 11, 23, 59, 59, tzinfo=UTC)
    assert second.expected_delivery_given_at == later

    # the buyer's email names the courier holding the parcel, never the aggregator
    await dispatch_due(app)
    mails = sent_mail(app)
    assert mails
    body = mails[0].get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "Correios" in text
    assert "AfterShip" not in text
    # the date is the courier's and says so: that one date, no window of ours around it
    assert "Correios expects to deliver it by December 9, 2026." in text
    assert "We expect" not in text
    # the buyer's page gives the date the email gave, as the courier's
    record = load_parcel(app, second.id)
    assert record is not None
    assert record.window == Window(None, datetime(2026, 12, 9, 23, 59, 59, tzinfo=UTC), True)


async def test_aftership_s_own_prediction_is_told_as_our_expectation(
    app: TrackerApp, loopback_http: LoopbackHTTPServer
) -> None:
    """AfterShip's prediction is no courier's word, and buyers never hear of AfterShip: the
    date is told as the shop's own expectation."""
    fake = FakeAfterShip(loopback_http)
    fake.tracking.update(
        tag="InTransit",
        slug="brazil-correios",
        checkpoints=[checkpoint("2026-12-01T09:00:00-03:00", "Objeto postado", "InTransit_002")],
        aftership_estimated_delivery_date={"estimated_delivery_date": "2026-12-12"},
    )
    await poll_at(app, START)
    assert stored(app).expected_delivery_source == "AfterShip"
    await dispatch_due(app)
    body = sent_mail(app)[0].get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "We expect it to arrive between" in text
    assert "December 12, 2026" in text
    assert "expects to deliver" not in text
    assert "AfterShip" not in text


async def test_an_expired_tracking_closes_the_shipment_without_a_travel_claim(
    app: TrackerApp, loopback_http: LoopbackHTTPServer
) -> None:
    app.config = app.config.model_copy(
        update={"refund": RefundConfig(notify_seller_email="owner@example.com")}
    )
    fake = FakeAfterShip(loopback_http)
    fake.tracking.update(
        tag="Expired", subtag="Expired_001", updated_at="2026-12-01T10:00:00+00:00"
    )
    await poll_at(app, START)
    row = stored(app)
    assert row.status == "expired"
    assert row.next_poll_at is None  # polling stops
    with app.store() as session:
        kinds = list(session.scalars(select(Notice.kind)))
    # nothing to the buyer (no "on its way", no "we expect it by"); the seller is told
    assert kinds == ["seller_expired"]
    await dispatch_due(app)
    (mail,) = sent_mail(app)
    assert mail["To"] == "owner@example.com"
    assert mail["Subject"] == f"Tracking expired: order ORD-7 ({NUMBER})"
    events = CliRunner().invoke(
        main, ["events", "--tracking", NUMBER, "--json", "--store", app.config.store.url]
    )
    assert events.exit_code == 0, events.output
    kinds_logged = [json.loads(line)["kind"] for line in events.output.splitlines() if line]
    assert "shipment.status_changed" in kinds_logged
    assert "seller.expired" in kinds_logged

    # a repeated Expired reply tells the seller nothing twice
    await poll_at(app, START + timedelta(days=1))
    with app.store() as session:
        assert list(session.scalars(select(Notice.kind))) == ["seller_expired"]


async def test_a_restart_creates_nothing_twice_and_stores_nothing_twice(
    app: TrackerApp, loopback_http: LoopbackHTTPServer
) -> None:
    """A restarted daemon has forgotten which trackings it created: it asks AfterShip again,
    takes "already exists" as done, and the same answer stores no event or notice twice."""
    fake = FakeAfterShip(loopback_http)
    fake.tracking.update(
        tag="InTransit",
        slug="brazil-correios",
        checkpoints=[checkpoint("2026-12-01T09:00:00-03:00", "Objeto postado", "InTransit_002")],
        courier_estimated_delivery_date={"estimated_delivery_date": "2026-12-09"},
    )
    await poll_at(app, START)
    with app.store() as session:
        before = (
            session.scalar(select(func.count()).select_from(TrackingEvent)),
            sorted(session.scalars(select(Notice.idempotency_key))),
        )
    assert before[0] == 1
    assert before[1]

    restarted = build_app(app.config, SimulatedClock(START + timedelta(days=1)))
    try:
        for day in (1, 2):  # created again once after the restart, then remembered
            await poll_at(restarted, START + timedelta(days=day))
    finally:
        await restarted.close()
    assert fake.creations == 2
    with app.store() as session:
        after = (
            session.scalar(select(func.count()).select_from(TrackingEvent)),
            sorted(session.scalars(select(Notice.idempotency_key))),
        )
    assert after == before
    row = stored(app)
    assert row.poll_failures == 0
    assert row.expected_delivery_source == "Correios"
    assert row.next_poll_at is not None
