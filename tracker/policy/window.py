"""The delivery window a notice may promise: the carrier's estimate first, else the lane's
learned window, else the configured transit time; once that has passed, a fresh window."""

from __future__ import annotations

from datetime import datetime, timedelta

from tracker.config import Thresholds
from tracker.model import UNATTRIBUTED_ESTIMATES, Milestone
from tracker.policy.lanes import LaneEstimate

#: notices about a parcel that has arrived promise no window
NO_WINDOW = frozenset({Milestone.DELIVERED, Milestone.SATISFACTION})


def expected_window(
    milestone: Milestone,
    shipped_at: datetime,
    carrier_estimate: datetime | None,
    lane: LaneEstimate | None,
    limits: Thresholds,
    now: datetime,
) -> tuple[datetime | None, datetime | None]:
    """When the buyer may expect the parcel, as (from, by); (None, None) when no date applies.

    The carrier's estimate wins; a learned lane's median-to-90th-percentile window comes next;
    the configured ``expected_transit`` is the fallback. Once the end has passed (a delay), the
    window restarts from today, half to all of ``stalled_after`` ahead.
    """
    if milestone in NO_WINDOW:
        return None, None
    if carrier_estimate is not None:
        expected_by = carrier_estimate
        expected_from = expected_by - _lead(limits)
    elif lane is not None:
        expected_from, expected_by = shipped_at + lane.median, shipped_at + lane.p90
    else:
        expected_by = shipped_at + limits.expected_transit
        expected_from = expected_by - _lead(limits)
    if expected_by <= now:
        expected_from, expected_by = now + limits.stalled_after / 2, now + limits.stalled_after
    return max(now, expected_from), expected_by


def carriers_date(
    expected_by: datetime | None, carrier_estimate: datetime | None, source: str | None
) -> bool:
    """Whether a promised ``expected_by`` is the carrier's own word, to be told as theirs: it is
    exactly the carrier's estimate (not a fresh window after it passed) and ``source`` names a
    carrier (not an aggregator's prediction or an unnamed courier, told as our expectation)."""
    named = bool(source) and source not in UNATTRIBUTED_ESTIMATES
    return named and expected_by is not None and expected_by == carrier_estimate


def late_after(
    shipped_at: datetime, carrier_estimate: datetime | None, lane: LaneEstimate | None
) -> datetime | None:
    """The moment after which the parcel counts as late by its own window: the carrier's
    estimate, else the lane's 90th percentile; None when only the configured default applies
    (``late_after`` then decides)."""
    if carrier_estimate is not None:
        return carrier_estimate
    if lane is not None:
        return shipped_at + lane.p90
    return None


_MAX_LEAD = timedelta(days=7)


def _lead(limits: Thresholds) -> timedelta:
    return min(limits.expected_transit / 4, _MAX_LEAD)
