"""A carrier reply part that comes back unchanged is recognised by its stored digest and not read;
anything the store cares about that changed (a new event, the stored estimate) is read and
recorded as before (tracker.store.replies)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import func, select, update

from carriers.sandbox import SandboxAdapter
from carriers.sandbox.service import SandboxService
from tracker.clock import SimulatedClock
from tracker.config import CarrierConfig, StoreConfig, TrackerConfig
from tracker.jobs.poll import poll_due
from tracker.runtime.app import TrackerApp, build_app
from tracker.store.models import Shipment, TrackingEvent
from tracker.store.replies import parser_identity, reply_digest, reply_digester
from tracker.store.shipments import NewShipment, add_shipments

pytestmark = pytest.mark.integration

START = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
#: the "normal" journey registered 4 days back: six scans so far, the next on day 7
NUMBERS = ("SBNM00000001", "SBNM00000002", "SBNM00000003")


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[TrackerApp, SimulatedClock]]:
    clock = SimulatedClock(START)
    async with SandboxService(clock=clock.now) as service:
        for number in NUMBERS:
            service.register(number, "normal", START - timedelta(days=4))
        carrier = CarrierConfig(base_url=service.base_url, requests_per_second=1000)
        config = TrackerConfig(
            store=StoreConfig(url=f"sqlite:///{tmp_path / 't.db'}"),
            carriers={"sandbox": carrier},
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
        try:
            yield app, clock
        finally:
            await app.close()


def _results(registry: CollectorRegistry) -> dict[str, float]:
    found: dict[str, float] = {}
    for metric in registry.collect():
        if metric.name == "tracker_poll_results":
            for sample in metric.samples:
                if sample.name.endswith("_total"):
                    found[sample.labels["result"]] = sample.value
    return found


def _due_now(app: TrackerApp, now: datetime, **values: Any) -> None:
    with app.store.begin() as session:
        session.execute(update(Shipment).values(next_poll_at=now, **values))


def _count_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The numbers whose reply part was read (parsed into events) from now on."""
    reads: list[str] = []
    read: Callable[..., Any] = SandboxAdapter._part

    def counted(self: SandboxAdapter, reply: Any, item: dict[str, Any], index: int) -> Any:
        reads.append(item["tracking_number"])
        return read(self, reply, item, index)

    monkeypatch.setattr(SandboxAdapter, "_part", counted)
    return reads


def _rows(app: TrackerApp) -> dict[str, tuple[Any, ...]]:
    with app.store() as session:
        return {
            s.tracking_number: (s.unchanged_polls, s.reply_digest, s.lease_owner, s.next_poll_at)
            for s in session.scalars(select(Shipment))
        }


async def test_an_unchanged_reply_is_rescheduled_without_being_read(
    world: tuple[TrackerApp, SimulatedClock], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, clock = world
    first = await poll_due(app)
    assert (first.polled, first.new_events) == (3, 18)
    after_first = _rows(app)
    assert all(digest is not None for _, digest, _, _ in after_first.values())

    reads = _count_reads(monkeypatch)
    now = clock.advance(timedelta(hours=1))
    _due_now(app, now)
    again = await poll_due(app)

    assert (again.polled, again.new_events, again.failed) == (3, 0, 0)
    assert reads == []
    assert _results(app.metrics.registry) == {"news": 3, "unchanged": 3}
    for number, (unchanged, digest, lease, next_poll) in _rows(app).items():
        assert unchanged == after_first[number][0] + 1
        assert digest == after_first[number][1]
        assert lease is None
        assert next_poll is not None
        assert next_poll > now


async def test_a_reply_with_a_new_scan_is_read_and_recorded(
    world: tuple[TrackerApp, SimulatedClock], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, clock = world
    await poll_due(app)
    digests = {n: row[1] for n, row in _rows(app).items()}

    reads = _count_reads(monkeypatch)
    now = clock.advance(timedelta(days=3, hours=1))  # day 7's scan has come
    _due_now(app, now)
    stats = await poll_due(app)

    assert sorted(reads) == sorted(NUMBERS)
    assert (stats.polled, stats.new_events) == (3, 3)
    with app.store() as session:
        assert session.scalar(select(func.count()).select_from(TrackingEvent)) == 21
    assert all(row[1] not in (None, digests[n]) for n, row in _rows(app).items())


async def test_a_changed_stored_estimate_makes_the_same_reply_news_again(
    world: tuple[TrackerApp, SimulatedClock], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The digest binds the estimate stored with it: once something else changed the stored
    estimate (a timer, a push), the same reply differs from it and must be read."""
    app, clock = world
    await poll_due(app)
    carrier_estimate = START - timedelta(days=4) + timedelta(days=14)
    with app.store() as session:
        assert set(session.scalars(select(Shipment.expected_delivery))) == {carrier_estimate}

    reads = _count_reads(monkeypatch)
    now = clock.advance(timedelta(hours=1))
    _due_now(app, now, expected_delivery=carrier_estimate + timedelta(days=2))
    await poll_due(app)

    assert sorted(reads) == sorted(NUMBERS)
    assert _results(app.metrics.registry)["news"] == 6  # the first poll's and these
    with app.store() as session:
        assert set(session.scalars(select(Shipment.expected_delivery))) == {carrier_estimate}


async def test_a_changed_parser_reads_an_unchanged_reply_once_again(
    world: tuple[TrackerApp, SimulatedClock], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The adapter's source file is part of the digest: a parser changed without a new release
    # (a checkout, a third-party adapter's upgrade) must not trust digests its old code wrote.
    app, clock = world
    await poll_due(app)
    monkeypatch.setattr("tracker.jobs.poll.parser_identity", lambda adapter: "edited parser")
    reads = _count_reads(monkeypatch)
    _due_now(app, clock.advance(timedelta(hours=1)))
    again = await poll_due(app)
    assert (again.polled, again.new_events) == (3, 0)
    assert sorted(reads) == sorted(NUMBERS)
    reads.clear()
    _due_now(app, clock.advance(timedelta(hours=1)))
    await poll_due(app)
    assert reads == []  # the new digest is trusted from then on


def test_the_parser_identity_is_the_adapter_files_digest() -> None:
    identity = parser_identity(SandboxAdapter)
    assert len(identity) == 16
    assert parser_identity(SandboxAdapter) == identity
    assert parser_identity(CarrierConfig) != identity  # another file


@pytest.mark.parametrize(
    "estimates",
    [
        [None, None],
        [datetime(2026, 4, 9, 12, 0, tzinfo=UTC)] * 3,
        # the same instant in another zone, then a different one, then none
        [
            datetime(2026, 4, 9, 12, 0, tzinfo=UTC),
            datetime(2026, 4, 9, 14, 0, tzinfo=timezone(timedelta(hours=2))),
            datetime(2026, 4, 9, 12, 0, 0, 1, tzinfo=UTC),
            None,
        ],
    ],
)
def test_a_batch_digester_gives_the_stored_digests(estimates: list[datetime | None]) -> None:
    """The poll's per-batch digester (each estimate written once) stores what reply_digest
    stores, so a digest written before it still matches."""
    digest = reply_digester()
    for index, estimate in enumerate(estimates):
        part = bytes([index]) * 16
        assert digest(part, estimate) == reply_digest(part, estimate)
