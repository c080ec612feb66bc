"""Which shop pushes a canonical status change causes, queued in the recording transaction.

The recorder calls ``follower(config)`` for every shipment whose status changed; it returns the
outbox rows (``shop:*`` kinds) for each shop order parcel the shipment tracks: Shopify
fulfillment events, WooCommerce's order status once the whole order is delivered, PayPal's
delivered update. A key already queued is never queued again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from shops.base import LinkFacts, StatusChange
from shops.payload import ShopPush
from shops.registry import default_registry
from shops.store import ACTIVE, ShopLink, active_links
from tracker.config import TrackerConfig
from tracker.errors import PluginError
from tracker.eventlog import get_logger
from tracker.model import Detail, Status, TrackedEvent
from tracker.store.history import ShipmentHistory
from tracker.store.models import Notice, Shipment
from tracker.store.outbox import SHOP_KIND_PREFIX
from tracker.store.shipments import NoticeDraft

Follow = Callable[[Session, Shipment, ShipmentHistory, datetime], Sequence[NoticeDraft]]


def follower(config: TrackerConfig) -> Follow | None:
    """The recorder's status-change hook for this config; None when no shop is configured."""
    if not config.shops:
        return None

    def follow(
        session: Session, shipment: Shipment, history: ShipmentHistory, now: datetime
    ) -> list[NoticeDraft]:
        return status_drafts(session, config, shipment, history, now)

    return follow


def change_of(shipment: Shipment, events: Sequence[TrackedEvent], now: datetime) -> StatusChange:
    """The shipment's new status with the event that brought it (time, place, country)."""
    status = Status(shipment.status)
    event = next((e for e in reversed(events) if e.status is status), None)
    if event is None and events:
        event = events[-1]
    return StatusChange(
        status=status,
        detail=Detail(shipment.detail) if shipment.detail else None,
        happened_at=event.raw.occurred_at if event else now,
        place=event.raw.location if event else None,
        country=event.raw.country if event else None,
        estimated_delivery=shipment.expected_delivery,
    )


def status_drafts(
    session: Session,
    config: TrackerConfig,
    shipment: Shipment,
    history: ShipmentHistory,
    now: datetime,
) -> list[NoticeDraft]:
    """The outbox rows for every active link of ``shipment`` after its status changed."""
    links = active_links(session, shipment.id)
    if not links:
        return []
    change = change_of(shipment, history.events, now)
    drafts: list[NoticeDraft] = []
    queued = set(history.notice_keys)
    for link in links:
        for push in _pushes(session, config, link, shipment, change):
            key = push.key()
            if key not in queued:
                queued.add(key)
                drafts.append(NoticeDraft(push.kind, key, now, push.to_json()))
    return drafts


def _pushes(
    session: Session,
    config: TrackerConfig,
    link: ShopLink,
    shipment: Shipment,
    change: StatusChange,
) -> list[ShopPush]:
    entry = config.shops.get(link.shop)
    if entry is None or not entry.enabled:
        return []
    facts = link_facts(session, link, shipment)
    pushes: list[ShopPush] = []
    try:
        if entry.push_status:
            adapter = default_registry().load(entry.adapter or link.shop)
            pushes += adapter.status_pushes(facts, change)
        paypal = config.shops.get(entry.paypal) if entry.paypal else None
        if paypal is not None and entry.paypal is not None and paypal.enabled and link.paypal:
            adapter = default_registry().load(paypal.adapter or entry.paypal)
            pushes += adapter.status_pushes(replace(facts, shop=entry.paypal), change)
    except PluginError as exc:  # a broken plugin must not stop recording the poll
        get_logger(shipment_id=shipment.id, shop=link.shop).error(
            "shop.push_skipped", error=str(exc)
        )
    return pushes


def link_facts(session: Session, link: ShopLink, shipment: Shipment) -> LinkFacts:
    """A link with whether its fulfillment and its whole order are delivered.

    Siblings are loaded as ORM rows so shipments changed earlier in the same recording batch
    count with their new (not yet flushed) status.
    """
    rows = session.execute(
        select(ShopLink.fulfillment_id, Shipment)
        .join(Shipment, Shipment.id == ShopLink.shipment_id)
        .where(
            ShopLink.shop == link.shop,
            ShopLink.order_id == link.order_id,
            ShopLink.state == ACTIVE,
            ShopLink.shipment_id != shipment.id,
        )
    ).all()
    delivered = Status(shipment.status) is Status.DELIVERED
    siblings = [(fid, s.status == Status.DELIVERED.value) for fid, s in rows]
    return LinkFacts(
        shop=link.shop,
        order_id=link.order_id,
        fulfillment_id=link.fulfillment_id,
        tracking_number=link.tracking_number,
        carrier=shipment.carrier,
        carrier_label=link.carrier_label,
        paypal=link.paypal,
        fulfillment_delivered=delivered
        and all(done for fid, done in siblings if fid == link.fulfillment_id),
        order_delivered=delivered and all(done for _, done in siblings),
        last_pushed=_last_pushed(session, link, shipment.id),
    )


def _last_pushed(session: Session, link: ShopLink, shipment_id: int) -> str | None:
    """The status of the newest push queued to ``link.shop`` for this shipment."""
    payloads = session.scalars(
        select(Notice.payload)
        .where(Notice.shipment_id == shipment_id, Notice.kind.startswith(SHOP_KIND_PREFIX))
        .order_by(Notice.id.desc())
    )
    for payload in payloads:
        if payload.get("shop") == link.shop:
            status = payload.get("status")
            return str(status) if status is not None else None
    return None
