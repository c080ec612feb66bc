"""Shop orders into shipments: one shipment per tracking number, tied to its order by a link.

Reconciling is per fulfillment the message carries (others are left alone): a number not yet
linked is tracked (or an already tracked shipment is linked); a linked number the fulfillment no
longer lists was replaced (when another number came in its place) or removed; a cancelled
fulfillment stops all of its numbers. A stopped shipment is no longer polled, its pending buyer
notices are skipped, and a PayPal tracker already added for it is cancelled.

Every order is checked completely before anything is written, so a bad order (no country, a
carrier we cannot find) is reported and stores nothing, and one bad order never holds back the
others of a sync. An order without an email address is tracked without buyer notices (the
shipment is marked opted out) and the seller is told in the report and the audit log.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from shops.base import LinkFacts, ShopError, ShopFulfillment, ShopOrder, ShopParcel, StatusChange
from shops.carrier_names import carrier_for_label
from shops.paypal import delivered_push, track_push
from shops.store import ACTIVE, ShopLink, audit, queue_push
from tracker.config import ShopConfig, TrackerConfig
from tracker.errors import InputError
from tracker.model import Status
from tracker.orders import parse_order
from tracker.store.models import Notice, Shipment
from tracker.store.shipments import NewShipment

#: parse_order insists on an address; the checks we need from it (number, carrier, country,
#: language, dates) do not depend on it, so an order without one is checked with this stand-in
#: and stored with no address at all.
_NO_EMAIL_STAND_IN = "no-address@example.invalid"


@dataclass
class OrderReport:
    """What one order did: numbers tracked, linked, replaced and stopped, or why it failed."""

    shop: str
    order_id: str
    reference: str
    tracked: list[str] = field(default_factory=list)
    linked: list[str] = field(default_factory=list)
    replaced: list[tuple[str, str]] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    without_email: bool = False
    error: str | None = None

    @property
    def changed(self) -> bool:
        """Whether the order changed anything stored."""
        return bool(self.tracked or self.linked or self.replaced or self.stopped)

    def to_json(self) -> dict[str, Any]:
        """A summary for webhook replies, delivery rows and sync output."""
        data: dict[str, Any] = {"order": self.reference, "order_id": self.order_id}
        for name in ("tracked", "linked", "stopped"):
            if values := getattr(self, name):
                data[name] = values
        if self.replaced:
            data["replaced"] = [{"old": old, "new": new} for old, new in self.replaced]
        if self.without_email:
            data["without_email"] = True
        if self.error:
            data["error"] = self.error
        return data


@dataclass(frozen=True, slots=True)
class ShopContext:
    """What ingesting orders for one shop needs besides the session."""

    shop: str
    config: TrackerConfig
    carriers: Collection[str]
    now: datetime

    @property
    def settings(self) -> ShopConfig:
        """The shop's config table."""
        return self.config.shops[self.shop]


@dataclass(frozen=True, slots=True)
class _Plan:
    """The checked shipment for a number that is not tracked yet."""

    fulfillment: ShopFulfillment
    parcel: ShopParcel
    number: str
    new: NewShipment | None


def compact(number: str) -> str:
    """A tracking number as stored (what ``tracker add`` does: no spaces or dashes, upper case)."""
    return re.sub(r"[\s-]", "", number).upper()


def ingest_order(session: Session, ctx: ShopContext, order: ShopOrder) -> OrderReport:
    """Reconcile one order inside the caller's transaction; InputError before any write when
    the order cannot be tracked."""
    report = OrderReport(ctx.shop, order.order_id, order.reference)
    links = _links(session, ctx.shop, order.order_id)
    plans = _plan(session, ctx, order, links)
    for fulfillment in order.fulfillments:
        current = {k.tracking_number: k for k in links if k.fulfillment_id == fulfillment.id}
        if fulfillment.cancelled:
            for link in current.values():
                if link.state == ACTIVE:
                    _stop(session, ctx, link, "cancelled", None)
                    report.stopped.append(link.tracking_number)
            continue
        wanted = {compact(p.tracking_number) for p in fulfillment.parcels}
        incoming = [p for p in plans if p.fulfillment is fulfillment]
        for plan in incoming:
            _track(session, ctx, order, plan, current.get(plan.number), report)
        gone = [k for n, k in current.items() if k.state == ACTIVE and n not in wanted]
        for index, link in enumerate(gone):
            new = incoming[index].number if index < len(incoming) else None
            _stop(session, ctx, link, "replaced" if new else "removed", new)
            if new:
                report.replaced.append((link.tracking_number, new))
            else:
                report.stopped.append(link.tracking_number)
    if report.tracked and not order.buyer_email:
        report.without_email = True
    return report


