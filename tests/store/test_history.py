"""What a decision sees of a shipment's past: its events in order and when its buyer was last
emailed, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from tests.store.conftest import NOW, order
from tracker.model import Classification, RawEvent, Status, TrackedEvent
from tracker.store.history import PendingWrites, ShipmentHistory, load_histories
from tracker.store.models import Notice, Shipment
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
