"""A seller's corrections to a stored shipment: ``tracker edit``, ``tracker stop`` and
``tracker poll``. Each is one transaction with an audit row, and none deletes history."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tracker.errors import InputError
from tracker.store.models import Notice, Shipment
from tracker.store.outbox import SELLER_KIND_PREFIX
from tracker.store.shipments import audit

#: the fields ``tracker edit`` may change
EDITABLE = ("carrier", "buyer_email", "buyer_name", "buyer_language", "destination_country")


def find_one(session: Session, number: str, carrier: str | None) -> Shipment:
    """The shipment tracked as ``number`` (under ``carrier`` when it is tracked under two)."""
    query = select(Shipment).where(Shipment.tracking_number == number)
    if carrier is not None:
        query = query.where(Shipment.carrier == carrier)
    found = list(session.scalars(query.order_by(Shipment.id)))
    if not found:
        under = f" under {carrier}" if carrier else ""
        raise InputError(f"tracking number {number!r} is not tracked{under}")
    if len(found) > 1:
        carriers = ", ".join(s.carrier for s in found)
        raise InputError(f"{number} is tracked under {carriers}: say which with --under CARRIER")
    return found[0]


def edit_shipment(
    factory: sessionmaker[Session],
    number: str,
    changes: Mapping[str, str],
    now: datetime,
    *,
    carrier: str | None = None,
) -> dict[str, tuple[str | None, str]]:
    """Apply ``changes`` (fields of ``EDITABLE``, already validated); field -> (old, new) for
    what changed. A new carrier makes the shipment due for a poll now."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    with factory.begin() as session:
        shipment = find_one(session, number, carrier)
        changed = {
            field: (getattr(shipment, field), value)
            for field, value in changes.items()
            if getattr(shipment, field) != value
        }
        if "carrier" in changed:
            _refuse_taken(session, number, changes["carrier"])
            if shipment.stopped_at is None:  # a stopped one stays stopped (tracker poll resumes)
                shipment.next_poll_at = now
            shipment.poll_failures = 0
        for field, (_, value) in changed.items():
            setattr(shipment, field, value)
        if changed:
            audit(
                session,
                shipment,
                now,
                "shipment.edited",
                **{field: {"from": old, "to": new} for field, (old, new) in changed.items()},
            )
        return changed


def _refuse_taken(session: Session, number: str, carrier: str) -> None:
    taken = session.scalars(
        select(Shipment.id).where(Shipment.tracking_number == number, Shipment.carrier == carrier)
    ).first()
    if taken is not None:
        raise InputError(f"{number} is already tracked under {carrier}")


def stop_tracking(
    factory: sessionmaker[Session], number: str, now: datetime, *, carrier: str | None = None
) -> int:
    """No more polls, timers or buyer notices for the shipment; its events, notices and audit
    stay, and a later push is kept as history only (``stopped_at``). Any lease is taken back, so
    a poll or push under way when the stop comes records nothing. The number of pending notices
    skipped."""
    with factory.begin() as session:
        shipment = find_one(session, number, carrier)
        shipment.stopped_at = shipment.stopped_at or now
        shipment.lease_owner = shipment.lease_until = None
        if shipment.next_poll_at is None and shipment.next_timer_at is None:
            pending = 0
        else:
            shipment.next_poll_at = None
            shipment.next_timer_at = None
            notices = list(
                session.scalars(
                    select(Notice).where(
                        Notice.shipment_id == shipment.id,
                        Notice.state == "pending",
                        Notice.kind.not_like(f"{SELLER_KIND_PREFIX}%"),
                    )
                )
            )
            for notice in notices:
                notice.state = "skipped"
                notice.last_error = "tracking stopped by `tracker stop`"
            pending = len(notices)
        audit(session, shipment, now, "shipment.stopped", skipped_notices=pending)
        return pending


def poll_now(
    factory: sessionmaker[Session], number: str, now: datetime, *, carrier: str | None = None
) -> Shipment:
    """Make the shipment due for a poll now, with its back-off forgotten (after a fixed key,
    say); the running daemon polls it at its next poll run. A stopped shipment is tracked again."""
    with factory.begin() as session:
        shipment = find_one(session, number, carrier)
        shipment.stopped_at = None
        shipment.next_poll_at = now
        shipment.poll_failures = 0
        shipment.unchanged_polls = 0
        audit(session, shipment, now, "shipment.poll_requested")
        return shipment
