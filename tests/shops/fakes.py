"""Fake Shopify, WooCommerce and PayPal APIs on loopback, written from their public docs.

Each checks credentials the way the real API does (Shopify's ``X-Shopify-Access-Token``,
WooCommerce's HTTP Basic consumer key and secret, PayPal's client-credentials bearer token),
records what it accepted, and can be told to be down (503) for a number of calls.
"""

from __future__ import annotations

import base64
import json
from types import TracebackType
from typing import Any

from tests.support.loopback import LoopbackHTTPServer, Reply, Request


def _json(status: int, body: Any) -> Reply:
    return Reply(status, json.dumps(body), {"Content-Type": "application/json"})


def _basic(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    if not header.startswith("Basic "):
        return None
    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    return user, password


class _Fake:
    def __init__(self) -> None:
        self.server = LoopbackHTTPServer()
        #: answer 503 to this many calls (counted down) before behaving again
        self.down_for = 0
        self.down_answers = 0

    def __enter__(self) -> _Fake:
        self.server.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.server.stop()

    @property
    def url(self) -> str:
        return self.server.base_url

    def _down(self) -> Reply | None:
        if self.down_for > 0:
            self.down_for -= 1
            self.down_answers += 1
            return Reply(503, "Service Unavailable", {"Retry-After": "1"})
        return None


class FakeShopify(_Fake):
    """Admin GraphQL: ``fulfillmentEventCreate`` and the ``orders`` backfill query."""

    PATH = "/admin/api/2025-10/graphql.json"

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token
        self.events: list[dict[str, Any]] = []
        self.order_nodes: list[dict[str, Any]] = []
        self.queries: list[dict[str, Any]] = []
        self.server.route("POST", self.PATH, self._graphql)

    def __enter__(self) -> FakeShopify:
        super().__enter__()
        return self

    def _graphql(self, request: Request) -> Reply:
        if request.headers.get("x-shopify-access-token") != self.token:
            return _json(401, {"errors": "[API] Invalid API key or access token"})
        down = self._down()
        if down is not None:
            return down
        body = json.loads(request.body)
        query, variables = body["query"], body.get("variables") or {}
        if "fulfillmentEventCreate" in query:
            event = variables["fulfillmentEvent"]
            self.events.append(event)
            created = {
                "id": f"gid://shopify/FulfillmentEvent/{len(self.events)}",
                "status": event["status"],
            }
            return _json(
                200,
                {
                    "data": {
                        "fulfillmentEventCreate": {"fulfillmentEvent": created, "userErrors": []}
                    }
                },
            )
        if "orders(" in query:
            self.queries.append(variables)
            start = int(variables.get("cursor") or 0)
            nodes = self.order_nodes[start : start + 2]  # small pages so paging is exercised
            end = start + len(nodes)
            info = {"hasNextPage": end < len(self.order_nodes), "endCursor": str(end)}
            return _json(200, {"data": {"orders": {"pageInfo": info, "nodes": nodes}}})
        return _json(200, {"errors": [{"message": "unknown query"}]})


class FakeWooCommerce(_Fake):
    """REST API v3: orders list (paged), one order's status update, fulfillments (off: 404)."""

    def __init__(self, key: str, secret: str) -> None:
        super().__init__()
        self.credentials = (key, secret)
        self.orders: list[dict[str, Any]] = []
        self.updates: list[tuple[str, dict[str, Any]]] = []
        self.server.route("GET", "/wp-json/wc/v3/orders", self._list)

    def __enter__(self) -> FakeWooCommerce:
        super().__enter__()
        return self

    def add_order(self, order: dict[str, Any]) -> None:
        self.orders.append(order)
        base = f"/wp-json/wc/v3/orders/{order['id']}"
        self.server.route("PUT", base, self._update)
        self.server.route(
            "GET",
            base + "/fulfillments",
            lambda _r: _json(404, {"code": "rest_no_route", "message": "No route was found."}),
        )

    def _auth(self, request: Request) -> Reply | None:
        if _basic(request) != self.credentials:
            return _json(
                401,
                {
                    "code": "woocommerce_rest_cannot_view",
                    "message": "Sorry, you cannot list resources.",
                },
            )
        return self._down()

    def _list(self, request: Request) -> Reply:
        refused = self._auth(request)
        if refused is not None:
            return refused
        page = int(request.query.get("page", ["1"])[0])
        size = int(request.query.get("per_page", ["10"])[0])
        return _json(200, self.orders[(page - 1) * size : page * size])

    def _update(self, request: Request) -> Reply:
        refused = self._auth(request)
        if refused is not None:
            return refused
        order_id = request.path.rsplit("/", 1)[1]
        change = json.loads(request.body)
        self.updates.append((order_id, change))
        return _json(200, {"id": int(order_id), "status": change.get("status")})


class FakePayPal(_Fake):
    """OAuth2 client credentials, Orders v2 ``track``, trackers-batch and tracker updates."""

    def __init__(self, client_id: str, client_secret: str) -> None:
        super().__init__()
        self.client_id, self.client_secret = client_id, client_secret
        self.tokens_issued: list[str] = []
        self.valid_tokens: set[str] = set()
        self.trackers: dict[str, dict[str, Any]] = {}
        self.batch_calls = 0
        self.refused_with_401 = 0
        #: revoke every token after this many successful batch calls (None: never)
        self.expire_token_after_batches: int | None = None
        self.server.route("POST", "/v1/oauth2/token", self._token)
        self.server.route("POST", "/v1/shipping/trackers-batch", self._batch)

    def __enter__(self) -> FakePayPal:
        super().__enter__()
        return self

    def expect_order(self, order_id: str) -> None:
        self.server.route("POST", f"/v2/checkout/orders/{order_id}/track", self._track)

    def _token(self, request: Request) -> Reply:
        if (
            _basic(request) != (self.client_id, self.client_secret)
            or b"grant_type=client_credentials" not in request.body
        ):
            return _json(
                401,
                {"error": "invalid_client", "error_description": "Client Authentication failed"},
            )
        token = f"A21AA-token-{len(self.tokens_issued) + 1}"
        self.tokens_issued.append(token)
        self.valid_tokens.add(token)
        return _json(
            200,
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": 32400,
            },
        )

    def _bearer(self, request: Request) -> Reply | None:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.valid_tokens:
            self.refused_with_401 += 1
            return _json(
                401,
                {
                    "error": "invalid_token",
                    "error_description": "Token signature verification failed",
                },
            )
        return self._down()

    def _add(self, transaction: str, number: str, body: dict[str, Any]) -> None:
        tracker_id = f"{transaction}-{number}"
        self.trackers[tracker_id] = {**body, "updates": []}
        self.server.route("PUT", f"/v1/shipping/trackers/{tracker_id}", self._update)

    def _track(self, request: Request) -> Reply:
        refused = self._bearer(request)
        if refused is not None:
            return refused
        body = json.loads(request.body)
        self._add(body["capture_id"], body["tracking_number"], {**body, "status": "SHIPPED"})
        order_id = request.path.split("/")[4]
        return _json(201, {"id": order_id, "status": "COMPLETED"})

    def _batch(self, request: Request) -> Reply:
        refused = self._bearer(request)
        if refused is not None:
            return refused
        trackers = json.loads(request.body)["trackers"]
        assert 1 <= len(trackers) <= 20, "PayPal takes 1 to 20 trackers per batch"
        self.batch_calls += 1
        identifiers = []
        for tracker in trackers:
            self._add(tracker["transaction_id"], tracker["tracking_number"], tracker)
            identifiers.append(
                {
                    "transaction_id": tracker["transaction_id"],
                    "tracking_number": tracker["tracking_number"],
                }
            )
        if self.expire_token_after_batches == self.batch_calls:
            self.valid_tokens.clear()
        return _json(200, {"tracker_identifiers": identifiers, "errors": []})

    def _update(self, request: Request) -> Reply:
        refused = self._bearer(request)
        if refused is not None:
            return refused
        tracker_id = request.path.rsplit("/", 1)[1]
        body = json.loads(request.body)
        self.trackers[tracker_id]["updates"].append(body["status"])
        return Reply(204)
