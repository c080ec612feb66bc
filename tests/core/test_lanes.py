"""Transit-time percentiles learned per lane from delivered shipments in the store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tracker.policy.lanes import estimate, percentile
from tracker.store.db import open_store
from tracker.store.lanes import LaneCache
from tracker.store.models import Shipment
from tracker.store.shipments import NewShipment, add_shipments

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def test_percentiles_interpolate() -> None:
    days = [timedelta(days=d) for d in range(1, 11)]
    assert percentile(days, 0.5) == timedelta(days=5.5)
    assert percentile(days, 0.9) == timedelta(days=9.1)
    assert percentile(days[:1], 0.9) == timedelta(days=1)
    with pytest.raises(ValueError, match="no values"):
        percentile([], 0.5)


def test_too_few_deliveries_give_no_estimate() -> None:
    assert estimate([timedelta(days=3)] * 19) is None
    learned = estimate([timedelta(days=3)] * 20)
    assert learned is not None
    assert learned.samples == 20


def test_cache_learns_from_the_store_per_lane(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    orders = [
        NewShipment(f"LANE{i:06d}", "sandbox", "b@example.com", "B", "en", dest, "CN", f"O{i}", T0)
        for i, dest in enumerate(["BR"] * 30 + ["US"] * 5)
    ]
    ids = add_shipments(store, orders, T0)
    with store.begin() as session:
        for offset, shipment_id in enumerate(ids):
            shipment = session.get(Shipment, shipment_id)
            assert shipment is not None
            # Brazil: 20..49 days; the US: 8 days each (too few to learn).
            transit = timedelta(days=20 + offset) if offset < 30 else timedelta(days=8)
            shipment.delivered_at = T0 + transit
            shipment.status = "delivered"
    cache = LaneCache(ttl=timedelta(hours=6))
    with store() as session:
        brazil = cache.get(session, "sandbox", "CN", "BR", T0)
        assert brazil is not None
        assert brazil.samples == 30
        assert brazil.median == timedelta(days=34.5)
        assert brazil.p90 == percentile([timedelta(days=d) for d in range(20, 50)], 0.9)
        assert cache.get(session, "sandbox", "CN", "US", T0) is None
        assert cache.get(session, "ups", "CN", "BR", T0) is None
    with store.begin() as session:
        for shipment_id in ids[:30]:
            shipment = session.get(Shipment, shipment_id)
            assert shipment is not None
            shipment.delivered_at = T0 + timedelta(days=5)
    with store() as session:
        # Within the TTL the cached figures stand; after it they follow the store.
        cached = cache.get(session, "sandbox", "CN", "BR", T0 + timedelta(hours=1))
        assert cached == brazil
        fresh = cache.get(session, "sandbox", "CN", "BR", T0 + timedelta(hours=7))
        assert fresh is not None
        assert fresh.median == timedelta(days=5)
