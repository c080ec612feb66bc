"""Store fixtures: an opened, migrated store on SQLite and on a real PostgreSQL, and shipments."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.support.orders import order as any_order
from tracker.store.db import open_store
from tracker.store.shipments import NewShipment

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(store_url: str) -> Iterator[sessionmaker[Session]]:
    """A migrated store (parametrized over SQLite and PostgreSQL by ``store_url``)."""
    factory = open_store(store_url)
    try:
        yield factory
    finally:
        bind = factory.kw["bind"]
        bind.dispose()


def order(serial: int, *, carrier: str = "sandbox") -> NewShipment:
    """A valid order line with a unique tracking number and buyer."""
    return any_order(
        f"SBNO{serial:08d}", carrier, buyer_email=f"buyer{serial}@example.com", shipped_at=NOW
    )
