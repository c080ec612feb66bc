"""Carrier faults: every way a carrier misbehaves is logged with context, retried later, leaves
the shipment's stored state untouched, and never delays another carrier.

Two carriers run side by side: ``sandbox`` (the faulty one: the sandbox service with a fault
switched on, or a loopback server that answers badly) and ``healthy`` (the same adapter under
another name, against a second, well-behaved sandbox service).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import select
from structlog.testing import capture_logs

from carriers.base import CarrierSettings
from carriers.sandbox.adapter import SandboxAdapter
from carriers.sandbox.service import SandboxService
from tests.reliability.harness import START, write_config
from tests.support.loopback import LoopbackHTTPServer, Reply, Request
from tests.support.orders import order
from tracker.clock import SimulatedClock
from tracker.config import load_config
from tracker.jobs.poll import RETRY_CAP
from tracker.runtime.app import CarrierRuntime, TrackerApp, build_app
from tracker.runtime.daemon import Daemon
from tracker.runtime.resilience import RateLimiter
from tracker.store.models import Shipment, TrackingEvent
from tracker.store.shipments import add_shipments

pytestmark = pytest.mark.integration

MB = 1024 * 1024
PER_CARRIER = 3


class HealthySandbox(SandboxAdapter):
    """The sandbox adapter registered under a second name."""

    name: ClassVar[str] = "healthy"


@dataclass
class Rig:
    """A daemon with one faulty and one healthy carrier, three shipments each."""

    app: TrackerApp
    clock: SimulatedClock
    daemon: Daemon
    faulty: SandboxService
    healthy: SandboxService

    def state(self, carrier: str) -> dict[str, Any]:
        """What a poll may change: status, detail and the set of stored events per shipment."""
        with self.app.store() as session:
            ships = list(session.scalars(select(Shipment).where(Shipment.carrier == carrier)))
            return {
                s.tracking_number: (
                    s.status,
                    s.detail,
                    s.last_event_at,
                    frozenset(
                        session.scalars(
                            select(TrackingEvent.fingerprint).where(
                                TrackingEvent.shipment_id == s.id
                            )
                        )
                    ),
                )
                for s in ships
            }

    def shipments(self, carrier: str) -> list[Shipment]:
        with self.app.store() as session:
            return list(session.scalars(select(Shipment).where(Shipment.carrier == carrier)))

    def advance(self, step: timedelta) -> datetime:
        return self.clock.advance(step)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    clock = SimulatedClock(START)
    async with (
        SandboxService(clock=clock.now) as faulty,
        SandboxService(clock=clock.now) as healthy,
    ):
        config = write_config(
            tmp_path / "tracker.toml",
            db=tmp_path / "tracker.sqlite3",
            carriers={"sandbox": faulty.base_url},
            smtp_port=None,
            maildir=tmp_path / "mail",
            extra='timeout = "1s"\n',  # applies to [carriers.sandbox], the last table written
        )
        app = build_app(load_config(config), clock)
        app.carriers["healthy"] = CarrierRuntime(
            HealthySandbox(CarrierSettings(base_url=healthy.base_url, timeout_seconds=5)),
            RateLimiter(10_000, burst=4),
        )
        items = []
        for i in range(PER_CARRIER):
            for carrier, service in (("sandbox", faulty), ("healthy", healthy)):
                number = f"SBN{carrier[0].upper()}{i:07d}"
                service.register(number, "normal", registered_at=START)
                items.append(order(number, carrier, shipped_at=START))
        add_shipments(app.store, items, START)
        try:
            yield Rig(app, clock, Daemon(app), faulty, healthy)
        finally:
            await app.close()


@dataclass(frozen=True)
class SandboxFault:
    """A fault the sandbox service injects itself."""

    mode: str
    error_type: str
    options: tuple[tuple[str, Any], ...] = ()

    def apply(self, rig: Rig, loopback: LoopbackHTTPServer) -> None:
        rig.faulty.set_fault(self.mode, **dict(self.options))


@dataclass(frozen=True)
class LoopbackFault:
    """A carrier endpoint that answers badly, served by the loopback HTTP server."""

    name: str
    error_type: str
    reply: Callable[[Request], Reply]

    def apply(self, rig: Rig, loopback: LoopbackHTTPServer) -> None:
        loopback.route("GET", "/v1/track", self.reply)
        settings = CarrierSettings(base_url=loopback.base_url, timeout_seconds=2)
        rig.app.carriers["sandbox"] = CarrierRuntime(
            SandboxAdapter(settings), RateLimiter(10_000, burst=4)
        )


def redirect_loop(request: Request) -> Reply:
    return Reply(302, b"", {"Location": "/v1/track?numbers=again"})


def fifty_megabytes(request: Request) -> Reply:
    return Reply(200, b"{" + b" " * (50 * MB) + b"}", {"Content-Type": "application/json"})


def five_megabytes_of_garbage(request: Request) -> Reply:
    return Reply(200, b"\x00garbage" * (5 * MB // 8), {"Content-Type": "application/json"})


def wrong_shape(request: Request) -> Reply:
    return Reply(200, b'{"results": "none"}', {"Content-Type": "application/json"})


FAULTS = [
    SandboxFault("delay", "CarrierUnavailable", (("delay_seconds", 3.0),)),
    SandboxFault("disconnect", "CarrierUnavailable"),
    SandboxFault("http_500", "CarrierUnavailable"),
    SandboxFault("rate_limit", "CarrierRateLimited", (("retry_after", 7200),)),
    SandboxFault("truncated", "ParseError"),
    SandboxFault("garbage", "ParseError"),
    SandboxFault("wrong_charset", "ParseError"),
    SandboxFault("huge", "CarrierUnavailable", (("size_bytes", 50 * MB),)),
    LoopbackFault("redirect_loop", "CarrierUnavailable", redirect_loop),
    LoopbackFault("declared_50mb", "CarrierUnavailable", fifty_megabytes),
    LoopbackFault("garbage_5mb", "ParseError", five_megabytes_of_garbage),
    LoopbackFault("wrong_shape", "ParseError", wrong_shape),
]


def fault_id(fault: SandboxFault | LoopbackFault) -> str:
    return fault.mode if isinstance(fault, SandboxFault) else fault.name


@pytest.mark.parametrize("fault", FAULTS, ids=fault_id)
async def test_carrier_fault_is_logged_retried_and_harmless(
    rig: Rig, loopback_http: LoopbackHTTPServer, fault: SandboxFault | LoopbackFault
) -> None:
    await rig.daemon.step()  # a clean first poll of both carriers
    now = rig.advance(timedelta(days=3))
    before = rig.state("sandbox")
    healthy_before = rig.state("healthy")
    fault.apply(rig, loopback_http)

    with capture_logs() as logs:
        await rig.daemon.step()

    assert rig.state("sandbox") == before, "a faulty poll changed stored state"
    for shipment in rig.shipments("sandbox"):
        assert shipment.poll_failures == 1
        assert shipment.next_poll_at is not None
        assert shipment.next_poll_at > now
        assert shipment.lease_owner is None
    failed = [e for e in logs if e["event"] == "poll.failed"]
    assert failed, [e["event"] for e in logs]
    for entry in failed:
        assert entry["carrier"] == "sandbox"
        assert entry["error_type"] == fault.error_type
        assert "sandbox" in entry["error"]
        assert entry["batch"] == PER_CARRIER
        assert all(len(str(v)) <= 4096 for v in entry.values()), "log line carries a huge body"
    assert not [e for e in logs if e["event"] == "job.crashed"]

    # the other carrier was polled as usual in the same step
    healthy_after = rig.state("healthy")
    for number, (status, _, _, events) in healthy_after.items():
        assert len(events) > len(healthy_before[number][3]), number
        assert status == "in_transit"
    for shipment in rig.shipments("healthy"):
        assert shipment.last_polled_at == now
        assert shipment.poll_failures == 0

    if isinstance(fault, SandboxFault) and fault.mode == "rate_limit":
        for shipment in rig.shipments("sandbox"):
            assert shipment.next_poll_at == now + timedelta(seconds=7200)

    # the fault passes; after the back-off the faulty carrier's shipments catch up
    rig.faulty.clear_faults()
    if isinstance(fault, LoopbackFault):
        rig.app.carriers.pop("sandbox")
    rig.advance(timedelta(hours=13))
    with capture_logs() as logs:
        await rig.daemon.step()
    assert not [e for e in logs if e["event"] == "poll.failed"]
    for number, (status, _, _, events) in rig.state("sandbox").items():
        assert len(events) > len(before[number][3]), number
        assert status == "in_transit"
    assert all(s.poll_failures == 0 for s in rig.shipments("sandbox"))


@pytest.mark.parametrize("retry_after", [99_999_999_999, 10**40])
async def test_a_huge_retry_after_delays_the_next_poll_by_at_most_the_retry_cap(
    rig: Rig, retry_after: int
) -> None:
    # 99999999999 s moved a parcel's next poll to the year 5195; 10**40 s overflows a timedelta.
    await rig.daemon.step()
    now = rig.advance(timedelta(days=3))
    rig.faulty.set_fault("rate_limit", retry_after=retry_after)
    await rig.daemon.step()
    for shipment in rig.shipments("sandbox"):
        assert shipment.poll_failures == 1
        assert shipment.next_poll_at == now + RETRY_CAP
