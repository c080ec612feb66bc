"""Leases on due shipments and notices, on SQLite and on a real PostgreSQL.

A claim leases only due, unleased rows; a lease keeps everyone else out until it expires; the
daemon that lost a lease can no longer write; concurrent claimers never get the same row.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from tests.store.conftest import NOW, order
from tests.support.outbox import pending_notice
from tracker.errors import InputError
from tracker.store.db import MIGRATIONS, open_store, schema_revision
from tracker.store.models import AuditEntry, Notice, Shipment
from tracker.store.outbox import claim_due_notices, mark_sent
from tracker.store.shipments import (
    add_shipments,
    claim_due_for_poll,
    claim_due_for_timers,
    with_leased,
)

LEASE = timedelta(minutes=10)
Factory = sessionmaker[Session]


def _set_due(store: Factory, ids: list[int], **values: object) -> None:
    with store.begin() as session:
        session.execute(update(Shipment).where(Shipment.id.in_(ids)).values(**values))


def test_add_stores_all_or_nothing(store: Factory) -> None:
    ids = add_shipments(store, [order(0), order(1)], NOW)
    assert len(ids) == 2
    with pytest.raises(InputError, match="already tracked: SBNO00000001"):
        add_shipments(store, [order(3), order(1)], NOW)
    with store() as session:
        numbers = set(session.scalars(select(Shipment.tracking_number)))
        assert numbers == {"SBNO00000000", "SBNO00000001"}
        assert len(session.scalars(select(AuditEntry)).all()) == 2


def test_claim_takes_only_due_unleased_rows_oldest_first(store: Factory) -> None:
    ids = add_shipments(store, [order(i) for i in range(6)], NOW)
    _set_due(store, ids[:2], next_poll_at=NOW + timedelta(hours=1))  # not due yet
    _set_due(store, [ids[2]], next_poll_at=None)  # final: never polled again
    _set_due(store, [ids[5]], next_poll_at=NOW - timedelta(hours=2))  # the most overdue

    claimed = claim_due_for_poll(store, NOW, "a", LEASE, limit=2)
    assert [c.id for c in claimed] == [ids[5], ids[3]]
    assert [c.id for c in claim_due_for_poll(store, NOW, "b", LEASE, limit=10)] == [ids[4]]
    assert claim_due_for_poll(store, NOW, "c", LEASE, limit=10) == []
    with store() as session:
        leased = session.execute(select(Shipment.id, Shipment.lease_owner, Shipment.lease_until))
        owners = {i: (o, u) for i, o, u in leased}
    assert owners[ids[5]] == ("a", NOW + LEASE)
    assert owners[ids[0]] == (None, None)


def test_expired_lease_passes_the_work_to_another_daemon(store: Factory) -> None:
    [sid] = add_shipments(store, [order(1)], NOW)
    assert claim_due_for_poll(store, NOW, "dead", LEASE, limit=5)[0].id == sid
    assert claim_due_for_poll(store, NOW + LEASE - timedelta(seconds=1), "b", LEASE, 5) == []
    later = NOW + LEASE + timedelta(seconds=1)
    assert [c.id for c in claim_due_for_poll(store, later, "b", LEASE, limit=5)] == [sid]

    def poll_result(session: Session, shipment: Shipment) -> None:
        shipment.status = "in_transit"

    # The daemon that lost its lease cannot write; the new holder can, and then releases.
    assert with_leased(store, sid, "dead", poll_result) is False
    assert with_leased(store, sid, "b", poll_result) is True
    with store() as session:
        row = session.get_one(Shipment, sid)
        assert (row.status, row.lease_owner, row.lease_until) == ("in_transit", None, None)


def test_poll_and_timer_claims_exclude_each_other(store: Factory) -> None:
    [sid] = add_shipments(store, [order(1)], NOW)
    _set_due(store, [sid], next_timer_at=NOW)
    assert len(claim_due_for_poll(store, NOW, "a", LEASE, limit=5)) == 1
    assert claim_due_for_timers(store, NOW, "a", LEASE, limit=5) == []
    # Only the holder of a lease gives it back (writing through it releases it).
    assert with_leased(store, sid, "someone-else", _no_change) is False
    assert claim_due_for_timers(store, NOW, "b", LEASE, limit=5) == []
    assert with_leased(store, sid, "a", _no_change) is True
    assert [c.id for c in claim_due_for_timers(store, NOW, "b", LEASE, limit=5)] == [sid]


def _no_change(session: Session, shipment: Shipment) -> None:
    """A write that changes nothing: only the lease is given back."""


def _race(workers: int, claim: Callable[[str], list[int]]) -> Counter[int]:
    """Run ``claim(owner)`` in a loop in ``workers`` threads until it comes back empty."""
    seen: Counter[int] = Counter()
    lock = threading.Lock()
    errors: list[BaseException] = []
    start = threading.Barrier(workers)

    def worker(owner: str) -> None:
        try:
            start.wait()
            while batch := claim(owner):
                with lock:
                    seen.update(batch)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(f"d{i}",)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return seen


def test_concurrent_claims_never_hand_out_a_shipment_twice(store: Factory) -> None:
    ids = add_shipments(store, [order(i) for i in range(300)], NOW)
    seen = _race(6, lambda owner: [c.id for c in claim_due_for_poll(store, NOW, owner, LEASE, 7)])
    assert sorted(seen) == sorted(ids)
    assert max(seen.values()) == 1


def _queue_notices(store: Factory, shipment_ids: list[int]) -> list[int]:
    with store.begin() as session:
        rows = [
            pending_notice(sid, NOW, not_before=NOW - timedelta(minutes=sid % 7))
            for sid in shipment_ids
        ]
        session.add_all(rows)
        session.flush()
        return [r.id for r in rows]


def test_concurrent_notice_claims_never_hand_out_a_notice_twice(store: Factory) -> None:
    notice_ids = _queue_notices(store, add_shipments(store, [order(i) for i in range(200)], NOW))
    seen = _race(5, lambda owner: [n.id for n in claim_due_notices(store, NOW, owner, LEASE, 6)])
    assert sorted(seen) == sorted(notice_ids)
    assert max(seen.values()) == 1


def test_notice_stuck_in_sending_is_reclaimed_after_its_lease(store: Factory) -> None:
    [nid] = _queue_notices(store, add_shipments(store, [order(1)], NOW))
    assert [n.id for n in claim_due_notices(store, NOW, "dead", LEASE, 5)] == [nid]
    assert claim_due_notices(store, NOW + LEASE / 2, "b", LEASE, 5) == []
    later = NOW + LEASE + timedelta(seconds=1)
    assert [n.id for n in claim_due_notices(store, later, "b", LEASE, 5)] == [nid]
    assert not mark_sent(store, nid, "dead", later, message_id="<x@t>", subject="s")
    assert mark_sent(store, nid, "b", later, message_id="<x@t>", subject="s")
    assert claim_due_notices(store, later + 2 * LEASE, "c", LEASE, 5) == []
    with store() as session:
        row = session.get_one(Notice, nid)
        assert (row.state, row.attempts, row.lease_owner) == ("sent", 1, None)


@pytest.mark.integration
def test_processes_starting_together_migrate_once(store_url: str) -> None:
    script = "import sys; from tracker.store.db import open_store; open_store(sys.argv[1])"
    starts = [
        subprocess.Popen([sys.executable, "-c", script, store_url], stderr=subprocess.PIPE)
        for _ in range(3)
    ]
    outcomes = [(p.communicate(timeout=60)[1].decode(), p.returncode) for p in starts]
    assert [err for err, code in outcomes if code != 0] == []
    factory = open_store(store_url)
    try:
        head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
        assert schema_revision(factory.kw["bind"]) == head
    finally:
        factory.kw["bind"].dispose()


def test_claim_returns_each_row_as_the_orm_reads_it(store: Factory) -> None:
    """The claim runs on the driver's cursor: its values, times included (aware, UTC), are
    those of the stored row, and ties on the due time are taken in id order."""
    ids = add_shipments(store, [order(i) for i in range(4)], NOW)
    estimate = NOW + timedelta(days=3, microseconds=120)
    _set_due(store, ids[:2], next_poll_at=NOW - timedelta(minutes=5))
    _set_due(
        store,
        [ids[1]],
        last_polled_at=NOW - timedelta(hours=7),
        expected_delivery=estimate,
        detail="arrived_delivery_office",
        reply_digest="ab" * 16,
        unchanged_polls=3,
    )
    claimed = claim_due_for_poll(store, NOW, "a", LEASE, limit=10)
    assert [c.id for c in claimed] == [ids[0], ids[1], ids[2], ids[3]]
    with store() as session:
        for item in claimed:
            row = session.get_one(Shipment, item.id)
            assert item._asdict() == {name: getattr(row, name) for name in item._fields}
    assert claimed[1].expected_delivery == estimate
    assert claimed[1].last_polled_at == NOW - timedelta(hours=7)
    assert claimed[1].last_polled_at.tzinfo is not None


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 12, 3, 9, 0, tzinfo=UTC),
        datetime(2026, 12, 3, 9, 0, 0, 1, tzinfo=UTC),
        datetime(1, 1, 1, 0, 0, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 30, 15, 500, tzinfo=timezone(timedelta(hours=5, minutes=45))),
    ],
)
def test_sqlite_times_are_bound_as_the_column_type_writes_them(moment: datetime) -> None:
    from sqlalchemy.dialects import sqlite

    from tracker.store.driver import time_processor

    dialect = sqlite.dialect()
    column_type = Shipment.__table__.c.next_poll_at.type.dialect_impl(dialect)
    processor = column_type.bind_processor(dialect)
    assert processor is not None
    assert time_processor(dialect)(moment) == processor(moment)
    with pytest.raises(ValueError, match="naive"):
        time_processor(dialect)(moment.replace(tzinfo=None))


@pytest.mark.parametrize(
    "stored",
    [
        "2026-12-03 09:00:00.000000",
        "2026-12-03 09:00:00.000001",
        "0001-01-01 00:00:00.000000",
        "9999-12-31 23:59:59.999999",
        "2026-12-03 09:00:00",
        "2026-12-03 09:00:00.5",
        "2026-12-03T09:00:00",
        "2026-12-03",
        "2026-12-03 09:00:00+05:45",
    ],
)
def test_sqlite_times_are_read_as_the_column_type_reads_them(stored: str) -> None:
    from sqlalchemy.dialects import sqlite

    from tracker.store.driver import column_reader

    dialect = sqlite.dialect()
    column = Shipment.__table__.c.next_poll_at
    own = column.type.dialect_impl(dialect).result_processor(dialect, None)
    assert own is not None
    reader = column_reader(dialect, column)
    assert reader is not None
    read, expected = reader(stored), own(stored)
    assert isinstance(read, datetime)
    assert isinstance(expected, datetime)
    assert read == expected
    assert read.utcoffset() == expected.utcoffset() == timedelta(0)
