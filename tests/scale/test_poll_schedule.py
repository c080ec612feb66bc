"""The polling schedule: often near delivery, rarely on long legs, backing off, never when final."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tracker.model import FINAL_STATUSES, Detail, Status
from tracker.policy.polling import next_poll_delay

H = timedelta(hours=1)


@pytest.mark.parametrize(
    ("status", "detail", "first", "cap"),
    [
        (Status.OUT_FOR_DELIVERY, None, 2 * H, 8 * H),
        (Status.AVAILABLE_FOR_PICKUP, Detail.ARRIVED_DELIVERY_OFFICE, 2 * H, 8 * H),
        (Status.DELIVERY_FAILED, Detail.RECIPIENT_UNAVAILABLE, 2 * H, 8 * H),
        (Status.IN_TRANSIT, Detail.ARRIVED_DELIVERY_OFFICE, 3 * H, 8 * H),
        (Status.IN_TRANSIT, Detail.ACCEPTED, None, 24 * H),
        (Status.IN_TRANSIT, Detail.CUSTOMS_PROCESSING, None, 24 * H),
        (Status.PENDING, None, 8 * H, 24 * H),
    ],
)
def test_delay_by_state_grows_when_nothing_changes_up_to_a_cap(
    status: Status, detail: Detail | None, first: timedelta | None, cap: timedelta
) -> None:
    delays = [next_poll_delay(status, detail, polls) for polls in range(12)]
    assert all(d is not None for d in delays)
    steps = [d for d in delays if d is not None]
    if first is not None:
        assert steps[0] == first
    assert steps == sorted(steps), "the wait never shrinks while nothing changes"
    assert steps[-1] == cap
    assert steps[0] < steps[-1]


def test_near_delivery_is_polled_more_often_than_a_long_leg() -> None:
    near = next_poll_delay(Status.OUT_FOR_DELIVERY, None, 0)
    leg = next_poll_delay(Status.IN_TRANSIT, Detail.ACCEPTED, 0)
    assert near is not None
    assert leg is not None
    assert near < leg


@pytest.mark.parametrize("status", sorted(FINAL_STATUSES, key=str))
def test_final_statuses_are_never_polled_again(status: Status) -> None:
    assert next_poll_delay(status, None, 0) is None