def _links(session: Session, shop: str, order_id: str) -> list[ShopLink]:
    return list(
        session.scalars(
            select(ShopLink)
            .where(ShopLink.shop == shop, ShopLink.order_id == order_id)
            .order_by(ShopLink.id)
        )
    )


def _plan(
    session: Session, ctx: ShopContext, order: ShopOrder, links: Sequence[ShopLink]
) -> list[_Plan]:
    """Every number to (re)activate, checked; raises before anything is written."""
    active = {(k.fulfillment_id, k.tracking_number) for k in links if k.state == ACTIVE}
    plans: list[_Plan] = []
    for fulfillment in order.fulfillments:
        if fulfillment.cancelled:
            continue
        for parcel in fulfillment.parcels:
            number = compact(parcel.tracking_number)
            if (fulfillment.id, number) in active or any(p.number == number for p in plans):
                continue
            existing = session.scalars(
                select(Shipment.id).where(Shipment.tracking_number == number)
            ).first()
            new = None if existing else _checked(ctx, order, fulfillment, parcel)
            plans.append(_Plan(fulfillment, parcel, number, new))
    return plans


def _carrier(ctx: ShopContext, label: str | None) -> str:
    """Our carrier for a shop's label: an installed name, a known label, else detection."""
    if label and label.strip().lower() in ctx.carriers:
        return label.strip().lower()
    mapped = carrier_for_label(label)
    return mapped if mapped and mapped in ctx.carriers else "auto"


def _checked(
    ctx: ShopContext, order: ShopOrder, fulfillment: ShopFulfillment, parcel: ShopParcel
) -> NewShipment:
    """The shipment for a new number, through the same checks as ``tracker add``."""
    email = order.buyer_email
    shipped = fulfillment.shipped_at or ctx.now
    row = {
        "tracking_number": parcel.tracking_number,
        "carrier": _carrier(ctx, parcel.carrier_label),
        "buyer_email": email or _NO_EMAIL_STAND_IN,
        "buyer_name": order.buyer_name or (email.split("@")[0] if email else order.reference),
        "buyer_language": order.language,
        "destination_country": order.country,
        "origin_country": ctx.settings.origin_country,
        "order_reference": order.reference,
        "shipped_date": min(shipped, ctx.now).isoformat(),
    }
    aggregator = ctx.config.routing.aggregator
    try:
        checked = parse_order(row, now=ctx.now, carriers=ctx.carriers, aggregator=aggregator)
    except InputError as exc:
        if not str(exc).startswith("buyer_language"):
            raise InputError(
                f"order {order.reference}, number {parcel.tracking_number}: {exc}"
            ) from exc
        # An odd locale never stops tracking: the buyer's country picks the language instead.
        row["buyer_language"] = None
        checked = parse_order(row, now=ctx.now, carriers=ctx.carriers, aggregator=aggregator)
    return checked if email else replace(checked, buyer_email="")


def _track(
    session: Session,
    ctx: ShopContext,
    order: ShopOrder,
    plan: _Plan,
    link: ShopLink | None,
    report: OrderReport,
) -> None:
    if plan.new is not None:
        shipment = _add_shipment(session, ctx, plan.new)
        report.tracked.append(plan.number)
        if not order.buyer_email:
            audit(
                session,
                shipment.id,
                ctx.now,
                "shop.order_without_email",
                shop=ctx.shop,
                order=order.reference,
                note="tracked without buyer notices",
            )
    else:
        found = session.scalars(select(Shipment).where(Shipment.tracking_number == plan.number))
        shipment = found.first()  # type: ignore[assignment]
        assert shipment is not None
        _resume(shipment, ctx.now)
        report.linked.append(plan.number)
    if link is None:
        link = ShopLink(
            shop=ctx.shop,
            order_id=order.order_id,
            fulfillment_id=plan.fulfillment.id,
            tracking_number=plan.number,
            created_at=ctx.now,
        )
        session.add(link)
    link.shipment_id = shipment.id
    link.state = ACTIVE
    link.order_reference = order.reference[:100]
    link.carrier_label = (plan.parcel.carrier_label or "")[:100] or None
    link.tracking_url = (plan.parcel.tracking_url or "")[:500] or None
    link.paypal_order_id = order.paypal.order_id if order.paypal else None
    link.paypal_capture_id = order.paypal.capture_id if order.paypal else None
    link.updated_at = ctx.now
    audit(
        session,
        shipment.id,
        ctx.now,
        "shop.order_linked",
        shop=ctx.shop,
        order=order.reference,
        fulfillment=plan.fulfillment.id,
    )
    _queue_paypal_track(session, ctx, link, shipment)


