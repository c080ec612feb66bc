"""The demo's simulated store: a quarter of the orders arrive through its signed webhook, and each
status change of those goes back to it as one fulfillment event."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from carriers.sandbox.journeys import load_journeys
from shops.store import ShopLink
from tracker.runtime.demo import run_demo
from tracker.store.db import create_store_engine
from tracker.store.models import Notice, Shipment


@pytest.mark.slow
async def test_demo_orders_arrive_from_the_store_and_events_go_back(tmp_path: Path) -> None:
    result = await run_demo(tmp_path, days=60, per_journey=2, step=timedelta(hours=4))
    journeys = len(load_journeys())
    assert result.shop_orders == journeys  # one of every two shipments of each journey
    engine = create_store_engine(f"sqlite:///{tmp_path / 'tracker.sqlite3'}")
    try:
        with sessionmaker(engine)() as session:
            shop_statuses = dict(
                session.execute(
                    select(Shipment.status, func.count())
                    .join(ShopLink, ShopLink.shipment_id == Shipment.id)
                    .group_by(Shipment.status)
                ).all()
            )
            sent = session.scalar(
                select(func.count()).where(
                    Notice.kind == "shop:fulfillment_event", Notice.state == "sent"
                )
            )
            unsent = _unsent(session)
            rows = session.execute(
                select(Notice.shipment_id, Notice.payload)
                .where(Notice.kind == "shop:fulfillment_event")
                .order_by(Notice.id)
            ).all()
    finally:
        engine.dispose()
    assert sum(shop_statuses.values()) == journeys
    by_parcel: dict[int, list[str]] = {}
    for shipment_id, payload in rows:
        by_parcel.setdefault(shipment_id, []).append(payload["status"])
    # Every parcel that moved told the store it was in transit; every delivered one, once; a
    # status is only sent again after a different one (in transit, delayed, in transit again).
    moving = [s for s in by_parcel.values() if "IN_TRANSIT" in s]
    assert len(moving) == journeys - shop_statuses.get("info_received", 0)
    assert result.shop_events["DELIVERED"] == shop_statuses["delivered"]
    for statuses in by_parcel.values():
        assert all(a != b for a, b in pairwise(statuses)), statuses
    assert sum(result.shop_events.values()) == sent
    assert unsent == 0
    assert "shop:fulfillment_event" not in result.emails_by_kind


def _unsent(session: Session) -> int:
    return int(
        session.scalar(
            select(func.count()).where(Notice.kind.startswith("shop:"), Notice.state != "sent")
        )
        or 0
    )
