"""The notice outbox: claiming due notices with a lease and recording how sending went.

A notice moves pending -> sending (leased) -> sent | failed. A daemon that dies while sending
loses its lease, and the notice becomes claimable again when the lease expires.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from tracker.store.models import AuditEntry, Notice, Shipment, suppressed_among

#: outbox rows whose kind starts with this go to the seller, not the buyer: no quiet hours, no
#: minimum gap, and a buyer's opt-out does not stop them
SELLER_KIND_PREFIX = "seller_"
#: outbox rows whose kind starts with this are calls to a shop or PayPal (shops.dispatch sends
#: them): not buyer notices either, so they never delay the buyer's next email
SHOP_KIND_PREFIX = "shop:"


@dataclass(frozen=True, slots=True)
class FollowUp:
    """An outbox row created in the same transaction that marks a notice sent, so it cannot be
    lost to a crash between the two (e.g. telling the seller a refund was offered)."""

    kind: str
    key: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ClaimedNotice:
    """A leased notice with what rendering needs from its shipment."""

    id: int
    kind: str
    idempotency_key: str
    payload: dict[str, Any]
    attempts: int
    shipment_id: int
    tracking_number: str
    carrier: str
    buyer_email: str
    buyer_name: str
    buyer_language: str | None
    destination_country: str
    origin_country: str | None
    order_reference: str
    shipped_at: datetime
    opted_out: bool
    #: the courier holding the parcel when an aggregator named it (buyers see it, not the
    #: aggregator)
    carrier_holder: str | None = None


def claim_due_notices(
    factory: sessionmaker[Session], now: datetime, owner: str, lease: timedelta, limit: int
) -> list[ClaimedNotice]:
    """Lease up to ``limit`` notices that are due and not held by a live lease."""
    with factory.begin() as session:
        query = (
            select(Notice, Shipment)
            .join(Shipment, Shipment.id == Notice.shipment_id)
            .where(_claimable(now), Notice.not_before <= now)
            .order_by(Notice.not_before, Notice.id)
            .limit(limit)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(of=Notice, skip_locked=True)
        rows = list(session.execute(query).all())
        if not rows:
            return []
        # The UPDATE re-checks claimability: on SQLite the SELECT is not in the write transaction.
        taken = set(
            session.scalars(
                update(Notice)
                .where(Notice.id.in_([n.id for n, _ in rows]), _claimable(now))
                .values(state="sending", lease_owner=owner, lease_until=now + lease)
                .returning(Notice.id)
                .execution_options(synchronize_session=False)
            )
        )
        # The suppression list is read here too: a shipment stored by a path that did not set
        # its flag (a shop's order feed, an older version) still sends nothing to the address.
        quiet = suppressed_among(session, (shipment.buyer_email for _, shipment in rows))
        return [
            _claimed(notice, shipment, quiet) for notice, shipment in rows if notice.id in taken
        ]


def _claimable(now: datetime) -> ColumnElement[bool]:
    """Pending, or stuck in sending by a daemon whose lease ran out."""
    return or_(
        Notice.state == "pending",
        (Notice.state == "sending") & (Notice.lease_until < now),
    )


def _claimed(notice: Notice, shipment: Shipment, suppressed: set[str]) -> ClaimedNotice:
    return ClaimedNotice(
        id=notice.id,
        kind=notice.kind,
        idempotency_key=notice.idempotency_key,
        payload=dict(notice.payload),
        attempts=notice.attempts,
        shipment_id=shipment.id,
        tracking_number=shipment.tracking_number,
        carrier=shipment.carrier,
        buyer_email=shipment.buyer_email,
        buyer_name=shipment.buyer_name,
        buyer_language=shipment.buyer_language,
        destination_country=shipment.destination_country,
        origin_country=shipment.origin_country,
        order_reference=shipment.order_reference,
        shipped_at=shipment.shipped_at,
        carrier_holder=shipment.carrier_holder,
        opted_out=shipment.opted_out or (shipment.buyer_email or "").strip().lower() in suppressed,
    )


def _finish(
    factory: sessionmaker[Session],
    notice_id: int,
    owner: str,
    now: datetime,
    values: dict[str, Any],
    audit_kind: str,
    audit_data: dict[str, Any],
    then: Callable[[Session, Notice], None] | None = None,
) -> bool:
    with factory.begin() as session:
        notice = session.scalars(
            select(Notice)
            .where(Notice.id == notice_id, Notice.lease_owner == owner)
            .with_for_update()
        ).first()
        if notice is None:
            return False
        for key, value in values.items():
            setattr(notice, key, value)
        notice.lease_owner = None
        notice.lease_until = None
        session.add(
            AuditEntry(
                shipment_id=notice.shipment_id,
                at=now,
                kind=audit_kind,
                data={"notice_id": notice.id, "kind": notice.kind, **audit_data},
            )
        )
        if then is not None:
            then(session, notice)
        return True


def _add_follow_ups(
    session: Session, notice: Notice, now: datetime, follow_ups: Sequence[FollowUp]
) -> None:
    """Queue ``follow_ups`` for the notice's shipment, due now; a key already queued is kept."""
    keys = {f"{notice.shipment_id}:{f.key}": f for f in follow_ups}
    existing = set(
        session.scalars(select(Notice.idempotency_key).where(Notice.idempotency_key.in_(keys)))
    )
    for key, follow_up in keys.items():
        if key in existing:
            continue
        session.add(
            Notice(
                shipment_id=notice.shipment_id,
                kind=follow_up.kind,
                idempotency_key=key,
                state="pending",
                payload=follow_up.payload,
                created_at=now,
                not_before=now,
                attempts=0,
            )
        )
        session.add(
            AuditEntry(
                shipment_id=notice.shipment_id,
                at=now,
                kind="notice.queued",
                data={"notice_kind": follow_up.kind, "key": follow_up.key, "after": notice.id},
            )
        )


