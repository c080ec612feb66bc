"""Orders the sandbox carrier answers for: each registered with its journey, then stored."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from carriers.sandbox.service import SandboxService
from tracker.store.shipments import NewShipment, add_shipments


def track_in_sandbox(
    service: SandboxService,
    store: sessionmaker[Session],
    items: Sequence[tuple[NewShipment, str]],
    at: datetime,
) -> list[int]:
    """Register every (order, journey name) with ``service`` from ``at`` and add the orders to
    ``store`` at ``at``; the stored ids, in order."""
    for shipment, journey in items:
        service.register(shipment.tracking_number, journey, registered_at=at)
    return add_shipments(store, [shipment for shipment, _ in items], at)
