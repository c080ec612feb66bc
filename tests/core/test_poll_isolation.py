"""One bad shipment or one buggy adapter never holds back the rest of a poll."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from structlog.testing import capture_logs

from carriers.base import CarrierReply
from carriers.sandbox.service import SandboxService
from tracker.app import TrackerApp, build_app
from tracker.clock import SimulatedClock
from tracker.config import CarrierConfig, StoreConfig, TrackerConfig
from tracker.model import RawEvent, TrackingResult
from tracker.poller import poll_due
from tracker.store.models import Shipment, TrackingEvent
from tracker.store.shipments import NewShipment, add_shipments

START = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
NUMBERS = ("SBNM00000001", "SBNM00000002", "SBNM00000003")


async def _app(tmp_path: Path, service: SandboxService, clock: SimulatedClock) -> TrackerApp:
    config = TrackerConfig(
        store=StoreConfig(url=f"sqlite:///{tmp_path / 't.db'}"),
        carriers={"sandbox": CarrierConfig(base_url=service.base_url, requests_per_second=1000)},
    )
    app = build_app(config, clock)
    add_shipments(
        app.store,
        [
            NewShipment(n, "sandbox", "b@example.com", "B", "en", "US", "CN", f"O{n}", START)
            for n in NUMBERS
        ],
        clock.now(),
    )
    return app


def _results(reply: CarrierReply) -> list[TrackingResult]:
    at = START + timedelta(hours=1)
    good = RawEvent(
        at, "Item accepted at post office", "EMA", "Shenzhen Futian, a long place", "USA"
    )
    naive = RawEvent(
        at.replace(tzinfo=None), "Item accepted at post office", "EMA", "Shenzhen", "CN"
    )
    return [
        TrackingResult(NUMBERS[0], (good,)),
        TrackingResult(NUMBERS[1], (naive,)),  # an adapter bug: the store refuses naive times
        TrackingResult(NUMBERS[2], (good,)),
    ]


async def test_a_poison_shipment_does_not_block_its_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = SimulatedClock(START + timedelta(hours=2))
    async with SandboxService(clock=clock.now) as service:
        app = await _app(tmp_path, service, clock)
        try:
            runtime = app.carrier("sandbox")
            monkeypatch.setattr(runtime.adapter, "parse", _results)
            with capture_logs() as logs:
                stats = await poll_due(app)
        finally:
            await app.close()
    assert stats.polled == 2
    names = [entry["event"] for entry in logs]
    assert "poll.batch_store_failed" in names
    assert names.count("poll.store_failed") == 1
    with app.store() as session:
        by_number = {s.tracking_number: s for s in session.scalars(select(Shipment))}
        assert by_number[NUMBERS[0]].status == "in_transit"
        assert by_number[NUMBERS[2]].status == "in_transit"
        # The poisoned one is untouched and keeps its lease until it expires, then is retried.
        assert by_number[NUMBERS[1]].status == "pending"
        assert by_number[NUMBERS[1]].lease_owner == app.owner
        countries = set(session.scalars(select(TrackingEvent.country)))
        assert countries == {None}, "a 3-letter country is dropped, not stored or fatal"


async def test_an_adapter_bug_fails_only_that_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = SimulatedClock(START + timedelta(hours=2))

    def broken(reply: CarrierReply) -> list[TrackingResult]:
        raise KeyError("events")

    async with SandboxService(clock=clock.now) as service:
        app = await _app(tmp_path, service, clock)
        try:
            monkeypatch.setattr(app.carrier("sandbox").adapter, "parse", broken)
            with capture_logs() as logs:
                stats = await poll_due(app)
        finally:
            await app.close()
    assert stats.failed == 3
    failed = [entry for entry in logs if entry["event"] == "poll.failed"]
    assert len(failed) == 1
    assert "adapter failed unexpectedly: KeyError" in failed[0]["error"]
    with app.store() as session:
        for shipment in session.scalars(select(Shipment)):
            assert shipment.poll_failures == 1
            assert shipment.lease_owner is None
            assert shipment.next_poll_at is not None
            assert shipment.next_poll_at > clock.now()
