"""Applying a policy decision to a stored shipment, inside the caller's transaction.

Used by both the poll job (new events) and the timer job (time passing), so a shipment's state,
its new events, its queued notices and its audit rows always change together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from tracker.config import Thresholds
from tracker.model import Detail, Milestone, Status, TrackedEvent, TrackingResult
from tracker.policy.milestones import Decision, Due, ShipmentFacts, decide, next_poll_delay
from tracker.policy.sendtime import schedule_notice
from tracker.runtime.resilience import jitter_fraction
from tracker.store.history import PendingWrites, ShipmentHistory, load_histories
from tracker.store.lanes import LaneEstimate
from tracker.store.models import Shipment
from tracker.store.shipments import ClaimedShipment, NoticeDraft, unseen

if TYPE_CHECKING:
    from tracker.runtime.app import TrackerApp


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one application changed; ``fresh`` are the events it added, in reply order."""

    fresh: list[TrackedEvent]
    notices: int
    status_changed: bool

    @property
    def new_events(self) -> int:
        """How many events were added."""
        return len(self.fresh)


def facts_of(shipment: Shipment, lane: LaneEstimate | None = None) -> ShipmentFacts:
    """The policy's view of a stored shipment; a learned lane stands in for a missing carrier
    estimate, so "late" means later than most parcels on the same route."""
    expected = shipment.expected_delivery
    if expected is None and lane is not None:
        expected = shipment.shipped_at + lane.p90
    return ShipmentFacts(
        shipped_at=shipment.shipped_at,
        destination_country=shipment.destination_country,
        origin_country=shipment.origin_country,
        status=Status(shipment.status),
        delivered_at=shipment.delivered_at,
        last_event_at=shipment.last_event_at,
        expected_delivery=expected,
    )


def apply_decision(
    app: TrackerApp,
    session: Session,
    shipment: Shipment,
    tracked: Sequence[TrackedEvent],
    result: TrackingResult | None,
    now: datetime,
    history: ShipmentHistory | None = None,
    writes: PendingWrites | None = None,
) -> Outcome:
    """Merge new events, re-decide the shipment and queue the notices that became due.

    Callers recording many shipments pass their preloaded ``history`` and a shared ``writes``
    (flushed once for all); without them this loads and writes for this one shipment.
    """
    own_writes = writes is None
    if history is None:
        history = load_histories(session, [shipment.id])[shipment.id]
    pending = writes if writes is not None else PendingWrites()
    fresh = pending.add_events(shipment, history, tracked, now)
    added = len(fresh)
    events = history.events
    limits = app.config.thresholds.for_shipment(shipment.carrier, shipment.destination_country)
    if result is not None and result.expected_delivery is not None:
        shipment.expected_delivery = result.expected_delivery
    lane = app.lanes.get(
        session, shipment.carrier, shipment.origin_country, shipment.destination_country, now
    )
    first_news = added == len(events) and added > 0
    decision = decide(
        facts_of(shipment, lane),
        events,
        frozenset(history.notice_keys),
        now,
        limits,
        new_event_count=added if first_news else None,
    )
    changed = _update_shipment(shipment, decision, now, polled=result is not None, added=added)
    if changed:
        pending.add_audit(
            shipment,
            now,
            "shipment.status_changed",
            status=decision.status.value,
            detail=decision.detail.value if decision.detail else None,
        )
    drafts = _drafts(app, shipment, decision, events, now, limits, lane, history)
    pending.add_notices(shipment, history, drafts, now)
    if own_writes:
        pending.flush(session)
    return Outcome(fresh=fresh, notices=len(drafts), status_changed=changed)


def _update_shipment(
    shipment: Shipment, decision: Decision, now: datetime, *, polled: bool, added: int
) -> bool:
    changed = (shipment.status, shipment.detail) != (
        decision.status.value,
        decision.detail.value if decision.detail else None,
    )
    shipment.status = decision.status.value
    shipment.detail = decision.detail.value if decision.detail else None
    shipment.last_event_at = decision.last_event_at
    shipment.delivered_at = decision.delivered_at
    shipment.next_timer_at = decision.next_timer_at
    if polled:
        _schedule_next_poll(shipment, decision.status, decision.detail, now, changed=added > 0)
    elif decision.final:
        shipment.next_poll_at = None
    return changed


def brings_news(
    item: ClaimedShipment, result: TrackingResult, tracked: Sequence[TrackedEvent], known: set[str]
) -> bool:
    """Whether a poll result needs a decision: a first poll, a new estimate or a new event.

    Most polls bring nothing; those are only rescheduled (``quiet_poll_row``), in bulk.
    """
    estimate_changed = (
        result.expected_delivery is not None and result.expected_delivery != item.expected_delivery
    )
    return item.last_polled_at is None or estimate_changed or bool(unseen(tracked, known))


