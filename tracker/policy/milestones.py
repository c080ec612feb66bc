"""Milestone policy: a pure function from a shipment's state, timeline, clock and thresholds to
what the buyer should be told and what the shipment's status now is.

Nothing here touches I/O, so the same decisions run in the daemon, the demo and accelerated tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tracker.config import Thresholds
from tracker.model import FINAL_STATUSES, Detail, Milestone, Status, TrackedEvent

#: a milestone reached later in the journey makes these earlier ones pointless to send
SUPERSEDES: dict[Milestone, frozenset[Milestone]] = {
    Milestone.DELIVERED: frozenset(
        {
            Milestone.SHIPPED,
            Milestone.IN_TRANSIT,
            Milestone.ARRIVED_LOCALLY,
            Milestone.DELAYED,
            Milestone.REFUND_OFFER,
        }
    ),
    Milestone.ARRIVED_LOCALLY: frozenset({Milestone.SHIPPED, Milestone.IN_TRANSIT}),
    Milestone.IN_TRANSIT: frozenset({Milestone.SHIPPED}),
}

CARRIER_HAS_IT = frozenset(
    {
        Status.IN_TRANSIT,
        Status.OUT_FOR_DELIVERY,
        Status.AVAILABLE_FOR_PICKUP,
        Status.DELIVERY_FAILED,
        Status.DELIVERED,
        Status.EXCEPTION,
        Status.RETURNED,
    }
)
IN_DESTINATION_DETAILS = frozenset(
    {
        Detail.ARRIVED_DESTINATION_COUNTRY,
        Detail.CUSTOMS_PROCESSING,
        Detail.CUSTOMS_RELEASED,
        Detail.CUSTOMS_HOLD,
        Detail.CUSTOMS_DUTIES_DUE,
        Detail.ARRIVED_DELIVERY_OFFICE,
    }
)
CUSTOMS_ACTION_DETAILS = frozenset({Detail.CUSTOMS_HOLD, Detail.CUSTOMS_DUTIES_DUE})
#: legs that usually last days: polling often there only costs carrier quota
SLOW_LEG_DETAILS = frozenset({Detail.CUSTOMS_PROCESSING, *CUSTOMS_ACTION_DETAILS})


@dataclass(frozen=True, slots=True)
class ShipmentFacts:
    """What the policy needs to know about a shipment besides its events."""

    shipped_at: datetime
    destination_country: str
    origin_country: str | None
    status: Status
    delivered_at: datetime | None
    last_event_at: datetime | None
    expected_delivery: datetime | None = None


@dataclass(frozen=True, slots=True)
class Due:
    """One notice the buyer should get; ``key`` makes it happen at most once per shipment."""

    milestone: Milestone
    key: str
    reason: str | None = None
    event_index: int | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """The policy's verdict after new events or the passing of time."""

    status: Status
    detail: Detail | None
    last_event_at: datetime | None
    delivered_at: datetime | None
    due: tuple[Due, ...] = field(default_factory=tuple)
    final: bool = False
    next_timer_at: datetime | None = None


def current_state(
    events: Sequence[TrackedEvent],
) -> tuple[Status, Detail | None, int | None]:
    """Status and detail of the latest classified event (unknown events never change state)."""
    for index in range(len(events) - 1, -1, -1):
        if events[index].status is not Status.UNKNOWN:
            return events[index].status, events[index].detail, index
    return Status.PENDING, None, None


def _event_milestones(events: Sequence[TrackedEvent], facts: ShipmentFacts) -> Iterable[Due]:
    """Milestones that the timeline itself has reached, first occurrence of each."""
    for index, event in enumerate(events):
        status, detail = event.status, event.detail
        if status in CARRIER_HAS_IT:
            yield Due(Milestone.SHIPPED, "shipped", event_index=index)
        if detail in IN_DESTINATION_DETAILS or (
            status is Status.IN_TRANSIT
            and event.raw.country is not None
            and event.raw.country == facts.destination_country
            and event.raw.country != facts.origin_country
        ):
            yield Due(Milestone.IN_TRANSIT, "in_transit", event_index=index)
        if detail in CUSTOMS_ACTION_DETAILS:
            yield Due(Milestone.CUSTOMS_ACTION, f"customs_action:{detail}", event_index=index)
        if detail is Detail.ARRIVED_DELIVERY_OFFICE or status is Status.AVAILABLE_FOR_PICKUP:
            yield Due(Milestone.ARRIVED_LOCALLY, "arrived_locally", event_index=index)
        if status is Status.DELIVERED:
            yield Due(Milestone.DELIVERED, "delivered", event_index=index)


