"""SMTP outage: the relay is down for a simulated day and then back, and one buyer's address is
refused permanently. Every notice reaches its buyer once; the refused one is marked failed after
one attempt, with no retry storm."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, MutableMapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from structlog.testing import capture_logs

from carriers.sandbox.service import SandboxService
from tests.reliability.harness import START, journey_set, write_config
from tests.support.sandbox import track_in_sandbox
from tests.support.smtp import SmtpSink, StartSmtp
from tracker.clock import SimulatedClock
from tracker.config import load_config
from tracker.runtime.app import TrackerApp, build_app
from tracker.runtime.daemon import Daemon
from tracker.store.models import Notice, Shipment

STEP = timedelta(minutes=10)
REFUSED = "buyer002@example.com"


@dataclass
class Rig:
    app: TrackerApp
    clock: SimulatedClock
    daemon: Daemon
    smtp: SmtpSink

    async def run_for(self, span: timedelta) -> list[MutableMapping[str, Any]]:
        """Step the daemon every 10 simulated minutes for ``span``; the captured log events."""
        end = self.clock.now() + span
        with capture_logs() as logs:
            while self.clock.now() < end:
                await self.daemon.step()
                self.clock.advance(STEP)
        return logs

    def notices(self) -> list[tuple[Notice, str]]:
        with self.app.store() as session:
            rows = session.execute(
                select(Notice, Shipment.buyer_email).join(
                    Shipment, Shipment.id == Notice.shipment_id
                )
            )
            return [(row[0], row[1]) for row in rows]


@pytest.fixture
async def rig(tmp_path: Path, start_smtp: StartSmtp) -> AsyncIterator[Rig]:
    clock = SimulatedClock(START)
    server = start_smtp()
    async with SandboxService(clock=clock.now) as service:
        config = write_config(
            tmp_path / "tracker.toml",
            db=tmp_path / "tracker.sqlite3",
            carriers={"sandbox": service.base_url},
            smtp_port=server.port,
        )
        app = build_app(load_config(config), clock)
        items = journey_set(per_journey=1)
        track_in_sandbox(service, app.store, items, START)
        try:
            yield Rig(app, clock, Daemon(app), server)
        finally:
            await app.close()


async def test_a_day_long_outage_then_every_notice_is_delivered_once(rig: Rig) -> None:
    rig.smtp.stop()
    down = await rig.run_for(timedelta(days=1))
    deferred = [e for e in down if e["event"] == "notice.send_deferred"]
    assert deferred, "nothing was due during the outage; the test proves nothing"
    during = rig.notices()
    assert all(n.state in ("pending", "sending") for n, _ in during)
    # back-off, not a storm: at most a dozen tries per notice over the whole day
    assert max(n.attempts for n, _ in during) <= 10, Counter(n.attempts for n, _ in during)
    assert len(deferred) <= 10 * len(during)

    rig.smtp.start()
    await rig.run_for(timedelta(days=2))
    notices = rig.notices()
    mail = rig.smtp.recorder
    sent = {n.message_id for n, _ in notices if n.state == "sent"}
    assert {n.idempotency_key for n, _ in during} <= {
        n.idempotency_key for n, _ in notices if n.state == "sent"
    }
    assert set(mail.by_message_id) == sent
    assert mail.duplicates == 0, mail.by_message_id
    assert not [n for n, _ in notices if n.state == "failed"]


async def test_a_permanent_refusal_fails_that_notice_once_and_spares_the_others(rig: Rig) -> None:
    rig.smtp.recorder.refuse_rcpt[REFUSED] = "550 5.1.1 mailbox unavailable"
    logs = await rig.run_for(timedelta(days=3))
    notices = rig.notices()
    refused = [n for n, email in notices if email == REFUSED]
    others = [n for n, email in notices if email != REFUSED and n.state != "pending"]
    assert refused, "the refused buyer had no notice due; the test proves nothing"
    for notice in refused:
        assert notice.state == "failed"
        assert notice.attempts == 1
        assert notice.last_error is not None
        assert "550" in notice.last_error
    # one RCPT per notice: no retry storm against a permanent refusal
    assert rig.smtp.recorder.rcpt_attempts[REFUSED] == len(refused)
    failed_logs = [e for e in logs if e["event"] == "notice.failed"]
    assert len(failed_logs) == len(refused)
    assert all("550" in str(e["error"]) for e in failed_logs)
    assert others
    assert all(n.state == "sent" for n in others)
    assert rig.smtp.recorder.duplicates == 0
