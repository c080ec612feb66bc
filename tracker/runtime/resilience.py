"""Politeness and resilience towards carriers: rate limits and circuit breakers.

Rate limiting runs on the monotonic wall clock (carriers count real requests); breaker decisions
take the injected clock's ``now`` so accelerated runs behave like real ones. Backoff delays are
pure policy (``tracker.policy.retry``).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime, timedelta


class RateLimiter:
    """Token bucket: at most ``rate`` requests per second, bursts up to ``burst``."""

    def __init__(self, rate: float, burst: int = 1) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = max(1, burst)
        self._tokens = float(self.burst)
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        """Wait until one more request is allowed."""
        async with self._lock:
            while True:
                now = time.monotonic()
                self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self.rate)


@dataclass
class CircuitBreaker:
    """Stops calling a carrier after ``threshold`` consecutive failures, for ``cooldown``.

    After the cool-down it lets requests through again (half-open): a success closes it, a
    failure opens it again. The poller asks before every batch, so a carrier still down gets only
    the requests already in flight. ``record_failure`` and ``record_success`` say when the state
    changed, so the caller logs each change exactly once.
    """

    threshold: int = 5
    cooldown: timedelta = timedelta(minutes=10)
    failures: int = 0
    opened_at: datetime | None = None
    #: the carrier asked us (HTTP 429) to send nothing before this moment
    held_until: datetime | None = None
    #: why the carrier's credentials were last rejected (names the key variable); None once a
    #: call succeeds. ``tracker status`` and the metrics report the carrier unhealthy meanwhile.
    credentials_rejected: str | None = None

    def state(self, now: datetime) -> str:
        """closed, open or half_open."""
        if self.opened_at is None:
            return "closed"
        return "open" if now - self.opened_at < self.cooldown else "half_open"

    def allows(self, now: datetime) -> bool:
        """True if a request may be made now."""
        if self.held_until is not None and now < self.held_until:
            return False
        return self.state(now) != "open"

    def reopens_at(self) -> datetime | None:
        """When a breaker that refuses requests lets one through again."""
        opened = None if self.opened_at is None else self.opened_at + self.cooldown
        return max((t for t in (opened, self.held_until) if t is not None), default=None)

    def hold(self, until: datetime) -> None:
        """Send nothing more before ``until`` (a rate limit the carrier announced)."""
        if self.held_until is None or until > self.held_until:
            self.held_until = until

    def record_success(self) -> bool:
        """Returns True if this closed a breaker that was open."""
        was_open = self.opened_at is not None
        self.failures = 0
        self.opened_at = None
        self.credentials_rejected = None
        return was_open

    def record_failure(self, now: datetime) -> bool:
        """Returns True if this failure opened (or re-opened) the breaker."""
        self.failures += 1
        if self.opened_at is not None and self.state(now) == "half_open":
            self.opened_at = now
            return True
        if self.opened_at is None and self.failures >= self.threshold:
            self.opened_at = now
            return True
        return False
