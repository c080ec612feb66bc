"""Quiet hours and notice spacing, including the nights clocks change (both directions)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from tracker.config import QuietHoursConfig
from tracker.policy.sendtime import country_timezone, next_allowed, schedule_notice

QUIET = QuietHoursConfig(start=time(21, 0), end=time(8, 0))
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
SAO_PAULO = ZoneInfo("America/Sao_Paulo")


def local(zone: ZoneInfo, year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=zone).astimezone(UTC)


@pytest.mark.parametrize(
    ("case", "country", "moment", "expected"),
    [
        (
            "afternoon passes",
            "DE",
            local(BERLIN, 2026, 6, 10, 15, 0),
            local(BERLIN, 2026, 6, 10, 15, 0),
        ),
        (
            "late evening waits",
            "DE",
            local(BERLIN, 2026, 6, 10, 22, 30),
            local(BERLIN, 2026, 6, 11, 8, 0),
        ),
        (
            "small hours wait",
            "DE",
            local(BERLIN, 2026, 6, 11, 3, 0),
            local(BERLIN, 2026, 6, 11, 8, 0),
        ),
        (
            "end is allowed",
            "DE",
            local(BERLIN, 2026, 6, 11, 8, 0),
            local(BERLIN, 2026, 6, 11, 8, 0),
        ),
        (
            "start is quiet",
            "DE",
            local(BERLIN, 2026, 6, 10, 21, 0),
            local(BERLIN, 2026, 6, 11, 8, 0),
        ),
        # Spring forward: Berlin skips 02:00-03:00 on 29 March 2026; the wake-up is 08:00 CEST.
        (
            "DE spring forward",
            "DE",
            local(BERLIN, 2026, 3, 28, 23, 0),
            local(BERLIN, 2026, 3, 29, 8, 0),
        ),
        # Fall back: 25 October 2026 has 02:00-03:00 twice; still 08:00 local, now CET.
        (
            "DE fall back",
            "DE",
            local(BERLIN, 2026, 10, 24, 23, 0),
            local(BERLIN, 2026, 10, 25, 8, 0),
        ),
        (
            "US spring forward",
            "US",
            local(NEW_YORK, 2026, 3, 8, 1, 30),
            local(NEW_YORK, 2026, 3, 8, 8, 0),
        ),
        (
            "US fall back",
            "US",
            local(NEW_YORK, 2026, 11, 1, 1, 30),
            local(NEW_YORK, 2026, 11, 1, 8, 0),
        ),
        (
            "BR has no DST",
            "BR",
            local(SAO_PAULO, 2026, 11, 1, 23, 0),
            local(SAO_PAULO, 2026, 11, 2, 8, 0),
        ),
    ],
)
def test_next_allowed(case: str, country: str, moment: datetime, expected: datetime) -> None:
    assert next_allowed(moment, country, QUIET) == expected, case


def test_the_wake_up_is_eight_local_on_both_sides_of_a_change() -> None:
    spring = next_allowed(local(BERLIN, 2026, 3, 28, 23, 0), "DE", QUIET)
    autumn = next_allowed(local(BERLIN, 2026, 10, 24, 23, 0), "DE", QUIET)
    assert spring.astimezone(BERLIN).utcoffset() == timedelta(hours=2)
    assert autumn.astimezone(BERLIN).utcoffset() == timedelta(hours=1)
    assert spring.astimezone(BERLIN).time() == autumn.astimezone(BERLIN).time() == time(8, 0)


def test_disabled_quiet_hours_send_at_once() -> None:
    night = local(BERLIN, 2026, 6, 10, 23, 0)
    assert next_allowed(night, "DE", QuietHoursConfig(enabled=False)) == night


def test_an_ops_override_picks_the_zone() -> None:
    quiet = QuietHoursConfig(timezone_by_country={"US": "America/Los_Angeles"})
    # 22:00 in New York is 19:00 in Los Angeles: allowed there.
    moment = local(NEW_YORK, 2026, 6, 10, 22, 0)
    assert next_allowed(moment, "US", quiet) == moment
    assert country_timezone("US") == NEW_YORK


@pytest.mark.parametrize(
    ("case", "previous_hours_ago", "urgent", "expected_hours_from_now"),
    [
        ("first notice", None, False, 0),
        ("gap respected", 4, False, 16),
        ("gap long over", 30, False, 0),
        ("customs action skips the gap", 4, True, 0),
    ],
)
def test_schedule_notice_spacing(
    case: str, previous_hours_ago: int | None, urgent: bool, expected_hours_from_now: int
) -> None:
    now = local(BERLIN, 2026, 6, 10, 9, 0)
    previous = None if previous_hours_ago is None else now - timedelta(hours=previous_hours_ago)
    at = schedule_notice(
        now, previous, timedelta(hours=20), "DE", QuietHoursConfig(enabled=False), urgent=urgent
    )
    assert at == now + timedelta(hours=expected_hours_from_now), case
