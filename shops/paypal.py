"""PayPal: tracking numbers uploaded to the order's capture, and marked delivered once.

Tokens come from ``/v1/oauth2/token`` (client credentials, HTTP Basic) through the carriers'
shared ``TokenCache``: cached until shortly before ``expires_in``, fetched again once when PayPal
answers 401 (a token that expired or was revoked mid-batch).

Adding tracking: with ``options.api = "orders_v2"`` (the default) one ``POST
/v2/checkout/orders/{id}/track`` per number, with the capture id; with ``"trackers_batch"`` up to
20 numbers per ``POST /v1/shipping/trackers-batch``, for integrations that only know the
transaction id. Delivery is one ``PUT /v1/shipping/trackers/{transaction}-{number}`` with status
``DELIVERED``; PayPal limits how often a tracker may change, so we add each tracker once and
update it once (delivered) or cancel it once (number replaced in the shop).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

import httpx

from carriers.base import CarrierReply
from carriers.oauth import TokenCache, send_with_token
from shops.base import (
    InboundWebhook,
    LinkFacts,
    PushResult,
    ShopAdapter,
    ShopError,
    StatusChange,
)
from shops.calls import failure, outcome, reply_object
from shops.carrier_names import paypal_carrier
from shops.payload import ShopPush
from shops.reading import objects, text
from tracker.errors import CarrierError
from tracker.model import Status

DEFAULT_BASE_URL = "https://api-m.paypal.com"
BATCH_LIMIT = 20
APIS = ("orders_v2", "trackers_batch")


class PayPalAdapter(ShopAdapter):
    """A PayPal REST app (client id and secret) of the seller's business account."""

    name: ClassVar[str] = "paypal"
    display_name: ClassVar[str] = "PayPal"
    required: ClassVar[tuple[str, ...]] = ("client_id_env", "client_secret_env")
    receives_webhooks: ClassVar[bool] = False
    max_pushes_per_call: ClassVar[int] = BATCH_LIMIT

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.base_url = (settings.base_url or DEFAULT_BASE_URL).rstrip("/")
        self.api = settings.options.get("api", "orders_v2")
        if self.api not in APIS:
            raise ShopError(f"shops.{settings.name}.options.api: {self.api!r} is not one of {APIS}")
        self.notify_buyer = settings.options.get("notify_buyer", "false").lower() == "true"
        self.tokens = TokenCache(
            f"{self.base_url}/v1/oauth2/token",
            settings.client_id,
            settings.client_secret,
            carrier=settings.name,
            credentials_in="basic",
        )

    @classmethod
    def verify(cls, body: bytes, headers: Mapping[str, str], secret: str) -> bool:
        return False  # PayPal sends us nothing; tracking only goes out

    @classmethod
    def parse_webhook(cls, body: bytes, headers: Mapping[str, str]) -> InboundWebhook:
        raise ShopError("paypal: receives no webhooks")

    @classmethod
    def status_pushes(cls, link: LinkFacts, change: StatusChange) -> list[ShopPush]:
        if change.status is not Status.DELIVERED or link.paypal is None:
            return []
        return [delivered_push(link, change)]

    async def send(self, client: httpx.AsyncClient, pushes: Sequence[ShopPush]) -> list[PushResult]:
        adds = [p for p in pushes if p.action == "paypal_track"]
        results: dict[int, PushResult] = {}
        if adds and self.api == "trackers_batch":
            for start in range(0, len(adds), BATCH_LIMIT):
                chunk = adds[start : start + BATCH_LIMIT]
                for push, result in zip(chunk, await self._batch(client, chunk), strict=True):
                    results[id(push)] = result
        for push in pushes:
            if id(push) in results:
                continue
            if push.action == "paypal_track":
                results[id(push)] = await outcome(self._track(client, push))
            else:
                results[id(push)] = await outcome(self._update(client, push))
        return [results[id(p)] for p in pushes]

    async def _call(
        self, client: httpx.AsyncClient, method: str, path: str, body: Any
    ) -> CarrierReply:
        def build(token: str) -> httpx.Request:
            return client.build_request(
                method,
                f"{self.base_url}{path}",
                json=body,
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            )

        return await send_with_token(
            client, self.tokens, build, numbers=(), pass_statuses=(400, 404, 409, 422)
        )

    async def _track(self, client: httpx.AsyncClient, push: ShopPush) -> PushResult:
        if not push.paypal_order_id or not push.paypal_capture_id:
            return PushResult(
                "failed", error=f"{self.settings.name}: order has no PayPal order and capture id"
            )
        body = {"capture_id": push.paypal_capture_id, "tracking_number": push.tracking_number}
        body |= _carrier_fields(push) | {"notify_payer": self.notify_buyer}
        reply = await self._call(
            client, "POST", f"/v2/checkout/orders/{push.paypal_order_id}/track", body
        )
        if reply.status_code == 422 and "ALREADY" in reply.text().upper():
            return PushResult(
                "sent", reference=f"{push.paypal_capture_id}-{push.tracking_number} (already there)"
            )
        reply_object(reply, self.settings.name)
        return PushResult("sent", reference=f"{push.paypal_capture_id}-{push.tracking_number}")

    async def _update(self, client: httpx.AsyncClient, push: ShopPush) -> PushResult:
        transaction = push.paypal_capture_id
        if not transaction:
            return PushResult(
                "failed", error=f"{self.settings.name}: order has no PayPal capture id"
            )
        tracker = f"{transaction}-{push.tracking_number}"
        body = {"transaction_id": transaction, "tracking_number": push.tracking_number}
        body |= {"status": push.status} | _carrier_fields(push)
        reply = await self._call(client, "PUT", f"/v1/shipping/trackers/{tracker}", body)
        reply_object(reply, self.settings.name)
        return PushResult("sent", reference=f"{tracker} {push.status}")

    async def _batch(
        self, client: httpx.AsyncClient, chunk: Sequence[ShopPush]
    ) -> list[PushResult]:
        """One trackers-batch call; each push's result comes from PayPal's identifiers/errors."""
        missing = PushResult(
            "failed", error=f"{self.settings.name}: order has no PayPal transaction id"
        )
        sendable = [p for p in chunk if p.paypal_capture_id]
        if not sendable:
            return [missing for _ in chunk]
        body = {"trackers": [_batch_tracker(p) for p in sendable]}
        try:
            reply = await self._call(client, "POST", "/v1/shipping/trackers-batch", body)
            data = reply_object(reply, self.settings.name)
        except (CarrierError, ShopError) as exc:  # the whole call failed: one result for all
            result = failure(exc)
            return [result if p.paypal_capture_id else missing for p in chunk]
        by_push = batch_results(data, sendable, self.settings.name)
        return [by_push.get(id(p), missing) for p in chunk]


