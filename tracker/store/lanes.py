"""Lane transit times read from the store, and a cache of their estimates (see
``tracker.policy.lanes`` for how an estimate is made).

Expected delivery is learned per lane (carrier, origin, destination) from delivered shipments.

Until a lane has enough deliveries the configured default applies; after that the emails quote
the lane's own median-to-90th-percentile window, and "late" means later than the lane's 90th.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.policy.lanes import MIN_SAMPLES, LaneEstimate, estimate
from tracker.store.models import Shipment

#: most recent deliveries considered, so a lane's figures follow seasonal change
WINDOW = 500


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
