"""Shopify: fulfillment webhooks in, Admin GraphQL for backfill, fulfillment events back.

Webhooks (``orders/fulfilled``, ``fulfillments/create``, ``fulfillments/update``) carry
``X-Shopify-Hmac-Sha256``: base64 HMAC-SHA256 of the raw body keyed with the app's client
secret, and ``X-Shopify-Webhook-Id``, the same for every retry of one delivery. A fulfillment
lists its numbers in ``tracking_numbers`` / ``tracking_urls`` with one ``tracking_company``; a
``cancelled`` (or failed) fulfillment stops its numbers.

Status goes back with the ``fulfillmentEventCreate`` mutation (scope ``write_fulfillments``);
backfill reads ``orders`` with their fulfillments' ``trackingInfo`` (scope ``read_orders``).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

import httpx

from shops.base import (
    InboundWebhook,
    LinkFacts,
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
from tracker.errors import CarrierRateLimited
from tracker.model import Detail, Status

DEFAULT_API_VERSION = "2025-10"
STOPPED = frozenset({"cancelled", "error", "failure"})
#: exceptions a buyer will likely see resolved: shown in the shop as a delay, not a failure
_DELAY_DETAILS = frozenset(
    {Detail.CUSTOMS_HOLD, Detail.CUSTOMS_DUTIES_DUE, Detail.DELAYED_EXTERNAL}
)
_EVENT_STATUS = {
    Status.IN_TRANSIT: "IN_TRANSIT",
    Status.OUT_FOR_DELIVERY: "OUT_FOR_DELIVERY",
    Status.AVAILABLE_FOR_PICKUP: "READY_FOR_PICKUP",
    Status.DELIVERY_FAILED: "ATTEMPTED_DELIVERY",
    Status.DELIVERED: "DELIVERED",
    Status.RETURNED: "FAILURE",
}

FULFILLMENT_EVENT_MUTATION = """
mutation TrackerFulfillmentEvent($fulfillmentEvent: FulfillmentEventInput!) {
  fulfillmentEventCreate(fulfillmentEvent: $fulfillmentEvent) {
    fulfillmentEvent { id status }
    userErrors { field message }
  }
}
"""

ORDERS_QUERY = """
query TrackerOrders($cursor: String, $query: String!) {
  orders(first: 50, after: $cursor, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes {
      legacyResourceId name email customerLocale
      shippingAddress { name countryCodeV2 }
      fulfillments(first: 20) {
        legacyResourceId status createdAt
        trackingInfo(first: 10) { company number url }
      }
    }
  }
}
"""


class ShopifyAdapter(ShopAdapter):
    """A Shopify store connected through a custom app's Admin API token."""

    name: ClassVar[str] = "shopify"
    display_name: ClassVar[str] = "Shopify"
    required: ClassVar[tuple[str, ...]] = ("base_url", "access_token_env", "webhook_secret_env")
    syncs: ClassVar[bool] = True

    @classmethod
    def verify(cls, body: bytes, headers: Mapping[str, str], secret: str) -> bool:
        return matches(base64_signature(secret, body), headers.get("x-shopify-hmac-sha256"))

    @classmethod
    def parse_webhook(cls, body: bytes, headers: Mapping[str, str]) -> InboundWebhook:
        topic = headers.get("x-shopify-topic", "")
        delivery = headers.get("x-shopify-webhook-id") or headers.get("x-shopify-event-id")
        if not delivery:
            raise ShopError("shopify webhook: header X-Shopify-Webhook-Id is missing")
        where = f"shopify webhook {topic or '(no topic)'}"
        if topic.startswith("orders/"):
            orders: tuple[ShopOrder, ...] = (order_from_rest(json_object(body, where), where),)
        elif topic.startswith("fulfillments/"):
            orders = (order_of_fulfillment(json_object(body, where), where),)
        else:
            orders = ()
        return InboundWebhook(delivery_id=delivery, topic=topic, orders=orders)

    @classmethod
    def status_pushes(cls, link: LinkFacts, change: StatusChange) -> list[ShopPush]:
        status = event_status(change.status, change.detail)
        if status is None or status == link.last_pushed:
            return []
        if status == "DELIVERED" and not link.fulfillment_delivered:
            return []
        return [
            ShopPush(
                shop=link.shop,
                action="fulfillment_event",
                order_id=link.order_id,
                fulfillment_id=link.fulfillment_id,
                tracking_number=link.tracking_number,
                status=status,
                happened_at=change.happened_at,
                estimated_delivery=change.estimated_delivery,
                place=change.place,
                country=change.country,
                carrier=link.carrier,
            )
        ]

    def _endpoint(self) -> str:
        base = (self.settings.base_url or "").rstrip("/")
        version = self.settings.api_version or DEFAULT_API_VERSION
        return f"{base}/admin/api/{version}/graphql.json"

    async def _graphql(
        self, client: httpx.AsyncClient, query: str, variables: dict[str, Any]
    ) -> dict[str, Any]:
        reply = await send_json(
            client,
            "POST",
            self._endpoint(),
            self.settings.name,
            body={"query": query, "variables": variables},
            headers={"X-Shopify-Access-Token": self.settings.access_token or ""},
        )
        data = reply_object(reply, self.settings.name)
        return graphql_data(data, self.settings.name)

    async def send(self, client: httpx.AsyncClient, pushes: Sequence[ShopPush]) -> list[PushResult]:
        return [await outcome(self._event(client, push)) for push in pushes]

    async def _event(self, client: httpx.AsyncClient, push: ShopPush) -> PushResult:
        data = await self._graphql(
            client, FULFILLMENT_EVENT_MUTATION, {"fulfillmentEvent": event_input(push)}
        )
        result = data.get("fulfillmentEventCreate") or {}
        errors = objects(result.get("userErrors"))
        if errors:
            shown = "; ".join(str(e.get("message")) for e in errors)
            return PushResult("failed", error=f"{self.settings.name}: {shown}")
        event = result.get("fulfillmentEvent") or {}
        return PushResult("sent", reference=text(event.get("id")) or "")

    async def fetch_orders(
        self, client: httpx.AsyncClient, since: datetime
    ) -> AsyncIterator[list[ShopOrder]]:
        query = f"updated_at:>='{since.isoformat(timespec='seconds')}'"
        cursor: str | None = None
        while True:
            data = await self._graphql(client, ORDERS_QUERY, {"cursor": cursor, "query": query})
            page = data.get("orders") or {}
            where = f"{self.settings.name} orders query"
            yield [order_from_graphql(node, where) for node in objects(page.get("nodes"))]
            info = page.get("pageInfo") or {}
            cursor = text(info.get("endCursor"))
            if not info.get("hasNextPage") or cursor is None:
                return


