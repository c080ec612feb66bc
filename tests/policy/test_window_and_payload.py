"""The expected window and the notice payload: table-driven over the window's sources."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from notices.payload import PAYLOAD_VERSION, EventSummary, NoticePayload
from tracker.config import Thresholds
from tracker.errors import NoticeError
from tracker.model import Classification, Detail, Milestone, RawEvent, Status, TrackedEvent
from tracker.policy.lanes import LaneEstimate
from tracker.policy.milestones import Due
from tracker.policy.notices import payload_for
from tracker.policy.window import expected_window

SHIPPED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LIMITS = Thresholds(expected_transit=timedelta(days=20), stalled_after=timedelta(days=10))
LANE = LaneEstimate(median=timedelta(days=12), p90=timedelta(days=18), samples=40)
DAY = timedelta(days=1)


@pytest.mark.parametrize(
    ("case", "estimate", "lane", "now_days", "expected"),
    [
        # the carrier's estimate wins over the lane and the default
        ("carrier estimate", SHIPPED + 15 * DAY, LANE, 3, (10, 15)),
        ("lane window", None, LANE, 3, (12, 18)),
        ("configured default", None, None, 3, (15, 20)),
        # the window never starts in the past
        ("inside the window", None, None, 17, (17, 20)),
        # once it has passed, a fresh window from today: half to all of stalled_after
        ("window passed", None, None, 25, (30, 35)),
        ("estimate passed", SHIPPED + 15 * DAY, None, 16, (21, 26)),
    ],
)
def test_expected_window(
    case: str,
    estimate: datetime | None,
    lane: LaneEstimate | None,
    now_days: int,
    expected: tuple[int, int],
) -> None:
    now = SHIPPED + now_days * DAY
    start, end = expected_window(Milestone.IN_TRANSIT, SHIPPED, estimate, lane, LIMITS, now)
    assert (start, end) == (SHIPPED + expected[0] * DAY, SHIPPED + expected[1] * DAY), case


@pytest.mark.parametrize("kind", [Milestone.DELIVERED, Milestone.SATISFACTION])
def test_no_window_once_delivered(kind: Milestone) -> None:
    assert expected_window(kind, SHIPPED, None, LANE, LIMITS, SHIPPED + DAY) == (None, None)


EVENT = EventSummary(
    occurred_at=SHIPPED + 2 * DAY,
    text="Item accepted",
    place="Shenzhen",
    country="CN",
    status=Status.IN_TRANSIT,
    detail=Detail.ACCEPTED,
)


def test_payload_round_trips_through_json() -> None:
    payload = NoticePayload(
        reason="stalled",
        event=EVENT,
        expected_from=SHIPPED + 15 * DAY,
        expected_by=SHIPPED + 20 * DAY,
        choices=("resend", "refund"),
    )
    stored = payload.to_json()
    assert stored["v"] == PAYLOAD_VERSION
    assert NoticePayload.from_json(stored) == payload


def test_rows_written_before_the_version_field_are_read() -> None:
    legacy: dict[str, Any] = {
        "reason": None,
        "expected_from": "2026-03-17T09:00:00+00:00",
        "expected_by": "2026-03-22T09:00:00+00:00",
        "choices": [],
        "event": {
            "occurred_at": "2026-03-04T09:00:00+00:00",
            "text": "Item accepted",
            "place": "Shenzhen",
            "country": "CN",
            "status": "in_transit",
            "detail": "accepted",
        },
    }
    payload = NoticePayload.from_json(legacy)
    assert payload.event == EVENT
    assert payload.expected_by == SHIPPED + 20 * DAY
    assert payload.choices == ()


@pytest.mark.parametrize(
    ("stored", "message"),
    [
        ({"v": 99}, "unknown version 99"),
        ({"v": 2, "choices": ["wait_forever"]}, "unknown choice"),
        ({"v": 2, "expected_by": 17}, "ISO timestamp"),
        ({"v": 2, "event": {"text": "x"}}, "occurred_at"),
        ({"v": 2, "event": {**EVENT.to_json(), "status": "teleported"}}, "teleported"),
    ],
)
def test_a_malformed_payload_is_refused_with_its_problem(
    stored: dict[str, object], message: str
) -> None:
    with pytest.raises(NoticeError, match=message):
        NoticePayload.from_json(stored)


def test_version_2_rows_read_as_our_own_estimate() -> None:
    """A row stored before notices said whose date they give was worded as ours."""
    stored = {**NoticePayload(expected_by=SHIPPED + 20 * DAY).to_json(), "v": 2}
    del stored["carrier_estimate"]
    payload = NoticePayload.from_json(stored)
    assert payload.carrier_estimate is False
    assert payload.expected_by == SHIPPED + 20 * DAY


def test_a_carrier_estimate_flag_that_is_not_a_boolean_is_refused() -> None:
    with pytest.raises(NoticeError, match="carrier_estimate"):
        NoticePayload.from_json({"v": PAYLOAD_VERSION, "carrier_estimate": "yes"})


ESTIMATE = SHIPPED + 15 * DAY


@pytest.mark.parametrize(
    ("case", "source", "now_days", "carriers", "window"),
    [
        # a named carrier's date is theirs: that one date, no window of ours around it
        ("direct carrier", "usps", 3, True, (None, 15)),
        ("courier named by an aggregator", "Correios", 3, True, (None, 15)),
        # an aggregator's own prediction, or a courier it did not name: told as ours
        ("AfterShip's prediction", "AfterShip", 3, False, (10, 15)),
        ("17TRACK's prediction", "17TRACK", 3, False, (10, 15)),
        ("unnamed courier", "the courier", 3, False, (10, 15)),
        ("no source stored", None, 3, False, (10, 15)),
        # once the carrier's date has passed, the fresh window is ours
        ("carrier's date passed", "usps", 16, False, (21, 26)),
    ],
)
def test_payload_says_whose_date_it_gives(
    case: str,
    source: str | None,
    now_days: int,
    carriers: bool,
    window: tuple[int | None, int],
) -> None:
    due = Due(Milestone.IN_TRANSIT, "in_transit")
    now = SHIPPED + now_days * DAY
    tracked = TrackedEvent(
        RawEvent(occurred_at=SHIPPED + DAY, text="Accepted"),
        Classification(Status.IN_TRANSIT, Detail.ACCEPTED),
    )
    payload = payload_for(
        due, [tracked], SHIPPED, ESTIMATE, LANE, LIMITS, (), now, estimate_source=source
    )
    start = None if window[0] is None else SHIPPED + window[0] * DAY
    assert payload.carrier_estimate is carriers, case
    assert (payload.expected_from, payload.expected_by) == (start, SHIPPED + window[1] * DAY), case
    assert NoticePayload.from_json(payload.to_json()) == payload
