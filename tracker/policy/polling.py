"""When to ask the carrier again: by the parcel's state, backing off while nothing changes, and
spread so shipments added together do not stay in lockstep."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache

from tracker.model import FINAL_STATUSES, Detail, Status
from tracker.policy.milestones import SLOW_LEG_DETAILS
from tracker.policy.retry import jitter_fraction


def next_poll_delay(
    status: Status, detail: Detail | None, unchanged_polls: int
) -> timedelta | None:
    """How long to wait before polling again, by state; None once the status is final.

    Near delivery we look often; during long legs rarely; with every poll that finds nothing
    new the wait grows, capped at 8 hours near delivery and a day otherwise.
    """
    return _delay(status, detail, min(unchanged_polls, 8))


@cache  # a pure function of few distinct inputs, asked once per polled shipment
def _delay(status: Status, detail: Detail | None, steps: int) -> timedelta | None:
    if status in FINAL_STATUSES:
        return None
    if status in (Status.OUT_FOR_DELIVERY, Status.AVAILABLE_FOR_PICKUP, Status.DELIVERY_FAILED):
        base = timedelta(hours=2)
    elif detail in (Detail.ARRIVED_DELIVERY_OFFICE, Detail.CUSTOMS_RELEASED):
        base = timedelta(hours=3)
    elif status in (Status.PENDING, Status.INFO_RECEIVED) or detail in SLOW_LEG_DETAILS:
        base = timedelta(hours=8)
    else:
        base = timedelta(hours=6)
    # Near delivery the news comes within hours: backing off never waits past 8 hours there.
    cap = timedelta(hours=8) if base <= timedelta(hours=3) else timedelta(hours=24)
    grown = base * (1.5**steps)
    return min(grown, cap)


def poll_spread(delay: timedelta, shipment_id: int, unchanged_polls: int) -> timedelta:
    """+-10% stable jitter so shipments added together do not stay in lockstep."""
    fraction = jitter_fraction(f"{shipment_id}:{unchanged_polls}")
    return delay * (0.9 + 0.2 * fraction)


def next_poll_at(
    shipment_id: int, status: Status, detail: Detail | None, unchanged_polls: int, now: datetime
) -> datetime | None:
    """When to poll next (None: never again)."""
    delay = next_poll_delay(status, detail, unchanged_polls)
    return None if delay is None else now + poll_spread(delay, shipment_id, unchanged_polls)