def graphql_data(data: Any, shop: str) -> dict[str, Any]:
    """``data`` of a GraphQL reply; throttling is a retry, other top-level errors are failures."""
    if not isinstance(data, dict):
        raise ShopError(f"{shop}: GraphQL reply is not an object")
    errors = objects(data.get("errors"))
    if errors:
        codes = {str((e.get("extensions") or {}).get("code")) for e in errors}
        shown = "; ".join(str(e.get("message")) for e in errors)
        if "THROTTLED" in codes:
            raise CarrierRateLimited(f"{shop}: throttled: {shown}", carrier=shop)
        raise ShopError(f"{shop}: GraphQL errors: {shown}")
    body = data.get("data")
    if not isinstance(body, dict):
        raise ShopError(f"{shop}: GraphQL reply without data")
    return body


def event_status(status: Status, detail: Detail | None) -> str | None:
    """Shopify's ``FulfillmentEventStatus`` for a canonical status; None: nothing to show."""
    if status is Status.EXCEPTION:
        return "DELAYED" if detail in _DELAY_DETAILS else "FAILURE"
    if status is Status.IN_TRANSIT and detail is Detail.DELAYED_EXTERNAL:
        return "DELAYED"
    return _EVENT_STATUS.get(status)


def event_input(push: ShopPush) -> dict[str, Any]:
    """``FulfillmentEventInput`` for one push."""
    values: dict[str, Any] = {
        "fulfillmentId": f"gid://shopify/Fulfillment/{push.fulfillment_id}",
        "status": push.status,
        "happenedAt": push.happened_at.isoformat(),
    }
    if push.estimated_delivery is not None:
        values["estimatedDeliveryAt"] = push.estimated_delivery.isoformat()
    if push.place:
        values["city"] = push.place
    if push.country:
        values["country"] = push.country
    return values


