"""Inbound shop webhooks: ``POST /webhooks/shops/<table name>`` on the daemon's web server.

The raw body is verified first with the adapter's signature check and the table's
``webhook_secret_env``: a bad or missing signature is answered 401, logged
``shop.webhook_rejected``, and nothing is read or stored. A verified delivery is recorded once
per delivery id together with what it changed, in one transaction; a repeat of the same delivery
is answered 200 with ``"duplicate": true`` and stores nothing new. A verified body we cannot read
is kept in its delivery row (answered 400) so nothing the shop sent is lost.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from carriers.registry import default_registry as carrier_registry
from shops.base import InboundWebhook, ShopAdapter, ShopError
from shops.ingest import OrderReport, ShopContext, ingest_checked
from shops.registry import default_registry
from shops.store import ShopDelivery
from tracker.config import secret
from tracker.errors import ConfigError, PluginError
from tracker.eventlog import get_logger
from tracker.runtime.app import TrackerApp

ROUTE = "/webhooks/shops/{name}"
#: how much of an unreadable body is kept for the seller to look at
KEPT_BODY = 64 * 1024


@dataclass
class WebhookReport:
    """What one delivery did."""

    duplicate: bool = False
    orders: list[OrderReport] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The reply body."""
        return {"duplicate": self.duplicate, "orders": [r.to_json() for r in self.orders]}


def shop_path(name: str) -> str:
    """Where ``[shops.NAME]`` receives its webhooks."""
    return ROUTE.replace("{name}", name)


def known_carriers(app: TrackerApp) -> set[str]:
    """Carrier names orders may use: installed adapters and the config's carrier tables."""
    return set(carrier_registry().available()) | set(app.config.carriers)


def record_webhook(
    factory: sessionmaker[Session], ctx: ShopContext, webhook: InboundWebhook
) -> WebhookReport:
    """Record a verified delivery and its orders in one transaction; a delivery id seen before
    stores nothing (blocking; run it on the store's thread)."""
    try:
        with factory.begin() as session:
            if _seen(session, ctx.shop, webhook.delivery_id):
                return WebhookReport(duplicate=True)
            reports = [ingest_checked(session, ctx, order) for order in webhook.orders]
            failed = any(r.error for r in reports)
            outcome = "failed" if failed else "recorded" if reports else "ignored"
            session.add(
                ShopDelivery(
                    shop=ctx.shop,
                    delivery_id=webhook.delivery_id[:200],
                    topic=webhook.topic[:100],
                    received_at=ctx.now,
                    outcome=outcome,
                    data={"orders": [r.to_json() for r in reports]},
                )
            )
    except IntegrityError:  # the same delivery recorded by a concurrent request
        return WebhookReport(duplicate=True)
    return WebhookReport(orders=reports)


def record_unreadable(
    factory: sessionmaker[Session], ctx: ShopContext, body: bytes, topic: str, error: str
) -> None:
    """Keep a verified body we could not read, so the seller can see what the shop sent."""
    delivery = "unreadable:" + hashlib.sha256(body).hexdigest()[:32]
    with factory.begin() as session:
        if _seen(session, ctx.shop, delivery):
            return
        session.add(
            ShopDelivery(
                shop=ctx.shop,
                delivery_id=delivery,
                topic=topic[:100],
                received_at=ctx.now,
                outcome="unreadable",
                data={"error": error, "body": body[:KEPT_BODY].decode("utf-8", "replace")},
            )
        )


def _seen(session: Session, shop: str, delivery_id: str) -> bool:
    query = select(ShopDelivery.id).where(
        ShopDelivery.shop == shop, ShopDelivery.delivery_id == delivery_id[:200]
    )
    return session.scalars(query).first() is not None


class ShopWebhooks:
    """The aiohttp handler for every ``[shops.*]`` table that receives webhooks."""

    def __init__(self, app: TrackerApp) -> None:
        self.app = app
        self.log = get_logger(component="shop_webhooks")

    def routes(self) -> list[web.RouteDef]:
        """The routes to mount on the daemon's web server."""
        return [web.post(ROUTE, self.handle)]

    def receivers(self) -> list[str]:
        """The enabled shop tables that take webhooks."""
        return sorted(
            name
            for name, entry in self.app.config.shops.items()
            if entry.enabled and entry.webhook_secret_env
        )

    def _receiver(self, name: str) -> tuple[type[ShopAdapter], str] | None:
        """The adapter and webhook secret of an enabled shop table, or None."""
        entry = self.app.config.shops.get(name)
        if entry is None or not entry.enabled:
            return None
        adapter = default_registry().load(entry.adapter or name)
        if not adapter.receives_webhooks:
            return None
        key = secret(entry.webhook_secret_env, f"shops.{name}.webhook_secret_env")
        if not key:
            raise ConfigError(f"shops.{name}.webhook_secret_env: required to receive webhooks")
        return adapter, key

    async def handle(self, request: web.Request) -> web.Response:
        """Verify, read and record one delivery."""
        name = request.match_info["name"]
        log = self.log.bind(shop=name)
        try:
            receiver = self._receiver(name)
        except (ConfigError, PluginError) as exc:
            log.error("shop.webhook_misconfigured", error=str(exc))
            return web.json_response({"error": "shop not configured"}, status=503)
        if receiver is None:
            return web.json_response({"error": f"no shop {name!r} receives webhooks"}, status=404)
        adapter, key = receiver
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        if not adapter.verify(body, headers, key):
            log.warning("shop.webhook_rejected", remote=request.remote, size=len(body))
            return web.json_response({"error": "bad signature"}, status=401)
        ctx = ShopContext(name, self.app.config, known_carriers(self.app), self.app.clock.now())
        try:
            webhook = adapter.parse_webhook(body, headers)
        except ShopError as exc:
            await self.app.in_store(
                record_unreadable, self.app.store, ctx, body, _topic(headers), str(exc)
            )
            log.warning("shop.webhook_unreadable", error=str(exc))
            return web.json_response({"error": str(exc)}, status=400)
        report = await self.app.in_store(record_webhook, self.app.store, ctx, webhook)
        self._log(log, webhook, report)
        return web.json_response(report.to_json())

    def _log(self, log: Any, webhook: InboundWebhook, report: WebhookReport) -> None:
        log = log.bind(delivery_id=webhook.delivery_id, topic=webhook.topic)
        if report.duplicate:
            log.info("shop.webhook_duplicate")
            return
        for order in report.orders:
            if order.error:
                log.warning("shop.order_failed", order=order.reference, error=order.error)
            elif order.without_email:
                log.warning("shop.order_without_email", order=order.reference)
        log.info("shop.webhook_recorded", orders=[o.to_json() for o in report.orders])


def _topic(headers: Mapping[str, str]) -> str:
    for name in ("x-shopify-topic", "x-wc-webhook-topic", "x-tracker-topic"):
        if name in headers:
            return headers[name]
    return ""