def _add_shipment(session: Session, ctx: ShopContext, item: NewShipment) -> Shipment:
    shipment = Shipment(
        tracking_number=item.tracking_number,
        carrier=item.carrier,
        buyer_email=item.buyer_email,
        buyer_name=item.buyer_name,
        buyer_language=item.buyer_language,
        destination_country=item.destination_country,
        origin_country=item.origin_country,
        order_reference=item.order_reference,
        shipped_at=item.shipped_at,
        created_at=ctx.now,
        status=Status.PENDING.value,
        next_poll_at=ctx.now,
        unchanged_polls=0,
        poll_failures=0,
        # No address, no buyer notices: the opt-out is what keeps them from being queued.
        opted_out=not item.buyer_email,
    )
    session.add(shipment)
    session.flush()
    audit(session, shipment.id, ctx.now, "shipment.added", source=f"shop:{ctx.shop}")
    return shipment


def _resume(shipment: Shipment, now: datetime) -> None:
    """A number stopped earlier and now back in a fulfillment is polled again."""
    if shipment.next_poll_at is None and Status(shipment.status) not in {
        Status.DELIVERED,
        Status.RETURNED,
        Status.EXPIRED,
    }:
        shipment.stopped_at = None
        shipment.next_poll_at = now


def _facts(link: ShopLink, carrier: str, shop: str | None = None) -> LinkFacts:
    return LinkFacts(
        shop=shop or link.shop,
        order_id=link.order_id,
        fulfillment_id=link.fulfillment_id,
        tracking_number=link.tracking_number,
        carrier=carrier,
        carrier_label=link.carrier_label,
        paypal=link.paypal,
        fulfillment_delivered=False,
        order_delivered=False,
    )


def _queue_paypal_track(
    session: Session, ctx: ShopContext, link: ShopLink, shipment: Shipment
) -> None:
    paypal = ctx.settings.paypal
    if paypal is None or link.paypal is None or paypal not in ctx.config.shops:
        return
    push = track_push(_facts(link, shipment.carrier, paypal), ctx.now)
    queue_push(session, shipment.id, push, ctx.now)


def _stop(
    session: Session, ctx: ShopContext, link: ShopLink, reason: str, replaced_by: str | None
) -> None:
    """Stop tracking ``link``'s number for this order (and the shipment, if nothing else
    needs it)."""
    link.state = reason
    link.updated_at = ctx.now
    kind = {"cancelled": "shop.fulfillment_cancelled", "replaced": "shop.number_replaced"}
    audit(
        session,
        link.shipment_id,
        ctx.now,
        kind.get(reason, "shop.number_removed"),
        shop=ctx.shop,
        order=link.order_reference,
        number=link.tracking_number,
        replaced_by=replaced_by,
    )
    others = session.scalars(
        select(ShopLink.id).where(
            ShopLink.shipment_id == link.shipment_id,
            ShopLink.state == ACTIVE,
            ShopLink.id != link.id,
        )
    ).first()
    if others is None:
        session.execute(
            update(Shipment)
            .where(Shipment.id == link.shipment_id)
            .values(next_poll_at=None, next_timer_at=None, stopped_at=ctx.now)
        )
        session.execute(
            update(Notice)
            .where(Notice.shipment_id == link.shipment_id, Notice.state == "pending")
            .values(state="skipped", last_error=f"tracking stopped: number {reason} in the shop")
        )
    _cancel_paypal_tracker(session, ctx, link)


def _cancel_paypal_tracker(session: Session, ctx: ShopContext, link: ShopLink) -> None:
    """A tracker PayPal already has for a stopped number is cancelled (once)."""
    paypal = ctx.settings.paypal
    if paypal is None or link.paypal is None or paypal not in ctx.config.shops:
        return
    added = session.scalars(
        select(Notice.id).where(
            Notice.shipment_id == link.shipment_id,
            Notice.kind == "shop:paypal_track",
            Notice.state == "sent",
        )
    ).first()
    if added is None:
        return
    carrier = session.scalars(select(Shipment.carrier).where(Shipment.id == link.shipment_id)).one()
    change = StatusChange(Status.EXCEPTION, None, ctx.now)
    push = delivered_push(_facts(link, carrier, paypal), change, status="CANCELLED")
    queue_push(session, link.shipment_id, push, ctx.now)


def ingest_checked(session: Session, ctx: ShopContext, order: ShopOrder) -> OrderReport:
    """``ingest_order``, with an order that cannot be tracked reported instead of raised."""
    try:
        return ingest_order(session, ctx, order)
    except (InputError, ShopError) as exc:
        return OrderReport(ctx.shop, order.order_id, order.reference, error=str(exc))


def record_orders(
    factory: sessionmaker[Session], ctx: ShopContext, orders: Sequence[ShopOrder]
) -> list[OrderReport]:
    """Ingest orders one transaction each (a sync): what was stored stays when a later one
    fails, and the report names the failed orders."""
    reports = []
    for order in orders:
        with factory.begin() as session:
            reports.append(ingest_checked(session, ctx, order))
    return reports
