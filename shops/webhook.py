"""A generic signed JSON webhook any other shop, ERP or script can call to hand us orders.

Request: ``POST /webhooks/shops/<table name>`` with

- ``X-Tracker-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed with the secret>``
- ``X-Tracker-Delivery: <an id unique per delivery; a retry repeats it>``
- a JSON body::

    {"order": {"id": "A-1001", "reference": "#1001", "email": "ana@example.com",
               "name": "Ana Souza", "language": "pt", "country": "BR",
               "paypal_order_id": "5O190127TN364715T", "paypal_capture_id": "8MC585209K746392H"},
     "fulfillments": [{"id": "1", "status": "shipped", "shipped_at": "2026-11-20T10:00:00Z",
                       "parcels": [{"tracking_number": "RB123456785BR", "carrier": "correios",
                                    "tracking_url": null}]}]}

Only ``order.id`` and each parcel's ``tracking_number`` are required; ``carrier`` is our carrier
name or a label such as "Correios" (unknown: detected from the number); ``status`` ``cancelled``
stops a fulfillment's numbers. The full schema is in the README ("Connecting a shop").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import httpx

from shops.base import (
    InboundWebhook,
    PaypalRef,
    PushResult,
    ShopAdapter,
    ShopError,
    ShopFulfillment,
    ShopOrder,
    ShopParcel,
)
from shops.payload import ShopPush
from shops.reading import json_object, objects, required, text, timestamp
from shops.signing import hex_signature, matches

SIGNATURE_HEADER = "x-tracker-signature"
DELIVERY_HEADER = "x-tracker-delivery"


class GenericWebhookAdapter(ShopAdapter):
    """Orders from any system that can sign a JSON body; nothing is sent back."""

    name: ClassVar[str] = "webhook"
    display_name: ClassVar[str] = "signed JSON webhook"
    required: ClassVar[tuple[str, ...]] = ("webhook_secret_env",)

    @classmethod
    def verify(cls, body: bytes, headers: Mapping[str, str], secret: str) -> bool:
        return matches(hex_signature(secret, body), headers.get(SIGNATURE_HEADER))

    @classmethod
    def parse_webhook(cls, body: bytes, headers: Mapping[str, str]) -> InboundWebhook:
        delivery = headers.get(DELIVERY_HEADER)
        if not delivery:
            raise ShopError("webhook: header X-Tracker-Delivery is missing")
        data = json_object(body, "webhook")
        order = data.get("order")
        if not isinstance(order, dict):
            raise ShopError("webhook: field 'order' must be an object")
        return InboundWebhook(
            delivery_id=delivery,
            topic=headers.get("x-tracker-topic", "order"),
            orders=(order_of(order, objects(data.get("fulfillments"))),),
        )

    async def send(self, client: httpx.AsyncClient, pushes: Sequence[ShopPush]) -> list[PushResult]:
        return [PushResult("failed", error="the generic webhook takes no pushes") for _ in pushes]


def order_of(order: dict[str, Any], fulfillments: list[dict[str, Any]]) -> ShopOrder:
    """The order of a generic webhook body."""
    order_id = required(order, "id", "webhook order")
    paypal = PaypalRef(text(order.get("paypal_order_id")), text(order.get("paypal_capture_id")))
    return ShopOrder(
        order_id=order_id,
        reference=text(order.get("reference")) or order_id,
        buyer_email=text(order.get("email")),
        buyer_name=text(order.get("name")),
        language=text(order.get("language")),
        country=text(order.get("country")),
        fulfillments=tuple(_fulfillment(f, index) for index, f in enumerate(fulfillments)),
        paypal=paypal if paypal.order_id or paypal.capture_id else None,
    )


def _fulfillment(data: dict[str, Any], index: int) -> ShopFulfillment:
    where = f"webhook fulfillments[{index}]"
    parcels = tuple(
        ShopParcel(
            required(p, "tracking_number", f"{where}.parcels[{n}]"),
            text(p.get("carrier")),
            text(p.get("tracking_url")),
        )
        for n, p in enumerate(objects(data.get("parcels")))
    )
    return ShopFulfillment(
        id=text(data.get("id")) or str(index + 1),
        parcels=parcels,
        cancelled=(text(data.get("status")) or "").lower() == "cancelled",
        shipped_at=timestamp(data.get("shipped_at")),
    )
