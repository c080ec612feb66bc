"""Buyer opt-out: a shipment (or every shipment of one buyer) stops getting notices.

An opt-out by email also puts the address on the suppression list (``Suppression``), which
``add_shipments`` and the outbox claim read, so shipments stored for it later stay quiet too.

The flag is read in two places: the policy queues nothing new for an opted-out shipment, and the
dispatcher skips any notice still pending for it when its turn comes, so opting out takes effect
even for emails already queued. The seller's own copies are not affected.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tracker.store.models import Notice, Shipment, Suppression
from tracker.store.outbox import SELLER_KIND_PREFIX
from tracker.store.shipments import audit


@dataclass(frozen=True, slots=True)
class OptOutResult:
    """What one opt-out changed."""

    shipments: list[str]
    already: list[str]
    pending_notices: int
    #: the address newly put on the suppression list (an opt-out by email), else None
    suppressed: str | None = None


def opt_out(
    factory: sessionmaker[Session],
    now: datetime,
    *,
    tracking_number: str | None = None,
    email: str | None = None,
    source: str = "cli",
) -> OptOutResult:
    """Set ``opted_out`` on the shipment with ``tracking_number`` or every shipment of ``email``
    (case-insensitive), with one audit row each, in one transaction."""
    if (tracking_number is None) == (email is None):
        raise ValueError("give exactly one of tracking_number and email")
    query = select(Shipment).order_by(Shipment.id)
    if tracking_number is not None:
        query = query.where(Shipment.tracking_number == tracking_number)
    else:
        assert email is not None
        query = query.where(func.lower(Shipment.buyer_email) == email.strip().lower())
    with factory.begin() as session:
        shipments = list(session.scalars(query))
        changed = [s for s in shipments if not s.opted_out]
        pending = _pending_buyer_notices(session, [s.id for s in changed])
        for shipment in changed:
            shipment.opted_out = True
            audit(
                session,
                shipment,
                now,
                "shipment.opted_out",
                by="email" if email is not None else "tracking_number",
                source=source,
                pending_notices=pending.get(shipment.id, 0),
            )
        return OptOutResult(
            shipments=[s.tracking_number for s in changed],
            already=[s.tracking_number for s in shipments if s not in changed],
            pending_notices=sum(pending.values()),
            suppressed=None if email is None else _suppress(session, email, now, source),
        )


def _suppress(session: Session, email: str, now: datetime, source: str) -> str | None:
    """Put ``email`` on the suppression list; the lower-cased address if it was not on it."""
    address = email.strip().lower()
    if session.get(Suppression, address) is not None:
        return None
    session.add(Suppression(email=address, added_at=now, source=source))
    return address


def _pending_buyer_notices(session: Session, shipment_ids: list[int]) -> dict[int, int]:
    """Unsent buyer notices per shipment: the dispatcher will skip them."""
    if not shipment_ids:
        return {}
    rows = session.execute(
        select(Notice.shipment_id, func.count())
        .where(
            Notice.shipment_id.in_(shipment_ids),
            Notice.state.in_(("pending", "sending")),
            Notice.kind.not_like(f"{SELLER_KIND_PREFIX}%"),
        )
        .group_by(Notice.shipment_id)
    )
    return {int(shipment_id): int(count) for shipment_id, count in rows}
