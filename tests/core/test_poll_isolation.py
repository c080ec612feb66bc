"""One bad shipment or one buggy adapter never holds back the rest of a poll."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from structlog.testing import capture_logs

from carriers.base import CarrierReply, ReplyPart, parsed_parts
from carriers.sandbox.faults import FaultMode
from carriers.sandbox.service import SandboxService
from tracker.clock import SimulatedClock
from tracker.config import CarrierConfig, StoreConfig, TrackerConfig
from tracker.jobs import poll as poller
from tracker.jobs.poll import poll_due
from tracker.model import RawEvent, TrackingResult
from tracker.runtime.app import TrackerApp, build_app
from tracker.store.models import Shipment, TrackingEvent
from tracker.store.shipments import NewShipment, add_shipments

pytestmark = pytest.mark.integration

START = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
NUMBERS = ("SBNM00000001", "SBNM00000002", "SBNM00000003")


async def _app(
    tmp_path: Path,
    service: SandboxService,
    clock: SimulatedClock,
    numbers: Sequence[str] = NUMBERS,
    numbers_per_request: int | None = None,
) -> TrackerApp:
    carrier = CarrierConfig(
        base_url=service.base_url,
        requests_per_second=1000,
        numbers_per_request=numbers_per_request,
    )
    config = TrackerConfig(
        store=StoreConfig(url=f"sqlite:///{tmp_path / 't.db'}"), carriers={"sandbox": carrier}
    )
    app = build_app(config, clock)
    add_shipments(
        app.store,
        [
            NewShipment(n, "sandbox", "b@example.com", "B", "en", "US", "CN", f"O{n}", START)
            for n in numbers
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
            monkeypatch.setattr(
                runtime.adapter, "reply_parts", lambda reply: parsed_parts(_results(reply))
            )
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

    def broken(reply: CarrierReply) -> list[ReplyPart]:
        raise KeyError("events")

    async with SandboxService(clock=clock.now) as service:
        app = await _app(tmp_path, service, clock)
        try:
            monkeypatch.setattr(app.carrier("sandbox").adapter, "reply_parts", broken)
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


async def test_replies_that_wait_for_the_store_are_recorded_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One number per request: while the first reply is being written, the carrier's other
    replies keep coming (the concurrency gate covers only requests) and are then recorded in
    one transaction, each request still credited with its own shipments."""
    clock = SimulatedClock(START + timedelta(hours=2))
    numbers = [f"SBNM{i:08d}" for i in range(1, 13)]
    async with SandboxService(clock=clock.now, auto_register=True) as service:
        app = await _app(tmp_path, service, clock, numbers, numbers_per_request=1)
        written: list[list[str]] = []
        in_store = app.in_store

        async def held_first_write(work: Any, *args: Any) -> Any:
            if work is poller._store_batch:
                if not written:  # hold the first write until every request has been answered
                    for _ in range(500):
                        if service.stats["requests"].get("/v1/track", 0) == len(numbers):
                            break
                        await asyncio.sleep(0.01)
                written.append([reading.item.tracking_number for reading in args[1]])
            return await in_store(work, *args)

        monkeypatch.setattr(app, "in_store", held_first_write)
        try:
            stats = await poll_due(app)
        finally:
            await app.close()
    assert (stats.polled, stats.failed, stats.by_carrier["sandbox"]) == (12, 0, 12)
    # The first write takes what had arrived when it started (1 to 4 replies, one per request
    # in flight); everything answered while it was held goes into the second.
    assert len(written) == 2
    assert 1 <= len(written[0]) <= 4
    assert sorted(n for group in written for n in group) == numbers
    with app.store() as session:
        shipments = list(session.scalars(select(Shipment)))
    assert {s.status for s in shipments} == {"info_received"}
    assert all(s.lease_owner is None and s.last_polled_at is not None for s in shipments)


async def test_a_carrier_that_is_down_costs_a_few_requests_not_one_per_batch(
    tmp_path: Path,
) -> None:
    """One number per request and the carrier answers 500 to everything: once the breaker opens
    mid-run, the batches still waiting are deferred to its reopening, not sent."""
    clock = SimulatedClock(START + timedelta(hours=2))
    numbers = [f"SBNM{i:08d}" for i in range(1, 31)]
    async with SandboxService(clock=clock.now, auto_register=True) as service:
        service.set_fault(FaultMode.HTTP_500)
        app = await _app(tmp_path, service, clock, numbers, numbers_per_request=1)
        try:
            with capture_logs() as logs:
                stats = await poll_due(app)
            runtime = app.carrier("sandbox")
            requests = service.stats["requests"].get("/v1/track", 0)
        finally:
            await app.close()
    threshold, in_flight = runtime.breaker.threshold, runtime.adapter.max_concurrency
    # The requests that opened the breaker, plus those already in flight when it opened.
    assert threshold <= requests <= threshold + in_flight - 1
    assert stats.failed == requests
    assert [e["event"] for e in logs].count("carrier.circuit_opened") == 1
    reopens = runtime.breaker.reopens_at()
    assert reopens is not None
    with app.store() as session:
        shipments = list(session.scalars(select(Shipment)))
    failed = [s for s in shipments if s.poll_failures == 1]
    deferred = [s for s in shipments if s.poll_failures == 0]
    assert len(failed) == requests
    assert len(deferred) == len(numbers) - requests
    assert {s.next_poll_at for s in deferred} == {reopens}
    assert all(s.lease_owner is None for s in shipments)
