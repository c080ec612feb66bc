"""The notice outbox: claiming due notices with a lease and recording how sending went.

A notice moves pending -> sending (leased) -> sent | failed. A daemon that dies while sending
loses its lease, and the notice becomes claimable again when the lease expires.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from tracker.store.models import AuditEntry, Notice, Shipment


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
        return [_claimed(notice, shipment) for notice, shipment in rows if notice.id in taken]


def _claimable(now: datetime) -> ColumnElement[bool]:
    """Pending, or stuck in sending by a daemon whose lease ran out."""
    return or_(
        Notice.state == "pending",
        (Notice.state == "sending") & (Notice.lease_until < now),
    )


def _claimed(notice: Notice, shipment: Shipment) -> ClaimedNotice:
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
        opted_out=shipment.opted_out,
    )


def _finish(
    factory: sessionmaker[Session],
    notice_id: int,
    owner: str,
    now: datetime,
    values: dict[str, Any],
    audit_kind: str,
    audit_data: dict[str, Any],
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
        return True


def mark_sent(
    factory: sessionmaker[Session],
    notice_id: int,
    owner: str,
    now: datetime,
    *,
    message_id: str,
    subject: str,
) -> bool:
    """Record a successful send; False if our lease was lost meanwhile."""
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
