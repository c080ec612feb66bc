"""The buyer's answer to a delay or refund offer: recorded once, confirmed, passed to the seller.

An answer is an outbox row: the buyer's confirmation email (kind ``buyer_choice``) whose
idempotency key names the offer, so the database's unique key makes a second answer to the same
offer impossible, even from two requests at once. The same transaction writes the audit row
(``buyer.chose``, shown by ``tracker events`` and ``tracker show``) and one seller row per
configured channel (kind ``seller_buyer_choice``), sent like the seller's copy of a refund offer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from notices.payload import CHOICES
from tracker.config import RefundConfig
from tracker.model import Milestone
from tracker.store.models import AuditEntry, Notice, Shipment
from tracker.store.shipments import seller_facts

BUYER_KIND = "buyer_choice"
SELLER_KIND = "seller_buyer_choice"
AUDIT_KIND = "buyer.chose"
OFFER_KINDS = (Milestone.DELAYED.value, Milestone.REFUND_OFFER.value)

Outcome = Literal["recorded", "already", "closed"]


@dataclass(frozen=True, slots=True)
class Offer:
    """An open question to the buyer: the sent notice that asked it and the choices it gave."""

    notice_id: int
    kind: str
    choices: tuple[str, ...]
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class Answer:
    """What the buyer chose, for which offer, and when."""

    offer_notice_id: int
    choice: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ChoiceResult:
    """What one attempt to answer did."""

    outcome: Outcome
    answer: Answer | None = None


def answer_key(shipment_id: int, offer_notice_id: int) -> str:
    """The idempotency key that makes an offer answerable once."""
    return f"{shipment_id}:{BUYER_KIND}:{offer_notice_id}"


def shipment_notices(session: Session, shipment_id: int) -> list[Notice]:
    """The shipment's outbox rows, newest first (a parcel has a few dozen at most)."""
    return list(
        session.scalars(
            select(Notice).where(Notice.shipment_id == shipment_id).order_by(Notice.id.desc())
        )
    )


def latest_offer(status: str, notices: Sequence[Notice]) -> Offer | None:
    """The most recent delay or refund offer the buyer was sent (``notices`` newest first), if
    the parcel has not arrived."""
    if status == "delivered":
        return None
    notice = next((n for n in notices if n.kind in OFFER_KINDS and n.state == "sent"), None)
    if notice is None:
        return None
    choices = tuple(c for c in notice.payload.get("choices") or () if c in CHOICES)
    if not choices:
        return None
    return Offer(notice.id, notice.kind, choices, notice.sent_at)


def answers(notices: Sequence[Notice]) -> dict[int, Answer]:
    """Every answer recorded among ``notices``, by the offer it answers."""
    found: dict[int, Answer] = {}
    for row in notices:
        if row.kind == BUYER_KIND:
            offer_id = int(row.payload["offer_notice_id"])
            found[offer_id] = Answer(offer_id, str(row.payload["choice"]), row.created_at)
    return found


def record_choice(
    factory: sessionmaker[Session],
    refund: RefundConfig,
    shipment_id: int,
    offer_notice_id: int,
    choice: str,
    now: datetime,
    *,
    page_url: str | None = None,
) -> ChoiceResult:
    """Record ``choice`` for the offer once, with its confirmation and the seller's copies.

    ``closed`` when the offer is not the shipment's open one or does not give that choice;
    ``already`` (with the first answer) when it was answered before; nothing changes then.
    """
    try:
        with factory.begin() as session:
            shipment = session.get(Shipment, shipment_id)
            if shipment is None:
                return ChoiceResult("closed")
            notices = shipment_notices(session, shipment_id)
            offer = latest_offer(shipment.status, notices)
            if offer is None or offer.notice_id != offer_notice_id:
                return ChoiceResult("closed")
            earlier = answers(notices).get(offer_notice_id)
            if earlier is not None:
                return ChoiceResult("already", earlier)
            if choice not in offer.choices:
                return ChoiceResult("closed")
            _queue(session, refund, shipment, offer, choice, now, page_url)
    except IntegrityError:
        # a second request for the same offer committed first
        with factory() as session:
            earlier = answers(shipment_notices(session, shipment_id)).get(offer_notice_id)
            return ChoiceResult("already", earlier)
    return ChoiceResult("recorded", Answer(offer_notice_id, choice, now))


def _queue(
    session: Session,
    refund: RefundConfig,
    shipment: Shipment,
    offer: Offer,
    choice: str,
    now: datetime,
    page_url: str | None,
) -> None:
    facts = {
        "offer_notice_id": offer.notice_id,
        "offer_kind": offer.kind,
        "choice": choice,
        "answered_at": now.isoformat(),
    }
    session.add(
        _row(
            shipment.id,
            BUYER_KIND,
            answer_key(shipment.id, offer.notice_id),
            now,
            {**facts, "page_url": page_url},
        )
    )
    for channel, target in (
        ("email", refund.notify_seller_email),
        ("webhook", refund.notify_seller_webhook_env or refund.notify_seller_webhook),
    ):
        if target:
            key = f"{shipment.id}:{SELLER_KIND}:{offer.notice_id}:{channel}"
            session.add(
                _row(
                    shipment.id,
                    SELLER_KIND,
                    key,
                    now,
                    {
                        "channel": channel,
                        "event": "buyer_choice",
                        **seller_facts(shipment),
                        **facts,
                    },
                )
            )
    session.add(
        AuditEntry(
            shipment_id=shipment.id,
            at=now,
            kind=AUDIT_KIND,
            carrier=shipment.carrier,
            data={**facts, "via": "page"},
        )
    )
    session.flush()


def _row(shipment_id: int, kind: str, key: str, now: datetime, payload: dict[str, Any]) -> Notice:
    return Notice(
        shipment_id=shipment_id,
        kind=kind,
        idempotency_key=key,
        state="pending",
        payload=payload,
        created_at=now,
        not_before=now,
        attempts=0,
    )
