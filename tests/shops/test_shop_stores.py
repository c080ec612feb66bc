"""The shop loop on both stores: a signed webhook, its repeat, a changed number and the status
push that follows behave the same on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from shops.ingest import ShopContext
from shops.receive import known_carriers, record_webhook
from shops.shopify import ShopifyAdapter
from shops.store import ShopLink
from tests.shops.conftest import ENV, START, record_status, shipment, write_config
from tests.shops.fakes import FakePayPal, FakeShopify, FakeWooCommerce
from tracker.clock import SimulatedClock
from tracker.config import StoreConfig, load_config
from tracker.jobs.dispatch import dispatch_due
from tracker.model import Status
from tracker.runtime.app import build_app
from tracker.store.models import Notice

#: every test here talks to real loopback servers (the fake shop APIs, the webhook routes)
pytestmark = pytest.mark.integration

FULFILLMENT = json.loads(
    (Path(__file__).with_name("fixtures") / "shopify_fulfillment.json").read_text()
)


def delivery(payload: dict[str, object], webhook_id: str) -> object:
    body = json.dumps(payload).encode()
    headers = {"x-shopify-topic": "fulfillments/update", "x-shopify-webhook-id": webhook_id}
    return ShopifyAdapter.parse_webhook(body, headers)


async def test_shop_loop_on_both_stores(
    tmp_path: Path,
    store_url: str,
    monkeypatch: pytest.MonkeyPatch,
    fake_shopify: FakeShopify,
    fake_woo: FakeWooCommerce,
    fake_paypal: FakePayPal,
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    path = write_config(
        tmp_path, fake_shopify.url, fake_woo.url, fake_paypal.url, paypal_api="orders_v2"
    )
    config = load_config(path)
    config = config.model_copy(update={"store": StoreConfig(url=store_url)})
    app = build_app(config, SimulatedClock(START))
    try:
        ctx = ShopContext("main_store", app.config, known_carriers(app), START)
        first = record_webhook(app.store, ctx, delivery(FULFILLMENT, "wh-1"))  # type: ignore[arg-type]
        again = record_webhook(app.store, ctx, delivery(FULFILLMENT, "wh-1"))  # type: ignore[arg-type]
        changed = {
            **FULFILLMENT,
            "tracking_numbers": ["RB123456785BR", "RX123456785BR"],
            "tracking_urls": [],
        }
        third = record_webhook(app.store, ctx, delivery(changed, "wh-2"))  # type: ignore[arg-type]
        assert [r.tracked for r in first.orders] == [["RB123456785BR", "RB987654326BR"]]
        assert again.duplicate
        assert [r.replaced for r in third.orders] == [[("RB987654326BR", "RX123456785BR")]]
        record_status(app, "RX123456785BR", Status.IN_TRANSIT)
        await dispatch_due(app)
        with app.store() as session:
            states = sorted(session.scalars(select(ShopLink.state)))
            pushed = list(session.scalars(select(Notice).where(Notice.kind.startswith("shop:"))))
        assert states == ["active", "active", "replaced"]
        assert [(n.kind, n.state) for n in pushed] == [("shop:fulfillment_event", "sent")]
        assert [e["status"] for e in fake_shopify.events] == ["IN_TRANSIT"]
        assert shipment(app, "RB987654326BR").next_poll_at is None
    finally:
        await app.close()
        app.store.kw["bind"].dispose()
