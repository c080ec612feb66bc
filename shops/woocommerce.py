"""WooCommerce: order webhooks in, REST API v3 for backfill and the order status on delivery.

Webhooks (``order.created``, ``order.updated``) carry ``X-WC-Webhook-Signature``: base64
HMAC-SHA256 of the raw body keyed with the webhook's secret, and ``X-WC-Webhook-Delivery-ID``.
Tracking numbers come from the Shipment Tracking extension's ``_wc_shipment_tracking_items``
order meta (one group per order) and, in a sync, from core order fulfillments
(``/orders/{id}/fulfillments``, meta ``_tracking_number`` / ``_shipment_provider`` /
``_tracking_url``) where that feature is on. A cancelled, refunded or failed order stops its
numbers. Orders paid through PayPal carry the capture id in ``transaction_id`` and, with PayPal
Payments, the PayPal order id in ``_ppcp_paypal_order_id``.

The REST API is called with the consumer key and secret over HTTPS (HTTP Basic); on delivery the
order's status can be set (``delivered_status``, e.g. ``completed``).
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from shops.base import (
    InboundWebhook,
    LinkFacts,
    PaypalRef,
    PushResult,
    ShopAdapter,
    ShopError,
    ShopFulfillment,
    ShopOrder,
    ShopParcel,
    StatusChange,
)
from shops.calls import outcome, reply_object, send_json
from shops.payload import ShopPush
from shops.reading import full_name, json_object, objects, required, text, timestamp
from shops.signing import base64_signature, matches
from tracker.model import Status

TRACKING_META = "_wc_shipment_tracking_items"
#: the fulfillment id under which Shipment Tracking's items are grouped
SHIPMENT_TRACKING_GROUP = "shipment-tracking"
STOPPED_ORDER = frozenset({"cancelled", "refunded", "failed", "trash"})
PAYPAL_METHODS = ("ppcp", "paypal")
PAGE_SIZE = 50


class WooCommerceAdapter(ShopAdapter):
    """A WooCommerce store reached through its REST API keys."""

    name: ClassVar[str] = "woocommerce"
    display_name: ClassVar[str] = "WooCommerce"
    required: ClassVar[tuple[str, ...]] = (
        "base_url",
        "consumer_key_env",
        "consumer_secret_env",
        "webhook_secret_env",
    )
    syncs: ClassVar[bool] = True

    @classmethod
    def verify(cls, body: bytes, headers: Mapping[str, str], secret: str) -> bool:
        return matches(base64_signature(secret, body), headers.get("x-wc-webhook-signature"))

    @classmethod
    def parse_webhook(cls, body: bytes, headers: Mapping[str, str]) -> InboundWebhook:
        topic = headers.get("x-wc-webhook-topic", "")
        delivery = headers.get("x-wc-webhook-delivery-id") or hashlib.sha256(body).hexdigest()
        if body.startswith(b"webhook_id="):  # the ping WooCommerce sends when a hook is saved
            return InboundWebhook(delivery_id=delivery, topic="ping", orders=())
        if not topic.startswith("order."):
            return InboundWebhook(delivery_id=delivery, topic=topic, orders=())
        where = f"woocommerce webhook {topic}"
        return InboundWebhook(
            delivery_id=delivery,
            topic=topic,
            orders=(order_from_rest(json_object(body, where), where),),
        )

    @classmethod
    def status_pushes(cls, link: LinkFacts, change: StatusChange) -> list[ShopPush]:
        # The status to set comes from config at send time; deciding only needs "all delivered".
        if change.status is not Status.DELIVERED or not link.order_delivered:
            return []
        return [
            ShopPush(
                shop=link.shop,
                action="order_status",
                order_id=link.order_id,
                tracking_number=link.tracking_number,
                status="delivered",
                happened_at=change.happened_at,
                carrier=link.carrier,
            )
        ]

    def _url(self, path: str) -> str:
        return f"{(self.settings.base_url or '').rstrip('/')}/wp-json/wc/v3/{path}"

    def _auth(self) -> httpx.Auth:
        return httpx.BasicAuth(self.settings.client_id or "", self.settings.client_secret or "")

    async def send(self, client: httpx.AsyncClient, pushes: Sequence[ShopPush]) -> list[PushResult]:
        return [await outcome(self._set_status(client, push)) for push in pushes]

    async def _set_status(self, client: httpx.AsyncClient, push: ShopPush) -> PushResult:
        status = self.settings.delivered_status
        if not status:
            return PushResult(
                "failed", error=f"shops.{self.settings.name}.delivered_status is unset"
            )
        reply = await send_json(
            client,
            "PUT",
            self._url(f"orders/{push.order_id}"),
            self.settings.name,
            body={"status": status},
            auth=self._auth(),
        )
        data = reply_object(reply, self.settings.name)
        return PushResult(
            "sent", reference=f"order {text(data.get('id'))} {text(data.get('status'))}"
        )

    async def fetch_orders(
        self, client: httpx.AsyncClient, since: datetime
    ) -> AsyncIterator[list[ShopOrder]]:
        after = since.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")
        page = 1
        while True:
            params = {
                "modified_after": after,
                "per_page": str(PAGE_SIZE),
                "page": str(page),
                "dates_are_gmt": "true",
            }
            reply = await send_json(
                client,
                "GET",
                self._url("orders"),
                self.settings.name,
                params=params,
                auth=self._auth(),
            )
            rows = reply_object(reply, self.settings.name)
            if not isinstance(rows, list):
                raise ShopError(f"{self.settings.name}: orders reply is not a list")
            where = f"{self.settings.name} orders page {page}"
            orders = []
            for row in objects(rows):
                order = order_from_rest(row, where)
                core = await self._core_fulfillments(client, order.order_id)
                orders.append(_with(order, core))
            yield orders
            if len(rows) < PAGE_SIZE:
                return
            page += 1

    async def _core_fulfillments(
        self, client: httpx.AsyncClient, order_id: str
    ) -> tuple[ShopFulfillment, ...]:
        """An order's core fulfillments; none when the store has the feature off (404)."""
        reply = await send_json(
            client,
            "GET",
            self._url(f"orders/{order_id}/fulfillments"),
            self.settings.name,
            auth=self._auth(),
        )
        if reply.status_code == 404:
            return ()
        rows = reply_object(reply, self.settings.name)
        where = f"{self.settings.name} order {order_id} fulfillments"
        return tuple(core_fulfillment(row, where) for row in objects(rows))


