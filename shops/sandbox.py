"""A simulated Shopify store on loopback, for the demo: it sends signed fulfillment webhooks the
way Shopify does and answers the Admin GraphQL ``fulfillmentEventCreate`` mutation, keeping every
event it was sent so the demo can show what went back to the shop."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from types import TracebackType
from typing import Any

import httpx
from aiohttp import web

from shops.shopify import DEFAULT_API_VERSION
from shops.signing import base64_signature


class SandboxShop:
    """The store: ``fulfill`` posts a webhook, ``events`` are the status events received."""

    def __init__(self, access_token: str, secret: str) -> None:
        self.access_token = access_token
        self.secret = secret
        self.events: list[dict[str, Any]] = []
        self._runner: web.AppRunner | None = None
        self._deliveries = 0

    async def __aenter__(self) -> SandboxShop:
        app = web.Application()
        app.router.add_post(f"/admin/api/{DEFAULT_API_VERSION}/graphql.json", self._graphql)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        """The store's base URL (its Admin API lives under it)."""
        assert self._runner is not None, "store not started"
        host, port = self._runner.addresses[0][:2]
        return f"http://{host}:{port}"

    def events_by_status(self) -> dict[str, int]:
        """How many fulfillment events of each status the store received."""
        return dict(Counter(e["status"] for e in self.events).most_common())

    async def _graphql(self, request: web.Request) -> web.Response:
        if request.headers.get("X-Shopify-Access-Token") != self.access_token:
            return web.json_response(
                {"errors": "[API] Invalid API key or access token"}, status=401
            )
        body = await request.json()
        event = (body.get("variables") or {}).get("fulfillmentEvent")
        if "fulfillmentEventCreate" not in body.get("query", "") or not isinstance(event, dict):
            return web.json_response({"errors": [{"message": "unsupported query"}]})
        self.events.append(event)
        created = {
            "id": f"gid://shopify/FulfillmentEvent/{len(self.events)}",
            "status": event["status"],
        }
        result = {"fulfillmentEvent": created, "userErrors": []}
        return web.json_response({"data": {"fulfillmentEventCreate": result}})

    async def fulfill(
        self,
        client: httpx.AsyncClient,
        webhook_url: str,
        *,
        order_id: int,
        order_name: str,
        number: str,
        carrier_label: str,
        buyer: str,
        email: str,
        country: str,
        shipped_at: datetime,
    ) -> httpx.Response:
        """Send a signed ``fulfillments/create`` webhook for one order with one number."""
        self._deliveries += 1
        payload = {
            "id": order_id * 10 + 1,
            "order_id": order_id,
            "status": "success",
            "created_at": shipped_at.isoformat(),
            "tracking_company": carrier_label,
            "tracking_number": number,
            "tracking_numbers": [number],
            "tracking_urls": [],
            "email": email,
            "destination": {"name": buyer, "country_code": country},
            "name": f"{order_name}.1",
        }
        body = json.dumps(payload).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": "fulfillments/create",
            "X-Shopify-Hmac-Sha256": base64_signature(self.secret, body),
            "X-Shopify-Webhook-Id": f"sandbox-{self._deliveries}",
            "X-Shopify-Shop-Domain": "sandbox-store.myshopify.com",
        }
        return await client.post(webhook_url, content=body, headers=headers)
