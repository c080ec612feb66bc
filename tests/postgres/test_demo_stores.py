"""The demo's end-to-end run (sandbox carrier over loopback HTTP, simulated time, Maildir) gives
the same outcome on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import mailbox
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from carriers.sandbox.service import SandboxService
from tests.journeys import spec
from tests.support.sandbox import track_in_sandbox
from tracker.clock import SimulatedClock
from tracker.config import StoreConfig
from tracker.runtime.app import build_app
from tracker.runtime.daemon import Daemon
from tracker.runtime.demo import DEMO_START, demo_config, demo_shipments
from tracker.store.models import Notice, Shipment

pytestmark = pytest.mark.integration

# Where the demo's journeys end after 60 days (stalled_origin is still waiting in transit).
STATUSES = {"delivered": 12, "exception": 1, "info_received": 1, "returned": 2, "in_transit": 1}
# One of each email the journey table expects.
EMAILS = Counter(notice.kind for notices in spec.load().journeys.values() for notice in notices)


async def test_demo_run_has_the_same_outcome_on_both_stores(tmp_path: Path, store_url: str) -> None:
    clock = SimulatedClock(DEMO_START)
    async with SandboxService(clock=clock.now) as service:
        config = demo_config(tmp_path, service.base_url)
        config = config.model_copy(update={"store": StoreConfig(url=store_url)})
        app = build_app(config, clock)
        try:
            items = demo_shipments(1, clock.now())
            track_in_sandbox(service, app.store, items, DEMO_START)
            daemon = Daemon(app)
            while clock.now() < DEMO_START + timedelta(days=60):
                await daemon.step()
                clock.advance(timedelta(hours=4))
            await daemon.step()
            with app.store() as session:
                statuses = Counter(
                    dict(
                        session.execute(
                            select(Shipment.status, func.count()).group_by(Shipment.status)
                        ).all()
                    )
                )
                sent = Counter(
                    dict(
                        session.execute(
                            select(Notice.kind, func.count())
                            .where(Notice.state == "sent")
                            .group_by(Notice.kind)
                        ).all()
                    )
                )
                still_polled = session.scalar(
                    select(func.count()).where(
                        Shipment.status.in_(["delivered", "returned"]),
                        Shipment.next_poll_at.is_not(None),
                    )
                )
        finally:
            await app.close()
            app.store.kw["bind"].dispose()
    assert dict(statuses) == STATUSES
    assert dict(sent) == EMAILS
    assert still_polled == 0
    box = mailbox.Maildir(tmp_path / "mail", create=False)
    ids = Counter(str(message["Message-ID"]) for message in box)
    assert sum(ids.values()) == sum(EMAILS.values())
    assert max(ids.values()) == 1
