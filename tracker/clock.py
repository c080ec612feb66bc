"""Clocks injected everywhere a decision depends on time, so tests and the demo can run fast."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the current time as an aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """Wall-clock time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class SimulatedClock:
    """Time that moves only when told to: the demo and tests advance it in steps."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("SimulatedClock needs an aware start time")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, step: timedelta) -> datetime:
        """Move time forward by ``step`` and return the new now."""
        if step < timedelta(0):
            raise ValueError("time only moves forward")
        with self._lock:
            self._now += step
            return self._now