def _timer_milestones(
    facts: ShipmentFacts, status: Status, detail: Detail | None, now: datetime, limits: Thresholds
) -> Iterable[Due]:
    """Milestones reached by the clock: delays, refund offer, satisfaction follow-up."""
    if status is Status.DELIVERED:
        if facts.delivered_at is not None and now - facts.delivered_at >= limits.satisfaction_after:
            yield Due(Milestone.SATISFACTION, "satisfaction")
        return
    if status in FINAL_STATUSES - {Status.RETURNED}:
        return
    if (
        status in (Status.EXCEPTION, Status.DELIVERY_FAILED)
        and detail not in CUSTOMS_ACTION_DETAILS
    ):
        yield Due(Milestone.DELAYED, "delayed", reason="exception")
    elif status is not Status.RETURNED:
        quiet_since = facts.last_event_at or facts.shipped_at
        if now - quiet_since >= limits.stalled_after:
            yield Due(Milestone.DELAYED, "delayed", reason="stalled")
        elif now - facts.shipped_at >= limits.late_after or (
            facts.expected_delivery is not None and now > facts.expected_delivery
        ):
            yield Due(Milestone.DELAYED, "delayed", reason="late")
    if now - facts.shipped_at >= limits.refund_offer_after or status is Status.RETURNED:
        yield Due(Milestone.REFUND_OFFER, "refund_offer")


def _drop_superseded(due: list[Due]) -> list[Due]:
    kinds = {d.milestone for d in due}
    dropped: set[Milestone] = set()
    for kind in kinds:
        dropped |= SUPERSEDES.get(kind, frozenset())
    return [d for d in due if d.milestone not in dropped]


def decide(
    facts: ShipmentFacts,
    events: Sequence[TrackedEvent],
    already: frozenset[str],
    now: datetime,
    limits: Thresholds,
    *,
    new_event_count: int | None = None,
) -> Decision:
    """Decide status and the notices due now.

    ``events`` is the whole timeline sorted by time; ``already`` holds the keys of notices
    created before; ``new_event_count`` says how many of the last events are new in this poll,
    so that a first poll that finds a long history tells the buyer only the latest news.
    """
    status, detail, latest = current_state(events)
    last_event_at = events[-1].raw.occurred_at if events else facts.last_event_at
    delivered_at = facts.delivered_at
    if status is Status.DELIVERED and delivered_at is None and latest is not None:
        delivered_at = events[latest].raw.occurred_at
    if status not in FINAL_STATUSES and last_event_at is not None:
        if now - last_event_at >= limits.expire_after:
            status, detail = Status.EXPIRED, None
    elif status not in FINAL_STATUSES and now - facts.shipped_at >= limits.expire_after:
        status, detail = Status.EXPIRED, None
    updated = ShipmentFacts(
        facts.shipped_at,
        facts.destination_country,
        facts.origin_country,
        status,
        delivered_at,
        last_event_at,
        facts.expected_delivery,
    )
    found: dict[str, Due] = {}
    for due in (
        *_event_milestones(events, updated),
        *_timer_milestones(updated, status, detail, now, limits),
    ):
        found.setdefault(due.key, due)
    fresh = [d for k, d in found.items() if k not in already]
    first_look = new_event_count is not None and new_event_count == len(events) > 1
    if first_look or any(d.milestone is Milestone.DELIVERED for d in fresh):
        fresh = _drop_superseded(fresh)
    reached = already | set(found)
    return Decision(
        status=status,
        detail=detail,
        last_event_at=last_event_at,
        delivered_at=delivered_at,
        due=tuple(fresh),
        final=status in FINAL_STATUSES,
        next_timer_at=next_timer_at(updated, reached, limits),
    )


def next_timer_at(
    facts: ShipmentFacts, reached: set[str] | frozenset[str], limits: Thresholds
) -> datetime | None:
    """The earliest moment the clock alone could change this shipment's notices or status."""
    status = facts.status
    if status is Status.DELIVERED:
        if "satisfaction" in reached or facts.delivered_at is None:
            return None
        return facts.delivered_at + limits.satisfaction_after
    if status in (Status.EXPIRED, Status.RETURNED):
        return None
    quiet_since = facts.last_event_at or facts.shipped_at
    candidates = [quiet_since + limits.expire_after]
    if "delayed" not in reached:
        candidates += [quiet_since + limits.stalled_after, facts.shipped_at + limits.late_after]
        if facts.expected_delivery is not None:
            candidates.append(facts.expected_delivery + timedelta(seconds=1))
    if "refund_offer" not in reached:
        candidates.append(facts.shipped_at + limits.refund_offer_after)
    return min(candidates)
