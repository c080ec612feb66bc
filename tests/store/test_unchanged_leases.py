"""Polls whose reply came back unchanged are rescheduled without reading their leases first; a
lease lost meanwhile is still detected and its shipment left alone (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session, sessionmaker

from tests.store.conftest import NOW, order
from tracker.store.lanes import LaneCache
from tracker.store.models import Shipment
from tracker.store.record import Observation, record_polls
from tracker.store.shipments import add_shipments, claim_due_for_poll

LEASE = timedelta(minutes=10)


def _never_assessed(*args: Any) -> Any:
    raise AssertionError("an unchanged reply is never assessed")


def test_an_unchanged_reply_whose_lease_was_lost_writes_nothing(
    store: sessionmaker[Session],
) -> None:
    ids = add_shipments(store, [order(i) for i in range(3)], NOW)
    claimed = claim_due_for_poll(store, NOW, "a", LEASE, limit=3)
    later = NOW + LEASE + timedelta(minutes=1)
    with store.begin() as session:  # another daemon took the middle one over
        session.execute(
            update(Shipment)
            .where(Shipment.id == ids[1])
            .values(lease_owner="b", lease_until=later + LEASE)
        )
    unchanged = [
        Observation(c.id, (), None, claimed=c, part=b"p" * 16, unchanged=True) for c in claimed
    ]

    recorded = record_polls(store, "a", NOW, unchanged, _never_assessed, LaneCache())

    assert {i: r.outcome for i, r in recorded.items()} == {
        ids[0]: "quiet",
        ids[1]: "lease_lost",
        ids[2]: "quiet",
    }
    with store() as session:
        rows = {
            s.id: (s.lease_owner, s.unchanged_polls, s.last_polled_at)
            for s in session.scalars(select(Shipment))
        }
    assert rows[ids[0]] == (None, 1, NOW)
    assert rows[ids[1]] == ("b", 0, None)
    assert rows[ids[2]] == (None, 1, NOW)


def test_the_reschedule_stores_times_exactly_as_every_other_write_does(
    store: sessionmaker[Session],
) -> None:
    """The reschedule bypasses SQLAlchemy's statement layer: its times must still be stored in
    the same form (on SQLite, text with microseconds) as the ORM and Core writes store them, so
    the raw stored values compare equal, not only the parsed ones."""
    ids = add_shipments(store, [order(i) for i in range(2)], NOW)
    [claimed, _] = claim_due_for_poll(store, NOW, "a", LEASE, limit=2)
    quiet = Observation(claimed.id, (), None, claimed=claimed, part=b"p" * 16, unchanged=True)
    record_polls(store, "a", NOW, [quiet], _never_assessed, LaneCache())
    with store() as session:
        same = session.execute(
            text("SELECT id FROM shipments WHERE last_polled_at = created_at")
        ).scalars()
        assert list(same) == [claimed.id]
        assert claimed.id in ids
