"""``tracker shops sync`` backfills through Shopify's Admin GraphQL and WooCommerce's REST API,
idempotent with the webhooks; a bad order is named and the rest kept; ``tracker status`` and
``tracker shops status`` show each shop's last webhook, last sync and failing calls."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from shops.ingest import ShopContext
from shops.receive import known_carriers, record_webhook
from shops.shopify import ShopifyAdapter
from shops.sync import sync_shop
from tests.shops.conftest import ENV, b64_sign, count, record_status, shipment, write_config
from tests.shops.fakes import FakePayPal, FakeShopify, FakeWooCommerce
from tracker.cli import main
from tracker.jobs.dispatch import dispatch_due
from tracker.model import Status
from tracker.runtime.app import TrackerApp
from tracker.store.models import AuditEntry, Shipment

#: every test here talks to real loopback servers (the fake shop APIs, the webhook routes)
pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).with_name("fixtures")
FULFILLMENT = (FIXTURES / "shopify_fulfillment.json").read_bytes()
WOO_ORDER = json.loads((FIXTURES / "woocommerce_order.json").read_text())


def node(
    order_id: str, name: str, numbers: list[str], country: str | None = "BR"
) -> dict[str, Any]:
    """An order as the backfill query returns it."""
    return {
        "legacyResourceId": order_id,
        "name": name,
        "email": f"buyer{order_id}@example.com",
        "customerLocale": "pt-BR",
        "shippingAddress": {"name": "Ana Souza", "countryCodeV2": country} if country else None,
        "fulfillments": [
            {
                "legacyResourceId": f"9{order_id}",
                "status": "SUCCESS",
                "createdAt": "2026-11-21T08:00:00Z",
                "trackingInfo": [
                    {"company": "Correios", "number": n, "url": None} for n in numbers
                ],
            }
        ],
    }


def webhook(app: TrackerApp) -> None:
    headers = {
        "x-shopify-hmac-sha256": b64_sign(FULFILLMENT, "x"),
        "x-shopify-topic": "fulfillments/create",
        "x-shopify-webhook-id": "wh-sync",
    }
    parsed = ShopifyAdapter.parse_webhook(FULFILLMENT, headers)
    ctx = ShopContext("main_store", app.config, known_carriers(app), app.clock.now())
    record_webhook(app.store, ctx, parsed)


async def test_shopify_sync_pages_through_orders_idempotent_with_webhooks(
    app: TrackerApp, fake_shopify: FakeShopify
) -> None:
    webhook(app)  # order #1042 already came in by webhook
    fake_shopify.order_nodes = [
        node("5566778899", "#1042", ["RB123456785BR", "RB987654326BR"]),
        node("7001", "#1050", ["RX123456785BR"]),
        node("7002", "#1051", ["RA123456785BR"], country=None),
    ]
    since = app.clock.now() - timedelta(days=7)
    report = await sync_shop(app, "main_store", since)
    assert report.error is None
    assert [r.reference for r in report.orders] == ["#1042", "#1050", "#1051"]
    assert report.tracked == 1
    assert [
        (r.reference, "destination_country: missing" in (r.error or "")) for r in report.failed
    ] == [("#1051", True)]
    assert len(fake_shopify.queries) == 2  # two pages
    assert (
        fake_shopify.queries[0]["query"] == f"updated_at:>='{since.isoformat(timespec='seconds')}'"
    )
    row = shipment(app, "RX123456785BR")
    assert (row.order_reference, row.buyer_language, row.buyer_email) == (
        "#1050",
        "pt",
        "buyer7001@example.com",
    )
    assert count(app, Shipment) == 3
    again = await sync_shop(app, "main_store", since)
    assert again.tracked == 0
    assert count(app, Shipment) == 3
    with app.store() as session:
        syncs = list(session.scalars(select(AuditEntry).where(AuditEntry.kind == "shop.synced")))
    assert [s.data["failed"] for s in syncs] == [["#1051"], ["#1051"]]


async def test_sync_against_a_shop_that_is_down_keeps_what_was_stored_and_says_so(
    app: TrackerApp, fake_shopify: FakeShopify
) -> None:
    fake_shopify.down_for = 1
    report = await sync_shop(app, "main_store", app.clock.now() - timedelta(days=1))
    assert report.error is not None
    assert "HTTP 503" in report.error
    with app.store() as session:
        (failed,) = session.scalars(select(AuditEntry).where(AuditEntry.kind == "shop.sync_failed"))
    assert failed.data["shop"] == "main_store"


async def test_woocommerce_sync_reads_orders_through_the_rest_api(
    app: TrackerApp, fake_woo: FakeWooCommerce
) -> None:
    fake_woo.add_order(WOO_ORDER)
    other = copy.deepcopy(WOO_ORDER) | {"id": 728, "number": "728", "meta_data": []}
    fake_woo.add_order(other)  # no tracking yet: nothing to do
    report = await sync_shop(app, "woo", app.clock.now() - timedelta(days=7))
    assert (report.error, report.tracked, len(report.orders)) == (None, 1, 2)
    assert shipment(app, "9400111899223334445561").order_reference == "#727"


async def test_status_shows_each_shops_webhook_sync_and_failing_calls(
    app: TrackerApp, fake_shopify: FakeShopify
) -> None:
    webhook(app)
    await sync_shop(app, "main_store", app.clock.now() - timedelta(days=1))
    record_status(app, "RB123456785BR", Status.IN_TRANSIT)
    fake_shopify.down_for = 1
    await dispatch_due(app)
    url = app.config.store.url
    result = CliRunner().invoke(main, ["status", "--json", "--store", url])
    shops = json.loads(result.stdout)["shops"]
    view = shops["main_store"]
    assert view["last_webhook"]["outcome"] == "recorded"
    assert view["last_sync"]["ok"] is True
    assert view["linked"] == 2
    assert view["failing_calls"] == 1
    assert "HTTP 503" in view["last_error"]
    table = CliRunner().invoke(main, ["status", "--store", url])
    assert "Shops" in table.stdout
    assert "main_store" in table.stdout


def test_shops_sync_command_reports_and_exits_1_on_failed_orders(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fake_shopify: FakeShopify,
    fake_woo: FakeWooCommerce,
    fake_paypal: FakePayPal,
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    config = write_config(
        tmp_path, fake_shopify.url, fake_woo.url, fake_paypal.url, paypal_api="orders_v2"
    )
    fake_shopify.order_nodes = [
        node("7001", "#1050", ["RX123456785BR"]),
        node("7002", "#1051", ["RA123456785BR"], None),
    ]
    runner = CliRunner()
    result = runner.invoke(
        main, ["shops", "sync", "--config", str(config), "--shop", "main_store", "--since", "3d"]
    )
    assert result.exit_code == 1, result.output
    assert (
        "main_store: 2 order(s) read, 1 number(s) newly tracked, 1 order(s) failed" in result.stdout
    )
    assert "#1051: order #1051, number RA123456785BR: destination_country: missing" in result.stderr
    listing = runner.invoke(main, ["shops", "status", "--json", "--config", str(config)])
    views = json.loads(listing.stdout)
    assert views["main_store"]["last_sync"]["failed_orders"] == ["#1051"]
    assert views["paypal"]["last_webhook"] is None
    bad = runner.invoke(main, ["shops", "sync", "--config", str(config), "--since", "soon"])
    assert bad.exit_code == 2
    assert "--since 'soon'" in bad.stderr
