"""Retry-After as carriers write it, sane or not: never more than a day, never a traceback."""

from __future__ import annotations

import pytest

from carriers.http import MAX_RETRY_AFTER, parse_retry_after

NOW = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC

CASES = [
    ("120", 120.0),
    (" 17 ", 17.0),
    ("0", 0.0),
    ("86400", MAX_RETRY_AFTER),
    ("99999999999", MAX_RETRY_AFTER),  # seen from a carrier: the year 5195
    ("9" * 400, MAX_RETRY_AFTER),  # more digits than a float holds
    ("Thu, 01 Jan 2026 00:10:00 GMT", 600.0),
    ("Wed, 31 Dec 2025 23:00:00 GMT", 0.0),  # already past
    ("Fri, 31 Dec 9999 23:59:59 GMT", MAX_RETRY_AFTER),
    ("²", None),  # a Unicode digit, not a number of seconds
    ("-5", None),
    ("soon", None),
    ("", None),
    (None, None),
]


@pytest.mark.parametrize(("header", "seconds"), CASES)
def test_retry_after_is_read_and_capped(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, now=NOW) == seconds
