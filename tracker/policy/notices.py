"""What a due notice says: the evidence it quotes, the window it promises and the choices it
offers, fixed in a ``NoticePayload`` when the notice becomes due."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from notices.payload import EventSummary, NoticePayload
from tracker.config import Thresholds
from tracker.model import Milestone, TrackedEvent
from tracker.policy.lanes import LaneEstimate
from tracker.policy.milestones import NO_WAITING, PICKUP, PICKUP_REMINDER, Due
from tracker.policy.window import carriers_date, expected_window

#: notices that offer the buyer a choice
WITH_CHOICES = frozenset({Milestone.DELAYED, Milestone.REFUND_OFFER})
#: situations in which no delivery window may be promised
NO_WINDOW = NO_WAITING | {PICKUP, PICKUP_REMINDER}


def payload_for(
    due: Due,
    events: Sequence[TrackedEvent],
    shipped_at: datetime,
    carrier_estimate: datetime | None,
    lane: LaneEstimate | None,
    limits: Thresholds,
    choices: tuple[str, ...],
    now: datetime,
    *,
    estimate_source: str | None = None,
) -> NoticePayload:
    """The payload of ``due``: the event that triggered it (else the latest), the window (none
    where no date may be promised) and, for delays and refund offers, the choices that are true
    to the situation. When the date is the carrier's (``estimate_source`` names it), the notice
    gives that one date as theirs: no window of ours around it."""
    index = due.event_index if due.event_index is not None else len(events) - 1
    event = events[index] if events and index >= 0 else None
    expected_from: datetime | None = None
    expected_by: datetime | None = None
    if due.situation not in NO_WINDOW:
        expected_from, expected_by = expected_window(
            due.milestone, shipped_at, carrier_estimate, lane, limits, now
        )
    by_carrier = carriers_date(expected_by, carrier_estimate, estimate_source)
    if by_carrier:
        expected_from = None
    return NoticePayload(
        reason=due.reason,
        event=summary_of(event) if event is not None else None,
        expected_from=expected_from,
        expected_by=expected_by,
        choices=choices_for(due, choices) if due.milestone in WITH_CHOICES else (),
        situation=due.situation,
        until=due.until,
        as_of=now,
        carrier_estimate=by_carrier,
    )


def choices_for(due: Due, configured: tuple[str, ...]) -> tuple[str, ...]:
    """The seller's choices in their order; where waiting is no answer (returned, lost, never
    handed over) it is left out and a resend and a refund are both offered."""
    if due.situation not in NO_WAITING:
        return configured
    kept = [c for c in configured if c != "keep_waiting"]
    return tuple(dict.fromkeys([*kept, "resend", "refund"]))


def summary_of(event: TrackedEvent) -> EventSummary:
    """The evidence line's facts for one classified event."""
    return EventSummary(
        occurred_at=event.raw.occurred_at,
        text=event.raw.text,
        place=event.raw.location,
        country=event.raw.country,
        status=event.status,
        detail=event.detail,
    )
