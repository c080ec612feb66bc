"""The milestone policy as a specification: timelines and clocks in, notices and status out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tracker.config import Thresholds
from tracker.model import Classification, Detail, RawEvent, Status, TrackedEvent
from tracker.policy.milestones import ShipmentFacts, decide, next_timer_at
from tracker.policy.polling import next_poll_delay

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
LIMITS = Thresholds()


def ev(
    day: float, status: Status, detail: Detail | None = None, country: str = "CN"
) -> TrackedEvent:
    raw = RawEvent(T0 + timedelta(days=day), f"{status} {detail}", country=country)
    return TrackedEvent(raw, Classification(status, detail, "test"))


def facts(**changes: object) -> ShipmentFacts:
    base: dict[str, object] = {
        "shipped_at": T0,
        "destination_country": "BR",
        "origin_country": "CN",
        "status": Status.PENDING,
        "delivered_at": None,
        "last_event_at": None,
    }
    base.update(changes)
    return ShipmentFacts(**base)  # type: ignore[arg-type]


ACCEPTED = ev(0.5, Status.IN_TRANSIT, Detail.ACCEPTED)
ARRIVED_BR = ev(6, Status.IN_TRANSIT, Detail.ARRIVED_DESTINATION_COUNTRY, "BR")
DUTIES = ev(7, Status.EXCEPTION, Detail.CUSTOMS_DUTIES_DUE, "BR")
AT_OFFICE = ev(12, Status.AVAILABLE_FOR_PICKUP, Detail.ARRIVED_DELIVERY_OFFICE, "BR")
DELIVERED = ev(14, Status.DELIVERED, None, "BR")


@pytest.mark.parametrize(
    ("timeline", "already", "now_day", "new_count", "expected_keys", "status"),
    [
        ([], set(), 1, None, [], Status.PENDING),
        ([ev(0, Status.INFO_RECEIVED)], set(), 1, None, [], Status.INFO_RECEIVED),
        ([ACCEPTED], set(), 1, 1, ["shipped"], Status.IN_TRANSIT),
        ([ACCEPTED, ARRIVED_BR], {"shipped"}, 6.1, 1, ["in_transit"], Status.IN_TRANSIT),
        # A customs action is due even when other notices were sent.
        (
            [ACCEPTED, ARRIVED_BR, DUTIES],
            {"shipped", "in_transit"},
            7.1,
            1,
            ["customs_action:customs_duties_due"],
            Status.EXCEPTION,
        ),
        # Found a whole history at once: only the latest news, not shipped + in_transit too.
        (
            [ACCEPTED, ARRIVED_BR, AT_OFFICE],
            set(),
            12.1,
            3,
            ["arrived_locally:pickup"],
            Status.AVAILABLE_FOR_PICKUP,
        ),
        # Delivered supersedes everything not yet sent.
        (
            [ACCEPTED, ARRIVED_BR, AT_OFFICE, DELIVERED],
            {"shipped"},
            14.1,
            3,
            ["delivered"],
            Status.DELIVERED,
        ),
        # Unknown events never change the state.
        (
            [ACCEPTED, ev(2, Status.UNKNOWN)],
            {"shipped"},
            2.1,
            1,
            [],
            Status.IN_TRANSIT,
        ),
    ],
)
def test_event_milestones(
    timeline: list[TrackedEvent],
    already: set[str],
    now_day: float,
    new_count: int | None,
    expected_keys: list[str],
    status: Status,
) -> None:
    decision = decide(
        facts(),
        timeline,
        frozenset(already),
        T0 + timedelta(days=now_day),
        LIMITS,
        new_event_count=new_count,
    )
    assert [d.key for d in decision.due] == expected_keys
    assert decision.status is status


def test_stall_then_refund_offer_then_nothing_more() -> None:
    timeline = [ACCEPTED]
    # Quiet for 11 days, but inside the promised window (20 days + 2 days' grace): no delay yet.
    inside = decide(facts(), timeline, frozenset({"shipped"}), T0 + timedelta(days=11), LIMITS)
    assert inside.due == ()
    window_end = T0 + LIMITS.expected_transit + LIMITS.delay_grace
    assert inside.next_timer_at == window_end
    stalled = decide(facts(), timeline, frozenset({"shipped"}), window_end, LIMITS)
    assert [(d.key, d.reason) for d in stalled.due] == [("delayed", "stalled")]
    assert stalled.next_timer_at == T0 + LIMITS.refund_offer_after
    offer = decide(
        facts(), timeline, frozenset({"shipped", "delayed"}), T0 + timedelta(days=45), LIMITS
    )
    assert [d.key for d in offer.due] == ["refund_offer"]
    after = decide(
        facts(),
        timeline,
        frozenset({"shipped", "delayed", "refund_offer"}),
        T0 + timedelta(days=46),
        LIMITS,
    )
    assert after.due == ()
    # Only expiry remains on the clock.
    assert after.next_timer_at == ACCEPTED.raw.occurred_at + LIMITS.expire_after


def test_late_when_moving_but_past_the_late_threshold() -> None:
    moving = [ACCEPTED, ev(29, Status.IN_TRANSIT)]
    decision = decide(
        facts(), moving, frozenset({"shipped"}), T0 + timedelta(days=30, hours=1), LIMITS
    )
    assert [(d.key, d.reason) for d in decision.due] == [("delayed", "late")]


def test_exception_is_a_delay_but_customs_is_a_customs_action() -> None:
    address = ev(8, Status.EXCEPTION, Detail.ADDRESS_ISSUE, "BR")
    decision = decide(
        facts(), [ACCEPTED, address], frozenset({"shipped"}), T0 + timedelta(days=8.1), LIMITS
    )
    assert [(d.key, d.reason) for d in decision.due] == [("delayed", "exception")]
    customs = decide(
        facts(),
        [ACCEPTED, DUTIES],
        frozenset({"shipped", "in_transit"}),
        T0 + timedelta(days=7.1),
        LIMITS,
    )
    assert [d.key for d in customs.due] == ["customs_action:customs_duties_due"]


def test_delivered_then_satisfaction_after_its_wait() -> None:
    timeline = [ACCEPTED, DELIVERED]
    sent = frozenset({"shipped", "delivered"})
    at = DELIVERED.raw.occurred_at
    early = decide(facts(), timeline, sent, at + timedelta(days=1), LIMITS)
    assert early.due == ()
    assert early.final
    assert early.next_timer_at == at + LIMITS.satisfaction_after
    due = decide(facts(), timeline, sent, at + LIMITS.satisfaction_after, LIMITS)
    assert [d.key for d in due.due] == ["satisfaction"]
    assert due.next_timer_at is None


def test_returned_offers_a_refund_at_once() -> None:
    returned = ev(20, Status.RETURNED, None, "CN")
    decision = decide(
        facts(), [ACCEPTED, returned], frozenset({"shipped"}), T0 + timedelta(days=20.1), LIMITS
    )
    assert [d.key for d in decision.due] == ["refund_offer"]
    assert decision.final


def test_silence_expires_the_shipment() -> None:
    decision = decide(
        facts(),
        [ACCEPTED],
        frozenset({"shipped", "delayed", "refund_offer"}),
        ACCEPTED.raw.occurred_at + LIMITS.expire_after,
        LIMITS,
    )
    assert decision.status is Status.EXPIRED
    assert decision.final


@pytest.mark.parametrize("already", [frozenset(), frozenset({"shipped"})])
def test_a_tracking_learned_expired_tells_the_buyer_nothing(already: frozenset[str]) -> None:
    """An aggregator's Expired (or 17TRACK's stop) arriving with scans never seen before: no
    "on its way" from those scans, only the seller's alert."""
    gave_up = ev(8, Status.EXPIRED)
    decision = decide(
        facts(),
        [ACCEPTED, ARRIVED_BR, gave_up],
        already,
        T0 + timedelta(days=35),
        LIMITS,
        new_event_count=3,
    )
    assert decision.status is Status.EXPIRED
    assert decision.due == ()
    assert decision.seller_alerts == ("expired",)


def test_next_timer_is_the_earliest_pending_one() -> None:
    moving = facts(status=Status.IN_TRANSIT, last_event_at=T0 + timedelta(days=2))
    window_end = T0 + LIMITS.expected_transit + LIMITS.delay_grace
    assert next_timer_at(moving, set(), LIMITS) == window_end
    assert next_timer_at(facts(status=Status.RETURNED), set(), LIMITS) is None


def test_poll_delay_by_state() -> None:
    near = next_poll_delay(Status.OUT_FOR_DELIVERY, None, 0)
    moving = next_poll_delay(Status.IN_TRANSIT, None, 0)
    customs = next_poll_delay(Status.IN_TRANSIT, Detail.CUSTOMS_PROCESSING, 0)
    assert near is not None
    assert moving is not None
    assert customs is not None
    assert near < moving < customs
    quiet = next_poll_delay(Status.IN_TRANSIT, None, 5)
    assert quiet is not None
    assert moving < quiet <= timedelta(hours=24)
    assert next_poll_delay(Status.IN_TRANSIT, None, 50) == timedelta(hours=24)
    for final in (Status.DELIVERED, Status.RETURNED, Status.EXPIRED):
        assert next_poll_delay(final, None, 0) is None
