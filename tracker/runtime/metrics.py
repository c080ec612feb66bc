"""Prometheus metrics on a dedicated registry, served on a loopback port.

Counters for what happened in this process (polls, notices) are updated by the jobs; gauges for
the carriers' circuit breakers are read at scrape time. Gauges for what the store holds
(shipments, events, queues) come from counting the store, which takes seconds at a million
shipments: the first scrape counts, later scrapes serve the latest counts at once and, when they
are older than ``SNAPSHOT_MAX_AGE``, start a recount in a background thread (one at a time), so a
scrape costs the same at any store size. ``tracker_store_snapshot_age_seconds`` says how old the
served counts are. A registry per app keeps several apps in one process (tests) from clashing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from threading import Lock, Thread
from typing import Protocol
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session, sessionmaker

from tracker.errors import (
    CarrierAuthError,
    CarrierRateLimited,
    CarrierUnavailable,
    ParseError,
    PluginError,
)
from tracker.eventlog import get_logger
from tracker.store.snapshot import StoreSnapshot, take_snapshot

POLL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)
BREAKER_STATES = ("closed", "open", "half_open")
#: seconds after which a scrape starts a recount of the store in the background
SNAPSHOT_MAX_AGE = 30.0


def poll_outcome(error: BaseException | None) -> str:
    """The ``outcome`` label of a poll: success or the kind of carrier failure."""
    if error is None:
        return "success"
    for kind, label in (
        (CarrierRateLimited, "rate_limited"),
        (CarrierAuthError, "auth_error"),
        (ParseError, "parse_error"),
        (CarrierUnavailable, "unavailable"),
        (PluginError, "plugin_error"),
    ):
        if isinstance(error, kind):
            return label
    return "error"


class Breaker(Protocol):
    """What the collector needs of a circuit breaker."""

    failures: int
    credentials_rejected: str | None

    def state(self, now: datetime) -> str: ...


class Metrics:
    """The counters and histogram the jobs update; one instance (and registry) per app."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self.polls = Counter(
            "tracker_polls",
            "Shipment polls by carrier and outcome (success, rate_limited, unavailable, ...).",
            ["carrier", "outcome"],
            registry=self.registry,
        )
        self.poll_results = Counter(
            "tracker_poll_results",
            "Polls recorded, by carrier and what the reply brought: news (events, an estimate, "
            "a first poll), quiet (nothing new; unchanged: recognised by its digest, not read) or "
            "lease_lost.",
            ["carrier", "result"],
            registry=self.registry,
        )
        self.poll_seconds = Histogram(
            "tracker_poll_duration_seconds",
            "Time to fetch and parse one batch from a carrier.",
            ["carrier"],
            buckets=POLL_BUCKETS,
            registry=self.registry,
        )
        self.notices = Counter(
            "tracker_notices",
            "Notices handled by the dispatcher, by milestone kind and outcome.",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.polls_deferred = Counter(
            "tracker_polls_deferred",
            "Shipment polls postponed because the carrier's circuit breaker was open.",
            ["carrier"],
            registry=self.registry,
        )

    def poll_finished(
        self, carrier: str, shipments: int, seconds: float, error: BaseException | None
    ) -> None:
        """Record one batch: ``shipments`` polls with the batch's outcome, and its latency."""
        self.polls.labels(carrier, poll_outcome(error)).inc(shipments)
        self.poll_seconds.labels(carrier).observe(seconds)

    def polls_recorded(self, counts: Mapping[tuple[str, str], int]) -> None:
        """Recorded polls per (carrier, result); the quiet ones log only at debug."""
        for (carrier, result), count in counts.items():
            self.poll_results.labels(carrier, result).inc(count)

    def poll_failed_early(self, carrier: str, shipments: int, error: BaseException) -> None:
        """Polls that never reached the carrier (its plugin could not be loaded)."""
        self.polls.labels(carrier, poll_outcome(error)).inc(shipments)

    def polls_postponed(self, carrier: str, shipments: int) -> None:
        """Polls deferred by an open circuit breaker."""
        self.polls_deferred.labels(carrier).inc(shipments)

    def notice_handled(self, kind: str, outcome: str) -> None:
        """One notice: sent, deferred, failed, skipped or lease_lost."""
        self.notices.labels(kind, outcome).inc()

    def watch_store(
        self,
        store: sessionmaker[Session],
        now: Callable[[], datetime],
        breakers: Callable[[], Mapping[str, Breaker]],
    ) -> None:
        """Also report store counts and breaker states, read at each scrape."""
        self.registry.register(StoreCollector(store, now, breakers))


class StoreCollector(Collector):
    """Gauges read from the store and the carriers' breakers when Prometheus scrapes."""

    def __init__(
        self,
        store: sessionmaker[Session],
        now: Callable[[], datetime],
        breakers: Callable[[], Mapping[str, Breaker]],
        max_age: float = SNAPSHOT_MAX_AGE,
    ) -> None:
        self.store = store
        self.now = now
        self.breakers = breakers
        self.max_age = max_age
        self._latest: tuple[float, StoreSnapshot] | None = None
        self._recount: Thread | None = None
        self._lock = Lock()

    def describe(self) -> list[Metric]:
        """Nothing up front: describing would run the queries at registration."""
        return []

    def _count(self) -> StoreSnapshot | None:
        """Count the store now and keep the result; None (and a warning) if it cannot be read."""
        now = self.now()
        try:
            with self.store() as session:
                snap = take_snapshot(session, now, now - timedelta(days=1))
        except Exception as exc:  # any database failure: report it, never break the scrape
            get_logger().warning("metrics.store_unreadable", error=str(exc))
            self._latest = None
            return None
        self._latest = (time.monotonic(), snap)
        return snap

    def _snapshot(self) -> tuple[StoreSnapshot | None, float]:
        """The counts to serve and their age in seconds."""
        latest = self._latest
        if latest is None:
            return self._count(), 0.0
        taken, snap = latest
        age = time.monotonic() - taken
        if age > self.max_age:
            with self._lock:
                if self._recount is None or not self._recount.is_alive():
                    self._recount = Thread(target=self._count, name="metrics-recount", daemon=True)
                    self._recount.start()
        return snap, age

    def collect(self) -> Iterator[Metric]:
        """Yield the gauges; a store that cannot be read yields ``tracker_store_up 0``."""
        now = self.now()
        up = GaugeMetricFamily("tracker_store_up", "1 if the last scrape could read the store.")
        snap, age = self._snapshot()
        if snap is None:
            up.add_metric([], 0)
            yield up
        else:
            up.add_metric([], 1)
            yield up
            yield GaugeMetricFamily(
                "tracker_store_snapshot_age_seconds",
                "Age of the store counts served (recounted in the background when old).",
                value=age,
            )
            yield from _store_gauges(snap.shipments_by_status, snap.events_by_status)
            yield _labelled(
                "tracker_notices_stored",
                "Notices in the outbox by state.",
                "state",
                snap.notices_by_state,
            )
            yield _labelled("tracker_queue_depth", "Work waiting, by queue.", "queue", snap.queues)
        yield from _breaker_gauges(self.breakers(), now)


def _labelled(name: str, doc: str, label: str, values: Mapping[str, int]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=[label])
    for key, value in sorted(values.items()):
        family.add_metric([key], value)
    return family


def _store_gauges(shipments: Mapping[str, int], events: Mapping[str, int]) -> Iterator[Metric]:
    yield _labelled("tracker_shipments", "Shipments by current status.", "status", shipments)
    yield _labelled("tracker_tracking_events", "Stored carrier events by status.", "status", events)
    unclassified = GaugeMetricFamily(
        "tracker_unclassified_events", "Stored carrier events no rule classified (status unknown)."
    )
    unclassified.add_metric([], events.get("unknown", 0))
    yield unclassified


def _breaker_gauges(breakers: Mapping[str, Breaker], now: datetime) -> Iterator[Metric]:
    state = GaugeMetricFamily(
        "tracker_carrier_circuit_state",
        "1 for the carrier's current circuit-breaker state (closed, open, half_open), else 0.",
        labels=["carrier", "state"],
    )
    failures = GaugeMetricFamily(
        "tracker_carrier_consecutive_failures",
        "Consecutive failed batches per carrier.",
        labels=["carrier"],
    )
    rejected = GaugeMetricFamily(
        "tracker_carrier_credentials_rejected",
        "1 while the carrier rejects our credentials (401/403), until a call succeeds.",
        labels=["carrier"],
    )
    for name, breaker in sorted(dict(breakers).items()):
        current = breaker.state(now)
        for option in BREAKER_STATES:
            state.add_metric([name, option], 1 if option == current else 0)
        failures.add_metric([name], breaker.failures)
        rejected.add_metric([name], 1 if breaker.credentials_rejected else 0)
    yield state
    yield failures
    yield rejected


@dataclass
class MetricsServer:
    """The running HTTP endpoint; ``port`` is the bound one (useful when 0 was asked for)."""

    server: WSGIServer
    thread: Thread

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def close(self) -> None:
        """Stop serving and release the port."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def serve_metrics(metrics: Metrics, host: str, port: int) -> MetricsServer:
    """Serve ``/metrics`` for this app's registry on ``host:port`` in a daemon thread."""
    server, thread = start_http_server(port, addr=host, registry=metrics.registry)
    get_logger().info("metrics.listening", host=host, port=int(server.server_address[1]))
    return MetricsServer(server, thread)
