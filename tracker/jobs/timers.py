"""The timer job: shipments whose clock-driven decision is due (stalled, late, refund offer,
satisfaction follow-up, expiry) are re-decided with no new events, through the same policy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tracker.eventlog import shipment_logger
from tracker.jobs.record import assessor, follow_changes, record_isolated
from tracker.runtime.app import TrackerApp
from tracker.store.record import Observation, Recorded, record_observations
from tracker.store.shipments import claim_due_for_timers


@dataclass
class TimerStats:
    """Counts from one timer run."""

    evaluated: int = 0
    notices: int = 0


async def run_timers(app: TrackerApp) -> TimerStats:
    """One run of the timer job over at most one batch of due shipments."""
    now = app.clock.now()
    claimed = await app.in_store(
        claim_due_for_timers,
        app.store,
        now,
        app.owner,
        app.config.daemon.lease,
        app.config.daemon.batch_size,
    )
    stats = TimerStats(evaluated=len(claimed))
    if not claimed:
        return stats
    assess = assessor(app, now, polled=False)
    follow = follow_changes(app)

    def record(group: Sequence[Observation]) -> dict[int, Recorded]:
        return record_observations(app.store, app.owner, now, group, assess, app.lanes, follow)

    observations = [Observation(item.id, ()) for item in claimed]
    recorded = await app.in_store(record_isolated, record, observations, "timer")
    for item in claimed:
        done = recorded.get(item.id)
        if done is not None and done.notices:
            stats.notices += done.notices
            shipment_logger(item).info("timer.fired", notices=done.notices)
    return stats