def _parcels(numbers: list[Any], urls: list[Any], company: str | None) -> tuple[ShopParcel, ...]:
    parcels: list[ShopParcel] = []
    for index, raw in enumerate(numbers):
        number = text(raw)
        if number is None:
            continue
        url = text(urls[index]) if index < len(urls) else None
        parcels.append(ShopParcel(number, company, url))
    return tuple(parcels)


def fulfillment_from_rest(data: dict[str, Any], where: str) -> ShopFulfillment:
    """A REST/webhook fulfillment: its numbers, company and whether it stopped."""
    numbers = data.get("tracking_numbers")
    urls = data.get("tracking_urls")
    if not isinstance(numbers, list) or not numbers:
        numbers = [data.get("tracking_number")]
        urls = [data.get("tracking_url")]
    return ShopFulfillment(
        id=required(data, "id", where),
        parcels=_parcels(
            numbers, urls if isinstance(urls, list) else [], text(data.get("tracking_company"))
        ),
        cancelled=(text(data.get("status")) or "").lower() in STOPPED,
        shipped_at=timestamp(data.get("created_at")),
    )


def order_from_rest(data: dict[str, Any], where: str) -> ShopOrder:
    """An order from an ``orders/*`` webhook with all its fulfillments."""
    shipping = data.get("shipping_address") or {}
    customer = data.get("customer") or {}
    return ShopOrder(
        order_id=required(data, "id", where),
        reference=text(data.get("name")) or required(data, "id", where),
        buyer_email=text(data.get("email")) or text(data.get("contact_email")),
        buyer_name=text(shipping.get("name"))
        or full_name(shipping.get("first_name"), shipping.get("last_name"))
        or full_name(customer.get("first_name"), customer.get("last_name")),
        language=text(data.get("customer_locale")),
        country=text(shipping.get("country_code")),
        fulfillments=tuple(
            fulfillment_from_rest(f, f"{where} fulfillment")
            for f in objects(data.get("fulfillments"))
        ),
    )


def order_of_fulfillment(data: dict[str, Any], where: str) -> ShopOrder:
    """The order a ``fulfillments/*`` webhook belongs to, with just that fulfillment; the
    reference is the fulfillment's name without its ``.N`` suffix (``#1001.2`` -> ``#1001``)."""
    destination = data.get("destination") or {}
    order_id = required(data, "order_id", where)
    name = text(data.get("name"))
    return ShopOrder(
        order_id=order_id,
        reference=re.sub(r"\.\d+$", "", name) if name else order_id,
        buyer_email=text(data.get("email")),
        buyer_name=text(destination.get("name"))
        or full_name(destination.get("first_name"), destination.get("last_name")),
        language=None,
        country=text(destination.get("country_code")),
        fulfillments=(fulfillment_from_rest(data, where),),
    )


def order_from_graphql(node: dict[str, Any], where: str) -> ShopOrder:
    """An order node of the backfill query."""
    address = node.get("shippingAddress") or {}
    fulfillments = []
    for item in objects(node.get("fulfillments")):
        infos = objects(item.get("trackingInfo"))
        company = next((c for i in infos if (c := text(i.get("company")))), None)
        fulfillments.append(
            ShopFulfillment(
                id=required(item, "legacyResourceId", f"{where} fulfillment"),
                parcels=_parcels(
                    [i.get("number") for i in infos], [i.get("url") for i in infos], company
                ),
                cancelled=(text(item.get("status")) or "").lower() in STOPPED,
                shipped_at=timestamp(item.get("createdAt")),
            )
        )
    order_id = required(node, "legacyResourceId", where)
    return ShopOrder(
        order_id=order_id,
        reference=text(node.get("name")) or order_id,
        buyer_email=text(node.get("email")),
        buyer_name=text(address.get("name")),
        language=text(node.get("customerLocale")),
        country=text(address.get("countryCodeV2")),
        fulfillments=tuple(fulfillments),
    )
