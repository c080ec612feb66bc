"""Shop webhooks over real HTTP on loopback: verified deliveries become shipments tied to their
order; bad signatures store nothing; a repeated delivery stores nothing new; a fulfillment with
two numbers tracks both; a changed number replaces the old one; a cancelled fulfillment stops
its numbers."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from structlog.testing import capture_logs

from shops.store import ShopDelivery, ShopLink
from tests.shops.conftest import (
    SCRIPT_SECRET,
    SHOPIFY_SECRET,
    WOO_SECRET,
    b64_sign,
    count,
    shipment,
)
from tests.shops.fakes import FakePayPal
from tracker.runtime.app import TrackerApp
from tracker.store.models import AuditEntry, Notice, Shipment

#: every test here talks to real loopback servers (the fake shop APIs, the webhook routes)
pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).with_name("fixtures")
FULFILLMENT = json.loads((FIXTURES / "shopify_fulfillment.json").read_text())
WOO_ORDER = json.loads((FIXTURES / "woocommerce_order.json").read_text())


async def post_shopify(
    hooks: httpx.AsyncClient,
    payload: dict[str, Any],
    *,
    topic: str = "fulfillments/create",
    webhook_id: str = "wh-1",
    secret: str = SHOPIFY_SECRET,
) -> httpx.Response:
    body = json.dumps(payload).encode()
    headers = {
        "X-Shopify-Hmac-Sha256": b64_sign(body, secret),
        "X-Shopify-Topic": topic,
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-Shop-Domain": "example.myshopify.com",
        "Content-Type": "application/json",
    }
    return await hooks.post("/webhooks/shops/main_store", content=body, headers=headers)


def links(app: TrackerApp) -> list[tuple[str, str, str]]:
    with app.store() as session:
        rows = session.scalars(select(ShopLink).order_by(ShopLink.id))
        return [(r.fulfillment_id, r.tracking_number, r.state) for r in rows]


def audit_kinds(app: TrackerApp, number: str) -> list[str]:
    sid = shipment(app, number).id
    with app.store() as session:
        return list(
            session.scalars(
                select(AuditEntry.kind).where(AuditEntry.shipment_id == sid).order_by(AuditEntry.id)
            )
        )


async def test_bad_signature_is_refused_with_401_and_stores_nothing(
    app: TrackerApp, hooks: httpx.AsyncClient
) -> None:
    with capture_logs() as logs:
        reply = await post_shopify(hooks, FULFILLMENT, secret="not the app secret")
    assert reply.status_code == 401
    missing = await hooks.post(
        "/webhooks/shops/main_store", content=b"{}", headers={"X-Shopify-Webhook-Id": "x"}
    )
    assert missing.status_code == 401
    assert count(app, Shipment) == count(app, ShopLink) == count(app, ShopDelivery) == 0
    assert [e["event"] for e in logs if e["event"] == "shop.webhook_rejected"] == [
        "shop.webhook_rejected"
    ]


async def test_fulfillment_with_two_numbers_tracks_both_for_the_order(
    app: TrackerApp, hooks: httpx.AsyncClient
) -> None:
    reply = await post_shopify(hooks, FULFILLMENT)
    assert reply.status_code == 200
    assert reply.json()["orders"] == [
        {"order": "#1042", "order_id": "5566778899", "tracked": ["RB123456785BR", "RB987654326BR"]}
    ]
    for number in ("RB123456785BR", "RB987654326BR"):
        row = shipment(app, number)
        assert (row.carrier, row.order_reference, row.buyer_email, row.buyer_name) == (
            "correios",
            "#1042",
            "ana.souza@example.com",
            "Ana Souza",
        )
        assert (row.destination_country, row.origin_country, row.opted_out) == ("BR", "CN", False)
        assert row.next_poll_at is not None
    assert links(app) == [
        ("4455667788", "RB123456785BR", "active"),
        ("4455667788", "RB987654326BR", "active"),
    ]
    # The rest of the order ships later in a second fulfillment: a third shipment, same order.
    second = {**FULFILLMENT, "id": 4455667799, "name": "#1042.2"}
    second |= {"tracking_numbers": ["RX123456785BR"], "tracking_urls": [], "tracking_company": ""}
    reply = await post_shopify(hooks, second, webhook_id="wh-2")
    assert reply.json()["orders"][0]["tracked"] == ["RX123456785BR"]
    assert shipment(app, "RX123456785BR").order_reference == "#1042"
    assert len(links(app)) == 3


async def test_duplicate_delivery_stores_nothing_new(
    app: TrackerApp, hooks: httpx.AsyncClient
) -> None:
    first = await post_shopify(hooks, FULFILLMENT, webhook_id="wh-dup")
    again = await post_shopify(hooks, FULFILLMENT, webhook_id="wh-dup")
    assert first.json()["duplicate"] is False
    assert again.status_code == 200
    assert again.json() == {"duplicate": True, "orders": []}
    # A new delivery id with the same content is idempotent too: nothing tracked twice.
    third = await post_shopify(hooks, FULFILLMENT, webhook_id="wh-other")
    assert third.json()["orders"] == [{"order": "#1042", "order_id": "5566778899"}]
    assert count(app, Shipment) == 2
    assert count(app, ShopLink) == 2
    assert count(app, ShopDelivery) == 2
    assert audit_kinds(app, "RB123456785BR").count("shop.order_linked") == 1


async def test_changed_number_replaces_the_old_one(
    app: TrackerApp, hooks: httpx.AsyncClient
) -> None:
    await post_shopify(hooks, FULFILLMENT)
    updated = {**FULFILLMENT, "tracking_numbers": ["RB123456785BR", "RX123456785BR"]}
    updated["tracking_urls"] = []
    reply = await post_shopify(hooks, updated, topic="fulfillments/update", webhook_id="wh-2")
    assert reply.json()["orders"][0]["replaced"] == [
        {"old": "RB987654326BR", "new": "RX123456785BR"}
    ]
    assert links(app) == [
        ("4455667788", "RB123456785BR", "active"),
        ("4455667788", "RB987654326BR", "replaced"),
        ("4455667788", "RX123456785BR", "active"),
    ]
    old = shipment(app, "RB987654326BR")
    assert (old.next_poll_at, old.next_timer_at) == (None, None)
    assert "shop.number_replaced" in audit_kinds(app, "RB987654326BR")
    assert shipment(app, "RX123456785BR").next_poll_at is not None


async def test_cancelled_fulfillment_stops_its_numbers_and_their_pending_notices(
    app: TrackerApp, hooks: httpx.AsyncClient
) -> None:
    await post_shopify(hooks, FULFILLMENT)
    sid = shipment(app, "RB123456785BR").id
    with app.store.begin() as session:  # a buyer notice waiting for the morning
        session.add(
            Notice(
                shipment_id=sid,
                kind="shipped",
                idempotency_key=f"{sid}:shipped",
                state="pending",
                payload={},
                created_at=app.clock.now(),
                not_before=app.clock.now(),
                attempts=0,
            )
        )
    cancelled = {**FULFILLMENT, "status": "cancelled"}
    reply = await post_shopify(hooks, cancelled, topic="fulfillments/update", webhook_id="wh-2")
    assert reply.json()["orders"][0]["stopped"] == ["RB123456785BR", "RB987654326BR"]
    assert {state for _, _, state in links(app)} == {"cancelled"}
    for number in ("RB123456785BR", "RB987654326BR"):
        assert shipment(app, number).next_poll_at is None
        assert "shop.fulfillment_cancelled" in audit_kinds(app, number)
    with app.store() as session:
        notice = session.scalars(select(Notice).where(Notice.shipment_id == sid)).one()
        assert notice.state == "skipped"
        assert notice.last_error == "tracking stopped: number cancelled in the shop"


async def test_order_without_email_is_tracked_without_buyer_notices(
    app: TrackerApp, hooks: httpx.AsyncClient
) -> None:
    payload = {**FULFILLMENT, "email": None, "tracking_numbers": ["RB123456785BR"]}
    with capture_logs() as logs:
        reply = await post_shopify(hooks, payload)
    assert reply.json()["orders"][0]["without_email"] is True
    row = shipment(app, "RB123456785BR")
    assert (row.buyer_email, row.opted_out, row.buyer_name) == ("", True, "Ana Souza")
    assert "shop.order_without_email" in audit_kinds(app, "RB123456785BR")
    assert any(e["event"] == "shop.order_without_email" for e in logs)


async def test_unknown_carrier_label_falls_back_to_detection_and_unusable_orders_are_named(
    app: TrackerApp, hooks: httpx.AsyncClient
) -> None:
    payload = {**FULFILLMENT, "tracking_company": "Yanwen", "tracking_numbers": ["RB123456785BR"]}
    await post_shopify(hooks, payload)
    assert shipment(app, "RB123456785BR").carrier == "correios"
    no_country = {**FULFILLMENT, "id": 1, "order_id": 2, "destination": {"name": "Bo"}}
    no_country["tracking_numbers"] = ["RX123456785BR"]
    reply = await post_shopify(hooks, no_country, webhook_id="wh-2")
    (order,) = reply.json()["orders"]
    assert "destination_country: missing" in order["error"]
    assert count(app, Shipment) == 1
    with app.store() as session:
        delivery = session.scalars(
            select(ShopDelivery).where(ShopDelivery.delivery_id == "wh-2")
        ).one()
        assert delivery.outcome == "failed"


async def test_verified_but_unreadable_body_is_kept_and_answered_400(
    app: TrackerApp, hooks: httpx.AsyncClient
) -> None:
    body = b"<html>not json</html>"
    headers = {
        "X-Shopify-Hmac-Sha256": b64_sign(body, SHOPIFY_SECRET),
        "X-Shopify-Topic": "orders/fulfilled",
        "X-Shopify-Webhook-Id": "wh-html",
    }
    reply = await hooks.post("/webhooks/shops/main_store", content=body, headers=headers)
    assert reply.status_code == 400
    assert "not JSON" in reply.json()["error"]
    with app.store() as session:
        kept = session.scalars(select(ShopDelivery)).one()
        assert (kept.outcome, kept.data["body"]) == ("unreadable", body.decode())


async def test_unknown_or_sending_only_shops_have_no_webhook(hooks: httpx.AsyncClient) -> None:
    assert (await hooks.post("/webhooks/shops/nowhere", content=b"{}")).status_code == 404
    assert (await hooks.post("/webhooks/shops/paypal", content=b"{}")).status_code == 404


async def test_woocommerce_order_with_paypal_queues_the_tracker_upload(
    app: TrackerApp, hooks: httpx.AsyncClient, fake_paypal: FakePayPal
) -> None:
    body = json.dumps(WOO_ORDER).encode()
    headers = {
        "X-WC-Webhook-Signature": b64_sign(body, WOO_SECRET),
        "X-WC-Webhook-Topic": "order.updated",
        "X-WC-Webhook-Delivery-ID": "woo-1",
    }
    reply = await hooks.post("/webhooks/shops/woo", content=body, headers=headers)
    assert reply.json()["orders"][0]["tracked"] == ["9400111899223334445561"]
    row = shipment(app, "9400111899223334445561")
    assert (row.carrier, row.order_reference, row.destination_country) == ("usps", "#727", "FR")
    with app.store() as session:
        (push,) = session.scalars(select(Notice).where(Notice.shipment_id == row.id))
    assert (push.kind, push.state) == ("shop:paypal_track", "pending")
    assert push.payload["paypal_capture_id"] == "8MC585209K746392H"
    assert push.payload["shop"] == "paypal"


async def test_generic_signed_webhook(app: TrackerApp, hooks: httpx.AsyncClient) -> None:
    body = json.dumps(
        {
            "order": {
                "id": "A-77",
                "reference": "A-77",
                "email": "li@example.com",
                "country": "DE",
            },
            "fulfillments": [
                {
                    "id": "1",
                    "parcels": [{"tracking_number": "1Z999AA10123456784", "carrier": "UPS"}],
                }
            ],
        }
    ).encode()
    signature = "sha256=" + hmac.new(SCRIPT_SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {"X-Tracker-Signature": signature, "X-Tracker-Delivery": "erp-1"}
    reply = await hooks.post("/webhooks/shops/script", content=body, headers=headers)
    assert reply.status_code == 200, reply.text
    row = shipment(app, "1Z999AA10123456784")
    assert (row.carrier, row.buyer_name, row.destination_country) == ("ups", "li", "DE")
