"""HTTP calls to shops through the carriers' transport helpers, and their outcome as a push result.

A shop that is down, slow, rate limiting or refusing our credentials is worth another try later
(the outbox backs off); a 4xx reply or a reply we cannot read is a failure for good, shown in
``tracker show`` with the shop's words.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Mapping
from typing import Any

import httpx

from carriers.base import CarrierReply
from carriers.http import send_for_reply
from shops.base import PushResult, ShopError
from tracker.errors import CarrierAuthError, CarrierError, CarrierRateLimited, CarrierUnavailable


async def send_json(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    shop: str,
    *,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    auth: httpx.Auth | None = None,
    params: Mapping[str, str] | None = None,
) -> CarrierReply:
    """Send a JSON request; 401/403/429/5xx and transport failures raise, other statuses return."""
    request = client.build_request(
        method,
        url,
        json=body,
        params=params,
        headers={"Accept": "application/json", **(headers or {})},
    )
    return await send_for_reply(client, request, carrier=shop, numbers=(), auth=auth)


def reply_object(reply: CarrierReply, shop: str) -> Any:
    """A 2xx reply's JSON; ShopError with the status and the start of the body otherwise."""
    if not 200 <= reply.status_code < 300:
        raise ShopError(f"{shop}: HTTP {reply.status_code}: {reply.text()[:300]}")
    if not reply.body.strip():
        return {}
    try:
        return json.loads(reply.text())
    except ValueError as exc:
        raise ShopError(f"{shop}: reply is not JSON ({exc})") from exc


async def outcome(call: Awaitable[PushResult]) -> PushResult:
    """Run one push call, turning the error tree into a result the dispatcher records."""
    try:
        return await call
    except (CarrierError, ShopError) as exc:
        return failure(exc)


def failure(exc: CarrierError | ShopError) -> PushResult:
    """The result of a call that raised: shop down, slow, throttled or refusing our credentials
    is retried; anything else (a reply we cannot use) failed for good."""
    if isinstance(exc, CarrierRateLimited):
        return PushResult("retry", error=str(exc), retry_after=exc.retry_after)
    if isinstance(exc, CarrierUnavailable | CarrierAuthError):
        return PushResult("retry", error=str(exc))
    return PushResult("failed", error=str(exc))
