"""Expected delivery learned per lane (carrier, origin, destination) from delivered shipments.

Until a lane has enough deliveries the configured default applies; after that the emails quote
the lane's own median-to-90th-percentile window, and "late" means later than the lane's 90th.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.store.models import Shipment

#: deliveries a lane needs before its own figures replace the configured default
MIN_SAMPLES = 20
#: most recent deliveries considered, so a lane's figures follow seasonal change
WINDOW = 500


@dataclass(frozen=True, slots=True)
class LaneEstimate:
    """Transit-time percentiles of one lane."""

    median: timedelta
    p90: timedelta
    samples: int


def percentile(sorted_values: Sequence[timedelta], fraction: float) -> timedelta:
    """Linear-interpolated percentile of already sorted values (fraction in [0, 1])."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    position = (len(sorted_values) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def estimate(
    transit_times: Sequence[timedelta], min_samples: int = MIN_SAMPLES
) -> LaneEstimate | None:
    """Median and 90th percentile, or None while there are too few deliveries to trust."""
    if len(transit_times) < min_samples:
        return None
    ordered = sorted(transit_times)
    return LaneEstimate(percentile(ordered, 0.5), percentile(ordered, 0.9), len(ordered))


def lane_transit_times(
    session: Session, carrier: str, origin: str | None, destination: str
) -> list[timedelta]:
    """Transit times of the lane's most recent deliveries (uses the lane index)."""
    query = (
        select(Shipment.shipped_at, Shipment.delivered_at)
        .where(
            Shipment.carrier == carrier,
            Shipment.destination_country == destination,
            Shipment.delivered_at.is_not(None),
        )
        .order_by(Shipment.delivered_at.desc())
        .limit(WINDOW)
    )
    if origin is not None:
        query = query.where(Shipment.origin_country == origin)
    times = []
    for shipped, delivered in session.execute(query):
        if delivered is not None and delivered > shipped:
            times.append(delivered - shipped)
    return times


class LaneCache:
    """Per-lane estimates, recomputed at most once per ``ttl`` of the injected clock."""

    def __init__(self, ttl: timedelta = timedelta(hours=6), min_samples: int = MIN_SAMPLES) -> None:
        self.ttl = ttl
        self.min_samples = min_samples
        self._cache: dict[tuple[str, str | None, str], tuple[datetime, LaneEstimate | None]] = {}

    def get(
        self, session: Session, carrier: str, origin: str | None, destination: str, now: datetime
    ) -> LaneEstimate | None:
        """The lane's estimate as of ``now`` (None until it has enough deliveries)."""
        key = (carrier, origin, destination)
        cached = self._cache.get(key)
        if cached is not None and now - cached[0] < self.ttl:
            return cached[1]
        value = estimate(
            lane_transit_times(session, carrier, origin, destination), self.min_samples
        )
        self._cache[key] = (now, value)
        return value
