"""Backoff and jitter: stable for a key, bounded, growing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tracker.policy.retry import backoff, jitter_fraction

BASE = timedelta(minutes=15)
CAP = timedelta(hours=12)


@pytest.mark.parametrize(
    ("failures", "low", "high"),
    [
        (1, BASE * 0.75, BASE * 1.25),
        (2, BASE * 1.5, BASE * 2.5),
        (3, BASE * 3, BASE * 5),
        (10, CAP * 0.75, CAP * 1.25),  # capped before jitter
        (10_000, CAP * 0.75, CAP * 1.25),  # no overflow however many failures
        (0, BASE * 0.75, BASE * 1.25),  # a zero count is treated as the first
    ],
)
def test_backoff_grows_and_is_capped(failures: int, low: timedelta, high: timedelta) -> None:
    for key in ("a", "b", "shipment:7:3"):
        assert low <= backoff(failures, key, base=BASE, cap=CAP) <= high


def test_jitter_is_stable_per_key_and_spread_over_keys() -> None:
    assert jitter_fraction("x") == jitter_fraction("x")
    values = [jitter_fraction(f"shipment:{n}") for n in range(1000)]
    assert all(0 <= v < 1 for v in values)
    # Spread: every tenth of [0, 1) gets some keys.
    assert len({int(v * 10) for v in values}) == 10