def _carrier_fields(push: ShopPush) -> dict[str, str]:
    code, other = paypal_carrier(push.carrier, push.carrier_label)
    return {"carrier": code} | ({"carrier_name_other": other} if other else {})


def _batch_tracker(push: ShopPush) -> dict[str, str]:
    return {
        "transaction_id": push.paypal_capture_id or "",
        "tracking_number": push.tracking_number,
        "status": "SHIPPED",
        "shipment_date": push.happened_at.date().isoformat(),
    } | _carrier_fields(push)


def batch_results(data: Any, sent: Sequence[ShopPush], shop: str) -> dict[int, PushResult]:
    """Results of a trackers-batch reply by push: identified trackers were added; errors are
    matched by the ``/trackers/N/...`` field they name (or the transaction id they quote)."""
    if not isinstance(data, dict):
        raise ShopError(f"{shop}: trackers-batch reply is not an object")
    results: dict[int, PushResult] = {}
    by_pair: dict[tuple[str | None, str | None], ShopPush] = {
        (p.paypal_capture_id, p.tracking_number): p for p in sent
    }
    for ident in objects(data.get("tracker_identifiers")):
        pair = (text(ident.get("transaction_id")), text(ident.get("tracking_number")))
        push = by_pair.get(pair)
        if push is not None:
            results[id(push)] = PushResult("sent", reference=f"{pair[0]}-{pair[1]}")
    for error in objects(data.get("errors")):
        message = f"{shop}: {text(error.get('name'))}: {text(error.get('message'))}"
        for detail in objects(error.get("details")) or [{}]:
            push = _errored_push(detail, sent)
            if push is not None and id(push) not in results:
                issue = text(detail.get("issue"))
                results[id(push)] = PushResult("failed", error=f"{message} ({issue})")
    for push in sent:
        results.setdefault(id(push), PushResult("failed", error=f"{shop}: not in PayPal's reply"))
    return results


def _errored_push(detail: dict[str, Any], sent: Sequence[ShopPush]) -> ShopPush | None:
    field = text(detail.get("field")) or ""
    parts = field.strip("/").split("/")
    if len(parts) >= 2 and parts[0] == "trackers" and parts[1].isdigit():
        index = int(parts[1])
        return sent[index] if index < len(sent) else None
    value = text(detail.get("value"))
    return next(
        (p for p in sent if value and value in (p.paypal_capture_id, p.tracking_number)), None
    )


def track_push(link: LinkFacts, happened_at: datetime) -> ShopPush:
    """The push that adds a newly linked number's tracker to the order's capture (``link.shop``
    is the PayPal table)."""
    assert link.paypal is not None
    return ShopPush(
        shop=link.shop,
        action="paypal_track",
        order_id=link.order_id,
        tracking_number=link.tracking_number,
        status="SHIPPED",
        happened_at=happened_at,
        carrier=link.carrier,
        carrier_label=link.carrier_label,
        paypal_order_id=link.paypal.order_id,
        paypal_capture_id=link.paypal.capture_id,
    )


def delivered_push(link: LinkFacts, change: StatusChange, status: str = "DELIVERED") -> ShopPush:
    """The push that marks a number's tracker delivered (or cancelled)."""
    assert link.paypal is not None
    return ShopPush(
        shop=link.shop,
        action="paypal_status",
        order_id=link.order_id,
        tracking_number=link.tracking_number,
        status=status,
        happened_at=change.happened_at,
        carrier=link.carrier,
        carrier_label=link.carrier_label,
        paypal_order_id=link.paypal.order_id,
        paypal_capture_id=link.paypal.capture_id,
    )
