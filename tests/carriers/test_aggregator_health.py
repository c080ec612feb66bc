"""An aggregator's limits and credentials through the real poll job, against a loopback fake of
AfterShip: a revoked key turns ``tracker status`` and the metrics unhealthy, naming the key
variable, until a call succeeds; a 429 holds the carrier for the wait it names (capped) or backs
off with jitter when it names none."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from prometheus_client import generate_latest
from sqlalchemy import select
from structlog.testing import capture_logs

from tests.support.aggregators import aggregator_config
from tests.support.loopback import LoopbackHTTPServer, Reply, Request
from tracker.cli import main
from tracker.clock import SimulatedClock
from tracker.jobs.poll import RATE_LIMIT_CAP, poll_due
from tracker.runtime.app import TrackerApp, build_app
from tracker.runtime.daemon import Daemon
from tracker.runtime.heartbeat import heartbeat_of
from tracker.store.models import Shipment
from tracker.store.shipments import NewShipment, add_shipments

START = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
NUMBERS = ("RB123456785BR", "RB000000008BR")


class FakeAfterShip:
    """Answers like AfterShip: ``mode`` picks 200, 401 or 429 (with ``headers``)."""

    def __init__(self, server: LoopbackHTTPServer) -> None:
        self.mode = 200
        self.headers: dict[str, str] = {}
        server.route("POST", "/trackings", self.answer)
        server.route("GET", "/trackings", self.answer)

    def answer(self, request: Request) -> Reply:
        if self.mode == 401:
            return Reply(401, '{"meta": {"code": 401, "message": "Invalid API key."}}')
        if self.mode == 429:
            body = '{"meta": {"code": 429, "message": "Too many requests."}}'
            return Reply(429, body, self.headers)
        if request.method == "POST":
            return Reply(201, json.dumps({"meta": {"code": 201}, "data": {}}))
        numbers = request.query["tracking_numbers"][0].split(",")
        trackings = [{"tracking_number": n, "tag": "Pending", "checkpoints": []} for n in numbers]
        return Reply(200, json.dumps({"meta": {"code": 200}, "data": {"trackings": trackings}}))


@pytest.fixture
def fake(loopback_http: LoopbackHTTPServer) -> FakeAfterShip:
    return FakeAfterShip(loopback_http)


@pytest.fixture
async def app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loopback_http: LoopbackHTTPServer
) -> AsyncIterator[TrackerApp]:
    config = aggregator_config(
        tmp_path,
        monkeypatch,
        "aftership",
        loopback_http.base_url,
        key="revoked-key",
        key_env="TEST_AS_KEY",
    )
    built = build_app(config, SimulatedClock(START))
    add_shipments(
        built.store,
        [
            NewShipment(n, "aftership", "ana@example.com", "Ana", "pt", "BR", "CN", f"O-{n}", START)
            for n in NUMBERS
        ],
        START,
    )
    try:
        yield built
    finally:
        await built.close()


def report(app: TrackerApp) -> dict[str, Any]:
    heartbeat_of(Daemon(app), "running")
    url = app.config.store.url
    result = CliRunner().invoke(
        main, ["status", "--json", "--store", url, "--at", app.clock.now().isoformat()]
    )
    data: dict[str, Any] = json.loads(result.stdout)
    assert result.exit_code == (0 if data["healthy"] else 1)
    return data


def report_text(app: TrackerApp) -> tuple[int, str]:
    """``tracker status`` as a person runs it: exit code and the whole output."""
    heartbeat_of(Daemon(app), "running")
    url = app.config.store.url
    result = CliRunner().invoke(
        main, ["status", "--store", url, "--at", app.clock.now().isoformat()], terminal_width=200
    )
    return result.exit_code, result.output


def rejected_metric(app: TrackerApp) -> str:
    lines = generate_latest(app.metrics.registry).decode().splitlines()
    (line,) = [x for x in lines if x.startswith("tracker_carrier_credentials_rejected{")]
    return line


def next_polls(app: TrackerApp) -> list[datetime]:
    with app.store() as session:
        return [t for t in session.scalars(select(Shipment.next_poll_at)) if t is not None]


async def test_a_revoked_key_is_unhealthy_until_a_call_succeeds(
    app: TrackerApp, fake: FakeAfterShip
) -> None:
    fake.mode = 401
    with capture_logs() as logs:
        stats = await poll_due(app)
    assert stats.failed == 2
    (logged,) = [e for e in logs if e["event"] == "carrier.credentials_rejected"]
    assert "TEST_AS_KEY (carriers.aftership.api_key_env)" in logged["problem"]
    status = report(app)
    assert not status["healthy"]
    assert any(
        p.startswith("carrier aftership:") and "TEST_AS_KEY" in p for p in status["problems"]
    )
    assert status["carriers"]["aftership"]["credentials_rejected"] == logged["problem"]
    assert rejected_metric(app).endswith(" 1.0")
    code, text = report_text(app)  # what a seller reads, and what a monitoring check sees
    assert code == 1
    assert "carrier aftership:" in text
    assert "TEST_AS_KEY (carriers.aftership.api_key_env)" in text

    fake.mode = 200  # the seller fixed the key
    assert isinstance(app.clock, SimulatedClock)
    app.clock.advance(timedelta(hours=13))
    with capture_logs() as logs:
        stats = await poll_due(app)
    assert stats.polled == 2
    assert "carrier.credentials_accepted" in [e["event"] for e in logs]
    status = report(app)
    assert status["carriers"]["aftership"]["credentials_rejected"] is None
    assert not [p for p in status["problems"] if p.startswith("carrier aftership")]
    assert rejected_metric(app).endswith(" 0.0")
    code, text = report_text(app)
    assert (code, "TEST_AS_KEY" in text) == (0, False)


def in_five_minutes() -> dict[str, str]:
    """AfterShip's X-RateLimit-Reset: the wall-clock epoch second the limit resets."""
    return {"X-RateLimit-Reset": str(int(time.time()) + 300), "X-RateLimit-Limit": "10"}


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        (lambda: {"Retry-After": "120"}, timedelta(seconds=120)),
        (in_five_minutes, None),
        (lambda: {"Retry-After": "99999999999"}, RATE_LIMIT_CAP),
    ],
    ids=["retry-after", "x-ratelimit-reset", "absurd-retry-after-capped"],
)
async def test_429_holds_the_carrier_for_the_wait_it_names(
    app: TrackerApp,
    fake: FakeAfterShip,
    headers: Callable[[], dict[str, str]],
    wait: timedelta | None,
) -> None:
    fake.mode = 429
    fake.headers = headers()
    stats = await poll_due(app)
    assert stats.failed == 2
    breaker = app.carrier("aftership").breaker
    assert breaker.held_until is not None
    assert not breaker.allows(app.clock.now())
    held = breaker.held_until - app.clock.now()
    if wait is not None:
        assert held == wait
    else:
        # epoch seconds are read against the wall clock: five minutes, less the test's own time
        assert timedelta(minutes=4) <= held <= timedelta(minutes=5)
    assert {t - app.clock.now() for t in next_polls(app)} == {held}


async def test_429_without_a_wait_backs_off_with_jitter_and_a_cap(
    app: TrackerApp, fake: FakeAfterShip
) -> None:
    fake.mode = 429
    assert isinstance(app.clock, SimulatedClock)
    delays: list[list[timedelta]] = []
    for _ in range(12):
        with capture_logs() as logs:
            await poll_due(app)
        (failed, *_) = [e for e in logs if e["event"] == "poll.failed"]
        assert "None" not in failed["error"]
        now = app.clock.now()
        delays.append(sorted(t - now for t in next_polls(app)))
        app.clock.advance(max(delays[-1]))
    firsts = delays[0]
    assert all(timedelta(seconds=45) <= d <= timedelta(seconds=75) for d in firsts)
    assert firsts[0] != firsts[1]  # jitter: the two shipments do not retry in lockstep
    assert delays[3][0] > delays[1][0]  # growing
    assert all(d <= RATE_LIMIT_CAP for row in delays for d in row)
    assert max(delays[-1]) > RATE_LIMIT_CAP / 2  # and reaching the cap
    assert app.carrier("aftership").breaker.held_until is None
