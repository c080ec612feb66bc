"""Shipments read as plain rows for recording (tracker.store.rows), on SQLite and PostgreSQL:
every column, as the ORM reads it, only while the lease is held; and a write of such rows
stores what the ORM's would (the whole run is compared in test_pinned_rows)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from tests.store.conftest import NOW, order
from tracker.store.models import Shipment
from tracker.store.rows import COLUMNS, leased_rows
from tracker.store.shipments import add_shipments, claim_due_for_poll, write_assessed

LEASE = timedelta(minutes=10)
Factory = sessionmaker[Session]


def test_a_row_has_every_column_of_the_table_in_order() -> None:
    assert tuple(column.key for column in Shipment.__table__.columns) == COLUMNS


def test_leased_rows_read_every_value_as_the_orm_does(store: Factory) -> None:
    ids = add_shipments(store, [order(i) for i in range(3)], NOW)
    with store.begin() as session:
        session.execute(
            update(Shipment)
            .where(Shipment.id == ids[1])
            .values(
                expected_delivery=NOW + timedelta(days=3, microseconds=120),
                detail="customs_processing",
                carrier_holder="Courier",
                opted_out=True,
                unchanged_polls=4,
            )
        )
    claim_due_for_poll(store, NOW, "a", LEASE, limit=3)
    with store.begin() as session:  # taken over by another daemon
        session.execute(update(Shipment).where(Shipment.id == ids[2]).values(lease_owner="b"))
    with store.begin() as session:
        rows = leased_rows(session, ids, "a")
        assert [row.id for row in rows] == ids[:2]
        assert [row.id for row in leased_rows(session, ids, "b")] == ids[2:]
        for row in rows:
            stored = session.get_one(Shipment, row.id)
            assert {name: getattr(row, name) for name in COLUMNS} == {
                name: getattr(stored, name) for name in COLUMNS
            }
    assert rows[1].opted_out is True
    assert rows[1].shipped_at.tzinfo is not None


def test_only_the_columns_set_are_written_besides_the_decided_ones(store: Factory) -> None:
    (sid,) = add_shipments(store, [order(7)], NOW)
    claim_due_for_poll(store, NOW, "a", LEASE, limit=1)
    with store.begin() as session:
        (row,) = leased_rows(session, [sid], "a")
        row.carrier_holder = "Courier"
        row.status = "in_transit"
        row.lease_owner = row.lease_until = None
        # a column changed by someone else meanwhile, not set here, must survive the write
        session.execute(update(Shipment).where(Shipment.id == sid).values(buyer_name="Other"))
        assert row.assigned() == ["status", "carrier_holder", "lease_owner", "lease_until"]
        write_assessed(session, [row])
    with store() as session:
        stored = session.get_one(Shipment, sid)
        assert (stored.status, stored.carrier_holder, stored.lease_owner) == (
            "in_transit",
            "Courier",
            None,
        )
        assert stored.buyer_name == "Other"