def mark_sent(
    factory: sessionmaker[Session],
    notice_id: int,
    owner: str,
    now: datetime,
    *,
    message_id: str,
    subject: str,
    follow_ups: Sequence[FollowUp] = (),
    record: tuple[str, dict[str, Any]] | None = None,
) -> bool:
    """Record a successful send; False if our lease was lost meanwhile.

    ``follow_ups`` are queued and ``record`` (an audit kind and its data) is written in the same
    transaction, so they exist exactly when the notice counts as sent.
    """

    def then(session: Session, notice: Notice) -> None:
        if record is not None:
            kind, data = record
            session.add(
                AuditEntry(
                    shipment_id=notice.shipment_id,
                    at=now,
                    kind=kind,
                    data={"notice_id": notice.id, **data},
                )
            )
        _add_follow_ups(session, notice, now, follow_ups)

    return _finish(
        factory,
        notice_id,
        owner,
        now,
        {
            "state": "sent",
            "sent_at": now,
            "message_id": message_id,
            "subject": subject,
            "attempts": Notice.attempts + 1,
        },
        "notice.sent",
        {"message_id": message_id},
        then,
    )


def mark_retry(
    factory: sessionmaker[Session],
    notice_id: int,
    owner: str,
    now: datetime,
    *,
    error: str,
    retry_at: datetime,
) -> bool:
    """A transient failure: back to pending, due again at ``retry_at``."""
    return _finish(
        factory,
        notice_id,
        owner,
        now,
        {
            "state": "pending",
            "not_before": retry_at,
            "last_error": error,
            "attempts": Notice.attempts + 1,
        },
        "notice.retry_scheduled",
        {"error": error, "retry_at": retry_at.isoformat()},
    )


def mark_failed(
    factory: sessionmaker[Session],
    notice_id: int,
    owner: str,
    now: datetime,
    *,
    error: str,
    state: str = "failed",
) -> bool:
    """A permanent failure (or a skip, with ``state='skipped'``): never retried."""
    return _finish(
        factory,
        notice_id,
        owner,
        now,
        {"state": state, "last_error": error, "attempts": Notice.attempts + 1},
        f"notice.{state}",
        {"error": error},
    )
