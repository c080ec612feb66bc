"""What a decision sees of a shipment's past: its events in order and when its buyer was last
emailed, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import text, update
from sqlalchemy.orm import Session, sessionmaker

from tests.store.conftest import NOW, order
from tracker.model import Classification, Detail, RawEvent, Status, TrackedEvent
from tracker.store.history import PendingWrites, ShipmentHistory, load_histories
from tracker.store.models import AuditEntry, Notice, Shipment, TrackingEvent
from tracker.store.shipments import NoticeDraft, add_shipments


def _event(hours: int, text: str) -> TrackedEvent:
    raw = RawEvent(occurred_at=NOW + timedelta(hours=hours), text=text, carrier="sandbox")
    return TrackedEvent(raw, Classification(Status.IN_TRANSIT, None, "test"))


def test_last_notice_ignores_seller_copies_and_failed_notices(
    store: sessionmaker[Session],
) -> None:
    (shipment_id, other_id) = add_shipments(store, [order(1), order(2)], NOW)
    drafts = [
        NoticeDraft("shipped", "shipped", NOW, {}),
        # Both later than the buyer's email, and neither may hold back the buyer's next one.
        NoticeDraft(
            "seller_refund_offer", "seller_refund_offer:email", NOW + timedelta(hours=1), {}
        ),
        NoticeDraft("delayed", "delayed", NOW + timedelta(hours=2), {}),
    ]
    with store.begin() as session:
        shipment = session.get_one(Shipment, shipment_id)
        writes = PendingWrites()
        writes.add_notices(shipment, ShipmentHistory(), drafts, NOW)
        # Stored out of time order: the history must sort them itself.
        writes.add_events(
            shipment, ShipmentHistory(), [_event(5, "later"), _event(1, "first")], NOW
        )
        writes.flush(session)
        session.execute(
            update(Notice)
            .where(Notice.idempotency_key == f"{shipment_id}:delayed")
            .values(state="failed")
        )

    with store() as session:
        histories = load_histories(session, [shipment_id, other_id])

    history = histories[shipment_id]
    assert history.last_notice_at is not None
    assert history.last_notice_at.replace(tzinfo=NOW.tzinfo) == NOW
    assert history.notice_keys == {"shipped", "seller_refund_offer:email", "delayed"}
    assert [e.raw.text for e in history.events] == ["first", "later"]
    assert len(history.fingerprints) == 2
    # A shipment with no past gets an empty history, not a missing key.
    assert histories[other_id].last_notice_at is None
    assert histories[other_id].events == []


def _stored(session: Session, table: str, shipment_id: int) -> list[dict[str, object]]:
    rows = session.execute(
        text(f"SELECT * FROM {table} WHERE shipment_id = :sid ORDER BY id"), {"sid": shipment_id}
    )
    return [
        # the key begins with the shipment's id
        {k: v for k, v in row._mapping.items() if k not in ("id", "shipment_id")}
        | ({"idempotency_key": row.idempotency_key.split(":", 1)[1]} if table == "notices" else {})
        for row in rows
    ]


def test_queued_rows_are_stored_as_the_orm_stores_them(store: sessionmaker[Session]) -> None:
    """PendingWrites hands the driver value tuples in its own column order; each value must
    land in its column exactly as an ORM object's attribute would (times, JSON, cut texts)."""
    (ours, orms) = add_shipments(store, [order(3), order(4)], NOW)
    east = timezone(timedelta(hours=8))
    raw = RawEvent(
        datetime(2026, 3, 1, 17, 30, 0, 120, tzinfo=east), "Arrived", "EMC", "L" * 300, "cn", "x"
    )
    classified = TrackedEvent(raw, Classification(Status.IN_TRANSIT, Detail.ACCEPTED, "r1"))
    payload = {"expected_by": "2026-03-09T00:00:00+00:00", "choices": ["wait", "refund"]}
    draft = NoticeDraft("shipped", "shipped", NOW + timedelta(hours=2), payload)
    with store.begin() as session:
        shipment = session.get_one(Shipment, ours)
        writes = PendingWrites()
        writes.add_events(shipment, ShipmentHistory(), [classified], NOW)
        writes.add_notices(shipment, ShipmentHistory(), [draft], NOW)
        writes.add_seller_alert(shipment, ShipmentHistory(), "not_handed_over", ["email"], NOW)
        writes.flush(session)
        session.add_all(
            [
                TrackingEvent(
                    shipment_id=orms,
                    fingerprint=raw.fingerprint(),
                    occurred_at=raw.occurred_at,
                    code="EMC",
                    text="Arrived",
                    location="L" * 199 + "…",
                    country="CN",
                    carrier=shipment.carrier,
                    status="in_transit",
                    detail="accepted",
                    rule="r1",
                    recorded_at=NOW,
                ),
                Notice(
                    shipment_id=orms,
                    kind="shipped",
                    idempotency_key=f"{orms}:shipped",
                    state="pending",
                    payload=payload,
                    created_at=NOW,
                    not_before=NOW + timedelta(hours=2),
                    attempts=0,
                ),
                AuditEntry(
                    shipment_id=orms,
                    at=NOW,
                    kind="notice.queued",
                    carrier=shipment.carrier,
                    data={"notice_kind": "shipped", "key": "shipped"},
                ),
            ]
        )
    with store() as session:
        events, notices, audit = (
            _stored(session, table, ours) for table in ("tracking_events", "notices", "audit_log")
        )
        assert events == _stored(session, "tracking_events", orms)
        assert notices[:1] == _stored(session, "notices", orms)
        assert audit[:2] == _stored(session, "audit_log", orms)  # shipment.added first
    assert [n["kind"] for n in notices] == ["shipped", "seller_not_handed_over"]
    assert notices[1]["idempotency_key"] == "seller:not_handed_over:email"
    assert [a["kind"] for a in audit][1:] == ["notice.queued", "seller.not_handed_over"]
