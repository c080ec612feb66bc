"""The shop tables: links from shop order parcels to shipments, and received webhook deliveries.

A link is one tracking number of one fulfillment of one shop order. Its ``state`` says whether
the number is still tracked for that order (``active``) or was ``replaced`` by another number,
``removed`` from the fulfillment or ``cancelled`` with it. Deliveries are recorded once per
``(shop, delivery_id)``, which is what makes a repeated webhook store nothing new.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from shops.base import PaypalRef
from shops.payload import ShopPush
from tracker.store.models import AuditEntry, Base, Notice, UTCDateTime

ACTIVE = "active"


class ShopLink(Base):
    """One tracking number of one shop order's fulfillment, and the shipment that tracks it."""

    __tablename__ = "shop_links"
    __table_args__ = (
        UniqueConstraint(
            "shop", "order_id", "fulfillment_id", "tracking_number", name="uq_shop_links_parcel"
        ),
        Index("ix_shop_links_shipment", "shipment_id"),
        Index("ix_shop_links_order", "shop", "order_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shop: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[str] = mapped_column(String(64))
    fulfillment_id: Mapped[str] = mapped_column(String(64))
    tracking_number: Mapped[str] = mapped_column(String(64))
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16))
    order_reference: Mapped[str] = mapped_column(String(100))
    carrier_label: Mapped[str | None] = mapped_column(String(100))
    tracking_url: Mapped[str | None] = mapped_column(String(500))
    paypal_order_id: Mapped[str | None] = mapped_column(String(64))
    paypal_capture_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    @property
    def paypal(self) -> PaypalRef | None:
        """The order's PayPal ids, if it was paid through PayPal."""
        if self.paypal_order_id is None and self.paypal_capture_id is None:
            return None
        return PaypalRef(self.paypal_order_id, self.paypal_capture_id)


class ShopDelivery(Base):
    """One received webhook delivery; ``data`` keeps what it did (and, if unusable, its body)."""

    __tablename__ = "shop_deliveries"
    __table_args__ = (
        UniqueConstraint("shop", "delivery_id", name="uq_shop_deliveries_delivery"),
        Index("ix_shop_deliveries_received", "shop", "received_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shop: Mapped[str] = mapped_column(String(64))
    delivery_id: Mapped[str] = mapped_column(String(200))
    topic: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


def queue_push(session: Session, shipment_id: int, push: ShopPush, now: datetime) -> bool:
    """Add ``push`` to the outbox for ``shipment_id`` unless it is there already; True if added."""
    key = f"{shipment_id}:{push.key()}"
    if session.scalars(select(Notice.id).where(Notice.idempotency_key == key)).first():
        return False
    session.add(
        Notice(
            shipment_id=shipment_id,
            kind=push.kind,
            idempotency_key=key,
            state="pending",
            payload=push.to_json(),
            created_at=now,
            not_before=now,
            attempts=0,
        )
    )
    audit(session, shipment_id, now, "notice.queued", notice_kind=push.kind, key=push.key())
    return True


def audit(session: Session, shipment_id: int | None, now: datetime, kind: str, **data: Any) -> None:
    """One audit row, shown by ``tracker show`` and ``tracker events``."""
    session.add(AuditEntry(shipment_id=shipment_id, at=now, kind=kind, data=data))


def active_links(session: Session, shipment_id: int) -> list[ShopLink]:
    """The shop order parcels a shipment tracks now."""
    return list(
        session.scalars(
            select(ShopLink)
            .where(ShopLink.shipment_id == shipment_id, ShopLink.state == ACTIVE)
            .order_by(ShopLink.id)
        )
    )
