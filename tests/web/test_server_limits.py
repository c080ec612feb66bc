"""The web server cannot be tied up (issue 13, item 2), over real sockets on loopback.

Slow and idle clients are cut within the configured deadlines while a real signed push still
gets through; huge declared bodies are refused before a byte is read; slow bodies time out;
odd signatures and deeply nested signed bodies answer 4xx with no traceback; stopping with slow
clients open is prompt.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from tests.web.sockets import Clients, closed_within, raw_request
from tracker.clock import SimulatedClock
from tracker.config import load_config
from tracker.runtime.app import TrackerApp, build_app
from tracker.store.shipments import NewShipment, add_shipments
from tracker.web.server import WebServer
from tracker.web.site import build_server

KEY = "push-secret"
START = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "carriers" / "seventeentrack"
PUSH = (FIXTURES / "webhook.json").read_bytes()
PUSH_PATH = "/webhooks/seventeentrack"
NUMBER = "RB123456785BR"

pytestmark = pytest.mark.integration
HEADER_TIMEOUT = 1.0
BODY_TIMEOUT = 1.0
IDLE_TIMEOUT = 1.5
#: how late past a deadline a cut may come on a loaded two-core machine
SLACK = 1.5


def sign(body: bytes) -> str:
    return hashlib.sha256(body + b"/" + KEY.encode()).hexdigest()


def write_config(tmp_path: Path, max_connections: int = 64) -> Path:
    path = tmp_path / "tracker.toml"
    path.write_text(
        "\n".join(
            [
                "[store]",
                f'url = "sqlite:///{tmp_path / "tracker.sqlite3"}"',
                "[mail]",
                f'maildir = "{tmp_path / "mail"}"',
                "[carriers.china_post_17]",
                'adapter = "seventeentrack"',
                'webhook_secret_env = "TEST_17TRACK_PUSH_KEY"',
                "[web]",
                "port = 0",
                "pages = false",
                f'header_timeout = "{HEADER_TIMEOUT}s"',
                f'body_timeout = "{BODY_TIMEOUT}s"',
                f'idle_timeout = "{IDLE_TIMEOUT}s"',
                f"max_connections = {max_connections}",
                'shutdown_grace = "2s"',
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture
async def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[TrackerApp]:
    monkeypatch.setenv("TEST_17TRACK_PUSH_KEY", KEY)
    built = build_app(load_config(write_config(tmp_path)), SimulatedClock(START))
    add_shipments(
        built.store,
        [
            NewShipment(
                tracking_number=NUMBER,
                carrier="china_post_17",
                buyer_email="ana@example.com",
                buyer_name="Ana Souza",
                buyer_language="pt",
                destination_country="BR",
                origin_country="CN",
                order_reference="ORD-1",
                shipped_at=START - timedelta(days=12),
            )
        ],
        START,
    )
    try:
        yield built
    finally:
        await built.close()


@pytest.fixture
async def server(app: TrackerApp) -> AsyncIterator[WebServer]:
    web = build_server(app)
    assert web is not None
    await web.start()
    try:
        yield web
    finally:
        await web.stop()


def push_request(body: bytes, signature: str) -> bytes:
    head = (
        f"POST {PUSH_PATH} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n"
    ).encode()
    return head + b"sign: " + signature.encode() + b"\r\n\r\n" + body


def port_of(server: WebServer) -> int:
    return int(server.url.rsplit(":", 1)[1])


async def test_slow_and_idle_clients_are_cut_and_a_real_push_gets_through(
    app: TrackerApp, server: WebServer, clients: Clients
) -> None:
    port = port_of(server)
    started = time.monotonic()
    slow = [await clients.slow(port) for _ in range(40)]
    idle = [await clients.idle(port) for _ in range(150)]
    # the server is over its 64 connections: a real push still gets in at once
    reply = await raw_request(port, push_request(PUSH, sign(PUSH)))
    assert reply.startswith(b"HTTP/1.1 200"), reply[:200]
    assert b'"recorded": 1' in reply
    remaining = HEADER_TIMEOUT + SLACK - (time.monotonic() - started)
    results = await asyncio.gather(*(closed_within(r, max(remaining, 0.1)) for r in slow + idle))
    assert all(results), f"{results.count(False)} of 190 connections still open"
    assert time.monotonic() - started < HEADER_TIMEOUT + SLACK + 1
    counts = server.connections.cut_counts
    assert counts.get("header_timeout", 0) + counts.get("shed", 0) >= 190
    assert len(server.connections.open) == 0


async def test_kept_alive_connection_is_closed_after_the_idle_timeout(server: WebServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
    writer.write(b"GET /no-such-page HTTP/1.1\r\nHost: x\r\n\r\n")
    first = await reader.readuntil(b"\r\n\r\n")
    assert first.startswith(b"HTTP/1.1 404")
    length = int(
        next(
            v
            for k, _, v in (line.partition(b":") for line in first.split(b"\r\n"))
            if k.lower() == b"content-length"
        )
    )
    await reader.readexactly(length)
    started = time.monotonic()
    assert await closed_within(reader, IDLE_TIMEOUT + SLACK)
    assert time.monotonic() - started >= IDLE_TIMEOUT - 0.2
    writer.close()


async def test_huge_content_length_is_refused_before_reading(
    app: TrackerApp, server: WebServer
) -> None:
    head = (
        f"POST {PUSH_PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: {10**12}\r\nsign: {sign(PUSH)}"
        "\r\n\r\n"
    ).encode()
    started = time.monotonic()
    reply = await raw_request(port_of(server), head, read_timeout=BODY_TIMEOUT / 2)
    assert reply.startswith(b"HTTP/1.1 413")
    assert b"Connection: close" in reply
    assert time.monotonic() - started < BODY_TIMEOUT / 2


async def test_a_body_slower_than_the_body_timeout_is_408(server: WebServer) -> None:
    head = (
        f"POST {PUSH_PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\nsign: 00\r\n\r\n"
    ).encode()
    started = time.monotonic()
    reply = await raw_request(port_of(server), head + b"{", read_timeout=BODY_TIMEOUT + SLACK)
    assert reply.startswith(b"HTTP/1.1 408"), reply[:100]
    assert BODY_TIMEOUT - 0.1 <= time.monotonic() - started < BODY_TIMEOUT + SLACK


@pytest.mark.parametrize(
    ("body", "signature", "status"),
    [
        (PUSH, "ünïcödé-sïgnätürë", b"401"),
        (PUSH, "\u0661" * 64, b"401"),
        (b"[" * 100_000 + b"]" * 100_000, None, b"400"),
        (
            b'{"event": "TRACKING_UPDATED", "data": ' + b"[" * 5000 + b"]" * 5000 + b"}",
            None,
            b"400",
        ),
    ],
    ids=["non-ascii-sign", "arabic-digits-sign", "nested-array", "nested-data"],
)
async def test_odd_signatures_and_nested_bodies_answer_4xx_without_traceback(
    app: TrackerApp, server: WebServer, body: bytes, signature: str | None, status: bytes
) -> None:
    signed = signature if signature is not None else sign(body)
    head = (
        f"POST {PUSH_PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n"
    ).encode()
    data = head + b"sign: " + signed.encode("utf-8") + b"\r\n\r\n" + body
    with capture_logs() as logs:
        reply = await raw_request(port_of(server), data)
    assert reply.startswith(b"HTTP/1.1 " + status), reply[:200]
    assert b"Traceback" not in reply
    assert not [e for e in logs if e.get("log_level") in ("error", "critical")]


async def test_stop_with_slow_clients_open_is_prompt(app: TrackerApp, clients: Clients) -> None:
    web = build_server(app)
    assert web is not None
    await web.start()
    readers = [await clients.slow(port_of(web)) for _ in range(40)]
    await asyncio.sleep(0.3)
    started = time.monotonic()
    await web.stop()
    took = time.monotonic() - started
    assert took < 1.0
    assert all(await asyncio.gather(*(closed_within(r, 1.0) for r in readers)))