def quiet_poll_row(item: ClaimedShipment, now: datetime) -> dict[str, Any]:
    """The reschedule of a poll that brought nothing new, for ``reschedule_quiet``."""
    unchanged = item.unchanged_polls + 1
    detail = Detail(item.detail) if item.detail else None
    next_poll = _next_poll_at(item.id, Status(item.status), detail, unchanged, now)
    return {"sid": item.id, "unchanged": unchanged, "next_poll": next_poll}


def _schedule_next_poll(
    shipment: Shipment, status: Status, detail: Detail | None, now: datetime, *, changed: bool
) -> None:
    shipment.last_polled_at = now
    shipment.poll_failures = 0
    shipment.unchanged_polls = 0 if changed else shipment.unchanged_polls + 1
    shipment.next_poll_at = _next_poll_at(
        shipment.id, status, detail, shipment.unchanged_polls, now
    )


def _next_poll_at(
    shipment_id: int, status: Status, detail: Detail | None, unchanged_polls: int, now: datetime
) -> datetime | None:
    """When to poll next (None: never again), spread so batches do not stay in lockstep."""
    delay = next_poll_delay(status, detail, unchanged_polls)
    return None if delay is None else now + poll_spread(delay, shipment_id, unchanged_polls)


def poll_spread(delay: timedelta, shipment_id: int, unchanged_polls: int) -> timedelta:
    """+-10% stable jitter so shipments added together do not stay in lockstep."""
    fraction = jitter_fraction(f"{shipment_id}:{unchanged_polls}")
    return delay * (0.9 + 0.2 * fraction)


def _drafts(
    app: TrackerApp,
    shipment: Shipment,
    decision: Decision,
    events: Sequence[TrackedEvent],
    now: datetime,
    limits: Thresholds,
    lane: LaneEstimate | None,
    history: ShipmentHistory,
) -> list[NoticeDraft]:
    disabled = set(app.config.notices.disabled)
    if shipment.opted_out:
        return []
    previous = history.last_notice_at
    drafts = []
    for due in decision.due:
        if due.milestone in disabled:
            continue
        not_before = schedule_notice(
            now,
            previous,
            limits.min_notice_gap,
            shipment.destination_country,
            app.config.quiet_hours,
            urgent=due.milestone is Milestone.CUSTOMS_ACTION,
        )
        previous = history.last_notice_at = not_before
        drafts.append(
            NoticeDraft(
                kind=due.milestone.value,
                key=due.key,
                not_before=not_before,
                payload=_payload(app, shipment, due, events, now, limits, lane),
            )
        )
    return drafts


def _payload(
    app: TrackerApp,
    shipment: Shipment,
    due: Due,
    events: Sequence[TrackedEvent],
    now: datetime,
    limits: Thresholds,
    lane: LaneEstimate | None,
) -> dict[str, Any]:
    """A snapshot of what the notice says, taken when it became due."""
    index = due.event_index if due.event_index is not None else len(events) - 1
    event = events[index] if events and index >= 0 else None
    expected_from, expected_by = expected_window(shipment, limits, now, due, lane)
    payload: dict[str, Any] = {
        "reason": due.reason,
        "expected_from": expected_from.isoformat() if expected_from else None,
        "expected_by": expected_by.isoformat() if expected_by else None,
        "choices": list(app.config.refund.choices)
        if due.milestone in (Milestone.DELAYED, Milestone.REFUND_OFFER)
        else [],
        "event": None,
    }
    if event is not None:
        payload["event"] = {
            "occurred_at": event.raw.occurred_at.isoformat(),
            "text": event.raw.text,
            "place": event.raw.location,
            "country": event.raw.country,
            "status": event.status.value,
            "detail": event.detail.value if event.detail else None,
        }
    return payload


def expected_window(
    shipment: Shipment, limits: Thresholds, now: datetime, due: Due, lane: LaneEstimate | None
) -> tuple[datetime | None, datetime | None]:
    """When the buyer may expect the parcel: the carrier's estimate, else the lane's learned
    median-to-90th-percentile window, else the configured default; once that has passed
    (delays), a fresh window from today."""
    if due.milestone in (Milestone.DELIVERED, Milestone.SATISFACTION):
        return None, None
    if shipment.expected_delivery is not None:
        expected_by = shipment.expected_delivery
        expected_from = expected_by - min(limits.expected_transit / 4, timedelta(days=7))
    elif lane is not None:
        expected_from, expected_by = (
            shipment.shipped_at + lane.median,
            shipment.shipped_at + lane.p90,
        )
    else:
        expected_by = shipment.shipped_at + limits.expected_transit
        expected_from = expected_by - min(limits.expected_transit / 4, timedelta(days=7))
    if expected_by <= now:
        expected_from, expected_by = now + limits.stalled_after / 2, now + limits.stalled_after
    return max(now, expected_from), expected_by
