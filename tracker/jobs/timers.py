"""The timer job: shipments whose clock-driven decision is due (stalled, late, refund offer,
satisfaction follow-up, expiry) are re-decided with no new events, through the same policy."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from tracker.eventlog import shipment_logger
from tracker.jobs.record import apply_decision
from tracker.runtime.app import TrackerApp
from tracker.store.models import Shipment
from tracker.store.shipments import ClaimedShipment, claim_due_for_timers, with_leased


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

    def evaluate(item: ClaimedShipment) -> int:
        queued = 0

        def work(session: Session, shipment: Shipment) -> None:
            nonlocal queued
            queued = apply_decision(app, session, shipment, (), None, now).notices

        if with_leased(app.store, item.id, app.owner, work) and queued:
            shipment_logger(item).info("timer.fired", notices=queued)
        return queued

    def evaluate_all() -> None:
        for item in claimed:
            stats.notices += evaluate(item)

    await app.in_store(evaluate_all)
    return stats
