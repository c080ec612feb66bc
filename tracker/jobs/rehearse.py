"""Rehearse a sandbox journey through the policy alone: what each notice of the journey would
say, without a carrier, a store or a mail server.

``tracker preview KIND --journey NAME`` uses this to render any journey's notice. It replays the
journey's scans in simulated time (the same classification and the same ``assess`` the daemon
runs), hour by hour, remembering which notices were planned, and returns the first notice of
the kind asked for with the parcel it is about.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from carriers.sandbox.journeys import Journey
from notices.context import Parcel
from notices.payload import NoticePayload
from tracker.config import TrackerConfig
from tracker.errors import InputError
from tracker.model import Milestone, RawEvent, Status, TrackedEvent
from tracker.normalize import Normalizer
from tracker.policy.assess import PolicySettings, ShipmentState, Timeline, assess

#: how far a rehearsal looks for the notice
HORIZON = timedelta(days=120)
STEP = timedelta(hours=1)


def rehearse(
    config: TrackerConfig,
    normalizer: Normalizer,
    journey: Journey,
    kind: Milestone,
    start: datetime,
    *,
    situation: str | None = None,
) -> tuple[NoticePayload, Parcel]:
    """The first ``kind`` notice (of ``situation``, when given) that ``journey`` produces."""
    settings = PolicySettings.from_config(config)
    events = [
        (start + step.shown_after, _tracked(normalizer, journey, step_index, start))
        for step_index, step in enumerate(journey.steps)
    ]
    state = _state(journey, start)
    keys: set[str] = set()
    last_notice: datetime | None = None
    seen = 0
    now = start
    while now <= start + HORIZON:
        shown = sorted(
            (event for at, event in events if at <= now), key=lambda e: e.raw.occurred_at
        )
        timeline = Timeline(shown, len(shown) - seen, frozenset(keys), last_notice)
        result = assess(state, timeline, settings, now, polled=len(shown) > seen)
        seen = len(shown)
        decision = result.decision
        state = replace(
            state,
            status=decision.status,
            detail=decision.detail.value if decision.detail else None,
            delivered_at=decision.delivered_at,
            last_event_at=decision.last_event_at,
        )
        for planned in result.notices:
            keys.add(planned.key)
            last_notice = planned.not_before
            if planned.kind is kind and situation in (None, planned.payload.situation):
                return planned.payload, _parcel(journey, start)
        keys.update(f"seller:{alert}" for alert in result.seller_alerts)
        now += STEP
    wanted = f"{kind.value}" + (f" ({situation})" if situation else "")
    raise InputError(f"journey {journey.name!r} sends no {wanted} notice")


def _tracked(normalizer: Normalizer, journey: Journey, index: int, start: datetime) -> TrackedEvent:
    step = journey.steps[index]
    raw = RawEvent(
        occurred_at=start + step.after,
        text=step.text,
        code=step.code,
        location=step.location,
        country=step.country,
        carrier="sandbox",
    )
    return TrackedEvent(raw, normalizer.classify(raw))


def _state(journey: Journey, start: datetime) -> ShipmentState:
    return ShipmentState(
        id=1,
        carrier="sandbox",
        shipped_at=start,
        destination_country=journey.destination,
        origin_country=journey.origin,
        status=Status.PENDING,
        detail=None,
        delivered_at=None,
        last_event_at=None,
        expected_delivery=start + journey.expected_delivery if journey.expected_delivery else None,
        unchanged_polls=0,
        opted_out=False,
        # as a real poll stores it: the sandbox carrier's own estimate
        expected_delivery_source="sandbox" if journey.expected_delivery else None,
    )


def _parcel(journey: Journey, start: datetime) -> Parcel:
    return Parcel(
        tracking_number=f"SB{journey.tag}00000001",
        carrier_name="Sandbox Post",
        tracking_url=None,
        buyer_name="Alex Kim",
        buyer_email="buyer@example.com",
        buyer_language=None,
        destination_country=journey.destination,
        origin_country=journey.origin,
        order_reference="ORD-1001",
        shipped_at=start,
    )
