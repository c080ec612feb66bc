"""Shop adapters read documented webhook payloads (pure): signatures, orders, fulfillments, the
pushes a status change causes, the outbox payload, carrier names and the plugin registry."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from shops.base import LinkFacts, PaypalRef, ShopError, StatusChange
from shops.carrier_names import carrier_for_label, paypal_carrier
from shops.payload import ShopPush
from shops.paypal import PayPalAdapter, batch_results
from shops.registry import ShopRegistry
from shops.shopify import ShopifyAdapter, event_status
from shops.webhook import GenericWebhookAdapter
from shops.woocommerce import SHIPMENT_TRACKING_GROUP, WooCommerceAdapter
from tracker.errors import NoticeError, PluginError
from tracker.model import Detail, Status

FIXTURES = Path(__file__).with_name("fixtures")
SECRET = "hush-hush"
WHEN = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def b64_hmac(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def shopify_headers(body: bytes, topic: str, webhook_id: str = "b54557e4-bdd9") -> dict[str, str]:
    return {
        "x-shopify-hmac-sha256": b64_hmac(body),
        "x-shopify-topic": topic,
        "x-shopify-webhook-id": webhook_id,
        "x-shopify-shop-domain": "example.myshopify.com",
    }


# --- signatures ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("adapter", "header"),
    [(ShopifyAdapter, "x-shopify-hmac-sha256"), (WooCommerceAdapter, "x-wc-webhook-signature")],
)
def test_base64_hmac_signatures_match_only_the_exact_body_and_secret(
    adapter: type[ShopifyAdapter] | type[WooCommerceAdapter], header: str
) -> None:
    body = fixture("shopify_fulfillment.json")
    good = {header: b64_hmac(body)}
    assert adapter.verify(body, good, SECRET)
    assert not adapter.verify(body + b" ", good, SECRET)
    assert not adapter.verify(body, good, "another secret")
    assert not adapter.verify(body, {header: ""}, SECRET)
    assert not adapter.verify(body, {}, SECRET)
    assert not adapter.verify(body, {header: "not base64 at all ✓"}, SECRET)


def test_generic_webhook_signature_is_sha256_equals_hex() -> None:
    body = b'{"order": {"id": "1"}}'
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert GenericWebhookAdapter.verify(body, {"x-tracker-signature": f"sha256={digest}"}, SECRET)
    assert not GenericWebhookAdapter.verify(body, {"x-tracker-signature": digest}, SECRET)


def test_paypal_takes_no_webhooks() -> None:
    assert not PayPalAdapter.receives_webhooks
    assert not PayPalAdapter.verify(b"{}", {}, SECRET)


# --- Shopify ------------------------------------------------------------------------------------


def test_shopify_fulfillment_with_two_numbers_reads_both_with_their_urls() -> None:
    body = fixture("shopify_fulfillment.json")
    webhook = ShopifyAdapter.parse_webhook(body, shopify_headers(body, "fulfillments/create"))
    assert webhook.delivery_id == "b54557e4-bdd9"
    (order,) = webhook.orders
    assert (order.order_id, order.reference) == ("5566778899", "#1042")
    assert (order.buyer_email, order.buyer_name, order.country) == (
        "ana.souza@example.com",
        "Ana Souza",
        "BR",
    )
    (fulfillment,) = order.fulfillments
    assert fulfillment.id == "4455667788"
    assert not fulfillment.cancelled
    assert [p.tracking_number for p in fulfillment.parcels] == ["RB123456785BR", "RB987654326BR"]
    assert {p.carrier_label for p in fulfillment.parcels} == {"Correios"}
    assert fulfillment.parcels[1].tracking_url is not None
    assert fulfillment.parcels[1].tracking_url.endswith("RB987654326BR")
    assert fulfillment.shipped_at == datetime(2026, 11, 20, 15, 15, tzinfo=UTC)


def test_shopify_order_webhook_brings_the_buyers_locale() -> None:
    body = fixture("shopify_order_fulfilled.json")
    (order,) = ShopifyAdapter.parse_webhook(body, shopify_headers(body, "orders/fulfilled")).orders
    assert order.language == "pt-BR"
    assert [f.id for f in order.fulfillments] == ["4455667788"]


@pytest.mark.parametrize("status", ["cancelled", "error", "failure"])
def test_shopify_stopped_fulfillment_is_read_as_cancelled(status: str) -> None:
    data = json.loads(fixture("shopify_fulfillment.json"))
    data["status"] = status
    body = json.dumps(data).encode()
    webhook = ShopifyAdapter.parse_webhook(body, shopify_headers(body, "fulfillments/update"))
    assert webhook.orders[0].fulfillments[0].cancelled


def test_shopify_single_number_fulfillment_without_the_list_field() -> None:
    data = json.loads(fixture("shopify_fulfillment.json"))
    del data["tracking_numbers"], data["tracking_urls"]
    body = json.dumps(data).encode()
    webhook = ShopifyAdapter.parse_webhook(body, shopify_headers(body, "fulfillments/create"))
    assert [p.tracking_number for p in webhook.orders[0].fulfillments[0].parcels] == [
        "RB123456785BR"
    ]


def test_shopify_other_topics_carry_no_orders() -> None:
    body = b'{"id": 1}'
    assert ShopifyAdapter.parse_webhook(body, shopify_headers(body, "products/update")).orders == ()


@pytest.mark.parametrize(
    ("body", "headers", "message"),
    [
        (b"{}", {"x-shopify-topic": "orders/fulfilled"}, "X-Shopify-Webhook-Id is missing"),
        (
            b"not json",
            {"x-shopify-topic": "orders/fulfilled", "x-shopify-webhook-id": "1"},
            "not JSON",
        ),
        (
            b"{}",
            {"x-shopify-topic": "fulfillments/create", "x-shopify-webhook-id": "1"},
            "'order_id'",
        ),
    ],
)
def test_shopify_bad_webhooks_are_named(body: bytes, headers: dict[str, str], message: str) -> None:
    with pytest.raises(ShopError, match=message):
        ShopifyAdapter.parse_webhook(body, headers)


@pytest.mark.parametrize(
    ("status", "detail", "expected"),
    [
        (Status.IN_TRANSIT, Detail.ACCEPTED, "IN_TRANSIT"),
        (Status.IN_TRANSIT, Detail.DELAYED_EXTERNAL, "DELAYED"),
        (Status.OUT_FOR_DELIVERY, None, "OUT_FOR_DELIVERY"),
        (Status.AVAILABLE_FOR_PICKUP, None, "READY_FOR_PICKUP"),
        (Status.DELIVERY_FAILED, Detail.RECIPIENT_UNAVAILABLE, "ATTEMPTED_DELIVERY"),
        (Status.DELIVERED, None, "DELIVERED"),
        (Status.EXCEPTION, Detail.CUSTOMS_HOLD, "DELAYED"),
        (Status.EXCEPTION, Detail.LOST, "FAILURE"),
        (Status.RETURNED, None, "FAILURE"),
        (Status.INFO_RECEIVED, None, None),
        (Status.EXPIRED, None, None),
    ],
)
def test_shopify_event_status_for_each_canonical_status(
    status: Status, detail: Detail | None, expected: str | None
) -> None:
    assert event_status(status, detail) == expected


def link(**changes: object) -> LinkFacts:
    values: dict[str, object] = {
        "shop": "main_store",
        "order_id": "5566778899",
        "fulfillment_id": "4455667788",
        "tracking_number": "RB123456785BR",
        "carrier": "correios",
        "carrier_label": "Correios",
        "paypal": None,
        "fulfillment_delivered": True,
        "order_delivered": True,
    }
    values.update(changes)
    return LinkFacts(**values)  # type: ignore[arg-type]


def test_shopify_delivered_waits_for_every_number_of_the_fulfillment() -> None:
    change = StatusChange(Status.DELIVERED, None, WHEN)
    assert ShopifyAdapter.status_pushes(link(fulfillment_delivered=False), change) == []
    (push,) = ShopifyAdapter.status_pushes(link(), change)
    assert (push.action, push.status, push.fulfillment_id) == (
        "fulfillment_event",
        "DELIVERED",
        "4455667788",
    )


# --- WooCommerce --------------------------------------------------------------------------------


def woo_headers(body: bytes, topic: str = "order.updated") -> dict[str, str]:
    return {
        "x-wc-webhook-signature": b64_hmac(body),
        "x-wc-webhook-topic": topic,
        "x-wc-webhook-delivery-id": "d41d8cd98f00b204",
    }


def test_woocommerce_order_reads_shipment_tracking_items_and_paypal_ids() -> None:
    body = fixture("woocommerce_order.json")
    (order,) = WooCommerceAdapter.parse_webhook(body, woo_headers(body)).orders
    assert (order.order_id, order.reference, order.buyer_email, order.country) == (
        "727",
        "#727",
        "jean.dupont@example.fr",
        "FR",
    )
    assert order.buyer_name == "Jean Dupont"
    assert order.paypal == PaypalRef(order_id="5O190127TN364715T", capture_id="8MC585209K746392H")
    (fulfillment,) = order.fulfillments
    assert fulfillment.id == SHIPMENT_TRACKING_GROUP
    assert [(p.tracking_number, p.carrier_label) for p in fulfillment.parcels] == [
        ("9400111899223334445561", "usps")
    ]
    assert fulfillment.shipped_at == datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("status", ["cancelled", "refunded", "failed"])
def test_woocommerce_stopped_order_cancels_its_tracking(status: str) -> None:
    data = json.loads(fixture("woocommerce_order.json"))
    data["status"] = status
    body = json.dumps(data).encode()
    (order,) = WooCommerceAdapter.parse_webhook(body, woo_headers(body)).orders
    assert order.fulfillments[0].cancelled


def test_woocommerce_ping_and_other_topics_carry_no_orders() -> None:
    ping = WooCommerceAdapter.parse_webhook(b"webhook_id=12", {})
    assert (ping.topic, ping.orders) == ("ping", ())
    body = b'{"id": 3}'
    assert WooCommerceAdapter.parse_webhook(body, woo_headers(body, "product.updated")).orders == ()


def test_woocommerce_card_payment_has_no_paypal_ref() -> None:
    data = json.loads(fixture("woocommerce_order.json"))
    data["payment_method"] = "stripe"
    body = json.dumps(data).encode()
    assert WooCommerceAdapter.parse_webhook(body, woo_headers(body)).orders[0].paypal is None


def test_woocommerce_sets_the_order_status_only_when_the_whole_order_is_delivered() -> None:
    delivered = StatusChange(Status.DELIVERED, None, WHEN)
    assert WooCommerceAdapter.status_pushes(link(order_delivered=False), delivered) == []
    assert (
        WooCommerceAdapter.status_pushes(link(), StatusChange(Status.IN_TRANSIT, None, WHEN)) == []
    )
    (push,) = WooCommerceAdapter.status_pushes(link(), delivered)
    assert push.action == "order_status"


# --- generic webhook ----------------------------------------------------------------------------


def test_generic_webhook_reads_the_documented_schema() -> None:
    body = json.dumps(
        {
            "order": {
                "id": "A-1",
                "email": "ana@example.com",
                "country": "BR",
                "paypal_capture_id": "CAP1",
            },
            "fulfillments": [
                {
                    "id": "f1",
                    "parcels": [{"tracking_number": "RB123456785BR", "carrier": "correios"}],
                },
                {"status": "cancelled", "parcels": [{"tracking_number": "RB987654326BR"}]},
            ],
        }
    ).encode()
    webhook = GenericWebhookAdapter.parse_webhook(body, {"x-tracker-delivery": "d-1"})
    (order,) = webhook.orders
    assert order.reference == "A-1"
    assert order.paypal == PaypalRef(None, "CAP1")
    assert [(f.id, f.cancelled) for f in order.fulfillments] == [("f1", False), ("2", True)]


def test_generic_webhook_names_the_parcel_without_a_number() -> None:
    body = b'{"order": {"id": "A-1"}, "fulfillments": [{"parcels": [{"carrier": "ups"}]}]}'
    with pytest.raises(ShopError, match=r"fulfillments\[0\]\.parcels\[0\].*tracking_number"):
        GenericWebhookAdapter.parse_webhook(body, {"x-tracker-delivery": "d-1"})


# --- PayPal -------------------------------------------------------------------------------------


def test_paypal_marks_delivered_only_for_orders_paid_through_paypal() -> None:
    delivered = StatusChange(Status.DELIVERED, None, WHEN)
    assert PayPalAdapter.status_pushes(link(), delivered) == []
    (push,) = PayPalAdapter.status_pushes(link(paypal=PaypalRef("ORDER1", "CAP1")), delivered)
    assert (push.action, push.status, push.paypal_capture_id) == (
        "paypal_status",
        "DELIVERED",
        "CAP1",
    )


def test_paypal_batch_reply_is_matched_to_each_push() -> None:
    pushes = [
        ShopPush("pp", "paypal_track", "o1", "N1", "SHIPPED", WHEN, paypal_capture_id="T1"),
        ShopPush("pp", "paypal_track", "o2", "N2", "SHIPPED", WHEN, paypal_capture_id="T2"),
    ]
    reply = {
        "tracker_identifiers": [{"transaction_id": "T1", "tracking_number": "N1"}],
        "errors": [
            {
                "name": "RESOURCE_NOT_FOUND",
                "message": "The specified resource does not exist.",
                "details": [
                    {"field": "/trackers/1/transaction_id", "issue": "INVALID_TRANSACTION_ID"}
                ],
            }
        ],
    }
    results = batch_results(reply, pushes, "pp")
    assert results[id(pushes[0])].outcome == "sent"
    failed = results[id(pushes[1])]
    assert failed.outcome == "failed"
    assert "INVALID_TRANSACTION_ID" in failed.error


# --- carriers, payload, registry ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "carrier"),
    [
        ("Correios", "correios"),
        ("DHL Express", "dhl"),
        ("canada-post", "canada_post"),
        ("4PX", None),
        (None, None),
    ],
)
def test_shop_carrier_labels_map_to_our_carriers(label: str | None, carrier: str | None) -> None:
    assert carrier_for_label(label) == carrier


def test_paypal_carrier_codes_come_from_the_table_else_other_with_a_name() -> None:
    assert paypal_carrier("correios", "Correios") == ("BRA_CORREIOS", None)
    assert paypal_carrier("seventeentrack", "Yanwen") == ("OTHER", "Yanwen")
    assert paypal_carrier(None, None) == ("OTHER", "unknown")


def test_shop_push_payload_round_trips_and_refuses_unknown_versions() -> None:
    push = ShopPush(
        "main_store",
        "fulfillment_event",
        "5566778899",
        "RB123456785BR",
        "IN_TRANSIT",
        WHEN,
        fulfillment_id="4455667788",
        estimated_delivery=WHEN,
        place="CURITIBA",
    )
    stored = json.loads(json.dumps(push.to_json()))
    assert stored["v"] == 1
    assert ShopPush.from_json(stored) == push
    with pytest.raises(NoticeError, match="version 2"):
        ShopPush.from_json({**stored, "v": 2})
    with pytest.raises(NoticeError, match="malformed"):
        ShopPush.from_json({"v": 1, "shop": "x"})


def test_registry_loads_built_in_shops_and_names_broken_plugins() -> None:
    points = [
        EntryPoint("shopify", "shops.shopify:ShopifyAdapter", "tracker.shops"),
        EntryPoint("misnamed", "shops.shopify:ShopifyAdapter", "tracker.shops"),
        EntryPoint("missing", "shops.nowhere:Adapter", "tracker.shops"),
        EntryPoint("not_an_adapter", "shops.payload:ShopPush", "tracker.shops"),
    ]
    registry = ShopRegistry(lambda: points)
    assert registry.load("shopify") is ShopifyAdapter
    with pytest.raises(PluginError, match="declares name 'shopify'"):
        registry.load("misnamed")
    with pytest.raises(PluginError, match=r"'missing'.*import failed"):
        registry.load("missing")
    with pytest.raises(PluginError, match="not a ShopAdapter"):
        registry.load("not_an_adapter")
    with pytest.raises(PluginError, match="not installed"):
        registry.load("magento")


def test_shopify_shows_a_detail_change_only_when_its_status_in_the_shop_changes() -> None:
    customs = StatusChange(Status.IN_TRANSIT, Detail.CUSTOMS_PROCESSING, WHEN)
    assert ShopifyAdapter.status_pushes(link(last_pushed="IN_TRANSIT"), customs) == []
    delayed = StatusChange(Status.EXCEPTION, Detail.CUSTOMS_HOLD, WHEN)
    (push,) = ShopifyAdapter.status_pushes(link(last_pushed="IN_TRANSIT"), delayed)
    assert push.status == "DELAYED"
    (again,) = ShopifyAdapter.status_pushes(link(last_pushed="DELAYED"), customs)
    assert again.status == "IN_TRANSIT"
