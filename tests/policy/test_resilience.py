"""The circuit breaker and the rate limiter (tracker.runtime.resilience)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from tracker.runtime.resilience import CircuitBreaker, RateLimiter

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_the_breaker_opens_after_the_threshold_and_says_so_once() -> None:
    breaker = CircuitBreaker(threshold=3, cooldown=timedelta(minutes=10))
    assert [breaker.record_failure(T0) for _ in range(3)] == [False, False, True]
    assert breaker.state(T0) == "open"
    assert not breaker.allows(T0 + timedelta(minutes=9))
    assert breaker.reopens_at() == T0 + timedelta(minutes=10)
    assert breaker.record_failure(T0 + timedelta(minutes=1)) is False  # already open


def test_half_open_lets_a_trial_through_a_failure_reopens_a_success_closes() -> None:
    breaker = CircuitBreaker(threshold=1, cooldown=timedelta(minutes=10))
    breaker.record_failure(T0)
    later = T0 + timedelta(minutes=10)
    assert breaker.state(later) == "half_open"
    assert breaker.allows(later)
    assert breaker.record_failure(later) is True  # re-opened from now
    assert breaker.reopens_at() == later + timedelta(minutes=10)
    assert breaker.record_success() is True
    assert breaker.state(later) == "closed"
    assert breaker.record_success() is False


def test_a_success_resets_the_failure_count() -> None:
    breaker = CircuitBreaker(threshold=3)
    breaker.record_failure(T0)
    breaker.record_failure(T0)
    breaker.record_success()
    assert [breaker.record_failure(T0) for _ in range(3)] == [False, False, True]


def test_the_rate_limiter_refuses_a_non_positive_rate() -> None:
    with pytest.raises(ValueError, match="rate must be positive"):
        RateLimiter(0)


async def test_the_rate_limiter_spaces_requests_after_the_burst() -> None:
    limiter = RateLimiter(rate=50, burst=2)
    for _ in range(2):
        await limiter.acquire()
    burst_done = time.monotonic()
    for _ in range(3):
        await limiter.acquire()
    spaced = time.monotonic() - burst_done
    # Three more at 50/s take at least about 60 ms (a lower bound only: a loaded machine can
    # make it slower, never faster).
    assert spaced >= 3 / 50 * 0.9


async def test_concurrent_waiters_share_the_rate() -> None:
    limiter = RateLimiter(rate=100, burst=1)
    started = time.monotonic()
    await asyncio.gather(*(limiter.acquire() for _ in range(6)))
    assert time.monotonic() - started >= 5 / 100 * 0.9
