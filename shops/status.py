"""Each shop's health from the store alone (``tracker status`` reads no config): its last
webhook, its last sync, how many parcels it has linked and which of its calls are failing."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shops.store import ACTIVE, ShopDelivery, ShopLink
from tracker.store.models import AuditEntry, Notice
from tracker.store.outbox import SHOP_KIND_PREFIX

_SYNC_KINDS = ("shop.synced", "shop.sync_failed")


def shop_views(session: Session) -> dict[str, dict[str, Any]]:
    """Per shop table: ``last_webhook``, ``last_sync``, ``linked`` and ``failing_calls``."""
    views: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"last_webhook": None, "last_sync": None, "linked": 0, "failing_calls": 0}
    )
    for shop, received_at, outcome, topic in _last_webhooks(session):
        views[shop]["last_webhook"] = {
            "at": received_at.isoformat(),
            "outcome": outcome,
            "topic": topic,
        }
    for shop, linked in session.execute(
        select(ShopLink.shop, func.count()).where(ShopLink.state == ACTIVE).group_by(ShopLink.shop)
    ):
        views[shop]["linked"] = int(linked)
    for at, kind, data in session.execute(
        select(AuditEntry.at, AuditEntry.kind, AuditEntry.data)
        .where(AuditEntry.kind.in_(_SYNC_KINDS))
        .order_by(AuditEntry.at)
    ):
        views[str(data.get("shop"))]["last_sync"] = {
            "at": at.isoformat(),
            "ok": kind == "shop.synced",
            "orders": data.get("orders"),
            "failed_orders": data.get("failed") or [],
            "error": data.get("error"),
        }
    for payload, error in _failing(session):
        view = views[str(payload.get("shop"))]
        view["failing_calls"] += 1
        view["last_error"] = error
    return dict(sorted(views.items()))


def _last_webhooks(session: Session) -> list[Any]:
    latest = (
        select(ShopDelivery.shop, func.max(ShopDelivery.received_at).label("at"))
        .group_by(ShopDelivery.shop)
        .subquery()
    )
    query = select(
        ShopDelivery.shop, ShopDelivery.received_at, ShopDelivery.outcome, ShopDelivery.topic
    ).join(
        latest,
        (latest.c.shop == ShopDelivery.shop) & (latest.c.at == ShopDelivery.received_at),
    )
    return list(session.execute(query).all())


def _failing(session: Session) -> list[Any]:
    """Shop calls that failed for good or are waiting for a retry after failing."""
    query = (
        select(Notice.payload, Notice.last_error)
        .where(
            Notice.kind.startswith(SHOP_KIND_PREFIX),
            (Notice.state == "failed") | ((Notice.state == "pending") & (Notice.attempts > 0)),
        )
        .order_by(Notice.id)
    )
    return list(session.execute(query).all())
