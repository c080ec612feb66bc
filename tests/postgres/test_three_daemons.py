"""Three real ``tracker run`` processes share one PostgreSQL and one loopback carrier.

Every shipment is polled by exactly one daemon exactly once (its next poll is hours away), every
notice reaches exactly one daemon's Maildir exactly once, and all the work gets done.
"""

from __future__ import annotations

import asyncio
import json
import mailbox
import signal
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from carriers.sandbox.journeys import load_journeys
from carriers.sandbox.service import SandboxService
from tests.support.orders import journey_order
from tracker.store.db import open_store
from tracker.store.models import Notice, Shipment
from tracker.store.shipments import NewShipment, add_shipments

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

DAEMONS = 3
SHIPMENTS = 120
TRACKER = str(Path(sys.executable).with_name("tracker"))


def _config(tmp_path: Path, index: int, store_url: str, base_url: str) -> Path:
    path = tmp_path / f"daemon{index}.toml"
    path.write_text(
        f"""
[store]
url = "{store_url}"
[mail]
transport = "maildir"
maildir = "{tmp_path / f"mail{index}"}"
[daemon]
poll_every = "300ms"
timers_every = "300ms"
dispatch_every = "300ms"
batch_size = 8
lease = "10m"
[quiet_hours]
enabled = false
[thresholds.default]
min_notice_gap = "1s"
[carriers.sandbox]
base_url = "{base_url}"
requests_per_second = 1000
[logging]
format = "json"
level = "info"
redact_emails = false
""",
        encoding="utf-8",
    )
    return path


def _orders(shipped_at: datetime) -> list[tuple[NewShipment, str]]:
    journeys = sorted(load_journeys().items())
    items = []
    for serial in range(SHIPMENTS):
        name, journey = journeys[serial % len(journeys)]
        shipment = journey_order(
            journey, serial, buyer_name="Alex Buyer", buyer_language="en", shipped_at=shipped_at
        )
        items.append((shipment, name))
    return items


def _log_events(path: Path) -> list[dict[str, Any]]:
    events = []
    for line in path.read_text("utf-8", "replace").splitlines():
        if line.startswith("{"):
            events.append(json.loads(line))
    return events


async def _wait_for(predicate: Any, seconds: float, what: object) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await asyncio.to_thread(predicate):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def test_three_daemons_share_the_work_without_doing_anything_twice(
    tmp_path: Path, postgres_url: str
) -> None:
    store = open_store(postgres_url)
    # Journeys started 30 days ago, so the first poll finds real history and queues notices.
    started = datetime.now(UTC) - timedelta(days=30)
    async with SandboxService(clock=lambda: datetime.now(UTC)) as carrier:
        items = _orders(started)
        for shipment, journey in items:
            carrier.register(shipment.tracking_number, journey, registered_at=started)
        logs = [tmp_path / f"daemon{i}.log" for i in range(DAEMONS)]
        processes = []
        for i in range(DAEMONS):
            config = _config(tmp_path, i, postgres_url, carrier.base_url)
            with logs[i].open("wb") as log:
                processes.append(
                    await asyncio.create_subprocess_exec(
                        TRACKER, "run", "--config", str(config), stdout=log, stderr=log
                    )
                )
        try:
            await _wait_for(
                lambda: all(
                    any(e.get("event") == "daemon.started" for e in _log_events(p)) for p in logs
                ),
                60,
                "three daemons to start",
            )
            # Orders arrive while all three daemons are running.
            add_shipments(store, [s for s, _ in items], datetime.now(UTC))

            progress: list[str] = ["all work to be done"]

            def all_done() -> bool:
                with store() as session:
                    unpolled = session.scalar(
                        select(func.count()).where(Shipment.last_polled_at.is_(None))
                    )
                    open_notices = session.scalar(
                        select(func.count()).where(Notice.state.in_(["pending", "sending"]))
                    )
                    leased = session.scalar(
                        select(func.count()).where(Shipment.lease_owner.is_not(None))
                    )
                    left = session.execute(
                        select(Notice.kind, Notice.state, Notice.not_before, Notice.last_error)
                        .where(Notice.state.in_(["pending", "sending"]))
                        .limit(3)
                    ).all()
                progress[:] = [f"unpolled={unpolled} leased={leased} open notices={left}"]
                return unpolled == 0 and open_notices == 0 and leased == 0

            await _wait_for(all_done, 120, progress)
        finally:
            for process in processes:
                if process.returncode is None:
                    process.send_signal(signal.SIGTERM)
            codes = [await asyncio.wait_for(p.wait(), 30) for p in processes]
        queried = carrier.stats["numbers_queried"]

    assert codes == [0] * DAEMONS
    polls = [
        [e["shipment_id"] for e in _log_events(path) if e.get("event") == "poll.succeeded"]
        for path in logs
    ]
    per_shipment = Counter(sid for daemon in polls for sid in daemon)
    with store() as session:
        ids = set(session.scalars(select(Shipment.id)))
        sent = session.scalar(select(func.count()).where(Notice.state == "sent"))
        # Seller alerts with no channel configured are recorded as skipped rows, never sent.
        notices = session.scalar(select(func.count()).where(Notice.state != "skipped"))
    store.kw["bind"].dispose()
    # Each shipment polled once, by one daemon; the carrier was asked about each number once.
    assert set(per_shipment) == ids
    assert max(per_shipment.values()) == 1
    assert queried == SHIPMENTS
    assert sum(1 for daemon in polls if daemon) >= 2, [len(d) for d in polls]
    # Each notice sent once, into exactly one daemon's Maildir.
    message_ids: Counter[str] = Counter()
    for i in range(DAEMONS):
        folder = tmp_path / f"mail{i}"
        if folder.exists():
            message_ids.update(str(m["Message-ID"]) for m in mailbox.Maildir(folder, create=False))
    assert notices is not None
    assert sent == notices > SHIPMENTS / 2
    assert sum(message_ids.values()) == sent
    assert max(message_ids.values()) == 1
