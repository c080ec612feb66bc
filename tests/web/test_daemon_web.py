"""`tracker run` with its web server under a flood, as a real process with a low file limit
(issue 13, item 2): 150 idle and 40 slow connections do not stop a real push, do not write a
traceback or a log storm, and SIGTERM with the slow clients still open ends the process promptly.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from tests.web.sockets import Clients, closed_within, raw_request
from tests.web.test_server_limits import PUSH, push_request
from tracker.clock import SystemClock
from tracker.config import load_config
from tracker.store.db import open_store
from tracker.store.models import Shipment
from tracker.store.shipments import NewShipment, add_shipments

TRACKER = Path(sys.executable).with_name("tracker")
KEY = "push-secret"
NUMBER = "RB123456785BR"
#: low enough that 190 connections would exhaust it without the server's own limit
FILE_LIMIT = 160


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_config(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "tracker.toml"
    path.write_text(
        "\n".join(
            [
                "[store]",
                f'url = "sqlite:///{tmp_path / "tracker.sqlite3"}"',
                "[mail]",
                f'maildir = "{tmp_path / "mail"}"',
                "[daemon]",
                'heartbeat_every = "1h"',
                'poll_every = "1h"',
                "[logging]",
                'format = "json"',
                "[carriers.china_post_17]",
                'adapter = "seventeentrack"',
                'webhook_secret_env = "TEST_17TRACK_PUSH_KEY"',
                'api_key_env = "TEST_17TRACK_API_KEY"',
                # never the real API; port 9 on loopback refuses at once
                'base_url = "http://127.0.0.1:9"',
                "[web]",
                f"port = {port}",
                "pages = false",
                'header_timeout = "1s"',
                'idle_timeout = "2s"',
                'body_timeout = "2s"',
                "max_connections = 1000",
                'shutdown_grace = "2s"',
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    return path


def low_file_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (FILE_LIMIT, hard))


async def wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "the daemon exited before listening"
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        return
    raise AssertionError(f"nothing listening on {port} after 30 s")


@pytest.mark.slow
async def test_flooded_daemon_takes_a_real_push_and_stops_promptly(
    tmp_path: Path, clients: Clients
) -> None:
    port = free_port()
    config = write_config(tmp_path, port)
    store = open_store(load_config(config).store.url)
    add_shipments(
        store,
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
                shipped_at=SystemClock().now(),
            )
        ],
        SystemClock().now(),
    )
    # not due: a poll at start-up would hold the shipment's lease and the push would be
    # answered "busy" (503) whenever it came during that poll
    with store.begin() as session:
        session.execute(
            update(Shipment).values(next_poll_at=SystemClock().now() + timedelta(days=1))
        )
    store.kw["bind"].dispose()
    log = tmp_path / "daemon.log"
    env = {**os.environ, "TEST_17TRACK_PUSH_KEY": KEY, "TEST_17TRACK_API_KEY": "unused-key"}
    with log.open("wb") as sink:
        process = subprocess.Popen(  # noqa: ASYNC220 - started once, before any awaiting
            [str(TRACKER), "run", "--config", str(config)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            preexec_fn=low_file_limit,
        )
    try:
        await wait_for_port(port, process)
        slow = [await clients.slow(port) for _ in range(40)]
        idle = [await clients.idle(port) for _ in range(150)]
        signature = hashlib.sha256(PUSH + b"/" + KEY.encode()).hexdigest()
        reply = await raw_request(port, push_request(PUSH, signature))
        assert reply.startswith(b"HTTP/1.1 200"), reply[:300]
        assert all(await asyncio.gather(*(closed_within(r, 4.0) for r in slow + idle)))

        # a fresh wave of slow clients is open when SIGTERM comes
        more = [await clients.slow(port) for _ in range(40)]
        await asyncio.sleep(0.3)
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        code = await asyncio.get_running_loop().run_in_executor(None, process.wait, 20)
        took = time.monotonic() - started
        assert code == 0
        assert took < 5.0, f"SIGTERM took {took:.1f}s"
        assert all(await asyncio.gather(*(closed_within(r, 1.0) for r in more)))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    text = log.read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in text
    lines = text.splitlines()
    assert len(lines) < 60, f"{len(lines)} log lines for one flood"
    events = [json.loads(line).get("event") for line in lines if line.startswith("{")]
    assert "webhook.recorded" in events
    assert "web.stopped" in events
