"""The policy's one entry point: state + timeline + settings + clock in, an assessment out."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest

from tracker.config import QuietHoursConfig, ThresholdsConfig, TrackerConfig
from tracker.model import Classification, Detail, Milestone, RawEvent, Status, TrackedEvent
from tracker.policy.assess import PolicySettings, ShipmentState, Timeline, assess
from tracker.policy.lanes import LaneEstimate

SHIPPED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
STATE = ShipmentState(
    id=7,
    carrier="sandbox",
    shipped_at=SHIPPED,
    destination_country="DE",
    origin_country="CN",
    status=Status.PENDING,
    detail=None,
    delivered_at=None,
    last_event_at=None,
    expected_delivery=None,
    unchanged_polls=3,
    opted_out=False,
)
SETTINGS = replace(
    PolicySettings.from_config(TrackerConfig()), quiet_hours=QuietHoursConfig(enabled=False)
)


def event(
    days: float, status: Status, detail: Detail | None = None, country: str = "CN"
) -> TrackedEvent:
    raw = RawEvent(SHIPPED + days * DAY, f"{status} {detail}", country=country)
    return TrackedEvent(raw, Classification(status, detail))


def timeline(
    *events: TrackedEvent, added: int | None = None, keys: frozenset[str] = frozenset()
) -> Timeline:
    return Timeline(list(events), len(events) if added is None else added, keys, None)


@pytest.mark.parametrize(
    ("case", "events", "now_days", "status", "kinds"),
    [
        ("nothing yet", [], 1, Status.PENDING, []),
        ("label only", [event(0.5, Status.INFO_RECEIVED)], 1, Status.INFO_RECEIVED, []),
        (
            "accepted",
            [event(1, Status.IN_TRANSIT, Detail.ACCEPTED)],
            1.5,
            Status.IN_TRANSIT,
            ["shipped"],
        ),
        (
            "first look at a long history tells only the latest news",
            [
                event(1, Status.IN_TRANSIT, Detail.ACCEPTED),
                event(9, Status.IN_TRANSIT, Detail.ARRIVED_DESTINATION_COUNTRY, "DE"),
            ],
            9.5,
            Status.IN_TRANSIT,
            ["in_transit"],
        ),
        (
            "customs duties",
            [
                event(1, Status.IN_TRANSIT, Detail.ACCEPTED),
                event(9, Status.EXCEPTION, Detail.CUSTOMS_DUTIES_DUE, "DE"),
            ],
            9.5,
            Status.EXCEPTION,
            ["in_transit", "customs_action"],
        ),
        (
            "delivered",
            [event(1, Status.IN_TRANSIT), event(12, Status.DELIVERED, country="DE")],
            12.5,
            Status.DELIVERED,
            ["delivered"],
        ),
    ],
)
def test_status_and_notices(
    case: str, events: list[TrackedEvent], now_days: float, status: Status, kinds: list[str]
) -> None:
    result = assess(STATE, timeline(*events), SETTINGS, SHIPPED + now_days * DAY, polled=True)
    assert result.decision.status is status, case
    assert [n.kind.value for n in result.notices] == kinds, case


def test_a_poll_with_news_resets_the_backoff_and_one_without_grows_it() -> None:
    now = SHIPPED + 2 * DAY
    news = assess(STATE, timeline(event(1, Status.IN_TRANSIT)), SETTINGS, now, polled=True)
    quiet = assess(
        STATE, timeline(event(1, Status.IN_TRANSIT), added=0), SETTINGS, now, polled=True
    )
    assert (news.unchanged_polls, quiet.unchanged_polls) == (0, 4)
    assert news.next_poll_at is not None
    assert quiet.next_poll_at is not None
    assert quiet.next_poll_at > news.next_poll_at > now


def test_a_timer_does_not_touch_polling() -> None:
    result = assess(STATE, timeline(), SETTINGS, SHIPPED + 2 * DAY, polled=False)
    assert (result.polled, result.next_poll_at, result.unchanged_polls) == (False, None, 3)


def test_the_carrier_estimate_replaces_the_stored_one_and_sets_the_window() -> None:
    stored = replace(STATE, expected_delivery=SHIPPED + 30 * DAY)
    fresh = SHIPPED + 8 * DAY
    result = assess(
        stored,
        timeline(event(1, Status.IN_TRANSIT)),
        SETTINGS,
        SHIPPED + 2 * DAY,
        polled=True,
        carrier_estimate=fresh,
    )
    assert result.expected_delivery == fresh
    (shipped,) = result.notices
    assert shipped.payload.expected_by == fresh


def test_a_lane_estimate_moves_late_earlier_than_the_default() -> None:
    lane = LaneEstimate(timedelta(days=9), timedelta(days=14), 50)
    events = timeline(
        event(1, Status.IN_TRANSIT), event(13, Status.IN_TRANSIT), keys=frozenset({"shipped"})
    )
    now = SHIPPED + 17 * DAY  # the lane's window ended on day 14; grace 2 days
    with_lane = assess(STATE, events, SETTINGS, now, polled=False, lane=lane)
    without = assess(STATE, events, SETTINGS, now, polled=False)
    assert [n.payload.reason for n in with_lane.notices] == ["late"]
    assert without.notices == ()


def test_an_opted_out_buyer_gets_no_notices_but_the_state_moves() -> None:
    result = assess(
        replace(STATE, opted_out=True),
        timeline(event(1, Status.IN_TRANSIT)),
        SETTINGS,
        SHIPPED + 2 * DAY,
        polled=True,
    )
    assert result.decision.status is Status.IN_TRANSIT
    assert result.notices == ()


def test_disabled_kinds_are_not_planned() -> None:
    settings = replace(SETTINGS, disabled=frozenset({Milestone.SHIPPED}))
    result = assess(
        STATE, timeline(event(1, Status.IN_TRANSIT)), settings, SHIPPED + 2 * DAY, polled=True
    )
    assert result.notices == ()


def test_notices_wait_for_quiet_hours_and_the_gap() -> None:
    settings = replace(SETTINGS, quiet_hours=QuietHoursConfig(start=time(21), end=time(8)))
    late_evening = datetime(2026, 3, 3, 21, 30, tzinfo=UTC)  # 22:30 in Berlin
    result = assess(
        STATE, timeline(event(1, Status.IN_TRANSIT)), settings, late_evening, polled=True
    )
    (notice,) = result.notices
    assert notice.not_before == datetime(2026, 3, 4, 7, 0, tzinfo=UTC)  # 08:00 in Berlin


def test_thresholds_per_country_apply() -> None:
    quick = ThresholdsConfig.model_validate(
        {"country": {"DE": {"stalled_after": "3d", "expected_transit": "3d"}}}
    )
    settings = replace(SETTINGS, thresholds=quick)
    events = timeline(event(1, Status.IN_TRANSIT), keys=frozenset({"shipped"}))
    result = assess(STATE, events, settings, SHIPPED + 5 * DAY, polled=False)
    assert [(n.kind, n.payload.reason) for n in result.notices] == [(Milestone.DELAYED, "stalled")]
    assert result.notices[0].payload.choices == SETTINGS.choices


@pytest.mark.parametrize(
    ("last", "reason"),
    [
        (event(4, Status.IN_TRANSIT, Detail.CUSTOMS_PROCESSING, country="DE"), "customs"),
        (event(4, Status.IN_TRANSIT, Detail.CUSTOMS_RELEASED, country="DE"), "stalled"),
        (event(21, Status.IN_TRANSIT, country="DE"), "late"),
    ],
)
def test_a_delay_says_why_from_the_latest_scan(last: TrackedEvent, reason: str) -> None:
    # Past the 20-day window and its 2-day grace: still in customs (no scans until the check
    # ends) is not "travelling between countries without scans".
    events = timeline(
        event(1, Status.IN_TRANSIT, Detail.ACCEPTED),
        event(3, Status.IN_TRANSIT, Detail.ARRIVED_DESTINATION_COUNTRY, country="DE"),
        last,
        keys=frozenset({"shipped", "in_transit"}),
    )
    result = assess(STATE, events, SETTINGS, SHIPPED + 23 * DAY, polled=False)
    assert [(n.kind, n.payload.reason) for n in result.notices] == [(Milestone.DELAYED, reason)]
