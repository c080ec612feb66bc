"""Prometheus metrics scraped over real HTTP after the daemon ran against the sandbox carrier."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from carriers.sandbox.service import SandboxService
from tracker.clock import SimulatedClock
from tracker.runtime.app import TrackerApp, build_app
from tracker.runtime.daemon import Daemon
from tracker.runtime.demo import DEMO_START, demo_config, demo_shipments
from tracker.runtime.metrics import Metrics, serve_metrics
from tracker.store.models import Notice, Shipment, TrackingEvent
from tracker.store.shipments import add_shipments

pytestmark = pytest.mark.integration

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(app: TrackerApp) -> Samples:
    """GET /metrics from a real server on a free loopback port and parse the exposition."""
    server = serve_metrics(app.metrics, "127.0.0.1", 0)
    try:
        text = httpx.get(f"http://127.0.0.1:{server.port}/metrics", timeout=10).text
    finally:
        server.close()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


@dataclass
class Run:
    app: TrackerApp
    daemon: Daemon
    clock: SimulatedClock


@pytest.fixture
async def sandbox_run(tmp_path: Path) -> AsyncIterator[Run]:
    """The demo's journeys (one shipment each) for 14 simulated days, stepped every 12 hours."""
    clock = SimulatedClock(DEMO_START)
    async with SandboxService(clock=clock.now) as service:
        app = build_app(demo_config(tmp_path, service.base_url), clock)
        try:
            items = demo_shipments(1, clock.now())
            for shipment, journey in items:
                service.register(
                    shipment.tracking_number, journey, registered_at=shipment.shipped_at
                )
            add_shipments(app.store, [s for s, _ in items], clock.now())
            daemon = Daemon(app)
            while clock.now() < DEMO_START + timedelta(days=14):
                await daemon.step()
                clock.advance(timedelta(hours=12))
            yield Run(app, daemon, clock)
        finally:
            await app.close()


async def test_scraped_metrics_agree_with_the_run_and_the_store(sandbox_run: Run) -> None:
    app, totals = sandbox_run.app, sandbox_run.daemon.totals
    samples = scrape(app)

    assert totals.polled > 0
    assert (
        value(samples, "tracker_polls_total", carrier="sandbox", outcome="success") == totals.polled
    )
    failed = total(samples, "tracker_polls_total", carrier="sandbox") - totals.polled
    assert failed == totals.poll_failures
    batches = value(samples, "tracker_poll_duration_seconds_count", carrier="sandbox")
    assert 0 < batches <= totals.polled + totals.poll_failures
    assert value(samples, "tracker_poll_duration_seconds_sum", carrier="sandbox") > 0

    assert totals.notices_sent > 0
    assert total(samples, "tracker_notices_total", outcome="sent") == totals.notices_sent
    with app.store() as session:
        sent_by_kind = dict(
            session.execute(
                select(Notice.kind, func.count())
                .where(Notice.state == "sent")
                .group_by(Notice.kind)
            ).all()
        )
        statuses = dict(
            session.execute(select(Shipment.status, func.count()).group_by(Shipment.status)).all()
        )
        events = dict(
            session.execute(
                select(TrackingEvent.status, func.count()).group_by(TrackingEvent.status)
            ).all()
        )
        pending = session.scalar(
            select(func.count()).where(Notice.state.in_(("pending", "sending")))
        )
    for kind, count in sent_by_kind.items():
        assert value(samples, "tracker_notices_total", kind=kind, outcome="sent") == count
    for status, count in statuses.items():
        assert value(samples, "tracker_shipments", status=status) == count
    assert total(samples, "tracker_shipments") == len(demo_shipments(1, DEMO_START))
    for status, count in events.items():
        assert value(samples, "tracker_tracking_events", status=status) == count
    assert value(samples, "tracker_unclassified_events") == events.get("unknown", 0)
    assert value(samples, "tracker_queue_depth", queue="notices_pending") == pending
    assert value(samples, "tracker_store_up") == 1
    assert value(samples, "tracker_carrier_circuit_state", carrier="sandbox", state="closed") == 1
    assert value(samples, "tracker_carrier_circuit_state", carrier="sandbox", state="open") == 0


async def test_an_open_breaker_shows_in_the_metrics(tmp_path: Path) -> None:
    clock = SimulatedClock(DEMO_START)
    app = build_app(demo_config(tmp_path, "http://127.0.0.1:9"), clock)
    try:
        breaker = app.carrier("sandbox").breaker
        for _ in range(breaker.threshold):
            breaker.record_failure(clock.now())
        samples = scrape(app)
        assert value(samples, "tracker_store_up") == 1
        assert total(samples, "tracker_shipments") == 0
        assert value(samples, "tracker_carrier_circuit_state", carrier="sandbox", state="open") == 1
        assert (
            value(samples, "tracker_carrier_circuit_state", carrier="sandbox", state="closed") == 0
        )
        failures = value(samples, "tracker_carrier_consecutive_failures", carrier="sandbox")
        assert failures == breaker.threshold
        clock.advance(breaker.cooldown)
        samples = scrape(app)
        half_open = value(
            samples, "tracker_carrier_circuit_state", carrier="sandbox", state="half_open"
        )
        assert half_open == 1
    finally:
        await app.close()


def test_each_metrics_object_has_its_own_registry() -> None:
    first, second = Metrics(), Metrics()
    first.notice_handled("shipped", "sent")
    assert first.registry is not second.registry
    assert (
        first.registry.get_sample_value(
            "tracker_notices_total", {"kind": "shipped", "outcome": "sent"}
        )
        == 1
    )
    assert (
        second.registry.get_sample_value(
            "tracker_notices_total", {"kind": "shipped", "outcome": "sent"}
        )
        is None
    )


async def test_store_gauges_are_served_from_the_latest_count_and_recounted_in_the_background(
    tmp_path: Path,
) -> None:
    """A scrape never counts the store once it has counts (constant cost at any size); counts
    older than max_age are refreshed by one background recount, seen by a later scrape."""
    from sqlalchemy import event

    from tracker.runtime.metrics import StoreCollector

    clock = SimulatedClock(DEMO_START)
    app = build_app(demo_config(tmp_path, "http://127.0.0.1:9"), clock)
    try:
        collector = StoreCollector(app.store, clock.now, dict, max_age=3600)
        statements: list[str] = []
        engine = app.store.kw["bind"]
        event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))

        def shipments() -> float:
            return sum(
                s.value for m in collector.collect() if m.name == "tracker_shipments"
                for s in m.samples
            )  # fmt: skip

        assert shipments() == 0
        assert statements  # the first scrape counted
        add_shipments(app.store, [s for s, _ in demo_shipments(1, clock.now())], clock.now())
        statements.clear()
        assert shipments() == 0  # young counts are served as they are, without a query
        assert statements == []
        collector.max_age = 0
        assert shipments() == 0  # old counts: served, and a recount starts in the background
        assert collector._recount is not None
        collector._recount.join(timeout=30)
        assert shipments() == len(demo_shipments(1, DEMO_START))
    finally:
        await app.close()
