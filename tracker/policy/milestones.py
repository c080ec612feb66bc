"""Milestone policy: a pure function from a shipment's state, timeline, clock and thresholds to
what the buyer should be told and what the shipment's status now is.

The rules that keep a notice true to the parcel's situation live here (docs/journeys.md):
- a journey only moves forward: once a later milestone was reached, an earlier one is never sent,
  and once delivered, repeated or late scans change nothing (a return after delivery excepted);
- a parcel the carrier never received is never said to travel; the seller is told instead;
- no delay before the end of the promised window plus a grace;
- a returned, returning or lost parcel gets a refund offer at once, never "keep waiting";
- a parcel waiting at a post office gets a pickup reminder, and a second one before the hold
  ends; no refund offer or delay while it waits there, is out for delivery or was delivered.

Nothing here touches I/O, so the same decisions run in the daemon, the demo and accelerated tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache

from tracker.config import Thresholds
from tracker.model import FINAL_STATUSES, Detail, Milestone, Status, TrackedEvent
from tracker.policy.pickup import pickup_until
from tracker.quickinit import quick_init

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
#: how far along the journey a milestone is; a journey never goes back to a lower rank
JOURNEY_RANK: dict[Milestone, int] = {
    Milestone.SHIPPED: 1,
    Milestone.IN_TRANSIT: 2,
    Milestone.ARRIVED_LOCALLY: 3,
    Milestone.DELIVERED: 4,
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
#: the parcel is near the buyer or with them: no refund offer, no delay email
NEAR_OR_DONE = frozenset(
    {
        Status.OUT_FOR_DELIVERY,
        Status.AVAILABLE_FOR_PICKUP,
        Status.DELIVERY_FAILED,
        Status.DELIVERED,
    }
)
#: what may still change a delivered parcel's state (a return or damage after delivery)
AFTER_DELIVERY = frozenset({Detail.RETURNING, Detail.DAMAGED, Detail.REFUSED})

#: situations in which waiting is no answer: the refund offer goes out at once, without it
RETURNED = "returned"
RETURNING = "returning"
LOST = "lost"
NOT_HANDED_OVER = "not_handed_over"
NO_WAITING = frozenset({RETURNED, RETURNING, LOST, NOT_HANDED_OVER})
#: situations of an arrived_locally notice
ATTEMPTED = "delivery_failed"
PICKUP = "pickup"
PICKUP_REMINDER = "pickup_reminder"

#: the seller alert for a label the carrier never received
SELLER_NOT_HANDED_OVER = "not_handed_over"
#: the tracking ended without delivery (the aggregator gave up, or no news for expire_after):
#: polling stops and the buyer gets no travel claim, so the seller must hear of it
SELLER_EXPIRED = "expired"


@quick_init
@dataclass(frozen=True, slots=True)
class ShipmentFacts:
    """What the policy needs to know about a shipment besides its events.

    ``expected_delivery`` is the carrier's estimate (or a lane's 90th percentile);
    ``promised_by`` the latest end of a window the buyer was already told.
    """

    shipped_at: datetime
    destination_country: str
    origin_country: str | None
    status: Status
    delivered_at: datetime | None
    last_event_at: datetime | None
    expected_delivery: datetime | None = None
    promised_by: datetime | None = None


@quick_init
@dataclass(frozen=True, slots=True)
class Due:
    """One notice the buyer should get; ``key`` makes it happen at most once per shipment.

    ``situation`` says which variant of the kind applies (``returned``, ``pickup``, ...);
    ``until`` is the end of the pickup hold for pickup notices.
    """

    milestone: Milestone
    key: str
    reason: str | None = None
    event_index: int | None = None
    situation: str | None = None
    until: datetime | None = None


@quick_init
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
    #: alerts for the seller (e.g. ``not_handed_over``), each at most once per shipment
    seller_alerts: tuple[str, ...] = ()


@quick_init
@dataclass(frozen=True, slots=True)
class _Journey:
    """What the timeline says beyond its latest status."""

    status: Status
    detail: Detail | None
    latest: int | None
    handed_over: bool
    delivered_index: int | None
    pickup_since: datetime | None
    pickup_index: int | None


def current_state(
    events: Sequence[TrackedEvent],
) -> tuple[Status, Detail | None, int | None]:
    """Status and detail of the latest classified event (unknown events never change state),
    except that a delivered parcel stays delivered unless it is returned or damaged after."""
    journey = _read(events)
    return journey.status, journey.detail, journey.latest


def _read(events: Sequence[TrackedEvent]) -> _Journey:
    status, detail, latest = Status.PENDING, None, None
    handed_over = False
    delivered_index: int | None = None
    pickup_since: datetime | None = None
    pickup_index: int | None = None
    for index, event in enumerate(events):
        # The classification read once: the event's status/detail properties cost a call each.
        classification = event.classification
        event_status = classification.status
        if event_status is Status.UNKNOWN:
            continue
        handed_over = handed_over or event_status in CARRIER_HAS_IT
        if delivered_index is not None and not _changes_a_delivery(
            event_status, classification.detail
        ):
            continue  # a repeated or late scan after delivery
        if event_status is Status.DELIVERED:
            delivered_index = index
        newly_waiting = status is not Status.AVAILABLE_FOR_PICKUP
        if event_status is Status.AVAILABLE_FOR_PICKUP and newly_waiting:
            pickup_since, pickup_index = event.raw.occurred_at, index
        status, detail, latest = event_status, classification.detail, index
    return _Journey(
        status, detail, latest, handed_over, delivered_index, pickup_since, pickup_index
    )


def _changes_a_delivery(status: Status, detail: Detail | None) -> bool:
    return status is Status.RETURNED or (status is Status.EXCEPTION and detail in AFTER_DELIVERY)


def _event_milestones(
    events: Sequence[TrackedEvent], facts: ShipmentFacts, journey: _Journey, limits: Thresholds
) -> dict[str, Due]:
    """Milestones that the timeline itself has reached, first occurrence of each, by key in the
    order first reached (a later event reaching a key again changes nothing, so its ``Due`` is
    never built: most events of a long timeline only repeat "shipped")."""
    found: dict[str, Due] = {}
    domestic = facts.origin_country == facts.destination_country
    destination, origin = facts.destination_country, facts.origin_country
    for index, event in enumerate(events):
        if journey.delivered_index is not None and index > journey.delivered_index:
            break  # after delivery only delivered-family notices (see _situation_milestones)
        classification = event.classification
        status, detail = classification.status, classification.detail
        if status in CARRIER_HAS_IT and "shipped" not in found:
            found["shipped"] = Due(Milestone.SHIPPED, "shipped", event_index=index)
        if domestic or "in_transit" in found:
            pass  # "on its way to your country" means nothing inside one country
        elif detail in IN_DESTINATION_DETAILS or (
            status is Status.IN_TRANSIT
            and event.raw.country is not None
            and event.raw.country == destination
            and event.raw.country != origin
        ):
            found["in_transit"] = Due(Milestone.IN_TRANSIT, "in_transit", event_index=index)
        if detail in CUSTOMS_ACTION_DETAILS:
            key = f"customs_action:{detail}"
            if key not in found:
                found[key] = Due(Milestone.CUSTOMS_ACTION, key, event_index=index)
        if (
            status is Status.IN_TRANSIT
            and detail is Detail.ARRIVED_DELIVERY_OFFICE
            and "arrived_locally" not in found
        ):
            found["arrived_locally"] = Due(
                Milestone.ARRIVED_LOCALLY, "arrived_locally", event_index=index
            )
        if status is Status.DELIVERY_FAILED and "arrived_locally:attempt" not in found:
            found["arrived_locally:attempt"] = Due(
                Milestone.ARRIVED_LOCALLY,
                "arrived_locally:attempt",
                event_index=index,
                situation=ATTEMPTED,
            )
        if status is Status.AVAILABLE_FOR_PICKUP and "arrived_locally:pickup" not in found:
            until = pickup_until(event.raw.occurred_at, facts.destination_country, limits)
            found["arrived_locally:pickup"] = Due(
                Milestone.ARRIVED_LOCALLY,
                "arrived_locally:pickup",
                event_index=index,
                situation=PICKUP,
                until=until,
            )
        if status is Status.DELIVERED and "delivered" not in found:
            found["delivered"] = Due(Milestone.DELIVERED, "delivered", event_index=index)
    return found


def window_end(facts: ShipmentFacts, limits: Thresholds) -> datetime:
    """The end of the window the buyer may hold us to: the latest one already promised, else the
    carrier's estimate (or the lane's), else the configured transit time; never later than
    ``late_after`` unless a later one was promised."""
    own = facts.expected_delivery or facts.shipped_at + limits.expected_transit
    own = min(own, facts.shipped_at + limits.late_after)
    return max(own, facts.promised_by) if facts.promised_by else own


def _timer_milestones(
    facts: ShipmentFacts, journey: _Journey, now: datetime, limits: Thresholds
) -> Iterable[Due]:
    """Milestones reached by the clock or by the parcel's situation: delays, refund offers,
    pickup reminders, the satisfaction follow-up."""
    status, detail = journey.status, journey.detail
    if status is Status.DELIVERED:
        if facts.delivered_at is not None and now - facts.delivered_at >= limits.satisfaction_after:
            yield Due(Milestone.SATISFACTION, "satisfaction")
        return
    situation = _no_waiting_situation(journey)
    if situation is not None:
        yield Due(Milestone.REFUND_OFFER, "refund_offer", situation=situation)
        return
    if status in FINAL_STATUSES:
        return
    if status is Status.AVAILABLE_FOR_PICKUP and journey.pickup_since is not None:
        until = pickup_until(journey.pickup_since, facts.destination_country, limits)
        if now >= until - limits.pickup_reminder_before and now < until:
            yield Due(
                Milestone.ARRIVED_LOCALLY,
                "arrived_locally:pickup_reminder",
                event_index=journey.pickup_index,
                situation=PICKUP_REMINDER,
                until=until,
            )
    if status in NEAR_OR_DONE:
        return
    if not journey.handed_over:
        if now - facts.shipped_at >= limits.refund_offer_after:
            yield Due(Milestone.REFUND_OFFER, "refund_offer", situation=NOT_HANDED_OVER)
        return
    if status is Status.EXCEPTION and detail not in CUSTOMS_ACTION_DETAILS:
        yield Due(Milestone.DELAYED, "delayed", reason="exception")
    elif now >= window_end(facts, limits) + limits.delay_grace:
        yield Due(Milestone.DELAYED, "delayed", reason=_delay_reason(facts, journey, now, limits))
    if now - facts.shipped_at >= limits.refund_offer_after:
        yield Due(Milestone.REFUND_OFFER, "refund_offer")


def _delay_reason(
    facts: ShipmentFacts, journey: _Journey, now: datetime, limits: Thresholds
) -> str:
    """Why a late parcel is late, as far as its scans tell: still in customs (where no scans
    come until the check ends), no news for ``stalled_after`` (travelling between countries),
    or simply past its window."""
    if journey.detail is Detail.CUSTOMS_PROCESSING:
        return "customs"
    quiet_since = facts.last_event_at or facts.shipped_at
    return "stalled" if now - quiet_since >= limits.stalled_after else "late"


def _no_waiting_situation(journey: _Journey) -> str | None:
    if journey.status is Status.RETURNED:
        return RETURNED
    if journey.status is Status.EXCEPTION and journey.detail is Detail.RETURNING:
        return RETURNING
    if journey.status is Status.EXCEPTION and journey.detail is Detail.LOST:
        return LOST
    return None


def _drop_superseded(due: list[Due]) -> list[Due]:
    dropped = _superseded_by(frozenset(d.milestone for d in due))
    return [d for d in due if d.milestone not in dropped] if dropped else due


@cache  # a pure function of a few sets of kinds, asked on most first polls
def _superseded_by(kinds: frozenset[Milestone]) -> frozenset[Milestone]:
    dropped: set[Milestone] = set()
    for kind in kinds:
        dropped |= SUPERSEDES.get(kind, frozenset())
    return frozenset(dropped)


def _rank_of_key(key: str) -> int:
    try:
        return JOURNEY_RANK.get(Milestone(key.split(":", 1)[0]), 0)
    except ValueError:
        return 0


def _never_backwards(fresh: list[Due], already: frozenset[str]) -> list[Due]:
    """Drop milestones earlier in the journey than one the buyer was already told about."""
    if not already:
        return fresh  # told nothing yet: nothing is behind
    reached = max((_rank_of_key(k) for k in already), default=0)
    return [d for d in fresh if JOURNEY_RANK.get(d.milestone, reached) >= reached]


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
    journey = _read(events)
    status, detail = journey.status, journey.detail
    last_event_at = events[-1].raw.occurred_at if events else facts.last_event_at
    delivered_at = facts.delivered_at
    if status is Status.DELIVERED and journey.delivered_index is not None:
        delivered_at = delivered_at or events[journey.delivered_index].raw.occurred_at
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
        facts.promised_by,
    )
    situation = journey
    if status is not journey.status or detail is not journey.detail:  # expired
        situation = _Journey(
            status,
            detail,
            journey.latest,
            journey.handed_over,
            journey.delivered_index,
            journey.pickup_since,
            journey.pickup_index,
        )
    found = _event_milestones(events, updated, situation, limits)
    for due in _timer_milestones(updated, situation, now, limits):
        found.setdefault(due.key, due)
    fresh = _never_backwards([d for k, d in found.items() if k not in already], already)
    first_look = new_event_count is not None and new_event_count == len(events) > 1
    if first_look or any(d.milestone is Milestone.DELIVERED for d in fresh):
        fresh = _drop_superseded(fresh)
    elif any(d.milestone is Milestone.ARRIVED_LOCALLY for d in fresh):
        # Learned together: "on its way to your country" is stale news beside "it is here".
        fresh = [d for d in fresh if d.milestone is not Milestone.IN_TRANSIT]
    if status is Status.EXPIRED:
        # The tracking ended without a delivery (the aggregator gave up, or no news for too
        # long): telling the buyer now that the parcel travels, from scans learned with the end,
        # is a claim nobody will follow up. The seller is told instead (_seller_alerts).
        fresh = []
    # Whatever was passed over counts as reached, so it cannot be sent later out of order.
    reached = already | set(found)
    alerts = _seller_alerts(updated, situation, already, now, limits)
    return Decision(
        status=status,
        detail=detail,
        last_event_at=last_event_at,
        delivered_at=delivered_at,
        due=tuple(fresh),
        final=status in FINAL_STATUSES,
        next_timer_at=next_timer_at(updated, reached, limits, situation, now),
        seller_alerts=alerts,
    )


def _seller_alerts(
    facts: ShipmentFacts,
    journey: _Journey,
    already: frozenset[str],
    now: datetime,
    limits: Thresholds,
) -> tuple[str, ...]:
    if facts.status is Status.EXPIRED:
        return () if f"seller:{SELLER_EXPIRED}" in already else (SELLER_EXPIRED,)
    key = f"seller:{SELLER_NOT_HANDED_OVER}"
    late_label = now - facts.shipped_at >= limits.not_handed_over_after
    if not journey.handed_over and facts.status not in FINAL_STATUSES and late_label:
        return () if key in already else (SELLER_NOT_HANDED_OVER,)
    return ()


def next_timer_at(
    facts: ShipmentFacts,
    reached: set[str] | frozenset[str],
    limits: Thresholds,
    journey: _Journey | None = None,
    now: datetime | None = None,
) -> datetime | None:
    """The earliest moment after ``now`` at which the clock alone could change this shipment's
    notices or status (what was due at ``now`` has been decided already)."""
    status = facts.status
    if status is Status.DELIVERED:
        if "satisfaction" in reached or facts.delivered_at is None:
            return None
        return facts.delivered_at + limits.satisfaction_after
    if status in (Status.EXPIRED, Status.RETURNED):
        return None
    quiet_since = facts.last_event_at or facts.shipped_at
    candidates = [quiet_since + limits.expire_after]
    handed_over = journey is None or journey.handed_over
    if not handed_over and f"seller:{SELLER_NOT_HANDED_OVER}" not in reached:
        candidates.append(facts.shipped_at + limits.not_handed_over_after)
    waiting_nearby = status in NEAR_OR_DONE
    if "delayed" not in reached and handed_over and not waiting_nearby:
        candidates.append(window_end(facts, limits) + limits.delay_grace)
    if "refund_offer" not in reached and not waiting_nearby:
        candidates.append(facts.shipped_at + limits.refund_offer_after)
    pickup_key = "arrived_locally:pickup_reminder"
    since = journey.pickup_since if journey is not None else None
    if status is Status.AVAILABLE_FOR_PICKUP and since is not None and pickup_key not in reached:
        until = pickup_until(since, facts.destination_country, limits)
        candidates.append(until - limits.pickup_reminder_before)
    ahead = [c for c in candidates if now is None or c > now]
    return min(ahead) if ahead else None