def _with(order: ShopOrder, extra: tuple[ShopFulfillment, ...]) -> ShopOrder:
    if not extra:
        return order
    return ShopOrder(
        order_id=order.order_id,
        reference=order.reference,
        buyer_email=order.buyer_email,
        buyer_name=order.buyer_name,
        language=order.language,
        country=order.country,
        fulfillments=(*order.fulfillments, *extra),
        paypal=order.paypal,
    )


def _meta(data: dict[str, Any]) -> dict[str, Any]:
    return {str(m.get("key")): m.get("value") for m in objects(data.get("meta_data"))}


def _shipped(value: Any) -> datetime | None:
    """Shipment Tracking's ``date_shipped``: a Unix timestamp (as text), or an ISO date."""
    raw = text(value)
    if raw is not None and raw.isdigit():
        return datetime.fromtimestamp(int(raw), UTC)
    return timestamp(raw)


def tracking_items(meta: dict[str, Any], cancelled: bool) -> tuple[ShopFulfillment, ...]:
    """Shipment Tracking's items as one fulfillment; none when the order has no such meta."""
    if TRACKING_META not in meta:
        return ()
    items = objects(meta[TRACKING_META])
    parcels = tuple(
        ShopParcel(
            number,
            text(item.get("custom_tracking_provider")) or text(item.get("tracking_provider")),
            text(item.get("custom_tracking_link")),
        )
        for item in items
        if (number := text(item.get("tracking_number")))
    )
    shipped = [when for item in items if (when := _shipped(item.get("date_shipped")))]
    return (
        ShopFulfillment(
            id=SHIPMENT_TRACKING_GROUP,
            parcels=parcels,
            cancelled=cancelled,
            shipped_at=min(shipped) if shipped else None,
        ),
    )


def core_fulfillment(data: dict[str, Any], where: str) -> ShopFulfillment:
    """A core WooCommerce order fulfillment (one tracking number in its meta)."""
    meta = _meta(data)
    number = text(meta.get("_tracking_number"))
    parcels = (
        (ShopParcel(number, text(meta.get("_shipment_provider")), text(meta.get("_tracking_url"))),)
        if number
        else ()
    )
    return ShopFulfillment(
        id=f"fulfillment-{required(data, 'id', where)}",
        parcels=parcels,
        cancelled=data.get("date_deleted") is not None or data.get("is_fulfilled") is False,
        shipped_at=timestamp(data.get("date_updated")),
    )


def _paypal(data: dict[str, Any], meta: dict[str, Any]) -> PaypalRef | None:
    method = (text(data.get("payment_method")) or "").lower()
    if not method.startswith(PAYPAL_METHODS):
        return None
    capture = text(data.get("transaction_id"))
    order_id = text(meta.get("_ppcp_paypal_order_id"))
    return PaypalRef(order_id=order_id, capture_id=capture) if capture or order_id else None


def order_from_rest(data: dict[str, Any], where: str) -> ShopOrder:
    """An order as the REST API and webhooks send it."""
    billing = data.get("billing") or {}
    shipping = data.get("shipping") or {}
    meta = _meta(data)
    order_id = required(data, "id", where)
    stopped = (text(data.get("status")) or "").lower() in STOPPED_ORDER
    return ShopOrder(
        order_id=order_id,
        reference="#" + (text(data.get("number")) or order_id),
        buyer_email=text(billing.get("email")),
        buyer_name=full_name(shipping.get("first_name"), shipping.get("last_name"))
        or full_name(billing.get("first_name"), billing.get("last_name")),
        language=None,
        country=text(shipping.get("country")) or text(billing.get("country")),
        fulfillments=tracking_items(meta, stopped),
        paypal=_paypal(data, meta),
    )
