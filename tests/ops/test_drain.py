"""SIGTERM lets a job run in flight finish (up to the shutdown grace) instead of cancelling it:
a dispatch cut off between the server's acceptance and its sent-mark would send twice."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from tracker.clock import SystemClock
from tracker.config import StoreConfig, TrackerConfig
from tracker.jobs.dispatch import DispatchStats
from tracker.runtime.app import build_app
from tracker.runtime.daemon import Daemon


class SlowDispatch(Daemon):
    """A daemon whose dispatch run takes a while, so a stop comes while it is in flight."""

    started = asyncio.Event()
    finished = False

    async def dispatch_job(self) -> DispatchStats:
        type(self).started.set()
        await asyncio.sleep(0.5)
        type(self).finished = True
        return DispatchStats()


@pytest.mark.integration
async def test_a_stop_waits_for_the_job_run_in_flight(tmp_path: Path) -> None:
    config = TrackerConfig(store=StoreConfig(url=f"sqlite:///{tmp_path / 'tracker.sqlite3'}"))
    app = build_app(config, SystemClock())
    SlowDispatch.started = asyncio.Event()
    SlowDispatch.finished = False
    stop = asyncio.Event()
    try:
        with capture_logs() as logs:
            running = asyncio.create_task(SlowDispatch(app).run_forever(stop))
            await asyncio.wait_for(SlowDispatch.started.wait(), timeout=10)
            stop.set()
            await asyncio.wait_for(running, timeout=10)
    finally:
        await app.close()
    events = [entry["event"] for entry in logs]
    assert SlowDispatch.finished, events
    assert "job.cancelled_at_stop" not in events
    assert events.index("daemon.stopping") < events.index("daemon.stopped")
